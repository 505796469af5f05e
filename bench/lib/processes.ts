/**
 * Child processes of a benchmark run (fake upstream, pass-through proxy,
 * gateway): started with their output in a log file, waited on until they
 * answer HTTP, measured (RSS from /proc) and always stopped — also when the
 * run fails or is interrupted.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../../test/support/redis';

export const REPO_ROOT = join(__dirname, '..', '..');

/** What bench/lib/loop-monitor.js reports for a window (see there). */
export interface LoopStats {
  windowMs: number;
  loopDelay: { p50: number; p99: number; max: number; mean: number };
  gc: { count: number; totalMs: number; maxMs: number };
  /** process.memoryUsage() in MiB at the end of the window (after a full GC when node runs with --expose-gc). */
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; afterGc: boolean };
}

export interface Child {
  name: string;
  pid: number;
  url: string;
  port: number;
  logFile: string;
  /** Date.now() when it was spawned (a --cpu-prof profile starts about then). */
  spawnedAt: number;
  /** Resident set size now (KiB), from /proc/<pid>/status. */
  rssKiB(): number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
  /** How it exited (code or signal), once it has. */
  exitInfo(): string | undefined;
  /**
   * Event-loop delay, GC pauses and memory since the previous call (or the
   * start), from the preloaded bench/lib/loop-monitor.js; undefined for
   * children started without it.
   */
  loopStats(): Promise<LoopStats | undefined>;
}

const running = new Set<ChildProcess>();
let hooksInstalled = false;

/** Kills every child still running (exit hooks and the run's watchdog). */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllChildren);
}

/**
 * CPU sets for pinning: everything else (load generator, fakes) gets all CPUs but the last;
 * the process under test gets the last one alone, or with `underTestAll` every CPU.
 */
export function cpuSets(pin: boolean, underTestAll = false): { underTest?: string; rest?: string } {
  const n = cpus().length;
  if (!pin || n < 2 || !onPath('taskset')) return {};
  return { underTest: underTestAll ? `0-${n - 1}` : String(n - 1), rest: n === 2 ? '0' : `0-${n - 2}` };
}

/** Pins the current process (the load generator and in-process fakes) to `cpuList`. */
export async function pinSelf(cpuList: string | undefined): Promise<boolean> {
  if (!cpuList) return false;
  return new Promise((resolve) => {
    const p = spawn('taskset', ['-a', '-p', '-c', cpuList, String(process.pid)], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}

export interface StartNodeOptions {
  name: string;
  /** Script and its arguments, after the node flags. */
  script: string;
  nodeArgs?: string[];
  env?: Record<string, string | undefined>;
  /** Port to give the child as PORT (a free one when omitted). */
  port?: number;
  /** Path probed with GET until it answers (any HTTP status counts). */
  readyPath: string;
  readyTimeoutMs?: number;
  logDir: string;
  /** taskset -c list, or undefined for no pinning. */
  cpuList?: string;
  /** Preload bench/lib/loop-monitor.js (default true; the script must run on plain node). */
  monitor?: boolean;
}

/** The command that runs node with these arguments, under `taskset -c cpuList` when given. */
export function nodeCommand(nodeArgv: string[], cpuList?: string): [string, string[]] {
  return cpuList ? ['taskset', ['-c', cpuList, process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
}

/** Starts `node [nodeArgs] script` with PORT set and waits until it answers HTTP on 127.0.0.1. */
export async function startNode(options: StartNodeOptions): Promise<Child> {
  installHooks();
  const port = options.port ?? (await freePort());
  const logFile = join(options.logDir, `${options.name}.log`);
  const loopFile = join(options.logDir, `${options.name}.loop.jsonl`);
  const monitor = options.monitor !== false;
  const fd = openSync(logFile, 'w');
  const nodeArgv = [...(monitor ? ['-r', join(__dirname, 'loop-monitor.js')] : []), ...(options.nodeArgs ?? []), options.script];
  const [cmd, argv] = nodeCommand(nodeArgv, options.cpuList);
  const spawnedAt = Date.now();
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { ...cleanEnv(process.env), ...stripUndefined(options.env ?? {}), PORT: String(port), ...(monitor ? { BENCH_LOOP_STATS_FILE: loopFile } : {}) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  let exitInfo: string | undefined;
  let stopping = false;
  let ready = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      running.delete(child);
      if (ready && !stopping) process.stderr.write(`bench: ${options.name} (pid ${child.pid}) exited unexpectedly (${exitInfo}); see ${logFile}\n`);
      resolve();
    });
  });
  child.once('error', (err) => {
    exitInfo = `spawn error: ${err.message}`;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exitInfo) throw new Error(`${options.name} exited during start-up (${exitInfo}); see ${logFile}:\n${tail(logFile)}`);
    if (await answers(`${url}${options.readyPath}`)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not answer on ${url}${options.readyPath} within ${options.readyTimeoutMs ?? 30_000} ms; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(100);
  }
  const pid = child.pid as number;
  ready = true;
  // With taskset the child is taskset's exec'd node: same pid.
  return {
    name: options.name,
    pid,
    url,
    port,
    logFile,
    spawnedAt,
    rssKiB: () => rssKiB(pid),
    exited: () => exitInfo !== undefined,
    exitInfo: () => exitInfo,
    loopStats: async () => {
      if (!monitor || exitInfo) return undefined;
      const before = existsSync(loopFile) ? readFileSync(loopFile, 'utf8').length : 0;
      process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < 100; i++) {
        await sleep(20);
        const text = existsSync(loopFile) ? readFileSync(loopFile, 'utf8') : '';
        if (text.length > before && text.endsWith('\n')) return JSON.parse(text.slice(before).trim().split('\n').pop() as string) as LoopStats;
      }
      return undefined;
    },
    stop: async (graceMs = 10_000) => {
      stopping = true;
      if (exitInfo) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** VmRSS of a process in KiB (0 if it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU time of a process so far (ms), from /proc/<pid>/stat. */
export function cpuTimeMs(pid: number): number {
  const t = cpuTimesMs(pid);
  return t.user + t.system;
}

/**
 * User and kernel CPU time of a process (ms), from /proc (0 when it is gone).
 * With `thread`, of that one thread of it (`thread === pid`: the main
 * thread, i.e. the event loop; the rest is the export worker, V8's GC
 * helpers and libuv's pool).
 */
export function cpuTimesMs(pid: number, thread?: number): { user: number; system: number } {
  try {
    const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (clock ticks; 100 per second on Linux)
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
  } catch {
    return { user: 0, system: 0 };
  }
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(true));
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The gateway reads many variables: start children from a clean slate so the caller's shell can't skew a run. */
function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'TZ'];
  const out: Record<string, string> = {};
  for (const k of keep) if (env[k] !== undefined) out[k] = env[k] as string;
  return out;
}

function stripUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** Throws if any of `children` is gone: a run without its fake or its gateway measures nothing. */
export function assertAlive(...children: Array<Child | undefined>): void {
  for (const c of children) {
    if (c?.exited()) throw new Error(`${c.name} (pid ${c.pid}) is no longer running (${c.exitInfo()}); see ${c.logFile}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
