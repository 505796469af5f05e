/**
 * Where the gateway's per-request cost goes: the overhead load against the
 * bare proxy and against gateways with features switched on one at a time
 * (a fresh gateway process each). Not one of the issue's four numbers, but
 * the quickest way to see which change moves what (before/after runs).
 */
import { randomUUID } from 'node:crypto';
import { BenchEnv, deletePrefix, parseNodeFlags } from '../lib/env';
import { baselineGatewayMain, chatBody, startGatewayProcess, trackedPath } from '../lib/gateway';
import { LoadResult, runLoad } from '../lib/load';
import { assertAlive, Child, cpuTimesMs, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { median, round } from '../lib/stats';

export interface BreakdownRow {
  variant: string;
  load: Omit<LoadResult, 'insertionIds'>;
  cpuMsPer1k: number;
  /** The kernel's part of cpuMsPer1k (syscalls, loopback TCP, wake-ups). */
  systemMsPer1k: number;
  /** The main thread's part of cpuMsPer1k (the event loop); the rest is the export worker and V8/libuv helper threads. */
  mainMsPer1k: number;
}

interface Variant {
  name: string;
  path: (rollout: string) => string;
  env: Record<string, string>;
  proxy?: boolean;
  /** A framework floor (bench/framework-floor.ts) instead of the gateway. */
  floor?: 'node' | 'express' | 'nest';
  /** Run the baseline build (baseline-dist=) instead of gateway-dist. */
  baseline?: boolean;
}

export interface BreakdownResult {
  settings: Record<string, unknown>;
  rows: BreakdownRow[];
}

const VARIANTS: Variant[] = [
  { name: 'node pass-through proxy', path: () => '/v1/chat/completions', env: {}, proxy: true },
  { name: 'floor: node, parse + re-serialise + buffer', path: () => '/v1/chat/completions', env: {}, floor: 'node' },
  { name: 'floor: express route, same work', path: () => '/v1/chat/completions', env: {}, floor: 'express' },
  { name: 'floor: Nest route, same work', path: () => '/v1/chat/completions', env: {}, floor: 'nest' },
  { name: 'gateway, untracked /v1/chat/completions, export off', path: () => '/v1/chat/completions', env: { LANGFUSE_EXPORT: 'false' } },
  { name: 'gateway, tracked (Redis), export off', path: (r) => trackedPath(r), env: { LANGFUSE_EXPORT: 'false' } },
  { name: 'gateway, untracked, export on', path: () => '/v1/chat/completions', env: { LANGFUSE_EXPORT: 'true' } },
  { name: 'gateway, tracked (Redis), export on  (= c)', path: (r) => trackedPath(r), env: { LANGFUSE_EXPORT: 'true' } },
];

export async function runBreakdown(env: BenchEnv): Promise<BreakdownResult> {
  const o = env.options;
  const { client: redis, resolved } = await env.redis();
  const langfuse = await env.fakeLangfuseProcess();
  const upstream = await env.fakeUpstream();
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench-provider-key', 'x-fake-latency-ms': String(o.upstreamLatencyMs) };
  const body = chatBody({}, o.promptKiB);
  const rows: BreakdownRow[] = [];
  const wanted = o.variants.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean);
  const variants = wanted.length ? VARIANTS.filter((v) => wanted.some((w) => v.name.toLowerCase().includes(w))) : VARIANTS;
  if (variants.length === 0) throw new Error(`variants=${o.variants} matches none of: ${VARIANTS.map((v) => v.name).join('; ')}`);
  // A/B: every gateway row also runs on the baseline build, just before the current one.
  const baselineMain = baselineGatewayMain();
  const runs = baselineMain
    ? variants.flatMap((v) => (v.proxy || v.floor ? [v] : [{ ...v, name: `${v.name} [baseline]`, baseline: true }, v]))
    : variants;
  for (const v of runs) {
    const keyPrefix = `bench-${randomUUID().slice(0, 8)}`;
    let target: Child;
    if (v.proxy) {
      target = await env.passthroughProxy(upstream.url);
    } else if (v.floor) {
      target = await env.frameworkFloor(v.floor, upstream.url);
    } else {
      const common = env.gatewayCommon();
      target = await startGatewayProcess({
        ...common,
        ...(v.baseline ? { main: baselineMain, nodeFlags: o.baselineNodeFlags.trim() ? parseNodeFlags(o.baselineNodeFlags) : common.nodeFlags } : {}),
        name: `gateway-${rows.length}`,
        upstreamUrl: upstream.url,
        redisUrl: resolved.url,
        keyPrefix,
        langfuseUrl: langfuse.url,
        env: { ...common.env, ...v.env },
      });
    }
    try {
      const rollout = `bench-${Date.now()}`;
      log(`  ${v.name}: warm-up ${o.warmupS} s, then ${o.durationS} s`);
      if (o.warmupS > 0) await runLoad({ url: target.url + v.path(`${rollout}-warmup`), headers, body, connections: o.connections, durationS: o.warmupS, rate: o.rate });
      await sleep(500);
      env.markMeasured(target);
      const before = cpuTimesMs(target.pid);
      const mainBefore = cpuTimesMs(target.pid, target.pid);
      const { insertionIds: _ids, ...load } = await runLoad({ url: target.url + v.path(rollout), headers, body, connections: o.connections, durationS: o.durationS, rate: o.rate });
      assertAlive(target, upstream, langfuse);
      const after = cpuTimesMs(target.pid);
      const mainAfter = cpuTimesMs(target.pid, target.pid);
      const per1k = (ms: number) => (ms / Math.max(1, load.responses)) * 1000;
      const cpuMsPer1k = per1k(after.user - before.user + after.system - before.system);
      const systemMsPer1k = per1k(after.system - before.system);
      const mainMsPer1k = per1k(mainAfter.user - mainBefore.user + mainAfter.system - mainBefore.system);
      rows.push({ variant: v.name, load, cpuMsPer1k, systemMsPer1k, mainMsPer1k });
      log(`    ${round(load.rps, 0)} req/s, p50 ${round(load.latency.p50)} ms, CPU ${round(cpuMsPer1k, 0)} ms/1k req (kernel ${round(systemMsPer1k, 0)}, main thread ${round(mainMsPer1k, 0)})`);
    } finally {
      await target.stop();
      await deletePrefix(redis, keyPrefix);
    }
    await sleep(500);
  }
  return { settings: { connections: o.connections, rate: o.rate, durationS: o.durationS, upstreamLatencyMs: o.upstreamLatencyMs, gatewayEnv: o.gatewayEnv }, rows };
}

