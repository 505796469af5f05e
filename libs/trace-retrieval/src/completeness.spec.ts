import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { InMemoryCompletenessStore } from '../../completeness-tracking/src/in-memory-completeness.store';
import { CredentialVault } from '@app/credential-vault';
import { newestId, readUntilComplete, sample } from './completeness';
import { LangfuseConnection, LangfuseConnections } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { ReadBudget } from './read-budget';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { TraceFilter, TraceHeader, TraceView } from './trace.model';
import { parseTracesQuery } from './traces-query';

Logger.overrideLogger(false);

/**
 * A hand-written Langfuse stand-in: traces become visible from a given read
 * (0 = the first). It checks every call against what the algorithm must ask
 * and fails on anything else.
 */
class ScriptedReader extends LangfuseReader {
  readonly calls: Array<{ filter: TraceFilter; known: string[] }> = [];
  private reads = 0;

  constructor(
    private readonly data: Array<{ trace: TraceView; visibleFromRead: number }>,
    private readonly expectTags: string[],
  ) {
    super();
  }

  async findTraces(_conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
    expect(filter.tags).toEqual(this.expectTags);
    this.calls.push({ filter, known: [...(options.known ?? [])] });
    const read = this.reads++;
    return this.data
      .filter((d) => d.visibleFromRead <= read)
      .map((d) => d.trace)
      .filter((t) => this.expectTags.every((tag) => t.tags.includes(tag)))
      .filter((t) => !filter.anyTags || t.tags.some((tag) => filter.anyTags!.includes(tag)))
      .filter((t) => !options.known?.has(t.id));
  }

  async findTraceHeaders(): Promise<TraceHeader[]> {
    throw new Error('unexpected findTraceHeaders call');
  }
}

// UUIDv7-shaped ids: the text order is the creation order.
const ids = Array.from({ length: 6 }, (_, i) => `0190a0b0-0000-7000-8000-00000000000${i}`);

function trace(i: number, extraTags: string[] = [], timestamp = `2026-01-01T00:00:0${i}.000Z`): TraceView {
  return {
    id: `t${i}`,
    name: 'chat-completion',
    user_id: null,
    session_id: null,
    tags: ['rollout_id:r', `insertion_id:${ids[i]}`, ...extraTags],
    timestamp,
    input: { messages: [{ role: 'user', content: `q${i}` }] },
    output: { role: 'assistant', content: `a${i}` },
    metadata: null,
    observations: [],
  };
}

const conn = { projectId: 'p', host: 'http://langfuse.invalid' } as LangfuseConnection;

function request(reader: LangfuseReader, expected: string[], overrides: { maxRetries?: number; backoffMs?: number; budgetMs?: number } = {}) {
  return readUntilComplete(reader, {
    conn,
    filter: { tags: ['rollout_id:r'] },
    expected,
    maxRetries: overrides.maxRetries ?? 3,
    backoffMs: overrides.backoffMs ?? 1,
    read: { budget: new ReadBudget(overrides.budgetMs ?? 10_000), io: true, observations: true, legacyPageSize: 100 },
  });
}

