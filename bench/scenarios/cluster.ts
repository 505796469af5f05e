/**
 * Scale-out (issue 16): built gateways as their own processes on a real local
 * Redis Cluster (3 masters, 3 replicas), side by side with one gateway on one
 * Redis, in one run:
 *
 *   1 gateway,  one Redis        the usual deployment, for comparison
 *   1 gateway,  Redis Cluster    what the cluster client costs
 *   2 gateways, Redis Cluster    the load split between two replicas, every rollout written through both
 *   2 gateways, Cluster, WAIT 1  REDIS_WAIT_REPLICAS=1: a write waits until a replica has it
 *   … master killed             the same, and the master holding the rollouts' keys SIGKILLed mid-run
 *
 * Each row is a closed loop of `connections` keep-alive connections for
 * `duration` seconds (split evenly over gateways × rollouts), upstream
 * answering after `latency` ms, export on to the fake Langfuse (its own
 * process). Reported: completions/s, latency, CPU ms per 1,000 completions
 * of the gateways and of the Redis processes, and, once everything settled,
 * the 200s whose insertion id is not in Redis ("ids lost") or whose trace did
 * not reach Langfuse ("traces lost").
 *
 * Nothing is pinned: two gateways, six redis-servers, the fakes and the load
 * generator share this machine's cores, so the rows show what scale-out costs
 * per completion and that nothing is lost, not how throughput scales with
 * cores. Needs redis-server and redis-cli on PATH. Not part of `all`.
 */
import Redis, { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisClusterProcess } from '../../test/support/redis-cluster';
import { BenchEnv } from '../lib/env';
import { benchRolloutKey, chatBody, GatewayChild, startGatewayProcess, trackedPath } from '../lib/gateway';
import { LoadResult, runLoad } from '../lib/load';
import { Child, cpuTimeMs, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { round } from '../lib/stats';

/** Rollouts per row; each is written through every gateway of the row. */
const ROLLOUTS = 2;
const SETTLE_MS = 120_000;

export interface ClusterRow {
  name: string;
  gateways: number;
  redis: 'single' | 'cluster';
  waitReplicas: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  notOk: Record<string, number>;
  /** CPU of the gateway processes (main thread and export worker) per 1,000 completions answered. */
  gatewayCpuMsPer1k: number;
  /** CPU of the Redis processes per 1,000 completions (the cluster's six nodes, or the one redis-server when this run started it; a killed node's share is left out). */
  redisCpuMsPer1k?: number;
  idsLost: number;
  tracesLost: number;
  /** ms from the end of the load until every id was in Redis and every trace in Langfuse. */
  settleMs: number;
  /**
   * From the gateways' /metrics (warm-up included): registrations that waited in the retry queue
   * and traces kept in memory (Redis did not confirm within their 250 ms deadline), and writes
   * fewer replicas than REDIS_WAIT_REPLICAS confirmed in time.
   */
  fallbacks: { queued: number; memory: number; unconfirmed: number };
  /** For the failover row: SIGKILL until the cluster served the killed master's slots again. */
  failoverMs?: number;
}

export interface ClusterResult {
  settings: { connections: number; durationS: number; upstreamLatencyMs: number; rollouts: number };
  rows: ClusterRow[];
}

interface RowSpec {
  name: string;
  gateways: number;
  redis: 'single' | 'cluster';
  waitReplicas: number;
  killMaster?: boolean;
}

const ROWS: RowSpec[] = [
  { name: '1 gateway, one Redis', gateways: 1, redis: 'single', waitReplicas: 0 },
  { name: '1 gateway, Redis Cluster', gateways: 1, redis: 'cluster', waitReplicas: 0 },
  { name: '2 gateways, Redis Cluster', gateways: 2, redis: 'cluster', waitReplicas: 0 },
  { name: '2 gateways, Cluster, WAIT 1', gateways: 2, redis: 'cluster', waitReplicas: 1 },
  { name: '… master killed mid-run', gateways: 2, redis: 'cluster', waitReplicas: 1, killMaster: true },
];

export async function runCluster(env: BenchEnv): Promise<ClusterResult> {
  const o = env.options;
  const unavailable = RedisClusterProcess.unavailable();
  if (unavailable) throw new Error(`The cluster scenario needs ${unavailable}.`);
  log('starting a Redis Cluster of 3 masters and 3 replicas');
  const cluster = (await RedisClusterProcess.create({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 }))!;
  env.defer(() => cluster.stop());
  const clusterClient = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 2 } });
  env.defer(async () => clusterClient.disconnect());
  const { resolved, client: single } = await env.redis();
  const langfuse = await env.fakeLangfuseProcess();
  const upstream = await env.fakeUpstream();

  const rows: ClusterRow[] = [];
  for (const spec of ROWS) {
    const row = await runRow(env, spec, { cluster, clusterClient, single, singleUrl: resolved.url, singlePid: resolved.pid, upstream, langfuse });
    rows.push(row);
    log(
      `  ${row.name}: ${round(row.rps, 0)} completions/s, p50 ${round(row.p50Ms)} ms, p99 ${round(row.p99Ms)} ms, ${row.ok} answered 200, ids lost ${row.idsLost}, traces lost ${row.tracesLost}` +
        (row.failoverMs !== undefined ? `, failover ${row.failoverMs} ms` : ''),
    );
  }
  return { settings: { connections: o.connections, durationS: o.durationS, upstreamLatencyMs: o.upstreamLatencyMs, rollouts: ROLLOUTS }, rows };
}

