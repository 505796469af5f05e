/**
 * Faults on real processes: the built gateway (what `npm start` runs) as a
 * child process, real Redis, the fake Langfuse and the fake upstream. A
 * completion the client got a 200 for keeps its id and its trace through a
 * SIGTERM under load, a Langfuse outage (503, 429, down) with a restart of
 * the gateway in the middle of it, and a Redis killed by pid mid-load.
 */
import { RedisKeys } from '@app/redis';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, rolloutKey, writeSecrets } from './support/gateway';
import { GatewayProcess, startGatewayProcess } from './support/gateway-process';
import { runLoad } from './support/load';
import { testRedisUrl } from './support/redis';
import { RedisProcess } from './support/redis-process';

const PROJECT = { projectId: 'proj-a', publicKey: 'pk-lf-faults', secretKey: 'sk-lf-faults-SECRET' };

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let redis: Redis;
const started: GatewayProcess[] = [];

beforeAll(async () => {
  upstream = await startFakeOpenAI({ recordRequests: false });
  langfuse = await startFakeLangfuse({ projects: [PROJECT] });
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await Promise.all(started.map((g) => g.kill()));
  await Promise.all([upstream.close(), langfuse.close()]);
  await redis.quit();
});
beforeEach(() => {
  langfuse.reset();
  langfuse.options.ingestion = undefined;
});

function settings(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `faults-${randomUUID().slice(0, 8)}`,
    LITELLM_URL: `${upstream.url}/v1`,
    LANGFUSE_HOST: langfuse.url,
    LANGFUSE_FLUSH_INTERVAL: '0.1',
    SECRETS_PATH: writeSecrets(`langfuse_keys:\n  ${PROJECT.projectId}: { public_key: ${PROJECT.publicKey}, secret_key: ${PROJECT.secretKey} }\n`),
    SPOOL_DIR: mkdtempSync(join(tmpdir(), 'faults-spool-')),
    ...extra,
  };
}

async function gateway(env: Record<string, string>): Promise<GatewayProcess> {
  const g = await startGatewayProcess(env);
  started.push(g);
  return g;
}

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** The ids among `ids` whose trace Langfuse does not hold yet. */
function missingTraces(ids: string[]): string[] {
  const traced = tracedIds();
  return ids.filter((id) => !traced.has(id));
}

/** Insertion ids whose trace Langfuse holds (from the trace tags). */
function tracedIds(): Set<string> {
  const ids = new Set<string>();
  for (const trace of langfuse.traces(PROJECT.projectId)) for (const tag of trace.tags) if (tag.startsWith('insertion_id:')) ids.add(tag.slice('insertion_id:'.length));
  return ids;
}

it('SIGTERM under load: the drain ends with the last in-flight call, late calls are answered with Connection: close, every 200 is recorded and traced', async () => {
  const env = settings(testRedisUrl(), { SHUTDOWN_TIMEOUT: '30' });
  const g = await gateway(env);
  const rollout = `r-sigterm-${randomUUID()}`;
  const load = runLoad(g.url, `${metadataPath({ rollout })}/chat/completions`, { connections: 30, headers: { 'x-fake-latency-ms': '200' }, untilRefused: true });
  await new Promise((r) => setTimeout(r, 1_000));
  const signalledAt = Date.now();
  g.signal('SIGTERM');
  const exit = await g.exited;
  const drainMs = Date.now() - signalledAt;
  await load.stop();

  expect(exit).toBe(0);
  // Ended when its last in-flight call did, not at SHUTDOWN_TIMEOUT (30 s).
  expect(drainMs).toBeLessThan(10_000);
  const ok = load.outcomes.filter((o) => o.status === 200);
  expect(ok.length).toBeGreaterThan(30);
  expect(load.outcomes.filter((o) => typeof o.status === 'number' && o.status !== 200)).toEqual([]);
  // A call that arrived on a kept-alive connection after the signal was the connection's last.
  const late = ok.filter((o) => o.startedAt > signalledAt + 20);
  for (const o of late) expect(o.connection).toBe('close');
  expect(late.length).toBeLessThanOrEqual(30);

  const recorded = new Set(await redis.smembers(rolloutKey(env.REDIS_KEY_PREFIX, PROJECT.projectId, rollout, 'ids')));
  const traced = tracedIds();
  for (const o of ok) {
    expect(recorded.has(o.insertionId!)).toBe(true);
    expect(traced.has(o.insertionId!)).toBe(true);
  }
  // Delivered before the exit and acknowledged: nothing left for the next start to send again.
  expect(await redis.xlen(new RedisKeys(env.REDIS_KEY_PREFIX).shared('langfuse-traces'))).toBe(0);
  expect(g.lines.join('\n')).not.toContain(PROJECT.secretKey);
}, 60_000);

