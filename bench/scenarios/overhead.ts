/**
 * 1. Completion overhead: the same closed-loop load (N keep-alive connections,
 * non-streaming completions, upstream answering after L ms) sent
 *   (a) straight to the fake upstream,
 *   (b) through a feature-less keep-alive node pass-through proxy,
 *   (c) through the gateway on tracked routes, Redis on, Langfuse export on,
 * in the same run. Then correctness under load: every response 200, and the
 * insertion ids of the 200s all in Redis.
 */
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { benchRolloutKey, chatBody, LoopStats, startGatewayProcess, trackedPath } from '../lib/gateway';
import { BenchEnv, deletePrefix } from '../lib/env';
import { LoadResult, runLoad } from '../lib/load';
import { assertAlive, Child, cpuTimeMs, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { median, round } from '../lib/stats';

export interface TargetResult {
  target: string;
  url: string;
  load: Omit<LoadResult, 'insertionIds'>;
  /** CPU time of the process under test (upstream for (a)) per 1,000 responses. */
  cpuMsPer1k: number;
  /** Its RSS at the end of the measured run (MiB). */
  rssMiB: number;
  /** Event-loop delay and GC of the process under test while measured. */
  loop?: LoopStats;
  /**
   * CPU used meanwhile by the environment (load generator, fake upstream, fake
   * Langfuse), % of one core: near 100 % × their CPUs means the run measured
   * the environment, not the process under test.
   */
  environmentCpuPct: { loadGenerator: number; upstream: number; langfuse: number };
  /** CPU used by the process under test, % of one core. */
  cpuPct: number;
}

export interface OverheadResult {
  settings: { connections: number; durationS: number; warmupS: number; upstreamLatencyMs: number; /** CPUs of the process under test (taskset list), when pinned. */ cpus?: string };
  targets: TargetResult[];
  ratios: { throughputCoverA: number; throughputCoverB: number; addedP50OverA: number; addedP50OverB: number; addedP99OverA: number };
  targetsMet: { addedP50Le2ms: boolean; throughputGe08xProxy: boolean };
  correctness: {
    responses: number;
    ok200: number;
    nonOk: number;
    idsInRedis: number;
    okWithoutRedisId: number;
    redisIdsWithoutClientOk: number;
    tracesInLangfuse?: number;
    ok: boolean;
  };
}

export interface OverheadRunOptions {
  /** Only run (c). */
  gatewayOnly?: boolean;
  /** Extra gateway environment (experiments: LANGFUSE_EXPORT=false, …). */
  gatewayEnv?: Record<string, string>;
}

/**
 * Runs the three targets at `connections`, then (unless 0) again at
 * `lightConnections`, where the gateway is not CPU-bound and the added
 * latency is the per-request cost rather than queueing.
 */
export async function runOverhead(env: BenchEnv, run: OverheadRunOptions = {}): Promise<OverheadResult[]> {
  const o = env.options;
  const { client: redis, resolved } = await env.redis();
  const langfuse = await env.fakeLangfuseProcess();
  const upstream = await env.fakeUpstream();
  const want = new Set(run.gatewayOnly ? ['c'] : o.targets.split(',').map((t) => t.trim().toLowerCase()));
  const proxy = want.has('b') ? await env.passthroughProxy(upstream.url) : undefined;
  const keyPrefix = `bench-${randomUUID().slice(0, 8)}`;
  env.defer(() => deletePrefix(redis, keyPrefix));
  const common = env.gatewayCommon();
  const gateway = await startGatewayProcess({
    ...common,
    name: 'gateway',
    upstreamUrl: upstream.url,
    redisUrl: resolved.url,
    keyPrefix,
    langfuseUrl: langfuse.url,
    env: { ...common.env, ...run.gatewayEnv },
  });
  env.defer(() => gateway.stop());
  log(`  redis ${resolved.source} ${resolved.url}, upstream ${upstream.url}, proxy ${proxy?.url ?? '-'}, gateway ${gateway.url} (pid ${gateway.pid})`);

  const headers = {
    'content-type': 'application/json',
    authorization: 'Bearer sk-bench-provider-key',
    'x-fake-latency-ms': String(o.upstreamLatencyMs),
  };
  const body = chatBody({}, o.promptKiB);
  const light = run.gatewayOnly ? [] : String(o.lightConnections).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const levels = [o.connections, ...light];
  const results: OverheadResult[] = [];
  for (const connections of levels) {
    const measure = async (target: string, processUnderTest: Child, url: string, path: string, warmPath: string, collect: boolean) => {
      assertAlive(upstream, proxy, gateway, langfuse);
      log(`  ${target}: warm-up ${o.warmupS} s, then ${o.durationS} s at ${connections} connections`);
      if (o.warmupS > 0) await runLoad({ url: url + warmPath, headers, body, connections, durationS: o.warmupS });
      await sleep(500);
      env.markMeasured(processUnderTest);
      await processUnderTest.loopStats();
      const cpuBefore = cpuTimeMs(processUnderTest.pid);
      const env0 = { self: process.cpuUsage(), upstream: cpuTimeMs(upstream.pid), langfuse: cpuTimeMs(langfuse.pid), at: Date.now() };
      const load = await runLoad({ url: url + path, headers, body, connections, durationS: o.durationS, collectInsertionIds: collect });
      const cpuMs = cpuTimeMs(processUnderTest.pid) - cpuBefore;
      const wall = Math.max(1, Date.now() - env0.at);
      const self = process.cpuUsage(env0.self);
      const environmentCpuPct = {
        loadGenerator: ((self.user + self.system) / 1000 / wall) * 100,
        upstream: ((cpuTimeMs(upstream.pid) - env0.upstream) / wall) * 100,
        langfuse: ((cpuTimeMs(langfuse.pid) - env0.langfuse) / wall) * 100,
      };
      const loop = await processUnderTest.loopStats();
      assertAlive(upstream, proxy, gateway, langfuse);
      const rssMiB = processUnderTest.rssKiB() / 1024;
      const { insertionIds, ...rest } = load;
      const result: TargetResult = { target, url: url + path, load: rest, cpuMsPer1k: (cpuMs / Math.max(1, load.responses)) * 1000, rssMiB, loop, environmentCpuPct, cpuPct: (cpuMs / wall) * 100 };
      log(
        `    ${round(load.rps, 0)} req/s, p50 ${round(load.latency.p50)} ms, p99 ${round(load.latency.p99)} ms, statuses ${JSON.stringify(load.statusCounts)}; ` +
          `CPU: under test ${round((cpuMs / wall) * 100, 0)} %, load generator ${round(environmentCpuPct.loadGenerator, 0)} %, upstream ${round(environmentCpuPct.upstream, 0)} %, Langfuse ${round(environmentCpuPct.langfuse, 0)} %; ` +
          `load generator loop delay p99 ${round(load.generatorLoopDelay.p99, 1)} ms`,
      );
      await sleep(1000);
      return { result, insertionIds };
    };

    const rollout = `bench-${connections}c-${Date.now()}`;
    const targets: TargetResult[] = [];
    let a: TargetResult | undefined;
    let b: TargetResult | undefined;
    if (want.has('a')) targets.push((a = (await measure('(a) direct to upstream', upstream, upstream.url, '/v1/chat/completions', '/v1/chat/completions', false)).result));
    if (proxy) targets.push((b = (await measure('(b) node pass-through proxy', proxy, proxy.url, '/v1/chat/completions', '/v1/chat/completions', false)).result));
    const tracked = await measure('(c) gateway, tracked + Redis + Langfuse', gateway, gateway.url, trackedPath(rollout), trackedPath(`${rollout}-warmup`), true);
    const c = tracked.result;
    targets.push(c);

    const correctness = await checkCorrectness(redis, keyPrefix, rollout, tracked.result.load, tracked.insertionIds ?? new Set(), langfuse);
    const ratios = {
      throughputCoverA: a ? c.load.rps / a.load.rps : NaN,
      throughputCoverB: b ? c.load.rps / b.load.rps : NaN,
      addedP50OverA: a ? c.load.latency.p50 - a.load.latency.p50 : NaN,
      addedP50OverB: b ? c.load.latency.p50 - b.load.latency.p50 : NaN,
      addedP99OverA: a ? c.load.latency.p99 - a.load.latency.p99 : NaN,
    };
    results.push({
      settings: { connections, durationS: o.durationS, warmupS: o.warmupS, upstreamLatencyMs: o.upstreamLatencyMs, cpus: env.cpu.underTest },
      targets,
      ratios,
      targetsMet: { addedP50Le2ms: ratios.addedP50OverA <= 2, throughputGe08xProxy: ratios.throughputCoverB >= 0.8 },
      correctness,
    });
  }
  return results;
}

async function checkCorrectness(
  redis: Redis,
  keyPrefix: string,
  rollout: string,
  load: Omit<LoadResult, 'insertionIds'>,
  seen: Set<string>,
  langfuse: { countTraces(rollout: string): Promise<number> },
): Promise<OverheadResult['correctness']> {
  await sleep(500); // requests cut by the load generator's stop finish server-side
  const inRedis = new Set(await redis.smembers(benchRolloutKey(keyPrefix, rollout, 'ids')));
  let okWithoutRedisId = 0;
  for (const id of seen) if (!inRedis.has(id)) okWithoutRedisId++;
  const okMissingHeader = load.ok - seen.size; // 200s whose x-insertion-id was not captured (should be 0)
  let redisIdsWithoutClientOk = 0;
  for (const id of inRedis) if (!seen.has(id)) redisIdsWithoutClientOk++;
  const tracesInLangfuse = await waitForTraces(langfuse, rollout, inRedis.size, 20_000);
  const nonOk = load.responses - load.ok;
  return {
    responses: load.responses,
    ok200: load.ok,
    nonOk,
    idsInRedis: inRedis.size,
    okWithoutRedisId: okWithoutRedisId + Math.max(0, okMissingHeader),
    redisIdsWithoutClientOk,
    tracesInLangfuse,
    // Ids recorded for requests the load generator cut at its stop are fine (they succeeded
    // server-side); a 200 without its id in Redis, or any non-200, is not.
    ok: nonOk === 0 && load.errors === 0 && okWithoutRedisId === 0 && okMissingHeader === 0 && redisIdsWithoutClientOk <= load.responses * 0.01 + 300,
  };
}

/** Waits until the fake Langfuse holds `expected` traces of the rollout (export is batched), or the timeout. */
export async function waitForTraces(langfuse: { countTraces(rollout: string): Promise<number> }, rollout: string, expected: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let count = 0;
  for (;;) {
    count = await langfuse.countTraces(rollout);
    if (count >= expected || Date.now() > deadline) return count;
    await sleep(1000);
  }
}

export function printOverhead(r: OverheadResult): void {
  const rows = r.targets.map((t) => [
    t.target,
    round(t.load.rps, 0),
    round(t.load.latency.p50),
    round(t.load.latency.p90),
    round(t.load.latency.p99),
    round(t.load.latency.max, 1),
    t.load.responses - t.load.ok + t.load.errors,
    round(t.cpuMsPer1k, 0),
    round(t.rssMiB, 0),
  ]);
  log(
    table(
      `Completion overhead — ${r.settings.connections} connections, upstream ${r.settings.upstreamLatencyMs} ms, ${r.settings.durationS} s each${r.settings.cpus ? `, process under test on CPU ${r.settings.cpus}` : ''}`,
      ['target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-200+err', 'CPU ms/1k req', 'RSS MiB'],
      rows,
    ),
  );
  for (const t of r.targets) {
    if (t.loop) log(`  ${t.target}: event-loop delay p50 ${t.loop.loopDelay.p50} ms, p99 ${t.loop.loopDelay.p99} ms, max ${t.loop.loopDelay.max} ms; GC ${t.loop.gc.count}× ${t.loop.gc.totalMs} ms (longest ${t.loop.gc.maxMs} ms)`);
  }
  const x = r.ratios;
  const ratioRows: Array<[string, number, string, string]> = [
    ['throughput c/a', round(x.throughputCoverA, 3), '', ''],
    ['throughput c/b', round(x.throughputCoverB, 3), '≥ 0.8', r.targetsMet.throughputGe08xProxy ? 'yes' : 'NO'],
    ['added p50 c−a (ms)', round(x.addedP50OverA, 2), '≤ 2', r.targetsMet.addedP50Le2ms ? 'yes' : 'NO'],
    ['added p50 c−b (ms)', round(x.addedP50OverB, 2), '', ''],
    ['added p99 c−a (ms)', round(x.addedP99OverA, 2), '', ''],
  ];
  const shown = ratioRows.filter((row) => Number.isFinite(row[1]));
  if (shown.length > 0) log(table('Ratios (c = gateway)', ['measure', 'value', 'target', 'met'], shown));
  const c = r.correctness;
  log(
    table('Correctness of the tracked run (c)', ['check', 'value'], [
      ['responses', c.responses],
      ['200 responses', c.ok200],
      ['non-200 responses / errors', c.nonOk],
      ['insertion ids in Redis for the rollout', c.idsInRedis],
      ['200s whose id is NOT in Redis (must be 0)', c.okWithoutRedisId],
      ['ids in Redis without a 200 seen (cut by the load stop)', c.redisIdsWithoutClientOk],
      ['traces of the rollout in fake Langfuse', c.tracesInLangfuse],
      ['verdict', c.ok ? 'OK' : 'FAILED'],
    ]),
  );
}

/** Medians over repeated overhead runs (the gateway's throughput varies from one process to the next). */
export function printOverheadMedians(runs: OverheadResult[][]): void {
  if (runs.length === 0) return;
  for (let level = 0; level < runs[0].length; level++) {
    const first = runs[0][level];
    const rows = first.targets.map((t, i) => {
      const all = runs.map((r) => r[level]?.targets[i]).filter((x): x is TargetResult => x !== undefined);
      const rps = all.map((x) => x.load.rps);
      return [t.target, round(median(rps), 0), `${round(Math.min(...rps), 0)}–${round(Math.max(...rps), 0)}`, round(median(all.map((x) => x.load.latency.p50))), round(median(all.map((x) => x.load.latency.p99))), round(median(all.map((x) => x.cpuMsPer1k)), 0)];
    });
    const ratio = (f: (r: OverheadResult) => number) => round(median(runs.map((r) => r[level]).filter(Boolean).map(f)), 3);
    const extra = [
      ['throughput c/b', ratio((r) => r.ratios.throughputCoverB), '', '', '', ''],
      ['added p50 c−a (ms)', ratio((r) => r.ratios.addedP50OverA), '', '', '', ''],
    ].filter((row) => Number.isFinite(row[1]));
    log(table(`Medians of ${runs.length} runs — ${first.settings.connections} connections`, ['target', 'req/s', 'req/s range', 'p50 ms', 'p99 ms', 'CPU ms/1k req'], [...rows, ...extra]));
  }
}