interface Shared {
  cluster: RedisClusterProcess;
  clusterClient: Cluster;
  single: Redis;
  singleUrl: string;
  /** pid of the single redis-server when this run started it (not a Redis it found running). */
  singlePid?: number;
  upstream: Child;
  langfuse: Child & { countTraces(rollout: string): Promise<number> };
}

async function runRow(env: BenchEnv, spec: RowSpec, s: Shared): Promise<ClusterRow> {
  const o = env.options;
  const keyPrefix = `bench-${randomUUID().slice(0, 8)}`;
  const rollouts = Array.from({ length: ROLLOUTS }, () => `bench-cluster-${randomUUID()}`);
  const redisEnv =
    spec.redis === 'cluster'
      ? { REDIS_URL: '', REDIS_CLUSTER_NODES: s.cluster.nodesSetting, REDIS_WAIT_REPLICAS: String(spec.waitReplicas) }
      : { REDIS_WAIT_REPLICAS: String(spec.waitReplicas) };
  const gateways: GatewayChild[] = [];
  for (let i = 0; i < spec.gateways; i++) {
    const common = env.gatewayCommon();
    const gateway = await startGatewayProcess({
      ...common,
      cpuList: undefined,
      name: `gateway-${spec.redis}-${spec.gateways}-${spec.waitReplicas}${spec.killMaster ? '-kill' : ''}-${i}`,
      upstreamUrl: s.upstream.url,
      redisUrl: s.singleUrl,
      keyPrefix,
      langfuseUrl: s.langfuse.url,
      // Each replica its own consumer in the trace stream's group (one host here).
      env: { ...common.env, ...redisEnv, LANGFUSE_EXPORT_CONSUMER: `${keyPrefix}-${i}` },
    });
    env.defer(() => gateway.stop());
    gateways.push(gateway);
  }
  await Promise.all(gateways.map((g) => waitReady(g)));
  const store = spec.redis === 'cluster' ? s.clusterClient : s.single;

  const perLoad = Math.max(1, Math.floor(o.connections / (gateways.length * rollouts.length)));
  // Warm up (JIT, connections, slot tables) at the same load outside the measured window, on rollouts of its own.
  if (o.warmupS > 0) await Promise.all(gateways.map((g) => load(g, `bench-cluster-warmup-${randomUUID()}`, o.upstreamLatencyMs, perLoad * rollouts.length, o.warmupS)));
  await sleep(500);
  const redisPids = spec.redis === 'cluster' ? s.cluster.nodes.map((n) => n.pid).filter((p): p is number => p !== undefined) : s.singlePid ? [s.singlePid] : [];
  const before = new Map([...gateways.map((g) => g.pid), ...redisPids].map((pid) => [pid, cpuTimeMs(pid)]));
  // CPU used since `before` by these processes; a node killed meanwhile (gone from /proc) counts for nothing.
  const used = (pids: number[]) => sum(pids.map((pid) => Math.max(0, cpuTimeMs(pid) - before.get(pid)!)));
  const loads = Promise.all(gateways.flatMap((g) => rollouts.map((r) => load(g, r, o.upstreamLatencyMs, perLoad, o.durationS))));
  let failoverMs: number | undefined;
  if (spec.killMaster) {
    await sleep((o.durationS * 1000) / 3);
    await s.cluster.killMaster(benchRolloutKey(keyPrefix, rollouts[0], 'ids'));
    failoverMs = (await s.cluster.waitForFailover()).ms;
  }
  const results = await loads;
  const gatewayCpuMs = used(gateways.map((g) => g.pid));
  const redisCpuMs = used(redisPids);

  const ok = new Map<string, Set<string>>(rollouts.map((r) => [r, new Set()]));
  results.forEach((res, i) => {
    const rollout = rollouts[i % rollouts.length];
    for (const id of res.insertionIds ?? []) ok.get(rollout)!.add(id);
  });
  const okCount = sum([...ok.values()].map((ids) => ids.size));

  // Settle: every id in Redis, every trace in Langfuse (the retry queues and the export drain).
  const settleStart = Date.now();
  const lost = async () => {
    let ids = 0;
    let traces = 0;
    for (const rollout of rollouts) {
      const stored = new Set(await store.smembers(benchRolloutKey(keyPrefix, rollout, 'ids')).catch(() => [] as string[]));
      ids += [...ok.get(rollout)!].filter((id) => !stored.has(id)).length;
      traces += Math.max(0, ok.get(rollout)!.size - (await s.langfuse.countTraces(rollout)));
    }
    return { ids, traces };
  };
  let missing = await lost();
  while (missing.ids + missing.traces > 0 && Date.now() - settleStart < SETTLE_MS) {
    await sleep(500);
    missing = await lost();
  }
  const settleMs = Date.now() - settleStart;
  const fallbacks = { queued: 0, memory: 0, unconfirmed: 0 };
  for (const g of gateways) {
    const text = await (await fetch(`${g.url}/metrics`)).text();
    fallbacks.queued += metric(text, 'gateway_registrations_queued_total');
    fallbacks.memory += metric(text, 'gateway_traces_memory_fallbacks_total');
    fallbacks.unconfirmed += metric(text, 'gateway_redis_unconfirmed_writes_total');
  }
  for (const g of gateways) await g.stop();

  const notOk: Record<string, number> = {};
  for (const res of results) {
    for (const [status, n] of Object.entries(res.statusCounts)) if (status !== '200') notOk[status] = (notOk[status] ?? 0) + n;
    if (res.errors > 0) notOk.errors = (notOk.errors ?? 0) + res.errors;
  }
  const latencies = results.map((r) => r.latency);
  const measuredS = Math.max(...results.map((r) => r.durationS));
  return {
    name: spec.name,
    gateways: spec.gateways,
    redis: spec.redis,
    waitReplicas: spec.waitReplicas,
    rps: sum(results.map((r) => r.ok)) / measuredS,
    // The loads are the same size: the mean of their percentiles.
    p50Ms: sum(latencies.map((l) => l.p50)) / latencies.length,
    p99Ms: Math.max(...latencies.map((l) => l.p99)),
    ok: okCount,
    notOk,
    gatewayCpuMsPer1k: (gatewayCpuMs / Math.max(okCount, 1)) * 1000,
    redisCpuMsPer1k: redisPids.length ? (redisCpuMs / Math.max(okCount, 1)) * 1000 : undefined,
    idsLost: missing.ids,
    tracesLost: missing.traces,
    settleMs,
    failoverMs,
    fallbacks,
  };
}

