/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): the top functions by self
 * time, grouped by function + file; self time by package; the gateway's own
 * functions by inclusive time; the callers of one function; the longest
 * stretches without idle time (what held the event loop).
 *
 *   npx ts-node --transpile-only bench/cpuprofile-summary.ts <file.cpuprofile> [top] [--from=<ms>]
 *       [--callers=<functionName>] [--long-tasks[=<min ms>]]
 *
 * --from skips the first milliseconds of the profile (start-up, warm-up).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  function: string;
  file: string;
  selfMs: number;
  selfPct: number;
  /** Time with this function anywhere on the stack (counted once per sample). */
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  /** Sampled time that was not idle, (program) or (garbage collector). */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  programMs: number;
  top: SelfTimeRow[];
  byPackage: Array<{ package: string; selfMs: number; selfPct: number }>;
}

const ROOT = `${process.cwd()}/`;

/** Parses a profile and drops the samples of its first `fromMs` (start-up, warm-up). */
export function loadProfile(file: string, fromMs = 0): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  if (fromMs <= 0) return profile;
  let t = 0;
  let first = profile.samples.length;
  for (let i = 0; i < profile.samples.length; i++) {
    t += (profile.timeDeltas[i] ?? 0) / 1000;
    if (t >= fromMs) {
      first = i;
      break;
    }
  }
  const samples = profile.samples.slice(first);
  const timeDeltas = profile.timeDeltas.slice(first);
  if (timeDeltas.length > 0) timeDeltas[0] = 0;
  return { ...profile, startTime: profile.startTime + fromMs * 1000, samples, timeDeltas };
}

function shortFile(url: string): string {
  if (!url) return '(native)';
  let path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  if (path.startsWith(ROOT)) path = relative(ROOT, path);
  // the benchmark runs a private copy of dist/ (bench/results/.dist-<run>/)
  path = path.replace(/^.*\/?\.dist-[^/]+\//, 'dist/');
  const nm = path.lastIndexOf('node_modules/');
  return nm >= 0 ? path.slice(nm + 'node_modules/'.length) : path;
}

function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const file = shortFile(url);
  if (file.startsWith('node:')) return 'node:' + file.slice(5).split('/')[0];
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const m = /(?:^|\/)\.?dist[^/]*\/(libs\/[^/]+|apps\/[^/]+)/.exec(path) ?? /(?:^|\/)(libs\/[^/]+|apps\/[^/]+)/.exec(path);
  return m ? m[1] : file;
}

export function summarise(file: string, top = 25, fromMs = 0): ProfileSummary {
  const profile = loadProfile(file, fromMs);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);

  const selfByNode = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000; // the delta after a sample is the time it stands for
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + dt);
  }

  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${shortFile(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const packages = new Map<string, number>();
  let idleMs = 0;
  let gcMs = 0;
  let programMs = 0;
  let allMs = 0;
  for (const [id, ms] of selfByNode) {
    const node = byId.get(id);
    if (!node) continue;
    allMs += ms;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      idleMs += ms;
      continue;
    }
    if (fn === '(garbage collector)') gcMs += ms;
    if (fn === '(program)') programMs += ms;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + ms);
    const pkg = packageOf(node.callFrame.url, fn);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    // inclusive: every distinct function on the stack once
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n || n.callFrame.functionName === '(root)') continue;
      const kk = key(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + ms);
    }
  }
  const busyMs = allMs - idleMs;
  const pct = (ms: number) => (busyMs > 0 ? (ms / busyMs) * 100 : 0);
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, ms]) => {
      const [fn, where] = k.split('\u0000');
      const t = total.get(k) ?? ms;
      return { function: fn, file: where, selfMs: ms, selfPct: pct(ms), totalMs: t, totalPct: pct(t) };
    });
  const byPackage = [...packages.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([p, ms]) => ({ package: p, selfMs: ms, selfPct: pct(ms) }));
  return { file, durationMs: (profile.endTime - profile.startTime) / 1000, busyMs, idleMs, gcMs, programMs, top: rows, byPackage };
}

/** Heaviest inclusive entries among the given path fragments (e.g. the app's own libs). */
export function inclusiveFor(file: string, match: RegExp, top = 15, fromMs = 0): Array<{ function: string; file: string; totalMs: number; totalPct: number }> {
  const s = summarise(file, Number.MAX_SAFE_INTEGER, fromMs);
  return s.top
    .filter((r) => match.test(r.file))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top)
    .map((r) => ({ function: r.function, file: r.file, totalMs: r.totalMs, totalPct: r.totalPct }));
}

