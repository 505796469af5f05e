/**
 * 4. Memory: RSS of the gateway idle (right after start, and after a warm-up
 * of ordinary completions), then with N slow SSE streams held open through it
 * (tracked route, each stream sending one chunk every few seconds), and after
 * they are closed. The bare pass-through proxy holding the same streams is
 * shown for scale. Both run with --expose-gc: before each reading the
 * preloaded monitor runs a full GC, so the figures are live memory, not
 * garbage waiting for the collector.
 */
import { Agent, ClientRequest, request } from 'node:http';
import { BenchEnv } from '../lib/env';
import { chatBody, trackedPath } from '../lib/gateway';
import { runLoad } from '../lib/load';
import { assertAlive, Child, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { round } from '../lib/stats';

export interface MemoryReading {
  rssMiB: number;
  heapUsedMiB: number;
}

export interface MemoryRow {
  process: string;
  idleAfterStart: MemoryReading;
  /** RSS once V8's memory reducer has shrunk the heap of an idle process (it does so some seconds after the last allocations), and when. */
  settledAfterStart: Settled;
  settledAfterWarmup: Settled;
  idleAfterWarmup: MemoryReading;
  withStreams: MemoryReading;
  streamsOpen: number;
  afterClose: MemoryReading;
  perStreamRssKiB: number;
  perStreamHeapKiB: number;
}

export interface MemoryResult {
  settings: { streams: number; chunkGapMs: number };
  rows: MemoryRow[];
}

const CHUNK_GAP_MS = 5000;

export interface Settled {
  rssMiB: number;
  /** Seconds of idleness it took. */
  afterS: number;
}

/**
 * The lowest RSS of an idle process over `seconds`, sampled every second, and
 * when it got there. No forced GC: what the process holds by itself when left
 * alone. V8 shrinks an idle heap on its own schedule: 20-odd seconds after
 * start, about 100 s after a burst of load, in runs on this VM.
 */
async function settledRss(target: Child, seconds: number): Promise<Settled> {
  const t0 = Date.now();
  const samples: Array<{ kib: number; at: number }> = [{ kib: target.rssKiB(), at: t0 }];
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(1000);
    samples.push({ kib: target.rssKiB(), at: Date.now() });
  }
  const low = Math.min(...samples.map((x) => x.kib));
  // When it got there (within 2 MiB of the lowest), not when it last dipped by a few KiB.
  const reached = samples.find((x) => x.kib <= low + 2048)!;
  return { rssMiB: low / 1024, afterS: Math.round((reached.at - t0) / 1000) };
}