describe('readUntilComplete', () => {
  it('returns after one read when everything is visible', async () => {
    const reader = new ScriptedReader(ids.slice(0, 3).map((_, i) => ({ trace: trace(i), visibleFromRead: 0 })), ['rollout_id:r']);
    const result = await request(reader, ids.slice(0, 3));
    expect(result).toMatchObject({ found: 3, expected: 3, missing: [], rounds: 0 });
    expect(result.traces.map((t) => t.id).sort()).toEqual(['t0', 't1', 't2']);
    expect(reader.calls).toHaveLength(1);
    expect(reader.calls[0].filter.anyTags).toBeUndefined();
  });

  it('re-queries only the missing insertion ids, round by round, until all are visible', async () => {
    const reader = new ScriptedReader(
      [
        { trace: trace(0), visibleFromRead: 0 },
        { trace: trace(1), visibleFromRead: 1 },
        { trace: trace(2), visibleFromRead: 2 },
      ],
      ['rollout_id:r'],
    );
    const result = await request(reader, ids.slice(0, 3));
    expect(result).toMatchObject({ found: 3, expected: 3, missing: [], rounds: 2 });
    expect(reader.calls.map((c) => c.filter.anyTags)).toEqual([undefined, [`insertion_id:${ids[1]}`, `insertion_id:${ids[2]}`], [`insertion_id:${ids[2]}`]]);
    expect(reader.calls[2].known.sort()).toEqual(['t0', 't1']);
  });

  it('gives up after max_retries rounds and says what is missing', async () => {
    const reader = new ScriptedReader([{ trace: trace(0), visibleFromRead: 0 }], ['rollout_id:r']);
    const result = await request(reader, ids.slice(0, 3), { maxRetries: 2 });
    expect(result).toMatchObject({ found: 1, expected: 3, missing: [ids[1], ids[2]], rounds: 2, stoppedByBudget: false });
    expect(reader.calls).toHaveLength(3);
  });

  it('max_retries=0 reads once', async () => {
    const reader = new ScriptedReader([], ['rollout_id:r']);
    const result = await request(reader, ids.slice(0, 1), { maxRetries: 0 });
    expect(result).toMatchObject({ found: 0, rounds: 0 });
    expect(reader.calls).toHaveLength(1);
  });

  it('backs off exponentially between rounds', async () => {
    const reader = new ScriptedReader([], ['rollout_id:r']);
    const started = Date.now();
    await request(reader, ids.slice(0, 1), { maxRetries: 3, backoffMs: 40 });
    // 40 + 80 + 160
    expect(Date.now() - started).toBeGreaterThanOrEqual(270);
  });

  it('stops early rather than wait past the budget', async () => {
    const reader = new ScriptedReader([], ['rollout_id:r']);
    const started = Date.now();
    const result = await request(reader, ids.slice(0, 1), { maxRetries: 10, backoffMs: 400, budgetMs: 1_000 });
    expect(result).toMatchObject({ rounds: 1, stoppedByBudget: true });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('neither counts nor returns a trace the rollout tags match without a recorded insertion id', async () => {
    const reader = new ScriptedReader([0, 1, 2].map((i) => ({ trace: trace(i), visibleFromRead: 0 })), ['rollout_id:r']);
    const result = await request(reader, ids.slice(0, 2));
    expect(result).toMatchObject({ found: 2, expected: 2 });
    expect(result.traces.map((t) => t.id).sort()).toEqual(['t0', 't1']);
  });
});

describe('newestId / sample', () => {
  it('the newest UUIDv7 is the greatest as text', () => {
    expect(newestId([ids[2], ids[5], ids[0]])).toBe(ids[5]);
    expect(newestId(['0190A0B0-0000-7000-8000-000000000009', ids[5]])).toBe('0190A0B0-0000-7000-8000-000000000009');
  });

  it('samples distinct elements', () => {
    const picked = sample([1, 2, 3, 4, 5], 3);
    expect(new Set(picked).size).toBe(3);
    expect(sample([1, 2], 5).sort()).toEqual([1, 2]);
  });
});

describe('TraceRetrievalService', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trace-retrieval-'));
  const secrets = join(dir, 'secrets.yaml');
  writeFileSync(secrets, 'langfuse_keys:\n  p: { public_key: pk-lf-p, secret_key: sk-lf-p }\ndefault_project_id: p\n');
  const config = Object.assign(new TraceRetrievalSettings(), { LANGFUSE_COMPLETENESS_BACKOFF_MS: 1, LANGFUSE_READ_BUDGET_MS: 10_000 });

  function service(reader: LangfuseReader, recorded: string[], rollout = 'r') {
    const vault = new CredentialVault({ SECRETS_PATH: secrets, LANGFUSE_HOST: 'http://langfuse.invalid' });
    const tracker = new RolloutTracker(new InMemoryCompletenessStore({ ROLLOUT_TTL_SECONDS: 3600 } as never), { REGISTRATION_QUEUE_SIZE: 10, REGISTRATION_TIMEOUT_MS: 250 } as never);
    for (const id of recorded) void tracker.record({ projectId: 'p', rolloutId: rollout }, id);
    return new TraceRetrievalService(reader, new LangfuseConnections(vault, config), tracker, config);
  }

  async function failure(promise: Promise<unknown>): Promise<GatewayError> {
    try {
      await promise;
    } catch (err) {
      return err as GatewayError;
    }
    throw new Error('expected a failure');
  }

  it('answers the complete rollout newest first (as the original), in the response shape', async () => {
    const reader = new ScriptedReader(
      [
        { trace: trace(1, [], '2026-01-01T00:00:05.000Z'), visibleFromRead: 0 },
        { trace: trace(0, [], '2026-01-01T00:00:09.000Z'), visibleFromRead: 1 },
      ],
      ['rollout_id:r'],
    );
    const body = await service(reader, ids.slice(0, 2)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r' }), pointwise: false });
    expect(body.project_id).toBe('p');
    expect(body.total_traces).toBe(2);
    expect(body.traces.map((t) => t.id)).toEqual(['t0', 't1']);
  });

  it('max_retries counts every read, as in the original: 1 reads once, 3 reads three times, 0 still reads once', async () => {
    for (const [maxRetries, reads] of [['1', 1], ['3', 3], ['0', 1]] as const) {
      const reader = new ScriptedReader([{ trace: trace(0), visibleFromRead: 0 }], ['rollout_id:r']);
      const err = await failure(service(reader, ids.slice(0, 2)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r', max_retries: maxRetries }), pointwise: false }));
      expect([maxRetries, reader.calls.length]).toEqual([maxRetries, reads]);
      expect(err.message).toContain(`after ${reads} read(s) (max_retries=${maxRetries}: reads in all)`);
    }
  });

  it('an unknown rollout → 404 saying nothing was recorded for it, without reading Langfuse', async () => {
    const reader = new ScriptedReader([], ['rollout_id:nope']);
    const err = await failure(service(reader, ids.slice(0, 1)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:nope' }), pointwise: false }));
    expect(err.code).toBe(GatewayErrorCode.UnknownRollout);
    expect(err.status).toBe(404);
    expect(err.message).toContain('No traces found: no completions were recorded for rollout "nope"');
    expect(reader.calls).toHaveLength(0);
  });

  it('still incomplete → 404 with found N of M expected', async () => {
    const reader = new ScriptedReader([{ trace: trace(0), visibleFromRead: 0 }], ['rollout_id:r']);
    const err = await failure(service(reader, ids.slice(0, 3)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r', max_retries: '1' }), pointwise: false }));
    expect(err.code).toBe(GatewayErrorCode.IncompleteTraces);
    expect(err.message).toContain('found 1 of 3 expected');
    expect(err.details).toMatchObject({ found: 1, expected: 3, missing_insertion_ids: [ids[1], ids[2]] });
  });

  it('pointwise reads only the newest recorded id and returns that one trace', async () => {
    const newest = `insertion_id:${ids[4]}`;
    const reader = new ScriptedReader([{ trace: trace(4), visibleFromRead: 0 }], ['rollout_id:r', newest]);
    const body = await service(reader, [ids[1], ids[4], ids[2]]).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r' }), pointwise: true });
    expect(body.total_traces).toBe(1);
    expect(body.traces[0].id).toBe('t4');
    expect(reader.calls).toHaveLength(1);
  });

  it('pointwise with the newest not visible → 404 found 0 of 1', async () => {
    const reader = new ScriptedReader([], ['rollout_id:r', `insertion_id:${ids[4]}`]);
    const err = await failure(service(reader, [ids[1], ids[4]]).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r', max_retries: '0' }), pointwise: true }));
    expect(err.code).toBe(GatewayErrorCode.IncompleteTraces);
    expect(err.message).toContain(ids[4]);
    expect(err.message).toContain('found 0 of 1 expected');
  });

  it('sample_size samples after completeness holds', async () => {
    const reader = new ScriptedReader([0, 1, 2, 3].map((i) => ({ trace: trace(i), visibleFromRead: i === 3 ? 1 : 0 })), ['rollout_id:r']);
    const body = await service(reader, ids.slice(0, 4)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r', sample_size: '2' }), pointwise: false });
    expect(reader.calls).toHaveLength(2);
    expect(body.total_traces).toBe(2);
    const ts = body.traces.map((t) => t.timestamp!);
    expect([...ts].sort().reverse()).toEqual(ts);
  });

  it('an unknown project → 404 before anything is read', async () => {
    const reader = new ScriptedReader([], ['rollout_id:r']);
    const err = await failure(service(reader, ids.slice(0, 1)).readTraces({ query: parseTracesQuery({ tags: 'rollout_id:r' }), projectId: 'other', pointwise: false }));
    expect(err.code).toBe(GatewayErrorCode.UnknownProject);
    expect(reader.calls).toHaveLength(0);
  });

  describe('without a rollout, with several, and for a trail', () => {
    /** Holds traces; answers all-of tags, any-of tags and maxTraces (newest first) like both readers. */
    class TagReader extends LangfuseReader {
      readonly calls: Array<{ filter: TraceFilter; maxTraces?: number }> = [];
      constructor(private readonly traces: TraceView[]) {
        super();
      }
      async findTraces(_conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
        this.calls.push({ filter, maxTraces: options.maxTraces });
        const hits = this.traces
          .filter((t) => filter.tags.every((tag) => t.tags.includes(tag)))
          .filter((t) => !filter.anyTags || t.tags.some((tag) => filter.anyTags!.includes(tag)))
          .filter((t) => !options.known?.has(t.id))
          .sort((a, b) => (a.timestamp! < b.timestamp! ? 1 : -1));
        return options.maxTraces === undefined ? hits : hits.slice(0, options.maxTraces);
      }
      async findTraceHeaders(): Promise<TraceHeader[]> {
        throw new Error('unexpected findTraceHeaders call');
      }
    }
    const of = (id: string, tags: string[], second: number): TraceView => ({ ...trace(0, [], `2026-01-01T00:00:${String(second).padStart(2, '0')}.000Z`), id, tags });

    it('tags without a rollout: the newest `limit` traces carrying them, no completeness check, failed calls left out', async () => {
      const reader = new TagReader([
        of('old', ['experiment_id:e1', 'rollout_id:x', 'insertion_id:a'], 1),
        of('mid', ['experiment_id:e1', 'rollout_id:y', 'insertion_id:b'], 2),
        of('new', ['experiment_id:e1', 'rollout_id:y', 'insertion_id:c'], 3),
        of('failed', ['experiment_id:e1', 'failed_rollout_id:y', 'insertion_id:d'], 4),
        of('other', ['experiment_id:e2'], 5),
      ]);
      const svc = service(reader, []);
      const all = await svc.readTraces({ query: parseTracesQuery({ tags: 'experiment_id:e1' }), pointwise: false });
      expect(all.traces.map((t) => t.id)).toEqual(['new', 'mid', 'old']);
      // The failed call's trace is the newest: the read asks for more until `limit` good ones are in.
      const two = await svc.readTraces({ query: parseTracesQuery({ tags: 'experiment_id:e1', limit: '2' }), pointwise: false });
      expect(two.traces.map((t) => t.id)).toEqual(['new', 'mid']);
      const newest = await svc.readTraces({ query: parseTracesQuery({ tags: 'experiment_id:e1' }), pointwise: true });
      expect(newest.traces.map((t) => t.id)).toEqual(['new']);
      expect(reader.calls.map((c) => c.maxTraces)).toEqual([100, 2, 4, 1, 2]);
    });

    it('several rollout_id tags: each rollout read complete against its own ids; one incomplete → 404 naming it', async () => {
      const reader = new TagReader([
        of('a1', ['rollout_id:a', `insertion_id:${ids[0]}`], 1),
        of('b1', ['rollout_id:b', `insertion_id:${ids[1]}`], 2),
        of('b2', ['rollout_id:b', `insertion_id:${ids[2]}`], 3),
      ]);
      const vault = new CredentialVault({ SECRETS_PATH: secrets, LANGFUSE_HOST: 'http://langfuse.invalid' });
      const tracker = new RolloutTracker(new InMemoryCompletenessStore({ ROLLOUT_TTL_SECONDS: 3600 } as never), { REGISTRATION_QUEUE_SIZE: 10, REGISTRATION_TIMEOUT_MS: 250 } as never);
      await tracker.record({ projectId: 'p', rolloutId: 'a' }, ids[0]);
      await tracker.record({ projectId: 'p', rolloutId: 'b' }, ids[1]);
      await tracker.record({ projectId: 'p', rolloutId: 'b' }, ids[2]);
      const svc = new TraceRetrievalService(reader, new LangfuseConnections(vault, config), tracker, config);
      const both = await svc.readTraces({ query: parseTracesQuery({ tags: ['rollout_id:a', 'rollout_id:b'] }), pointwise: false });
      expect(both.traces.map((t) => t.id)).toEqual(['b2', 'b1', 'a1']);
      // Each rollout is read with its own tag only.
      expect(reader.calls.map((c) => c.filter.tags)).toEqual([['rollout_id:a'], ['rollout_id:b']]);
      const newest = await svc.readTraces({ query: parseTracesQuery({ tags: ['rollout_id:a', 'rollout_id:b'] }), pointwise: true });
      expect(newest.traces.map((t) => t.id)).toEqual(['b2', 'a1']);

      await tracker.record({ projectId: 'p', rolloutId: 'a' }, ids[3]);
      const err = await failure(svc.readTraces({ query: parseTracesQuery({ tags: ['rollout_id:a', 'rollout_id:b'], max_retries: '1' }), pointwise: false }));
      expect(err.code).toBe(GatewayErrorCode.IncompleteTraces);
      expect(err.message).toMatch(/^Incomplete traces: found 1 of 2 expected completions of rollout "a" in Langfuse/);
      expect(err.details).toMatchObject({ rollout_id: 'a', found: 1, expected: 2, missing_insertion_ids: [ids[3]] });
    });

    it("a trail is read by its trail_id: tag against the ids recorded under the trail, apart from a rollout of the same id", async () => {
      const reader = new TagReader([
        of('t1', ['trail_id:same', `insertion_id:${ids[0]}`], 1),
        of('t2', ['trail_id:same', `insertion_id:${ids[1]}`], 2),
        of('r1', ['rollout_id:same', `insertion_id:${ids[2]}`], 3),
      ]);
      const vault = new CredentialVault({ SECRETS_PATH: secrets, LANGFUSE_HOST: 'http://langfuse.invalid' });
      const tracker = new RolloutTracker(new InMemoryCompletenessStore({ ROLLOUT_TTL_SECONDS: 3600 } as never), { REGISTRATION_QUEUE_SIZE: 10, REGISTRATION_TIMEOUT_MS: 250 } as never);
      await tracker.record({ projectId: 'p', rolloutId: 'same', trail: true }, ids[0]);
      await tracker.record({ projectId: 'p', rolloutId: 'same', trail: true }, ids[1]);
      await tracker.record({ projectId: 'p', rolloutId: 'same' }, ids[2]);
      const svc = new TraceRetrievalService(reader, new LangfuseConnections(vault, config), tracker, config);
      const trail = await svc.readTraces({ query: parseTracesQuery({}), pointwise: false, trailId: 'same' });
      expect(trail.traces.map((t) => t.id)).toEqual(['t2', 't1']);
      const pointwise = await svc.readTraces({ query: parseTracesQuery({}), pointwise: true, trailId: 'same' });
      expect(pointwise.traces.map((t) => t.id)).toEqual(['t2']);
      const rollout = await svc.readTraces({ query: parseTracesQuery({ tags: 'rollout_id:same' }), pointwise: false });
      expect(rollout.traces.map((t) => t.id)).toEqual(['r1']);
      const unknown = await failure(svc.readTraces({ query: parseTracesQuery({}), pointwise: false, trailId: 'nope' }));
      expect(unknown.message).toContain('No traces found: no completions were recorded for trail "nope"');
    });
  });
});
