/**
 * Durable delivery against the fake Langfuse over real HTTP: what Langfuse
 * does not take is retried until it does (503, 429 + Retry-After, slow,
 * down), a trace Langfuse refuses as malformed is isolated and dropped
 * alone, and only a full buffer drops anything else — each drop logged with
 * its count and rollout.
 */
import { FakeLangfuse, startFakeLangfuse } from '../../../test/fakes/fake-langfuse.server';
import { Delivery, DeliveryOptions, ExportCredentials } from './delivery';
import type { TraceRecord } from './trace-record';
import { P1, p1Credentials, record } from './trace-records.fixture';

let langfuse: FakeLangfuse;
let credentials: ExportCredentials;

beforeAll(async () => {
  langfuse = await startFakeLangfuse({ projects: [P1] });
  credentials = p1Credentials(langfuse.url);
});
afterAll(() => langfuse.close());
beforeEach(() => {
  langfuse.reset();
  langfuse.options.ingestion = undefined;
});

function delivery(options: Partial<DeliveryOptions> = {}) {
  const logs: string[] = [];
  const d = new Delivery({ flushAt: 4, flushIntervalMs: 50, concurrency: 2, maxHeld: 1000, timeoutMs: 2_000, ...options }, (level, message) => logs.push(`${level} ${message}`));
  d.setCredentials(credentials);
  return { d, logs };
}

const arrived = (records: TraceRecord[]) => records.filter((r) => langfuse.traces('p1').some((t) => t.id === r.traceId)).length;

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

it('delivers every trace with the ids and timing chosen when the completion started, and settles each once', async () => {
  const { d, logs } = delivery();
  const records = Array.from({ length: 10 }, () => record());
  const settled: string[] = [];
  for (const r of records) d.add({ record: r, source: 'memory', settle: (outcome) => settled.push(`${r.spanId}:${outcome}`) });
  await d.flush();
  expect(arrived(records)).toBe(10);
  const trace = langfuse.traces('p1').find((t) => t.id === records[0].traceId)!;
  expect(trace.observations[0].id).toBe(records[0].spanId);
  expect(new Date(trace.observations[0].endTime).getTime() - new Date(trace.observations[0].startTime).getTime()).toBe(12);
  expect(settled.sort()).toEqual(records.map((r) => `${r.spanId}:delivered`).sort());
  expect(d.counters).toMatchObject({ exported: 10, dropped: 0 });
  expect(d.held).toBe(0);
  expect(logs).toEqual([]);
  await d.close(100);
});

