/**
 * Reliability under faults (issue 14): the built gateway under a steady load
 * of tracked completions while Langfuse answers 503, then 429 with
 * Retry-After, then is down for a minute (the gateway restarted in the middle
 * of it), and then while Redis is killed by pid and started again. Every
 * phase writes its own rollout. At the end it checks, for every completion
 * a client got a 200 for, that its id is in Redis and its trace in Langfuse,
 * and reads each rollout back through the gateway's /v1/traces.
 *
 * Redis is a redis-server of its own (append-only, fsync always: the way a
 * Redis that must keep what it confirmed runs), so it can be killed. Langfuse
 * is the fake, in this process, so its faults can be switched on and off.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeLangfuse } from '../../test/fakes/fake-langfuse.server';
import { Load, Outcome, runLoad } from '../../test/support/load';
import { RedisProcess } from '../../test/support/redis-process';
import { BenchEnv } from '../lib/env';
import { BENCH_PROJECT, benchRolloutKey, GatewayChild, startGatewayProcess, trackedPath } from '../lib/gateway';
import { log, table } from '../lib/report';
import { distribution } from '../lib/stats';

export interface PhaseResult {
  name: string;
  seconds: number;
  rollout: string;
  calls: number;
  ok: number;
  /** Calls that got no 200, by status or socket error (a refused connection while the gateway restarts). */
  other: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  idsMissing: number;
  tracesMissing: number;
  /** GET /v1/traces?tags=rollout_id:<rollout> through the gateway at the end. */
  readStatus: number;
  readTraces: number;
}

