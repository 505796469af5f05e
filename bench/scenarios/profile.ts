/**
 * The hot path under a CPU profiler: scenario (c) alone with the gateway
 * started under `node --cpu-prof` (any scenario can be profiled with
 * cpu-prof=1). A profile is written when its gateway exits; summariseProfiles
 * prints the top functions by self time, self time by package, the
 * gateway's own functions by inclusive time, and the longest busy stretches.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatSummary, inclusiveFor, longTasks, LongTask, ProfileSummary, summarise } from '../cpuprofile-summary';
import { BenchEnv } from '../lib/env';
import { log } from '../lib/report';
import { OverheadResult, printOverhead, runOverhead } from './overhead';

export interface ProfileReport {
  profileFile: string;
  fromMs: number;
  summary: ProfileSummary;
  ownInclusive: ReturnType<typeof inclusiveFor>;
  longTasks: LongTask[];
}

export async function runProfile(env: BenchEnv): Promise<{ overhead: OverheadResult[] }> {
  env.options.cpuProf = true;
  const overhead = await runOverhead(env, { gatewayOnly: true });
  for (const r of overhead) printOverhead(r);
  return { overhead };
}

/**
 * Summarises every profile in `dir` (call after the gateways have exited),
 * from the start of each gateway's measured window when known.
 */
export function summariseProfiles(dir: string, measuredFrom: Map<number, number> = new Map()): ProfileReport[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  const reports: ProfileReport[] = [];
  for (const file of files) {
    const pid = Number(/\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1]);
    const fromMs = measuredFrom.get(pid) ?? 0;
    const summary = summarise(file, 25, fromMs);
    log(`\n${formatSummary(summary)}${fromMs ? `\n  (samples from ${(fromMs / 1000).toFixed(1)} s after start: the measured window and after)` : ''}`);
    const ownInclusive = inclusiveFor(file, /^(dist\/)?(libs|apps)\//, 15, fromMs);
    log("\n  the gateway's own functions by inclusive time:");
    for (const r of ownInclusive) log(`  ${r.totalPct.toFixed(1).padStart(6)} %  ${r.totalMs.toFixed(0).padStart(7)} ms  ${r.function}  (${r.file})`);
    const tasks = longTasks(file, 20, 5, fromMs).slice(0, 5);
    log('\n  longest busy stretches (event loop never idle):');
    for (const t of tasks) {
      log(`  ${t.durationMs.toFixed(1).padStart(7)} ms at ${(t.startMs / 1000).toFixed(2)} s; own frame: ${t.ownFrame ?? '-'}`);
      for (const f of t.top.slice(0, 3)) log(`            ${f.ms.toFixed(1).padStart(6)} ms  ${f.function} (${f.file})`);
    }
    reports.push({ profileFile: file, fromMs, summary, ownInclusive, longTasks: tasks });
  }
  return reports;
}