it.each([
  ['503', { status: 503 }],
  ['429 with Retry-After', { status: 429, retryAfterSeconds: 1 }],
])('keeps sending what Langfuse answers %s to, until it takes it', async (_name, fault) => {
  const { d, logs } = delivery();
  langfuse.options.ingestion = fault;
  const records = Array.from({ length: 6 }, () => record('r-fault'));
  for (const r of records) d.add({ record: r, source: 'memory' });
  await until(() => langfuse.ingestion.refused >= 2);
  expect(arrived(records)).toBe(0);
  langfuse.options.ingestion = undefined;
  await until(() => arrived(records) === 6);
  expect(arrived(records)).toBe(6);
  expect(d.counters.dropped).toBe(0);
  expect(d.counters.retriedBatches).toBeGreaterThan(0);
  expect(logs.join('\n')).toMatch(/Langfuse did not take \d+ trace\(s\) of project p1 \(HTTP (503|429)/);
  expect(logs.join('\n')).not.toContain('sk-lf-SECRET');
  await d.close(100);
}, 30_000);

it('honours Retry-After: no retry before it has passed', async () => {
  const { d } = delivery({ flushIntervalMs: 10 });
  langfuse.options.ingestion = { status: 429, retryAfterSeconds: 2, failNext: 1 };
  const r = record();
  const started = Date.now();
  d.add({ record: r, source: 'memory' });
  await until(() => arrived([r]) === 1);
  expect(arrived([r])).toBe(1);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  await d.close(100);
});

it('keeps sending through an outage (connections refused) and a slow Langfuse (answers after the timeout)', async () => {
  const { d } = delivery({ timeoutMs: 300 });
  await langfuse.stop();
  const records = Array.from({ length: 5 }, () => record('r-down'));
  for (const r of records) d.add({ record: r, source: 'memory' });
  await new Promise((r) => setTimeout(r, 1_500));
  await langfuse.start();
  langfuse.options.ingestion = { delayMs: 600 };
  await new Promise((r) => setTimeout(r, 1_500));
  langfuse.options.ingestion = undefined;
  await until(() => arrived(records) === 5, 20_000);
  expect(arrived(records)).toBe(5);
  expect(d.counters.dropped).toBe(0);
  await d.close(100);
}, 30_000);

it('a trace Langfuse refuses as malformed is isolated and dropped alone, loudly; the rest of its batch arrives', async () => {
  const { d, logs } = delivery({ flushAt: 8 });
  const records = Array.from({ length: 8 }, (_, i) => record(i === 5 ? 'r-bad' : 'r-good'));
  langfuse.options.ingestion = { status: 400, refuseTraceIds: [records[5].traceId] };
  for (const r of records) d.add({ record: r, source: 'memory' });
  await d.flush(10_000);
  expect(arrived(records)).toBe(7);
  expect(d.counters.dropped).toBe(1);
  expect(logs.join('\n')).toMatch(/refused a trace of project p1 for good \(HTTP 400.*rollout r-bad/);
  await d.close(100);
});

it('only a full buffer drops, and the log names the count and the rollouts', async () => {
  const { d, logs } = delivery({ maxHeld: 3 });
  await langfuse.stop();
  const records = Array.from({ length: 5 }, (_, i) => record(`r-full-${i}`));
  const outcomes: string[] = [];
  for (const r of records) d.add({ record: r, source: 'memory', settle: (o) => outcomes.push(o) });
  expect(d.held).toBe(3);
  expect(outcomes).toEqual(['dropped', 'dropped']);
  await langfuse.start();
  await until(() => arrived(records) === 3);
  await until(() => logs.some((l) => l.includes('dropped')));
  expect(logs.join('\n')).toMatch(/2 trace\(s\) dropped, 3 traces were already waiting for Langfuse \(LANGFUSE_EXPORT_QUEUE_SIZE\): lost for rollouts r-full-3, r-full-4/);
  await d.close(100);
}, 20_000);

it('close returns what only memory held and Langfuse has not taken (for the spool); a stream keeps its own', async () => {
  const { d } = delivery();
  await langfuse.stop();
  const memory = record('r-mem');
  const streamed = record('r-stream');
  d.add({ record: memory, source: 'memory' });
  d.add({ record: streamed, source: 'stream' });
  const left = await d.close(300);
  expect(left.map((r) => r.traceId)).toEqual([memory.traceId]);
  await langfuse.start();
});

it('close does not sit out its drain time while Langfuse is failing: what waits is safe in the stream or the spool', async () => {
  const { d, logs } = delivery();
  langfuse.options.ingestion = { status: 503 };
  d.add({ record: record('r-closing'), source: 'stream' });
  await until(() => logs.some((l) => l.includes('Langfuse did not take')));
  const started = Date.now();
  const left = await d.close(10_000);
  expect(Date.now() - started).toBeLessThan(1_000);
  expect(left).toEqual([]); // a stream entry stays pending in the stream
});

it('a long outage is retried at least every 10 s, so traces flow again soon after Langfuse is back', async () => {
  const { d } = delivery();
  await langfuse.stop();
  const r = record('r-long');
  d.add({ record: r, source: 'memory' });
  // 1 + 2 + 4 + 8 s of backoff: without a cap the next wait would be 16 s.
  await new Promise((resolve) => setTimeout(resolve, 16_000));
  await langfuse.start();
  const back = Date.now();
  await until(() => arrived([r]) === 1, 15_000);
  expect(arrived([r])).toBe(1);
  expect(Date.now() - back).toBeLessThan(12_000);
  await d.close(100);
}, 40_000);

it('keys fixed by a reload reach the traces that waited', async () => {
  const { d, logs } = delivery();
  d.setCredentials({ ...credentials, secretKey: 'wrong' });
  const r = record('r-keys');
  d.add({ record: r, source: 'memory' });
  await until(() => logs.some((l) => l.includes('rejects the keys')));
  expect(logs.join('\n')).toMatch(/HTTP 401.*fix langfuse_keys/);
  d.setCredentials(credentials);
  await until(() => arrived([r]) === 1);
  expect(arrived([r])).toBe(1);
  expect(logs.join('\n')).not.toMatch(/wrong|sk-lf-SECRET/);
  await d.close(100);
});
