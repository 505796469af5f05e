/**
 * 2. Streaming: time to first chunk and the gaps between chunks, straight
 * from the fake upstream vs through the gateway (tracked route, Redis and
 * Langfuse export on). The upstream sends N content chunks G ms apart; if the
 * gateway batched chunks, gaps near 0 (and several events per read) would
 * show up where the direct side has none.
 */
import { Agent } from 'node:http';
import { BenchEnv } from '../lib/env';
import { chatBody, LoopStats, trackedPath } from '../lib/gateway';
import { assertAlive, Child, cpuTimeMs, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { pool, StreamTiming, timedStream } from '../lib/sse-client';
import { distribution, Distribution, round } from '../lib/stats';

export interface StreamSide {
  side: string;
  streams: number;
  ok: number;
  headers: Distribution;
  firstEvent: Distribution;
  gaps: Distribution;
  /** Gaps shorter than a quarter of the upstream's gap: chunks that arrived together. */
  batchedGaps: number;
  /** Largest number of events completed by one read. */
  maxEventsPerRead: number;
  eventsPerStream: number;
  total: Distribution;
  errors: string[];
  /** CPU used by the process serving this side (upstream or gateway) while measured, % of one core. */
  cpuPct: number;
  /** The gateway's event-loop delay and GC pauses while measured. */
  loop?: LoopStats;
}

export interface StreamingResult {
  settings: { streams: number; concurrency: number; chunks: number; gapMs: number; upstreamLatencyMs: number };
  sides: StreamSide[];
  addedFirstEventP50: number;
  addedFirstEventP90: number;
  /** What the bare proxy adds (when it ran): the floor of any hop here. */
  proxyAddedFirstEvent?: { p50: number; p90: number };
  addedFirstEventP99: number;
  gapP50Delta: number;
  notBatched: boolean;
}

export async function runStreaming(env: BenchEnv): Promise<StreamingResult> {
  const o = env.options;
  const { gateway, upstream, langfuse } = await env.trackedGateway();

  const headers = {
    'content-type': 'application/json',
    authorization: 'Bearer sk-bench-provider-key',
    'x-fake-latency-ms': String(o.upstreamLatencyMs),
    'x-fake-chunks': String(o.streamChunks),
    'x-fake-chunk-gap-ms': String(o.streamGapMs),
  };
  const body = chatBody({ stream: true, stream_options: { include_usage: true } });
  const rollout = `bench-stream-${Date.now()}`;
  const agent = new Agent({ keepAlive: true, maxSockets: o.streamConcurrency });
  env.defer(async () => agent.destroy());

  const measureSide = async (side: string, url: string, path: string, pid: number, gw?: Child): Promise<StreamSide> => {
    // warm-up: a tenth of the streams, not measured
    await pool(Math.max(o.streamConcurrency, Math.round(o.streams / 10)), o.streamConcurrency, () => timedStream(agent, url, path, headers, body));
    await sleep(300);
    log(`  ${side}: ${o.streams} streams, ${o.streamConcurrency} at a time, ${o.streamChunks} chunks ${o.streamGapMs} ms apart`);
    await gw?.loopStats();
    if (gw) env.markMeasured(gw);
    const cpu0 = cpuTimeMs(pid);
    const t0 = Date.now();
    const timings = await pool(o.streams, o.streamConcurrency, () => timedStream(agent, url, path, headers, body));
    const cpuPct = ((cpuTimeMs(pid) - cpu0) / Math.max(1, Date.now() - t0)) * 100;
    const loop = await gw?.loopStats();
    assertAlive(upstream, gateway, langfuse);
    return { ...summarise(side, timings, o.streamGapMs), cpuPct, loop };
  };

  const direct = await measureSide('direct to upstream', upstream.url, '/v1/chat/completions', upstream.pid);
  // The bare node proxy: what any hop adds on this machine (loopback wake-ups), for scale.
  let proxied: StreamSide | undefined;
  if (o.targets.includes('b')) {
    const proxy = await env.passthroughProxy(upstream.url);
    proxied = await measureSide('node pass-through proxy', proxy.url, '/v1/chat/completions', proxy.pid, proxy);
    await proxy.stop();
  }
  const through = await measureSide('through the gateway (tracked)', gateway.url, trackedPath(rollout), gateway.pid, gateway);
  const addedFirstEventP50 = through.firstEvent.p50 - direct.firstEvent.p50;
  return {
    settings: { streams: o.streams, concurrency: o.streamConcurrency, chunks: o.streamChunks, gapMs: o.streamGapMs, upstreamLatencyMs: o.upstreamLatencyMs },
    sides: [direct, ...(proxied ? [proxied] : []), through],
    addedFirstEventP50,
    proxyAddedFirstEvent: proxied && { p50: proxied.firstEvent.p50 - direct.firstEvent.p50, p90: proxied.firstEvent.p90 - direct.firstEvent.p90 },
    addedFirstEventP90: through.firstEvent.p90 - direct.firstEvent.p90,
    addedFirstEventP99: through.firstEvent.p99 - direct.firstEvent.p99,
    gapP50Delta: through.gaps.p50 - direct.gaps.p50,
    notBatched: through.batchedGaps <= direct.batchedGaps + Math.ceil(direct.gaps.count * 0.001) && through.maxEventsPerRead <= Math.max(1, direct.maxEventsPerRead),
  };
}

function summarise(side: string, timings: StreamTiming[], gapMs: number): Omit<StreamSide, 'cpuPct'> {
  const gaps: number[] = [];
  let batched = 0;
  let maxPerRead = 0;
  let events = 0;
  const errors: string[] = [];
  for (const t of timings) {
    events += t.eventMs.length;
    for (let i = 1; i < t.eventMs.length; i++) {
      const g = t.eventMs[i] - t.eventMs[i - 1];
      gaps.push(g);
      if (g < gapMs / 4) batched++;
    }
    for (const n of t.eventsPerRead) maxPerRead = Math.max(maxPerRead, n);
    if (t.error || t.status !== 200 || !t.sawDone) errors.push(t.error ?? `status ${t.status}${t.sawDone ? '' : ', no [DONE]'}`);
  }
  const ok = timings.filter((t) => !t.error && t.status === 200 && t.sawDone);
  return {
    side,
    streams: timings.length,
    ok: ok.length,
    headers: distribution(ok.map((t) => t.headersMs)),
    firstEvent: distribution(ok.map((t) => t.firstEventMs)),
    gaps: distribution(gaps),
    batchedGaps: batched,
    maxEventsPerRead: maxPerRead,
    eventsPerStream: timings.length ? events / timings.length : 0,
    total: distribution(ok.map((t) => t.totalMs)),
    errors: [...new Set(errors)].slice(0, 5),
  };
}

export function printStreaming(r: StreamingResult): void {
  const s = r.settings;
  log(
    table(
      `Streaming — ${s.streams} streams per side, ${s.concurrency} concurrent, ${s.chunks} chunks ${s.gapMs} ms apart, first token after ${s.upstreamLatencyMs} ms`,
      ['side', 'ok', 'headers p50', 'first chunk p50', 'p90', 'p99', 'gap p1', 'gap p50', 'gap p99', 'gaps < gap/4', 'max events/read', 'events/stream', 'stream p50', 'server CPU %'],
      r.sides.map((x) => [
        x.side,
        `${x.ok}/${x.streams}`,
        round(x.headers.p50),
        round(x.firstEvent.p50),
        round(x.firstEvent.p90),
        round(x.firstEvent.p99),
        round(x.gaps.p1),
        round(x.gaps.p50),
        round(x.gaps.p99),
        x.batchedGaps,
        x.maxEventsPerRead,
        round(x.eventsPerStream, 1),
        round(x.total.p50, 1),
        round(x.cpuPct, 0),
      ]),
    ),
  );
  log(
    table('Streaming through the gateway vs direct', ['measure', 'value', 'target', 'met'], [
      ['added time to first chunk, p50 (ms)', round(r.addedFirstEventP50), '≤ 1', r.addedFirstEventP50 <= 1 ? 'yes' : 'NO'],
      ['added time to first chunk, p90 (ms)', round(r.addedFirstEventP90), '≤ 3', r.addedFirstEventP90 <= 3 ? 'yes' : 'NO'],
      ['added time to first chunk, p99 (ms)', round(r.addedFirstEventP99), '', ''],
      ...(r.proxyAddedFirstEvent
        ? [['the bare proxy adds to the first chunk, p50 / p90 (ms)', `${round(r.proxyAddedFirstEvent.p50)} / ${round(r.proxyAddedFirstEvent.p90)}`, '', '']]
        : []),
      ['gap p50 difference (ms)', round(r.gapP50Delta), '≈ 0', ''],
      ['chunks batched by the gateway', r.notBatched ? 'none' : 'YES', 'none', r.notBatched ? 'yes' : 'NO'],
    ]),
  );
  for (const x of r.sides) {
    if (x.loop) log(`  ${x.side}: event-loop delay p50 ${x.loop.loopDelay.p50} ms, p99 ${x.loop.loopDelay.p99} ms, max ${x.loop.loopDelay.max} ms; GC ${x.loop.gc.count}× ${x.loop.gc.totalMs} ms (longest ${x.loop.gc.maxMs} ms)`);
  }
  for (const x of r.sides) if (x.errors.length) log(`  ${x.side} errors: ${x.errors.join('; ')}`);
}