function load(gateway: GatewayChild, rollout: string, upstreamLatencyMs: number, connections: number, durationS: number): Promise<LoadResult> {
  return runLoad({
    url: `${gateway.url}${trackedPath(rollout)}`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-client', 'x-fake-latency-ms': String(upstreamLatencyMs) },
    body: chatBody(),
    connections,
    durationS,
    collectInsertionIds: true,
  });
}

/** Until /ready answers 200 (the cluster client has its slot table, the export worker runs). */
async function waitReady(gateway: GatewayChild): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${gateway.url}/ready`).catch(() => undefined);
    if (res?.status === 200) {
      const body = (await res.json()) as { status?: string };
      if (body.status === 'ready') return;
    }
    await sleep(100);
  }
  throw new Error(`${gateway.name} did not become ready within 30 s (see ${gateway.logFile})`);
}

/** A counter's value in a Prometheus text page (0 when absent). */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

export function printCluster(r: ClusterResult): void {
  log(
    table(
      `Scale-out on a Redis Cluster (3 masters, 3 replicas): ${r.settings.connections} connections for ${r.settings.durationS} s per row over ${r.settings.rollouts} rollouts, each written through every gateway; upstream ${r.settings.upstreamLatencyMs} ms; export on; "lost" = a 200 whose id is not in Redis or whose trace is not in Langfuse once settled`,
      ['row', 'completions/s', 'p50 ms', 'p99 ms', '200s', 'not 200', 'gateway CPU ms / 1k', 'Redis CPU ms / 1k', 'ids lost', 'traces lost', 'settled in s', 'queued / in memory / unconfirmed', 'failover ms'],
      r.rows.map((row) => [
        row.name,
        round(row.rps, 0),
        round(row.p50Ms),
        round(row.p99Ms),
        row.ok,
        Object.keys(row.notOk).length ? JSON.stringify(row.notOk) : 0,
        round(row.gatewayCpuMsPer1k, 0),
        row.redisCpuMsPer1k === undefined ? 'n/a' : round(row.redisCpuMsPer1k, 0),
        row.idsLost,
        row.tracesLost,
        round(row.settleMs / 1000, 1),
        `${row.fallbacks.queued} / ${row.fallbacks.memory} / ${row.fallbacks.unconfirmed}`,
        row.failoverMs ?? '',
      ]),
    ),
  );
}
