/**
 * "A completion that returned 200 is always tracked": a real redis-server is
 * killed by pid in the middle of a rollout and started again. Completions keep
 * succeeding without waiting on Redis (the queue takes them within
 * REGISTRATION_TIMEOUT_MS), their ids wait in the retry queue (and still count
 * for reads), /ready says degraded while the queue has room and unavailable
 * once it is full, and every id is in Redis once it is back. A gateway that
 * stops during the outage leaves its queued ids in the spool, and the next
 * one to start stores them.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, rolloutKey, StartedGateway, startGateway } from './support/gateway';
import { findRedisServer, freePort, pingRedis } from './support/redis';

const bin = findRedisServer();
let port: number;
let redis: ChildProcess | undefined;

async function startRedis(): Promise<void> {
  redis = spawn(bin!, ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--dir', mkdtempSync(join(tmpdir(), 'outage-'))], { stdio: 'ignore' });
  for (let i = 0; i < 100 && (await pingRedis(`redis://127.0.0.1:${port}`, 200)); i++) await new Promise((r) => setTimeout(r, 50));
}

async function stopRedis(): Promise<void> {
  const child = redis;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

let upstream: FakeOpenAI;
let gw: StartedGateway;

beforeAll(async () => {
  if (!bin) return;
  port = await freePort();
  await startRedis();
  upstream = await startFakeOpenAI();
  gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: `redis://127.0.0.1:${port}`, REGISTRATION_QUEUE_SIZE: '5' });
});
afterAll(async () => {
  if (!bin) return;
  await gw.close();
  await upstream.close();
  await stopRedis();
});

it('keeps every id through a Redis outage', async () => {
  if (!bin) {
    console.warn('redis-server is not on PATH: the outage test needs its own server to stop and restart.');
    return;
  }
  const rollout = `r-outage-${Date.now()}`;
  const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'k', maxRetries: 0 });
  const call = async () => (await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).withResponse()).response.headers.get('x-insertion-id')!;

  const timed = async () => {
    const started = Date.now();
    const id = await call();
    return { id, ms: Date.now() - started };
  };

  const before = [await call(), await call()];
  await stopRedis();
  const first = [await timed(), await timed(), await timed()];
  // Each waited at most REGISTRATION_TIMEOUT_MS (250 ms) for Redis, not its reconnect cycles (seconds before).
  for (const { ms } of first) expect(ms).toBeLessThan(1_500);

  let res = await fetch(`${gw.url}/ready`);
  let ready = await json(res);
  expect(res.status).toBe(200);
  expect(ready.status).toBe('degraded');
  expect(ready.reasons.join(' ')).toMatch(/completeness store does not answer/);
  // The replica's trade-off, where an operator looks: only its reads count the queued ids; a kill loses them.
  expect(ready.reasons.join(' ')).toMatch(/3 registration\(s\) wait in this replica's retry queue: until the store takes them only this replica's reads count them.*a kill \(SIGKILL, OOM\) loses them/);
  expect(ready.tracking).toMatchObject({ pending: 3, queue_size: 5, pending_counted_by: 'this replica only' });

  const during = [...first.map((t) => t.id), await call(), await call()];
  res = await fetch(`${gw.url}/ready`);
  ready = await json(res);
  expect(res.status).toBe(503);
  expect(ready.status).toBe('unavailable');
  // A full queue fails the call loudly instead of answering 200 for an id it cannot keep.
  const refused = await fetch(`${gw.url}${metadataPath({ rollout })}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [] }) });
  expect(refused.status).toBe(503);
  expect((await json(refused)).error.code).toBe('tracking_unavailable');

  await startRedis();
  const check = new Redis(`redis://127.0.0.1:${port}`);
  try {
    const deadline = Date.now() + 15_000;
    let stored: string[] = [];
    while (Date.now() < deadline) {
      stored = await check.smembers(rolloutKey(gw.keyPrefix, undefined, rollout, 'ids')).catch(() => []);
      if (stored.length === 5) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The restarted server is empty: the queued ids were replayed into it.
    expect(stored.sort()).toEqual([...during].sort());
    expect(before).toHaveLength(2);
    const after = await json(await fetch(`${gw.url}/ready`));
    expect(after.status).toBe('ready');
    expect(after.tracking).toMatchObject({ pending: 0, queued: 5, retriedOk: 5, rejected: 1 });
  } finally {
    await check.quit();
  }
}, 40_000);

it('a gateway that stops during an outage spools its queued ids; the next one to start stores them', async () => {
  if (!bin) return;
  const spool = mkdtempSync(join(tmpdir(), 'outage-spool-'));
  const settings = { LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: `redis://127.0.0.1:${port}`, SPOOL_DIR: spool, REGISTRATION_TIMEOUT_MS: '100' };
  const first = await startGateway(settings);
  const rollout = `r-spool-${Date.now()}`;
  const c = new OpenAI({ baseURL: `${first.url}${metadataPath({ rollout })}`, apiKey: 'k', maxRetries: 0 });
  await stopRedis();
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await c.chat.completions.create({ model: 'm', messages: [] }).withResponse()).response.headers.get('x-insertion-id')!);
  await first.close();
  expect(first.logs.join('\n')).toMatch(/Shutting down with 4 registration\(s\) not stored \(store unreachable\): written to .*registrations-/);
  expect(readdirSync(spool).filter((f) => f.startsWith('registrations-'))).toHaveLength(1);

  await startRedis();
  const second = await startGateway({ ...settings, REDIS_KEY_PREFIX: first.keyPrefix });
  const check = new Redis(`redis://127.0.0.1:${port}`);
  try {
    const deadline = Date.now() + 10_000;
    let stored: string[] = [];
    while (Date.now() < deadline && stored.length < 4) {
      stored = await check.smembers(rolloutKey(first.keyPrefix, undefined, rollout, 'ids'));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stored.sort()).toEqual([...ids].sort());
    expect(second.logs.join('\n')).toMatch(/Took over 4 registration\(s\) from 1 spool file/);
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(spool)).toEqual([]);
  } finally {
    await check.quit();
    await second.close();
  }
}, 40_000);
