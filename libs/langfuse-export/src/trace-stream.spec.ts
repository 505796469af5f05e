/**
 * The Redis trace stream against a real Redis and the fake Langfuse: bounded
 * appends; a consumer that stops leaves its entries pending, takes them back
 * when it starts again under the same name, or another consumer claims them
 * once idle; an entry leaves the stream only once Langfuse took its trace.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { FakeLangfuse, startFakeLangfuse } from '../../../test/fakes/fake-langfuse.server';
import { testRedisUrl } from '../../../test/support/redis';
import { Delivery } from './delivery';
import { P1, p1Credentials, record } from './trace-records.fixture';
import { APPEND_SCRIPT, StreamConsumer } from './trace-stream';

let redis: Redis;
let langfuse: FakeLangfuse;

beforeAll(async () => {
  redis = new Redis(testRedisUrl());
  langfuse = await startFakeLangfuse({ projects: [P1] });
});
afterAll(async () => {
  await langfuse.close();
  await redis.quit();
});

const append = (key: string, max: number, value: object) => redis.eval(APPEND_SCRIPT, 1, key, max, JSON.stringify(value));

function consumer(key: string, name: string, claimIdleMs = 400, readAhead = 100) {
  const logs: string[] = [];
  const log = (level: string, message: string) => logs.push(`${level} ${message}`);
  const delivery = new Delivery({ flushAt: 10, flushIntervalMs: 20, concurrency: 2, maxHeld: 100, timeoutMs: 1_000 }, log);
  delivery.setCredentials({ projectId: 'p1', publicKey: 'pk-lf-1', secretKey: 'sk-lf-SECRET-1', host: langfuse.url });
  const c = new StreamConsumer({ connection: { kind: 'single', url: testRedisUrl(), options: {} }, key, readAhead, claimIdleMs, consumerName: name }, delivery, log);
  c.start();
  return { c, delivery, logs };
}

async function until(check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

const arrived = (ids: string[]) => ids.filter((id) => langfuse.traces('p1').some((t) => t.id === id)).length;

it('appends until the stream holds its bound, then refuses', async () => {
  const key = `stream-spec-${randomUUID()}`;
  expect(String(await append(key, 2, record()))).toMatch(/^\d+-\d+$/);
  expect(String(await append(key, 2, record()))).toMatch(/^\d+-\d+$/);
  expect(await append(key, 2, record())).toBe(0);
  expect(await redis.xlen(key)).toBe(2);
  await redis.del(key);
});

it('an entry leaves the stream only once Langfuse took its trace', async () => {
  const key = `stream-spec-${randomUUID()}`;
  await langfuse.stop();
  const records = [record('r-s'), record('r-s'), record('r-s')];
  for (const r of records) await append(key, 100, r);
  const a = consumer(key, 'a');
  await until(() => a.delivery.held === 3);
  await new Promise((r) => setTimeout(r, 300));
  expect(await redis.xlen(key)).toBe(3);
  await langfuse.start();
  await until(async () => (await redis.xlen(key)) === 0);
  expect(await redis.xlen(key)).toBe(0);
  expect(arrived(records.map((r) => r.traceId))).toBe(3);
  await a.c.close();
  await redis.del(key);
});

it('a consumer that stops leaves its entries pending; it takes them back when it starts again', async () => {
  const key = `stream-spec-${randomUUID()}`;
  await langfuse.stop();
  const records = [record('r-back'), record('r-back')];
  for (const r of records) await append(key, 100, r);
  const first = consumer(key, 'host-1', 60_000);
  await until(() => first.delivery.held === 2);
  await first.c.stop();
  await first.delivery.close(0);
  await first.c.close();
  await langfuse.start();
  const again = consumer(key, 'host-1', 60_000);
  await until(async () => (await redis.xlen(key)) === 0);
  expect(arrived(records.map((r) => r.traceId))).toBe(2);
  expect(again.logs.join('\n')).toMatch(/Took back 2 trace\(s\)/);
  await again.c.close();
  await redis.del(key);
});

it('entries a read handed over while the connection dropped (its answer lost) are taken after the reconnect, not after the idle time', async () => {
  const key = `stream-spec-${randomUUID()}`;
  const name = `lost-reply-${randomUUID().slice(0, 8)}`;
  await langfuse.stop();
  // Room for one trace: once it holds one (Langfuse is down), the consumer reads no more.
  const c = consumer(key, name, 60_000, 1);
  const spy = new Redis(testRedisUrl());
  try {
    const first = record('r-lost');
    await append(key, 100, first);
    await until(() => c.delivery.held === 1);
    // What a lost answer leaves behind: entries pending under the consumer's name that it never saw.
    const records = [record('r-lost'), record('r-lost')];
    for (const r of records) await append(key, 100, r);
    await spy.xreadgroup('GROUP', 'langfuse-export', name, 'COUNT', 10, 'STREAMS', key, '>');
    // The connection drops (Redis restarted, a network blip): kill the consumer's reader connection.
    const clients = String(await spy.client('LIST')).split('\n');
    const readerId = /^id=(\d+) /.exec(clients.find((l) => l.includes(`name=mgw-trace-reader:${name} `)) ?? '')?.[1];
    expect(readerId).toBeDefined();
    await spy.client('KILL', 'ID', readerId!);
    await langfuse.start();
    await until(async () => (await redis.xlen(key)) === 0);
    expect(arrived([first, ...records].map((r) => r.traceId))).toBe(3);
    await until(() => c.logs.some((l) => l.includes('Took back')));
    expect(c.logs.join('\n')).toMatch(/Took back 2 trace\(s\) still pending under this gateway's name after the connection to Redis dropped/);
  } finally {
    await langfuse.start().catch(() => undefined); // already started unless the test failed early
    await spy.quit();
    await c.c.stop();
    await c.delivery.close(0);
    await c.c.close();
    await redis.del(key);
  }
});

it('another consumer claims what a stopped one left, once it has been idle long enough', async () => {
  const key = `stream-spec-${randomUUID()}`;
  await langfuse.stop();
  const records = [record('r-claim'), record('r-claim'), record('r-claim')];
  for (const r of records) await append(key, 100, r);
  const gone = consumer(key, 'replica-gone');
  await until(() => gone.delivery.held === 3);
  await gone.c.stop();
  await gone.delivery.close(0);
  await gone.c.close();
  await langfuse.start();
  const other = consumer(key, 'replica-other');
  await until(async () => (await redis.xlen(key)) === 0);
  expect(arrived(records.map((r) => r.traceId))).toBe(3);
  expect(other.logs.join('\n')).toMatch(/Took over 3 trace\(s\) left pending/);
  await other.c.close();
  await redis.del(key);
});

it('stop() still takes what was appended just before it, while the loop was between two reads', async () => {
  const key = `stream-spec-${randomUUID()}`;
  const a = consumer(key, 'stopping');
  await until(async () => ((await redis.xinfo('GROUPS', key).catch(() => [])) as unknown[]).length === 1);
  const first = record('r-stop');
  const last = record('r-stop');
  await append(key, 100, first);
  // The read that answered with `first` has returned; `last` comes before the loop reads again.
  await new Promise((r) => setTimeout(r, 2));
  await append(key, 100, last);
  await a.c.stop();
  await a.delivery.close(5_000);
  await a.c.close();
  expect(arrived([first.traceId, last.traceId])).toBe(2);
  expect(await redis.xlen(key)).toBe(0);
  await redis.del(key);
});