it('Langfuse answering 503, then 429 with Retry-After, then down, with the gateway restarted during the outage: every trace arrives once Langfuse is back', async () => {
  const env = settings(testRedisUrl(), { LANGFUSE_EXPORT_DRAIN_SECONDS: '1' });
  const first = await gateway(env);
  const rollout = `r-outage-${randomUUID()}`;
  const path = `${metadataPath({ rollout })}/chat/completions`;
  const phase = async (g: GatewayProcess, ms: number) => {
    // About 20 completions a second, the rate the outage runs used.
    const load = runLoad(g.url, path, { connections: 4, headers: { 'x-fake-latency-ms': '200' } });
    await new Promise((r) => setTimeout(r, ms));
    await load.stop();
    return load.outcomes;
  };

  langfuse.options.ingestion = { status: 503 };
  const outcomes = await phase(first, 1_500);
  langfuse.options.ingestion = { status: 429, retryAfterSeconds: 1 };
  outcomes.push(...(await phase(first, 1_500)));
  await langfuse.stop();
  outcomes.push(...(await phase(first, 1_500)));
  first.signal('SIGTERM');
  expect(await first.exited).toBe(0);
  expect(langfuse.ingestion.refused).toBeGreaterThan(0);

  // Restarted while Langfuse is still away; it comes back a little later.
  const second = await gateway(env);
  await new Promise((r) => setTimeout(r, 500));
  langfuse.options.ingestion = undefined;
  await langfuse.start();

  const ok = outcomes.filter((o) => o.status === 200).map((o) => o.insertionId!);
  expect(ok.length).toBeGreaterThan(20);
  expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
  await until(() => missingTraces(ok).length === 0, 30_000);
  expect(missingTraces(ok)).toEqual([]);

  // And /traces through the restarted gateway returns the rollout complete.
  const read = await fetch(`${second.url}/v1/traces?tags=rollout_id:${rollout}&max_retries=1`);
  expect(read.status).toBe(200);
  expect((await json(read)).total_traces).toBe(ok.length);
  const log = [...first.lines, ...second.lines].join('\n');
  expect(log).toMatch(/Langfuse did not take \d+ trace\(s\) of project proj-a \(HTTP 503/);
  expect(log).toMatch(/Took back \d+ trace\(s\) this gateway left in the trace stream/);
  expect(log).not.toContain(PROJECT.secretKey);
}, 90_000);

it('Redis killed by pid mid-load and started again: calls keep answering 200 without waiting on Redis, and every id and trace is kept', async () => {
  const own = await RedisProcess.create(true);
  if (!own) {
    console.warn('redis-server is not on PATH: this fault test needs its own Redis to kill.');
    return;
  }
  try {
    const env = settings(own.url);
    const g = await gateway(env);
    const rollout = `r-redis-kill-${randomUUID()}`;
    const load = runLoad(g.url, `${metadataPath({ rollout })}/chat/completions`, { connections: 8 });
    await new Promise((r) => setTimeout(r, 800));
    await own.kill();
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1_500));
    await own.start();
    const restartedAt = Date.now();
    await new Promise((r) => setTimeout(r, 800));
    await load.stop();

    const ok = load.outcomes.filter((o) => o.status === 200);
    expect(load.outcomes.filter((o) => o.status !== 200)).toEqual([]);
    const during = ok.filter((o) => o.startedAt > killedAt && o.startedAt + o.ms < restartedAt);
    expect(during.length).toBeGreaterThan(0);
    // Not held up by Redis: REGISTRATION_TIMEOUT_MS (250 ms) at most, where ioredis' reconnects took seconds.
    for (const o of during) expect(o.ms).toBeLessThan(1_500);

    const check = new Redis(own.url);
    try {
      const key = rolloutKey(env.REDIS_KEY_PREFIX, PROJECT.projectId, rollout, 'ids');
      await until(async () => (await check.scard(key)) === ok.length, 20_000);
      const recorded = new Set(await check.smembers(key));
      expect(ok.filter((o) => !recorded.has(o.insertionId!))).toEqual([]);
    } finally {
      await check.quit();
    }
    const okIds = ok.map((o) => o.insertionId!);
    await until(() => missingTraces(okIds).length === 0, 20_000);
    expect(missingTraces(okIds)).toEqual([]);
    const ready = await json(await fetch(`${g.url}/ready`));
    expect(ready.tracking.pending).toBe(0);
    g.signal('SIGTERM');
    expect(await g.exited).toBe(0);
  } finally {
    await own.kill();
  }
}, 90_000);