export async function runMemory(env: BenchEnv): Promise<MemoryResult> {
  const o = env.options;
  const { gateway, upstream, langfuse } = await env.trackedGateway(['--expose-gc']);
  const rollout = `bench-mem-${Date.now()}`;
  const rows: MemoryRow[] = [];

  rows.push(await measure('gateway (tracked, Redis, Langfuse export)', gateway, trackedPath(rollout), trackedPath(`${rollout}-warmup`), o.settleSeconds));
  await gateway.stop();

  const proxy = await env.passthroughProxy(upstream.url, ['--expose-gc']);
  rows.push(await measure('node pass-through proxy', proxy, '/v1/chat/completions', '/v1/chat/completions', Math.min(10, o.settleSeconds)));
  await proxy.stop();

  return { settings: { streams: o.memoryStreams, chunkGapMs: CHUNK_GAP_MS }, rows };

  async function read(target: Child): Promise<MemoryReading> {
    const stats = await target.loopStats(); // runs a full GC first
    return { rssMiB: target.rssKiB() / 1024, heapUsedMiB: stats?.memory.heapUsed ?? NaN };
  }

  async function measure(name: string, target: Child, path: string, warmPath: string, settleS: number): Promise<MemoryRow> {
    await sleep(2000);
    const idleAfterStart = await read(target);
    log(`  ${name}: idle ${round(idleAfterStart.rssMiB, 1)} MiB; left idle for ${settleS} s`);
    const settledAfterStart = await settledRss(target, settleS);
    log(`  ${name}: lowest idle RSS ${round(settledAfterStart.rssMiB, 1)} MiB, reached after ${settledAfterStart.afterS} s; warm-up (5 s of completions at 64 connections)`);
    await runLoad({
      url: target.url + warmPath,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-provider-key' },
      body: chatBody(),
      connections: 64,
      durationS: 5,
    });
    await sleep(3000);
    const idleAfterWarmup = await read(target);
    log(`  ${name}: after the warm-up ${round(idleAfterWarmup.rssMiB, 1)} MiB; left idle for ${settleS} s`);
    const settledAfterWarmup = await settledRss(target, settleS);

    log(`  ${name}: opening ${o.memoryStreams} streams (one chunk every ${CHUNK_GAP_MS / 1000} s)`);
    const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
    const open: ClientRequest[] = [];
    let started = 0;
    const body = chatBody({ stream: true });
    const headers = {
      'content-type': 'application/json',
      authorization: 'Bearer sk-bench-provider-key',
      'x-fake-chunks': '1000',
      'x-fake-chunk-gap-ms': String(CHUNK_GAP_MS),
      'content-length': String(Buffer.byteLength(body)),
    };
    const u = new URL(target.url);
    const startedAll = new Promise<void>((resolve) => {
      const openOne = () => {
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path, agent, headers }, (res) => {
          res.once('data', () => {
            if (++started === o.memoryStreams) resolve();
          });
          res.on('data', () => undefined);
          res.on('error', () => undefined);
        });
        req.on('error', () => undefined);
        req.end(body);
        open.push(req);
      };
      // in batches, so the listen backlog never overflows into SYN retries
      let i = 0;
      const batch = () => {
        for (let n = 0; n < 100 && i < o.memoryStreams; n++, i++) openOne();
        if (i < o.memoryStreams) setTimeout(batch, 50);
      };
      batch();
    });
    await Promise.race([startedAll, sleep(60_000)]);
    await sleep(3000);
    const withStreams = await read(target);
    assertAlive(target, upstream, langfuse);
    const streamsOpen = started;
    log(`  ${name}: ${streamsOpen} streams open, RSS ${round(withStreams.rssMiB, 1)} MiB; closing them`);
    for (const req of open) req.destroy();
    agent.destroy();
    await sleep(5000);
    const afterClose = await read(target);
    return {
      process: name,
      idleAfterStart,
      settledAfterStart,
      idleAfterWarmup,
      settledAfterWarmup,
      withStreams,
      streamsOpen,
      afterClose,
      perStreamRssKiB: streamsOpen > 0 ? ((withStreams.rssMiB - Math.min(idleAfterWarmup.rssMiB, settledAfterWarmup.rssMiB)) * 1024) / streamsOpen : NaN,
      perStreamHeapKiB: streamsOpen > 0 ? ((withStreams.heapUsedMiB - idleAfterWarmup.heapUsedMiB) * 1024) / streamsOpen : NaN,
    };
  }
}

export function printMemory(r: MemoryResult): void {
  const m = (x: MemoryReading) => `${round(x.rssMiB, 0)} (${round(x.heapUsedMiB, 0)})`;
  const st = (x: Settled) => `${round(x.rssMiB, 0)} (${x.afterS} s)`;
  log(
    table(
      `Memory — RSS MiB (live JS heap MiB, after a full GC); ${r.settings.streams} slow SSE streams held open, a chunk every ${r.settings.chunkGapMs / 1000} s`,
      ['process', 'idle after start', 'idle, lowest (at s)', 'idle after warm-up', 'idle, lowest (at s)', 'streams open', 'with the streams', 'per stream RSS KiB', 'per stream heap KiB', 'after closing them'],
      r.rows.map((x) => [x.process, m(x.idleAfterStart), st(x.settledAfterStart), m(x.idleAfterWarmup), st(x.settledAfterWarmup), x.streamsOpen, m(x.withStreams), round(x.perStreamRssKiB, 1), round(x.perStreamHeapKiB, 1), m(x.afterClose)]),
    ),
  );
}
