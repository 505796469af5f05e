/**
 * Issue 17, target 4: many concurrent SSE streams through one gateway
 * process. `open-streams` (9,900) tracked streams, opened evenly over
 * `open-seconds` (10), each a chunk every `open-gap` ms (1 s) for `chunks`
 * (20) chunks, so all are open at once for about ten seconds. Every stream
 * holds two of the gateway's sockets (client and upstream): 9,900 is the
 * most the machines' 20,000 open files allow. Reports the gateway's RSS
 * (idle, peak, per open stream), event-loop delay and GC over the whole run,
 * time to headers and first chunk, errors, and correctness: every stream
 * ended with [DONE], its id in Redis and its trace in the fake Langfuse.
 */
import { Agent } from 'node:http';
import { BenchEnv } from '../lib/env';
import { benchRolloutKey, chatBody, LoopStats, trackedPath } from '../lib/gateway';
import { assertAlive, Child, cpuTimeMs, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { StreamTiming, timedStream } from '../lib/sse-client';
import { distribution, Distribution, round } from '../lib/stats';
import { waitForTraces } from './overhead';

export interface OpenStreamsResult {
  settings: { streams: number; openSeconds: number; chunks: number; gapMs: number };
  /** The same streams through the bare node proxy first, for scale. */
  proxy?: OpenStreamsSide;
  gateway: OpenStreamsSide;
  correctness: { okWithoutRedisId: number; idsInRedis: number; tracesInLangfuse: number; ok: boolean };
}

export interface OpenStreamsSide {
  process: string;
  /** Streams open at once at the peak (client side). */
  peakOpen: number;
  ok: number;
  errors: Record<string, number>;
  headers: Distribution;
  firstEvent: Distribution;
  gaps: Distribution;
  rss: { idleMiB: number; peakMiB: number; perStreamKiB: number };
  loop?: LoopStats;
  cpuPct: number;
  openedInS: number;
}

export async function runOpenStreams(env: BenchEnv): Promise<OpenStreamsResult> {
  const o = env.options;
  const { gateway, upstream, langfuse, redis, keyPrefix } = await env.trackedGateway();
  const rollout = `bench-open-${Date.now()}`;
  const body = chatBody({ stream: true, stream_options: { include_usage: true } });
  const headers = {
    'content-type': 'application/json',
    authorization: 'Bearer sk-bench-provider-key',
    'x-fake-latency-ms': '0',
    'x-fake-chunks': String(o.streamChunks),
    'x-fake-chunk-gap-ms': String(o.openGapMs),
  };
  // One socket per stream, none reused: what 9,900 clients each holding a stream look like.
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  env.defer(async () => agent.destroy());

  let proxySide: OpenStreamsSide | undefined;
  if (o.targets.includes('b')) {
    const proxy = await env.passthroughProxy(upstream.url);
    proxySide = withoutIds(await measure('node pass-through proxy', proxy, '/v1/chat/completions', '/v1/chat/completions'));
    await proxy.stop();
    await sleep(2000);
  }
  const gatewaySide = await measure('gateway (tracked, Redis, Langfuse export)', gateway, trackedPath(rollout), trackedPath(`${rollout}-warmup`));
  assertAlive(upstream, gateway, langfuse);

  await sleep(500);
  const inRedis = new Set(await redis.smembers(benchRolloutKey(keyPrefix, rollout, 'ids')));
  const okWithoutRedisId = gatewaySide.okIds.filter((id) => !inRedis.has(id)).length;
  const tracesInLangfuse = await waitForTraces(langfuse, rollout, inRedis.size, 60_000);
  return {
    settings: { streams: o.openStreams, openSeconds: o.openSeconds, chunks: o.streamChunks, gapMs: o.openGapMs },
    proxy: proxySide,
    gateway: withoutIds(gatewaySide),
    correctness: {
      okWithoutRedisId,
      idsInRedis: inRedis.size,
      tracesInLangfuse,
      ok: gatewaySide.ok === o.openStreams && okWithoutRedisId === 0 && inRedis.size === gatewaySide.ok && tracesInLangfuse === inRedis.size,
    },
  };

  async function measure(name: string, target: Child, path: string, warmPath: string): Promise<OpenStreamsSide & { okIds: string[] }> {
    const tracked = target === gateway;
    // A short warm-up so the first streams don't pay for JIT and connection set-up.
    await Promise.all(Array.from({ length: 50 }, () => timedStream(agent, target.url, warmPath, { ...headers, 'x-fake-chunk-gap-ms': '10' }, body)));
    await sleep(2000);
    const idleMiB = target.rssKiB() / 1024;

    log(`  ${name}: opening ${o.openStreams} streams over ${o.openSeconds} s, ${o.streamChunks} chunks ${o.openGapMs} ms apart`);
    await target.loopStats();
    env.markMeasured(target);
    const cpu0 = cpuTimeMs(target.pid);
    const t0 = Date.now();
    let open = 0;
    let peakOpen = 0;
    let peakKiB = 0;
    const sampler = setInterval(() => (peakKiB = Math.max(peakKiB, target.rssKiB())), 200);
    const timeoutMs = (o.openSeconds + 30) * 1000 + o.streamChunks * o.openGapMs;
    const streams: Array<Promise<StreamTiming>> = [];
    const batches = Math.max(1, o.openSeconds * 10);
    for (let b = 0; b < batches; b++) {
      const until = Math.round(((b + 1) * o.openStreams) / batches);
      while (streams.length < until) {
        open++;
        peakOpen = Math.max(peakOpen, open);
        streams.push(timedStream(agent, target.url, path, headers, body, timeoutMs).finally(() => open--));
      }
      await sleep(Math.max(0, t0 + (b + 1) * 100 - Date.now()));
    }
    const openedAt = Date.now();
    const timings = await Promise.all(streams);
    clearInterval(sampler);
    const cpuPct = ((cpuTimeMs(target.pid) - cpu0) / Math.max(1, Date.now() - t0)) * 100;
    const loop = await target.loopStats();
    assertAlive(target, upstream);

    const ok = timings.filter((t) => !t.error && t.status === 200 && t.sawDone && (!tracked || t.insertionId));
    const errors: Record<string, number> = {};
    for (const t of timings) {
      if (ok.includes(t)) continue;
      const what = t.error ?? `status ${t.status}${t.sawDone ? '' : ', no [DONE]'}${t.insertionId || !tracked ? '' : ', no x-insertion-id'}`;
      errors[what] = (errors[what] ?? 0) + 1;
    }
    // Between content chunks (not the role chunk, not the usage chunk and [DONE] at the end).
    const gaps: number[] = [];
    for (const t of ok) for (let i = 2; i < t.eventMs.length - 1; i++) gaps.push(t.eventMs[i] - t.eventMs[i - 1]);
    return {
      process: name,
      peakOpen,
      ok: ok.length,
      errors,
      headers: distribution(ok.map((t) => t.headersMs)),
      firstEvent: distribution(ok.map((t) => t.firstEventMs)),
      gaps: distribution(gaps),
      rss: { idleMiB, peakMiB: peakKiB / 1024, perStreamKiB: (peakKiB - idleMiB * 1024) / Math.max(1, peakOpen) },
      loop,
      cpuPct,
      openedInS: (openedAt - t0) / 1000,
      okIds: ok.map((t) => t.insertionId!).filter(Boolean),
    };
  }
}

function withoutIds(side: OpenStreamsSide & { okIds: string[] }): OpenStreamsSide {
  const { okIds: _ids, ...rest } = side;
  return rest;
}

export function printOpenStreams(r: OpenStreamsResult): void {
  const s = r.settings;
  const sides = [...(r.proxy ? [r.proxy] : []), r.gateway];
  const g = r.gateway;
  const met = (yes: boolean) => (yes ? 'yes' : 'NO');
  const loop = (x: OpenStreamsSide) => (x.loop ? `${x.loop.loopDelay.p50} / ${x.loop.loopDelay.p99} / ${x.loop.loopDelay.max}` : '-');
  const errors = (x: OpenStreamsSide) => (Object.keys(x.errors).length ? Object.entries(x.errors).map(([k, v]) => `${v}× ${k}`).join('; ') : 0);
  const rows: Array<[string, (x: OpenStreamsSide) => string | number, string, string]> = [
    ['streams ended with [DONE] (and an id)', (x) => `${x.ok}/${s.streams}`, 'all', met(g.ok === s.streams)],
    ['errors', errors, '0', met(Object.keys(g.errors).length === 0)],
    ['streams open at once (peak)', (x) => x.peakOpen, '', ''],
    ['opened in (s)', (x) => round(x.openedInS, 1), `≤ ${s.openSeconds}`, met(g.openedInS <= s.openSeconds + 0.5)],
    ['RSS idle → peak (MiB)', (x) => `${round(x.rss.idleMiB, 0)} → ${round(x.rss.peakMiB, 0)}`, '≤ 1,024', met(g.rss.peakMiB <= 1024)],
    ['RSS per open stream (KiB)', (x) => round(x.rss.perStreamKiB, 1), '', ''],
    ['event-loop delay p50 / p99 / max (ms)', loop, 'p99 ≤ 20', g.loop ? met(g.loop.loopDelay.p99 <= 20) : ''],
    ['GC pauses (count, total ms, longest ms)', (x) => (x.loop ? `${x.loop.gc.count}, ${x.loop.gc.totalMs}, ${x.loop.gc.maxMs}` : '-'), '', ''],
    ['CPU over the run (% of a core)', (x) => round(x.cpuPct, 0), '', ''],
    ['headers p50 / p99 (ms)', (x) => `${round(x.headers.p50)} / ${round(x.headers.p99)}`, '', ''],
    ['first chunk p50 / p99 (ms)', (x) => `${round(x.firstEvent.p50)} / ${round(x.firstEvent.p99)}`, '', ''],
    [`gap between chunks p1 / p50 / p99 (ms; upstream ${s.gapMs})`, (x) => `${round(x.gaps.p1)} / ${round(x.gaps.p50)} / ${round(x.gaps.p99)}`, '', ''],
  ];
  log(
    table(
      `Open streams — ${s.streams} SSE streams through one process, opened evenly over ${s.openSeconds} s, ${s.chunks} chunks ${s.gapMs} ms apart`,
      ['measure', ...sides.map((x) => x.process), 'target (gateway)', 'met'],
      rows.map(([label, value, target, ok]) => [label, ...sides.map(value), target, ok]),
    ),
  );
  const c = r.correctness;
  log(
    table('Correctness of the gateway side', ['check', 'value'], [
      ['200s whose id is NOT in Redis (must be 0)', c.okWithoutRedisId],
      ['ids in Redis for the rollout', c.idsInRedis],
      ['traces of the rollout in fake Langfuse', c.tracesInLangfuse],
      ['verdict', c.ok ? 'OK' : 'FAILED'],
    ]),
  );
}
