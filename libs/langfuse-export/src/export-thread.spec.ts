/**
 * The export worker thread on its own, against the fake Langfuse over real
 * HTTP: what it exports, and that what it cannot take is said in the log.
 */
import { FakeLangfuse, startFakeLangfuse } from '../../../test/fakes/fake-langfuse.server';
import { TEST_EXPORT_WORKER_SCRIPT } from '../../../test/support/export-worker';
import type { ExportCredentials } from './delivery';
import { WorkerExport } from './export-thread';
import { P1, p1Credentials, record } from './trace-records.fixture';

let langfuse: FakeLangfuse;
let credentials: ExportCredentials;

beforeAll(async () => {
  langfuse = await startFakeLangfuse({ projects: [P1] });
  credentials = p1Credentials(langfuse.url);
});
afterAll(() => langfuse.close());

function thread(maxPending = 1000) {
  const logs: string[] = [];
  const t = new WorkerExport(
    { flushAt: 100, flushIntervalMs: 100, concurrency: 2, maxHeld: 1000, timeoutMs: 5_000, maxPending, script: TEST_EXPORT_WORKER_SCRIPT },
    (level, message) => logs.push(`${level} ${message}`),
  );
  t.setCredentials([credentials]);
  t.start();
  return { t, logs };
}

it('exports each record as the trace with the ids the main thread chose, and counts it', async () => {
  const { t, logs } = thread();
  const records = [record(), record(), record()];
  try {
    for (const r of records) t.add(r);
    await t.flush();
    await new Promise((r) => setTimeout(r, 150)); // the counters are published every 100 ms
    expect(t.stats()).toMatchObject({ exported: 3, dropped: 0, held: 0, waiting: 0 });
  } finally {
    await t.close(1_000);
  }
  for (const r of records) {
    const trace = langfuse.traces('p1').find((x) => x.id === r.traceId);
    expect(trace?.output).toEqual(r.output);
    expect(trace?.observations[0].id).toBe(r.spanId);
  }
  expect(logs).toEqual([]);
});

it('a record that cannot cross to the worker is logged, and the others of its turn are exported', async () => {
  const { t, logs } = thread();
  const good = record();
  const bad = record('r-bad', { messages: [], hook: () => undefined });
  try {
    t.add(bad);
    t.add(good);
    await t.flush();
  } finally {
    await t.close(1_000);
  }
  expect(langfuse.traces('p1').find((x) => x.id === good.traceId)).toBeDefined();
  expect(langfuse.traces('p1').find((x) => x.id === bad.traceId)).toBeUndefined();
  expect(logs).toEqual([expect.stringMatching(new RegExp(`^error The trace ${bad.traceId} of project p1 could not be handed to the export thread: .*could not be cloned`))]);
});

it('beyond maxPending records are dropped, counted and logged with their rollouts, never silently', async () => {
  const { t, logs } = thread(2);
  const records = ['r-1', 'r-2', 'r-3', 'r-4', 'r-5'].map((rollout) => record(rollout));
  try {
    for (const r of records) t.add(r);
    await t.flush();
    await new Promise((r) => setTimeout(r, 1100));
  } finally {
    await t.close(1_000);
  }
  expect(records.filter((r) => langfuse.traces('p1').some((x) => x.id === r.traceId))).toHaveLength(2);
  expect(logs.join('\n')).toMatch(/3 trace\(s\) dropped, 2 were already waiting for the export thread \(LANGFUSE_EXPORT_QUEUE_SIZE\): lost for rollouts r-3, r-4, r-5/);
  expect(logs.join('\n')).not.toContain('sk-lf-SECRET');
});

it('a record handed over after close is logged as dropped', async () => {
  const { t, logs } = thread();
  await t.close(1_000);
  const late = record();
  t.add(late);
  await new Promise((r) => setTimeout(r, 1100));
  expect(logs.join('\n')).toMatch(/1 trace\(s\) dropped, the export had shut down/);
});