/** Where a function's self time comes from: the heaviest call stacks (innermost first) ending in it. */
export function callersOf(file: string, functionName: string, depth = 6, top = 8, fromMs = 0): Array<{ ms: number; stack: string[] }> {
  const profile = loadProfile(file, fromMs);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const stacks = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    if (!node || node.callFrame.functionName !== functionName) continue;
    const frames: string[] = [];
    for (let cur: number | undefined = node.id; cur !== undefined && frames.length < depth; cur = parent.get(cur)) {
      const n = byId.get(cur) as ProfileNode;
      if (n.callFrame.functionName === '(root)') break;
      frames.push(`${n.callFrame.functionName || '(anonymous)'} (${shortFile(n.callFrame.url)}:${n.callFrame.lineNumber + 1})`);
    }
    const k = frames.join(' <- ');
    stacks.set(k, (stacks.get(k) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => ({ ms, stack: k.split(' <- ') }));
}

export interface LongTask {
  startMs: number;
  durationMs: number;
  /** Heaviest self-time functions inside the stretch. */
  top: Array<{ function: string; file: string; ms: number }>;
  /** The most common gateway (libs/, apps/) frame on the stacks of the stretch, if any. */
  ownFrame?: string;
}

/**
 * Stretches where the thread never went idle for longer than `minMs`: what
 * blocked the event loop (a busy period of many short tasks shows up too;
 * `top` tells which).
 */
export function longTasks(file: string, minMs = 20, top = 5, fromMs = 0): LongTask[] {
  const profile = loadProfile(file, fromMs);
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) byId.set(node.id, node);
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const tasks: LongTask[] = [];
  let t = 0;
  let start = -1;
  let acc = new Map<string, number>();
  let own = new Map<string, number>();
  const flush = (end: number) => {
    if (start >= 0 && end - start >= minMs) {
      const sorted = [...acc.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
      const ownTop = [...own.entries()].sort((a, b) => b[1] - a[1])[0];
      tasks.push({
        startMs: start,
        durationMs: end - start,
        top: sorted.map(([k, ms]) => {
          const [fn, where] = k.split('\u0000');
          return { function: fn, file: where, ms };
        }),
        ownFrame: ownTop?.[0],
      });
    }
    start = -1;
    acc = new Map();
    own = new Map();
  };
  for (let i = 0; i < profile.samples.length; i++) {
    t += (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)') {
      flush(t);
      continue;
    }
    if (start < 0) start = t;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const k = `${fn || '(anonymous)'}\u0000${shortFile(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    acc.set(k, (acc.get(k) ?? 0) + dt);
    for (let cur: number | undefined = node.id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur) as ProfileNode;
      const f = shortFile(n.callFrame.url);
      if (/^(dist\/)?(libs|apps)\//.test(f) || f.includes('/dist/libs/') || f.includes('/dist/apps/')) {
        const label = `${n.callFrame.functionName || '(anonymous)'} (${f}:${n.callFrame.lineNumber + 1})`;
        own.set(label, (own.get(label) ?? 0) + dt);
        break;
      }
    }
  }
  flush(t);
  return tasks.sort((a, b) => b.durationMs - a.durationMs);
}

export function formatSummary(s: ProfileSummary): string {
  const lines: string[] = [];
  lines.push(`profile ${s.file}`);
  lines.push(
    `  ${(s.durationMs / 1000).toFixed(1)} s sampled; busy ${(s.busyMs / 1000).toFixed(2)} s (GC ${((s.gcMs / Math.max(1, s.busyMs)) * 100).toFixed(1)} %, (program) ${((s.programMs / Math.max(1, s.busyMs)) * 100).toFixed(1)} %), idle ${(s.idleMs / 1000).toFixed(2)} s`,
  );
  lines.push('');
  lines.push('  self %  total %  self ms  function  (file:line)');
  for (const r of s.top) {
    lines.push(`  ${r.selfPct.toFixed(1).padStart(6)}  ${r.totalPct.toFixed(1).padStart(7)}  ${r.selfMs.toFixed(0).padStart(7)}  ${r.function}  (${r.file})`);
  }
  lines.push('');
  lines.push('  self time by package:');
  for (const p of s.byPackage) lines.push(`  ${p.selfPct.toFixed(1).padStart(6)} %  ${p.selfMs.toFixed(0).padStart(7)} ms  ${p.package}`);
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const callers = args.find((a) => a.startsWith('--callers='))?.slice('--callers='.length);
  const long = args.find((a) => a.startsWith('--long-tasks'));
  const fromMs = Number(args.find((a) => a.startsWith('--from='))?.slice('--from='.length) ?? 0);
  const [file, topArg] = args.filter((a) => !a.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: cpuprofile-summary.ts <file.cpuprofile> [top] [--from=<ms>] [--callers=<functionName>] [--long-tasks[=<ms>]]\n');
    process.exit(1);
  }
  if (long) {
    const min = Number(long.split('=')[1] ?? 20);
    for (const task of longTasks(file, min, 5, fromMs).slice(0, 15)) {
      process.stdout.write(`${task.durationMs.toFixed(1).padStart(7)} ms busy at ${(task.startMs / 1000).toFixed(2)} s  own frame: ${task.ownFrame ?? '-'}\n`);
      for (const f of task.top) process.stdout.write(`            ${f.ms.toFixed(1).padStart(6)} ms  ${f.function} (${f.file})\n`);
    }
    process.exit(0);
  }
  if (callers) {
    for (const c of callersOf(file, callers, Number(process.env.CALLER_DEPTH ?? 8), 10, fromMs)) process.stdout.write(`${c.ms.toFixed(0).padStart(7)} ms  ${c.stack.join('\n            <- ')}\n`);
    process.exit(0);
  }
  const top = topArg ? Number(topArg.replace(/^top=/, '')) : 25;
  process.stdout.write(formatSummary(summarise(file, top, fromMs)) + '\n');
  const own = inclusiveFor(file, /^(dist\/)?(libs|apps)\//, 15, fromMs);
  if (own.length > 0) {
    process.stdout.write('\n  the gateway\'s own functions by inclusive time:\n');
    for (const r of own) process.stdout.write(`  ${r.totalPct.toFixed(1).padStart(6)} %  ${r.totalMs.toFixed(0).padStart(7)} ms  ${r.function}  (${r.file})\n`);
  }
}