export interface ReliabilityResult {
  settings: { rate: number; connections: number; faultS: number; outageS: number; redisDownS: number; upstreamLatencyMs: number };
  phases: PhaseResult[];
  totals: { calls: number; ok: number; idsMissing: number; tracesMissing: number };
  /** Most traces waiting for Langfuse at once (the trace stream, from /ready). */
  backlogPeak: number;
  /** Most registrations waiting in the retry queue at once (from /ready). */
  queuedPeak: number;
  /** Exports the fake Langfuse refused (503 and 429 phases; a stopped Langfuse refuses connections and counts none). */
  refusedExports: number;
  /** From Langfuse coming back until every trace of the outage phases had arrived (s). */
  recoveryS: number;
  /** SIGTERM to exit of the first gateway, and until the second one answered (ms). */
  restart: { drainMs: number; downMs: number };
  /** /ready statuses seen, with how many one-second samples each. */
  readiness: Record<string, number>;
  /** Until every id was in Redis and every trace in Langfuse after the load stopped (s). */
  settleS: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runReliability(env: BenchEnv): Promise<ReliabilityResult> {
  const o = env.options;
  const rate = o.reliabilityRate;
  const connections = Math.max(1, Math.ceil((rate * (o.upstreamLatencyMs + 50)) / 1000) * 2);
  const settings = { rate, connections, faultS: o.faultSeconds, outageS: o.outageSeconds, redisDownS: o.redisDownSeconds, upstreamLatencyMs: o.upstreamLatencyMs };

  const redis = await RedisProcess.create(true);
  if (!redis) throw new Error('the reliability scenario kills and restarts a Redis of its own: put redis-server on PATH');
  env.defer(async () => {
    await redis.kill();
    rmSync(redis.dir, { recursive: true, force: true });
  });
  const langfuse: FakeLangfuse = await env.fakeLangfuse();
  const upstream = await env.fakeUpstream();
  const spoolDir = mkdtempSync(join(tmpdir(), 'gw-bench-spool-'));
  env.defer(async () => rmSync(spoolDir, { recursive: true, force: true }));
  const keyPrefix = `bench-rel-${randomUUID().slice(0, 8)}`;
  const common = env.gatewayCommon();
  let generation = 0;
  const startGateway = async (): Promise<GatewayChild> => {
    const g = await startGatewayProcess({
      ...common,
      name: `gateway-${++generation}`,
      upstreamUrl: upstream.url,
      redisUrl: redis.url,
      keyPrefix,
      langfuseUrl: langfuse.url,
      env: { ...common.env, SPOOL_DIR: spoolDir, SHUTDOWN_TIMEOUT: '30', LANGFUSE_EXPORT_DRAIN_SECONDS: '2' },
    });
    env.defer(() => g.stop());
    return g;
  };
  let gateway = await startGateway();
  log(`  load: ${rate} completions/s on ${connections} keep-alive connections, upstream answering after ${o.upstreamLatencyMs} ms; Redis ${redis.url} (pid ${redis.pid}, AOF fsync always)`);

  // /ready once a second: the backlog, the retry queue, the status.
  let backlogPeak = 0;
  let queuedPeak = 0;
  const readiness: Record<string, number> = {};
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const res = await fetch(`${gateway.url}/ready`, { signal: AbortSignal.timeout(3_000) });
        const body = (await res.json()) as { status: string; traces?: { waiting?: number } | null; tracking?: { pending?: number } };
        const key = `${res.status} ${body.status}`;
        readiness[key] = (readiness[key] ?? 0) + 1;
        backlogPeak = Math.max(backlogPeak, body.traces?.waiting ?? 0);
        queuedPeak = Math.max(queuedPeak, body.tracking?.pending ?? 0);
      } catch {
        readiness['no answer'] = (readiness['no answer'] ?? 0) + 1;
      }
      await sleep(1_000);
    }
  })();

  const body = { model: 'fake-model', messages: [{ role: 'user', content: 'reliability' }] };
  const headers = { 'x-fake-latency-ms': String(o.upstreamLatencyMs) };
  const phases: Array<{ name: string; rollout: string; outcomes: Outcome[]; seconds: number }> = [];
  const load = (rollout: string, g: GatewayChild, untilRefused = false): Load => runLoad(g.url, trackedPath(rollout), { connections, rate, body, headers, untilRefused });
  /** Runs one phase: its own rollout, `during` applied at its start, load for `seconds`. */
  const phase = async (name: string, seconds: number, during?: (outcomes: Outcome[], rollout: string) => Promise<void>) => {
    const rollout = `rel-${name.replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}`;
    const outcomes: Outcome[] = [];
    const started = Date.now();
    log(`  ${name} (${seconds} s)…`);
    if (during) {
      await during(outcomes, rollout);
    } else {
      const l = load(rollout, gateway);
      await sleep(seconds * 1000);
      await l.stop();
      outcomes.push(...l.outcomes);
    }
    phases.push({ name, rollout, outcomes, seconds: Math.round((Date.now() - started) / 100) / 10 });
  };

  await phase('normal', 5);
  langfuse.options.ingestion = { status: 503 };
  await phase('Langfuse 503', o.faultSeconds);
  langfuse.options.ingestion = { status: 429, retryAfterSeconds: 2 };
  await phase('Langfuse 429 + Retry-After: 2', o.faultSeconds);
  langfuse.options.ingestion = undefined;

  await langfuse.stop();
  let restart = { drainMs: 0, downMs: 0 };
  await phase('Langfuse down, gateway restarted', o.outageSeconds, async (outcomes, rollout) => {
    const first = load(rollout, gateway, true);
    await sleep((o.outageSeconds * 1000) / 2);
    const signalled = Date.now();
    await gateway.stop(60_000); // SIGTERM: in-flight calls finish, then the process exits
    const exited = Date.now();
    await first.stop();
    gateway = await startGateway();
    restart = { drainMs: exited - signalled, downMs: Date.now() - signalled };
    const second = load(rollout, gateway);
    await sleep(Math.max(0, (o.outageSeconds * 1000) / 2 - (Date.now() - signalled)));
    await second.stop();
    outcomes.push(...first.outcomes, ...second.outcomes);
  });

  const outagePhases = phases.slice(1).map((p) => p.rollout);
  await langfuse.start();
  const back = Date.now();
  let recoveryS = NaN;
  const recovery = (async () => {
    while (Number.isNaN(recoveryS) && Date.now() - back < 300_000) {
      const traced = tracedIds(langfuse);
      const missing = phases.filter((p) => outagePhases.includes(p.rollout)).some((p) => p.outcomes.some((c) => c.status === 200 && !traced.has(c.insertionId!)));
      if (!missing) recoveryS = (Date.now() - back) / 1000;
      else await sleep(250);
    }
  })();
  await phase('Langfuse back', 10);

  await phase('Redis killed (SIGKILL)', o.redisDownSeconds, async (outcomes, rollout) => {
    const l = load(rollout, gateway);
    await sleep(500);
    await redis.kill();
    await sleep(o.redisDownSeconds * 1000);
    await redis.start();
    await l.stop();
    outcomes.push(...l.outcomes);
  });
  await phase('Redis back', 10);

  sampling = false;
  await sampler;
  await recovery;

  // Everything settles: ids in Redis, traces in Langfuse.
  const check = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  env.defer(async () => check.disconnect());
  const settleStart = Date.now();
  const missing = async () => {
    const traced = tracedIds(langfuse);
    const rows: Array<{ ids: number; traces: number }> = [];
    for (const p of phases) {
      const stored = new Set(await check.smembers(benchRolloutKey(keyPrefix, p.rollout, 'ids')));
      const ok = p.outcomes.filter((c) => c.status === 200).map((c) => c.insertionId!);
      rows.push({ ids: ok.filter((id) => !stored.has(id)).length, traces: ok.filter((id) => !traced.has(id)).length });
    }
    return rows;
  };
  let rows = await missing();
  while (rows.some((r) => r.ids + r.traces > 0) && Date.now() - settleStart < 180_000) {
    await sleep(500);
    rows = await missing();
  }
  const settleS = (Date.now() - settleStart) / 1000;

  const results: PhaseResult[] = [];
  for (const [i, p] of phases.entries()) {
    const ok = p.outcomes.filter((c) => c.status === 200);
    const other: Record<string, number> = {};
    for (const c of p.outcomes) if (c.status !== 200) other[String(c.status)] = (other[String(c.status)] ?? 0) + 1;
    const d = distribution(ok.map((c) => c.ms));
    const read = await fetch(`${gateway.url}/v1/traces?tags=${encodeURIComponent(`rollout_id:${p.rollout}`)}&max_retries=1`);
    const readBody = (await read.json()) as { total_traces?: number };
    results.push({
      name: p.name,
      seconds: p.seconds,
      rollout: p.rollout,
      calls: p.outcomes.length,
      ok: ok.length,
      other,
      p50Ms: d.p50,
      p99Ms: d.p99,
      maxMs: d.max,
      idsMissing: rows[i].ids,
      tracesMissing: rows[i].traces,
      readStatus: read.status,
      readTraces: readBody.total_traces ?? 0,
    });
  }
  const sum = (pick: (r: PhaseResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  return {
    settings,
    phases: results,
    totals: { calls: sum((r) => r.calls), ok: sum((r) => r.ok), idsMissing: sum((r) => r.idsMissing), tracesMissing: sum((r) => r.tracesMissing) },
    backlogPeak,
    queuedPeak,
    refusedExports: langfuse.ingestion.refused,
    recoveryS,
    restart,
    readiness,
    settleS,
  };
}

/** Insertion ids whose trace the fake Langfuse holds (from the trace tags). */
function tracedIds(langfuse: FakeLangfuse): Set<string> {
  const ids = new Set<string>();
  for (const trace of langfuse.traces(BENCH_PROJECT.projectId)) for (const tag of trace.tags) if (tag.startsWith('insertion_id:')) ids.add(tag.slice('insertion_id:'.length));
  return ids;
}

export function printReliability(r: ReliabilityResult): void {
  log(
    table(
      `Reliability: ${r.settings.rate} completions/s, each fault in its own phase and rollout; "lost" = a 200 whose id is not in Redis or whose trace is not in Langfuse after the run`,
      ['phase', 's', 'calls', '200', 'not 200', 'p50 ms', 'p99 ms', 'max ms', 'ids lost', 'traces lost', '/v1/traces'],
      r.phases.map((p) => [
        p.name,
        p.seconds,
        p.calls,
        p.ok,
        Object.entries(p.other).map(([k, v]) => `${v} × ${k}`).join(', ') || '0',
        p.p50Ms,
        p.p99Ms,
        p.maxMs,
        p.idsMissing,
        p.tracesMissing,
        `${p.readStatus}, ${p.readTraces} traces`,
      ]),
    ),
  );
  log(`  total: ${r.totals.calls} calls, ${r.totals.ok} answered 200; ids lost: ${r.totals.idsMissing}, traces lost: ${r.totals.tracesMissing}`);
  log(`  traces waiting for Langfuse, peak: ${r.backlogPeak}; exports Langfuse refused (503/429): ${r.refusedExports}; every outage trace arrived ${r.recoveryS.toFixed(1)} s after Langfuse came back`);
  log(`  restart during the outage: SIGTERM to exit ${r.restart.drainMs} ms, to the new gateway answering ${r.restart.downMs} ms`);
  log(`  registrations waiting in the retry queue, peak: ${r.queuedPeak}; everything stored and delivered ${r.settleS.toFixed(1)} s after the load stopped`);
  log(`  /ready samples: ${Object.entries(r.readiness).map(([k, v]) => `${k} × ${v}`).join(', ')}`);
}
