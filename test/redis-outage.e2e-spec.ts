/**
 * "A completion that returned 200 is always tracked": a real redis-server is
 * stopped in the middle of a rollout and started again. Completions keep
 * succeeding, their ids wait in the retry queue (and still count for reads),
 * and all of them are in Redis once it is back.
 */
import OpenAI from 'openai';
import Redis from 'ioredis';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway } from './support/gateway';
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
  gw = await startGateway({ LITELLM_URL: `${upstream.url}/v1`, REDIS_URL: `redis://127.0.0.1:${port}` });
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

  const before = [await call(), await call()];
  await stopRedis();
  const during = [await call(), await call(), await call()];

  const ready = await json(await fetch(`${gw.url}/ready`));
  expect(ready.status).toBe('unavailable');
  expect(ready.tracking.pending).toBe(3);

  await startRedis();
  const check = new Redis(`redis://127.0.0.1:${port}`);
  try {
    const deadline = Date.now() + 15_000;
    let stored: string[] = [];
    while (Date.now() < deadline) {
      stored = await check.smembers(`${gw.keyPrefix}:{${rollout}}:ids`).catch(() => []);
      if (stored.length === 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The restarted server is empty: the queued ids were replayed into it.
    expect(stored.sort()).toEqual([...during].sort());
    expect(before).toHaveLength(2);
    const after = await json(await fetch(`${gw.url}/ready`));
    expect(after.tracking).toMatchObject({ pending: 0, queued: 3, retriedOk: 3, rejected: 0 });
  } finally {
    await check.quit();
  }
}, 40_000);
