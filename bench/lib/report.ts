/** Plain-text tables for the terminal (and pasting into the README), and the JSON results file. */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export type Cell = string | number | undefined;

export function table(title: string, header: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map(fmt));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [`\n${title}`, '', line(header), sep, ...text.map(line), ''].join('\n');
}

function fmt(v: Cell): string {
  if (v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    return v.toFixed(Math.abs(v) >= 100 ? 0 : 2);
  }
  return v;
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  let commit: string | undefined;
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    commit = undefined;
  }
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    commit,
  };
}

export function machineLine(): string {
  const m = machine();
  return `machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, node ${m.node}, ${m.platform}${m.commit ? `, commit ${m.commit}` : ''}`;
}

export function writeResults(dir: string, name: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `${name}-${stamp}.json`);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

export function log(message: string): void {
  process.stdout.write(`${message}\n`);
}
