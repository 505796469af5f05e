/**
 * The export worker thread on its own, against the fake Langfuse over real
 * HTTP: what it exports, and that what it cannot export is said in the log.
 */
import { FakeLangfuse, startFakeLangfuse } from '../../../test/fakes/fake-langfuse.server';
import { TEST_EXPORT_WORKER_SCRIPT } from '../../../test/support/export-worker';
import { LangfuseExportThread } from './export-thread';
import type { CompletionRecord, ExportCredentials } from './span-export';

let langfuse: FakeLangfuse;
let credentials: ExportCredentials;

beforeAll(async () => {
  langfuse = await startFakeLangfuse({ projects: [{ projectId: 'p1', publicKey: 'pk-lf-1', secretKey: 'sk-lf-SECRET-1' }] });
  credentials = { projectId: 'p1', publicKey: 'pk-lf-1', secretKey: 'sk-lf-SECRET-1', host: langfuse.url };
});
afterAll(() => langfuse.close());

let n = 0;
function record(request: Record<string, unknown> = { messages: [{ role: 'user', content: 'hi' }] }): CompletionRecord {
  n++;
  const hex = n.toString(16).padStart(4, '0');
  const startTime = new Date();
  return {
    projectId: 'p1',
    traceId: `${'ab'.repeat(14)}${hex}`,
    spanId: `${'cd'.repeat(6)}${hex}`,
    start: { projectId: 'p1', tags: [`n:${n}`], metadata: {}, request, model: 'm', startTime },
    outcome: { statusCode: 200, output: { role: 'assistant', content: `answer ${n}` } },
    endTime: startTime.getTime() + 12,
  };
}

function thread(maxPending = 1000) {
  const logs: string[] = [];
  const t = new LangfuseExportThread(
    { flushAt: 100, flushInterval: 0.1, concurrency: 2, maxQueue: 1000, maxPending, script: TEST_EXPORT_WORKER_SCRIPT },
    (level, message) => logs.push(`${level} ${message}`),
  );
  return { t, logs };
}

it('exports each record as the trace with the ids the main thread chose, and its timing', async () => {
  const { t, logs } = thread();
  const records = [record(), record(), record()];
  try {
    for (const r of records) t.export(credentials, r);
    await t.flush();
  } finally {
    await t.close();
  }
  for (const r of records) {
    const trace = langfuse.traces('p1').find((x) => x.id === r.traceId);
    expect(trace?.output).toEqual(r.outcome.output);
    expect(trace?.observations[0].id).toBe(r.spanId);
    const { startTime, endTime } = trace!.observations[0];
    expect(new Date(endTime).getTime() - new Date(startTime).getTime()).toBe(12);
  }
  expect(logs).toEqual([]);
});

it('a record that cannot cross to the worker is logged, and the others of its turn are exported', async () => {
  const { t, logs } = thread();
  const good = record();
  const bad = record({ messages: [], hook: () => undefined });
  try {
    t.export(credentials, bad);
    t.export(credentials, good);
    await t.flush();
  } finally {
    await t.close();
  }
  expect(langfuse.traces('p1').find((x) => x.id === good.traceId)).toBeDefined();
  expect(langfuse.traces('p1').find((x) => x.id === bad.traceId)).toBeUndefined();
  expect(logs).toEqual([expect.stringMatching(new RegExp(`^error The trace ${bad.traceId} of project p1 could not be handed to the export thread: .*could not be cloned`))]);
});

it('beyond maxPending records are dropped and counted in the log, never silently', async () => {
  const { t, logs } = thread(2);
  const records = [record(), record(), record(), record(), record()];
  try {
    for (const r of records) t.export(credentials, r);
    await t.flush();
    // The count is logged a second after the first drop.
    await new Promise((r) => setTimeout(r, 1100));
  } finally {
    await t.close();
  }
  expect(records.filter((r) => langfuse.traces('p1').some((x) => x.id === r.traceId))).toHaveLength(2);
  expect(logs).toEqual(['error 3 trace(s) dropped: the Langfuse export thread had 2 waiting (LANGFUSE_EXPORT_QUEUE_SIZE).']);
  expect(logs.join('\n')).not.toContain('sk-lf-SECRET');
});

it('a record handed over after close is logged as not sent', async () => {
  const { t, logs } = thread();
  await t.close();
  const late = record();
  t.export(credentials, late);
  expect(logs).toEqual([`error The trace ${late.traceId} of project p1 ended after the export shut down; it is not sent.`]);
});