export function printBreakdown(r: BreakdownResult): void {
  log(
    table(
      `Cost breakdown — ${r.settings.connections} connections${r.settings.rate ? ` at ${r.settings.rate} req/s` : ''}, upstream ${r.settings.upstreamLatencyMs} ms, ${r.settings.durationS} s each`,
      ['variant', 'req/s', 'p50 ms', 'p99 ms', 'non-200+err', 'CPU ms/1k req', 'of which kernel', 'of which main thread'],
      r.rows.map((x) => [
        x.variant,
        round(x.load.rps, 0),
        round(x.load.latency.p50),
        round(x.load.latency.p99),
        x.load.responses - x.load.ok + x.load.errors,
        round(x.cpuMsPer1k, 0),
        round(x.systemMsPer1k, 0),
        round(x.mainMsPer1k, 0),
      ]),
    ),
  );
}

/** Medians per row over `repeat` runs (each run with fresh processes); with baseline-dist=, the A/B. */
export function printBreakdownMedians(runs: BreakdownResult[]): void {
  if (runs.length === 0) return;
  const names = [...new Set(runs.flatMap((r) => r.rows.map((x) => x.variant)))];
  const cell = (values: number[], digits = 0) => `${round(median(values), digits)} (${round(Math.min(...values), digits)}–${round(Math.max(...values), digits)})`;
  log(
    table(
      `Medians of ${runs.length} runs (min–max)`,
      ['variant', 'req/s', 'p50 ms', 'CPU ms/1k req', 'of which kernel', 'of which main thread'],
      names.map((name) => {
        const rows = runs.flatMap((r) => r.rows.filter((x) => x.variant === name));
        return [name, cell(rows.map((x) => x.load.rps)), cell(rows.map((x) => x.load.latency.p50), 1), cell(rows.map((x) => x.cpuMsPer1k)), cell(rows.map((x) => x.systemMsPer1k)), cell(rows.map((x) => x.mainMsPer1k))];
      }),
    ),
  );
}
