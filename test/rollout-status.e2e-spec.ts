/**
 * Rollout logs and status as the eval-protocol SDK uses them, over real HTTP
 * against real Redis: POST /logs (and its /v1/logs fall-back), GET /v1/status
 * (and /status), GET /logs filtering, the three status shapes SDK versions
 * have sent, 400s, what lands in Redis, and the in-memory adapter.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { v7 } from 'uuid';
import { RolloutTracker } from '@app/completeness-tracking';
import { RedisKeys } from '@app/redis';
import { RolloutLogStore, StoredLogEntry } from '@app/rollout-status';
import { RedisRolloutLogStore } from '../libs/rollout-status/src/redis-rollout-log.store';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { json, rolloutKey, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const KEY_A = 'gw-team-a-0123456789abcdef';
const PROJECT_A = { projectId: 'proj-a', publicKey: 'pk-lf-rs-a', secretKey: 'sk-lf-rs-SECRET-a' };
const PROJECT_B = { projectId: 'proj-b', publicKey: 'pk-lf-rs-b', secretKey: 'sk-lf-rs-SECRET-b' };
const KEY_ALL = 'gw-ops-0123456789abcdefgh';

type Started = StartedGateway;

/** The whole gateway, configured from `settings`: these routes as the eval-protocol SDK reaches them. */
const start = (settings: Record<string, string>): Promise<Started> => startGateway(settings);

const secrets = (langfuseUrl: string) => `
langfuse_keys:
${[PROJECT_A, PROJECT_B].map((p) => `  ${p.projectId}: { public_key: ${p.publicKey}, secret_key: ${p.secretKey}, host: "${langfuseUrl}" }`).join('\n')}
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY_A}, projects: [proj-a] }
  - { account_id: ops, key: ${KEY_ALL} }
`;

/** One completion trace per insertion id, tagged as the gateway tags them, sent to the fake as OTLP/HTTP JSON. */
async function seedTraces(fake: FakeLangfuse, project: typeof PROJECT_A, rolloutId: string, insertionIds: string[]): Promise<void> {
  const now = Date.now();
  const spans = insertionIds.map((id, i) => ({
    traceId: randomUUID().replace(/-/g, ''),
    spanId: randomUUID().replace(/-/g, '').slice(0, 16),
    name: 'chat-completion',
    kind: 1,
    startTimeUnixNano: `${now - 1000 + i}000000`,
    endTimeUnixNano: `${now - 999 + i}000000`,
    attributes: [
      { key: 'langfuse.trace.name', value: { stringValue: 'chat-completion' } },
      { key: 'langfuse.observation.type', value: { stringValue: 'generation' } },
      { key: 'langfuse.trace.tags', value: { arrayValue: { values: [`rollout_id:${rolloutId}`, `insertion_id:${id}`, 'run_id:run-1'].map((t) => ({ stringValue: t })) } } },
    ],
    status: { code: 1 },
  }));
  const res = await fetch(`${fake.url}/api/public/otel/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${project.publicKey}:${project.secretKey}`).toString('base64')}` },
    body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'langfuse-sdk' }, spans }] }] }),
  });
  expect(res.status).toBe(200);
}

const rid = (label: string) => `${label}-${randomUUID()}`;

/** The body eval_protocol's FireworksTracingHttpHandler builds for one log record. */
function sdkPayload(rolloutId: string, message: string, over: Record<string, unknown> = {}) {
  return {
    program: 'eval_protocol',
    status: null,
    message,
    tags: [`rollout_id:${rolloutId}`, 'experiment_id:exp-1', 'run_id:run-1'],
    extras: { logger_name: `remote_server.${rolloutId}`, level: 'INFO', timestamp: new Date().toISOString() },
    ...over,
  };
}

describe('rollout status and logs (Redis)', () => {
  const prefix = `test-rs-${randomUUID().slice(0, 8)}`;
  const TTL = 900;
  const MAX_ENTRIES = 20;
  let gw: Started;
  let redis: Redis;
  let fake: FakeLangfuse;
  const auth = { authorization: `Bearer ${KEY_ALL}` };

  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const get = (path: string, params: Array<[string, string]> = [], headers: Record<string, string> = auth) =>
    fetch(`${gw.url}${path}${params.length ? `?${new URLSearchParams(params)}` : ''}`, { headers });
  const logKey = (r: string) => rolloutKey(prefix, 'proj-a', r, 'logs');
  const statusKey = (r: string) => rolloutKey(prefix, 'proj-a', r, 'status');

  beforeAll(async () => {
    fake = await startFakeLangfuse({ projects: [PROJECT_A, PROJECT_B] });
    gw = await start({
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      ROLLOUT_TTL_SECONDS: String(TTL),
      ROLLOUT_LOGS_MAX_ENTRIES: String(MAX_ENTRIES),
      ROLLOUT_LOG_MAX_MESSAGE_CHARS: '2000',
      SECRETS_PATH: writeSecrets(secrets(fake.url)),
      AUTH_PROVIDER: 'api_key',
    });
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await gw.close();
    await fake.close();
  });

  it('the SDK flow: POST /logs, then /v1/logs; GET /v1/status and /status answer the newest status', async () => {
    const r = rid('flow');
    let res = await post('/logs', sdkPayload(r, 'Rollout started', { status: { code: 101, message: 'Rollout is running', details: [] } }));
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ ok: true, rollout_ids: [r], timestamp: expect.any(String) });

    res = await post('/v1/logs', sdkPayload(r, 'Rollout finished', { status: { code: 100, message: 'Rollout finished', details: [{ reason: 'TERMINATION_REASON' }] } }));
    expect(res.status).toBe(200);

    for (const path of ['/v1/status', '/status']) {
      res = await get(path, [['rollout_id', r]]);
      expect(res.status).toBe(200);
      expect(await json(res)).toEqual({
        rollout_id: r,
        status: { code: 100, message: 'Rollout finished', details: [{ reason: 'TERMINATION_REASON' }] },
        extras: expect.objectContaining({ logger_name: `remote_server.${r}`, level: 'INFO' }),
        timestamp: expect.any(String),
      });
    }
  });

  it('a rollout with no status yet: 200 with status null (the SDK keeps polling)', async () => {
    const r = rid('none');
    expect(await json(await get('/v1/status', [['rollout_id', r]]))).toEqual({ rollout_id: r, status: null, extras: null, timestamp: null });
    await post('/logs', sdkPayload(r, 'no status in this one'));
    expect((await json(await get('/status', [['rollout_id', r]]))).status).toBeNull();
  });

  it.each([
    ['{code, message, details}', { status: { code: 13, message: 'boom', details: [{ k: 1 }] } }],
    ['{status_code, status_message, status_details}', { status: { status_code: 13, status_message: 'boom', status_details: [{ k: 1 }] } }],
    ['"<word>" + metadata.status_*', { status: 'error', metadata: { status_code: 13, status_message: 'boom', status_details: [{ k: 1 }] } }],
  ])('status shape %s is stored normalised', async (_shape, over) => {
    const r = rid('shape');
    expect((await post('/logs', sdkPayload(r, 'failed', over))).status).toBe(200);
    expect((await json(await get('/v1/status', [['rollout_id', r]]))).status).toEqual({ code: 13, message: 'boom', details: [{ k: 1 }] });
    const stored = await redis.hgetall(statusKey(r));
    expect(JSON.parse(stored.value).status).toEqual({ code: 13, message: 'boom', details: [{ k: 1 }] });
    const [entry] = (await redis.lrange(logKey(r), 0, 0)).map((s) => JSON.parse(s));
    expect(entry.status).toEqual({ code: 13, message: 'boom', details: [{ k: 1 }] });
  });

  it('stores one list per rollout and the status apart, under the {project:rollout} hash tag, with the rollout TTL', async () => {
    const r = rid('redis');
    await post('/logs', sdkPayload(r, 'one', { status: { code: 101, message: 'running', details: [] } }));
    await post('/logs', sdkPayload(r, 'two'));
    expect(await redis.type(logKey(r))).toBe('list');
    expect(await redis.llen(logKey(r))).toBe(2);
    const newest = JSON.parse((await redis.lindex(logKey(r), 0))!);
    expect(newest).toMatchObject({ message: 'two', program: 'eval_protocol', severity: 'INFO', tags: [`rollout_id:${r}`, 'experiment_id:exp-1', 'run_id:run-1'], status: null });
    expect(typeof newest.ts).toBe('number');
    expect(await redis.type(statusKey(r))).toBe('hash');
    const status = await redis.hgetall(statusKey(r));
    expect(Number(status.ts)).toBeGreaterThan(0);
    expect(JSON.parse(status.value)).toMatchObject({ status: { code: 101, message: 'running', details: [] } });
    for (const key of [logKey(r), statusKey(r)]) {
      const ttl = await redis.ttl(key);
      expect(ttl).toBeGreaterThan(TTL - 30);
      expect(ttl).toBeLessThanOrEqual(TTL);
    }
    // Both keys carry the same {hash tag}, so Redis Cluster puts them (and the completeness ids) in one slot.
    const hashTag = (key: string) => /\{[^}]*\}/.exec(key)?.[0];
    expect(hashTag(logKey(r))).toBe(`{proj-a:${r}}`);
    expect(hashTag(statusKey(r))).toBe(`{proj-a:${r}}`);
  });

  it('each write renews the TTL', async () => {
    const r = rid('ttl');
    await post('/logs', sdkPayload(r, 'one', { status: { code: 101, message: '', details: [] } }));
    await redis.expire(logKey(r), 100);
    await redis.expire(statusKey(r), 100);
    await post('/logs', sdkPayload(r, 'two'));
    expect(await redis.ttl(logKey(r))).toBeGreaterThan(TTL - 30);
    expect(await redis.ttl(statusKey(r))).toBeGreaterThan(TTL - 30);
  });

  it('keeps at most ROLLOUT_LOGS_MAX_ENTRIES entries per rollout, dropping the oldest', async () => {
    const r = rid('trim');
    for (let i = 0; i < MAX_ENTRIES + 5; i++) expect((await post('/logs', sdkPayload(r, `m${i}`))).status).toBe(200);
    expect(await redis.llen(logKey(r))).toBe(MAX_ENTRIES);
    const body = await json(await get('/v1/logs', [['tags', `rollout_id:${r}`], ['limit', String(MAX_ENTRIES)]]));
    expect(body.total_entries).toBe(MAX_ENTRIES);
    expect(body.entries[0].message).toBe(`m${MAX_ENTRIES + 4}`);
    expect(body.entries.at(-1).message).toBe('m5');
  });

  it('GET /logs: newest first, every tag must match, limit, program', async () => {
    const r = rid('query');
    await post('/logs', sdkPayload(r, 'first', { tags: [`rollout_id:${r}`, 'run_id:a'] }));
    await post('/logs', sdkPayload(r, 'second', { tags: [`rollout_id:${r}`, 'run_id:b'], program: 'my_agent' }));
    await post('/v1/logs', sdkPayload(r, 'third', { tags: [`rollout_id:${r}`, 'run_id:a'], extras: { level: 'ERROR' } }));

    let body = await json(await get('/logs', [['tags', `rollout_id:${r}`]]));
    expect(body.total_entries).toBe(3);
    expect(body.entries.map((e: { message: string }) => e.message)).toEqual(['third', 'second', 'first']);
    expect(body.entries[0]).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      message: 'third',
      severity: 'ERROR',
      tags: [`rollout_id:${r}`, 'run_id:a'],
      status: null,
      extras: { level: 'ERROR' },
      program: 'eval_protocol',
    });
    expect(Date.parse(body.entries[0].timestamp)).toBeGreaterThanOrEqual(Date.parse(body.entries[2].timestamp));

    body = await json(await get('/v1/logs', [['tags', `rollout_id:${r}`], ['tags', 'run_id:a']]));
    expect(body.entries.map((e: { message: string }) => e.message)).toEqual(['third', 'first']);

    body = await json(await get('/logs', [['tags', `rollout_id:${r}`], ['limit', '1']]));
    expect(body).toMatchObject({ total_entries: 1, entries: [{ message: 'third' }] });

    body = await json(await get('/logs', [['tags', `rollout_id:${r}`], ['program', 'my_agent']]));
    expect(body.entries.map((e: { message: string }) => e.message)).toEqual(['second']);

    body = await json(await get('/logs', [['tags', `rollout_id:${r}`], ['tags', 'run_id:zzz']]));
    expect(body).toEqual({ entries: [], total_entries: 0 });
  });

  it('GET /logs hours_back leaves out older entries', async () => {
    const r = rid('hours');
    await post('/logs', sdkPayload(r, 'recent'));
    // An entry received three hours ago, as the store keeps it.
    const old: StoredLogEntry = { id: randomUUID(), ts: Date.now() - 3 * 3_600_000, program: 'eval_protocol', message: 'old', severity: 'INFO', tags: [`rollout_id:${r}`], status: null, extras: null };
    await redis.rpush(logKey(r), JSON.stringify(old));
    expect((await json(await get('/logs', [['tags', `rollout_id:${r}`], ['hours_back', '1']]))).entries.map((e: { message: string }) => e.message)).toEqual(['recent']);
    expect((await json(await get('/logs', [['tags', `rollout_id:${r}`], ['hours_back', '4']]))).entries.map((e: { message: string }) => e.message)).toEqual(['recent', 'old']);
  });

  it('a group-wise entry (several rollout_id tags) is stored for every rollout it names', async () => {
    const [a, b] = [rid('group'), rid('group')];
    const res = await post('/logs', sdkPayload(a, 'group done', { tags: [`rollout_id:${a}`, `rollout_id:${b}`], status: { code: 100, message: 'done', details: [] } }));
    expect((await json(res)).rollout_ids).toEqual([a, b]);
    for (const r of [a, b]) {
      expect((await json(await get('/v1/status', [['rollout_id', r]]))).status.code).toBe(100);
      expect((await json(await get('/logs', [['tags', `rollout_id:${r}`]]))).total_entries).toBe(1);
    }
  });

  describe('400 with a clear message', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['no rollout_id tag', { message: 'x', tags: ['run_id:u'] }, /tags must include at least one "rollout_id:<id>" tag/],
      ['tags not a list', { message: 'x', tags: 'rollout_id:r' }, /tags must be an array/],
      ['no message', { tags: ['rollout_id:r'] }, /message must be a string/],
      ['status without a code', { message: 'x', tags: ['rollout_id:r'], status: { message: 'no code' } }, /status has no code/],
      ['unknown status word', { message: 'x', tags: ['rollout_id:r'], status: 'sleepy' }, /status "sleepy" comes without metadata.status_code/],
      ['message over the limit', { message: 'x'.repeat(2001), tags: ['rollout_id:r'] }, /more than ROLLOUT_LOG_MAX_MESSAGE_CHARS \(2000\)/],
      ['too many tags', { message: 'x', tags: ['rollout_id:r', ...Array.from({ length: 64 }, (_, i) => `t:${i}`)] }, /more than ROLLOUT_LOG_MAX_TAGS \(64\)/],
      ['entry over the limit', { message: 'x', tags: ['rollout_id:r'], extras: { blob: 'y'.repeat(70_000) } }, /more than ROLLOUT_LOG_MAX_ENTRY_BYTES \(65536\)/],
    ];
    it.each(cases)('POST /logs: %s', async (_name, body, message) => {
      const res = await post('/logs', body);
      expect(res.status).toBe(400);
      const err = await json(res);
      expect(err.detail).toMatch(message);
      expect(err.error.message).toMatch(message);
    });

    it('POST /v1/logs with a body that is not JSON', async () => {
      const res = await fetch(`${gw.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"message":' });
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/not valid JSON/);
    });

    it('GET /logs without a rollout_id tag, or with a bad limit', async () => {
      let res = await get('/logs', [['tags', 'run_id:u']]);
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/tags=rollout_id:<id>/);
      res = await get('/v1/logs', [['tags', 'rollout_id:r'], ['limit', 'lots']]);
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/limit must be a number/);
      res = await get('/v1/logs', [['tags', 'rollout_id:r'], ['hours_back', '0']]);
      expect((await json(res)).detail).toMatch(/hours_back must be a positive number/);
    });

    it('GET /status without rollout_id', async () => {
      const res = await get('/v1/status');
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/rollout_id is required/);
    });
  });

  it('the global auth guard applies: no key → 401', async () => {
    expect((await post('/logs', sdkPayload(rid('auth'), 'x'), {})).status).toBe(401);
    expect((await get('/v1/status', [['rollout_id', 'r']], {})).status).toBe(401);
  });

  it('a scoped key may post and read logs of any rollout (logs are per rollout, not per project)', async () => {
    const r = rid('scoped');
    const headers = { 'x-gateway-key': KEY_A };
    expect((await post('/logs', sdkPayload(r, 'x', { status: { code: 101, message: '', details: [] } }), headers)).status).toBe(200);
    expect((await json(await get('/v1/status', [['rollout_id', r]], headers))).status.code).toBe(101);
  });

  describe('GET /rollouts/:rollout_id', () => {
    it('reports recorded completions, the newest insertion and its time, the status and the log count', async () => {
      const r = rid('progress');
      const tracker = gw.app.get(RolloutTracker);
      const t0 = Date.now() - 60_000;
      const ids = [v7({ msecs: t0 }), v7({ msecs: t0 + 2000 }), v7({ msecs: t0 + 1000 })];
      for (const id of ids) await tracker.record({ projectId: 'proj-a', rolloutId: r }, id);
      await post('/logs', sdkPayload(r, 'running', { status: { code: 101, message: 'Rollout is running', details: [] } }));

      for (const path of [`/rollouts/${r}`, `/v1/rollouts/${r}`]) {
        const res = await get(path);
        expect(res.status).toBe(200);
        expect(await json(res)).toEqual({
          rollout_id: r,
          expected_completions: 3,
          newest_insertion_id: ids[1],
          newest_insertion_at: new Date(t0 + 2000).toISOString(),
          status: { code: 101, message: 'Rollout is running', details: [] },
          status_updated_at: expect.any(String),
          log_entries: 1,
        });
      }
    });

    it('an unknown rollout is not an error: nothing recorded yet', async () => {
      const r = rid('unknown');
      expect(await json(await get(`/rollouts/${r}`))).toEqual({
        rollout_id: r,
        expected_completions: 0,
        newest_insertion_id: null,
        newest_insertion_at: null,
        status: null,
        status_updated_at: null,
        log_entries: 0,
      });
    });

    it('rejects an unknown check, and two different projects in path and query', async () => {
      let res = await get(`/rollouts/${rid('q')}`, [['check', 'everything']]);
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/check may only be "langfuse"/);
      res = await get(`/project_id/proj-a/rollouts/${rid('q')}`, [['project_id', 'proj-b']]);
      expect(res.status).toBe(400);
      expect((await json(res)).detail).toMatch(/name one/);
    });

    it('?check=langfuse counts how many recorded completions Langfuse already shows, without returning traces', async () => {
      const r = rid('visible');
      const tracker = gw.app.get(RolloutTracker);
      const ids = [v7(), v7(), v7(), v7()];
      for (const id of ids) await tracker.record({ projectId: 'proj-a', rolloutId: r }, id);
      await seedTraces(fake, PROJECT_A, r, ids.slice(0, 3));

      let res = await get(`/v1/rollouts/${r}`, [['check', 'langfuse']]);
      expect(res.status).toBe(200);
      let body = await json(res);
      expect(body).toMatchObject({ rollout_id: r, expected_completions: 4, newest_insertion_id: ids[3], langfuse: { project_id: 'proj-a', visible: 3, expected: 4 } });
      expect(JSON.stringify(body)).not.toMatch(/traces|observations|sk-lf/);

      // proj-b has no rollout of that id: it sees nothing of proj-a's; a key scoped to proj-a may check proj-a.
      body = await json(await get(`/rollouts/${r}`, [['check', 'langfuse'], ['project_id', 'proj-b']]));
      expect(body).toMatchObject({ expected_completions: 0, newest_insertion_id: null, langfuse: { project_id: 'proj-b', visible: 0, expected: 0 } });
      res = await get(`/rollouts/${r}`, [['check', 'langfuse'], ['project_id', 'proj-a']], { 'x-gateway-key': KEY_A });
      expect((await json(res)).langfuse).toEqual({ project_id: 'proj-a', visible: 3, expected: 4 });
    });

    it('?check=langfuse with nothing recorded does not call Langfuse', async () => {
      const before = fake.calls.length;
      const body = await json(await get(`/rollouts/${rid('empty')}`, [['check', 'langfuse']]));
      expect(body.langfuse).toEqual({ project_id: 'proj-a', visible: 0, expected: 0 });
      expect(fake.calls.length).toBe(before);
    });

    it('?check=langfuse for an unknown project → 404', async () => {
      const r = rid('unknown-project');
      await gw.app.get(RolloutTracker).record({ projectId: 'proj-a', rolloutId: r }, v7());
      const res = await get(`/rollouts/${r}`, [['check', 'langfuse'], ['project_id', 'proj-nope']]);
      expect(res.status).toBe(404);
      expect((await json(res)).detail).toMatch(/Unknown project_id "proj-nope"/);
    });

    it('?check=langfuse is scoped: a key limited to proj-a may not check proj-b', async () => {
      const res = await get(`/rollouts/${rid('scope')}`, [['check', 'langfuse'], ['project_id', 'proj-b']], { 'x-gateway-key': KEY_A });
      expect(res.status).toBe(403);
      expect((await json(res)).detail).toMatch(/may not use project "proj-b"/);
    });
  });
});

describe('RedisRolloutLogStore against real Redis', () => {
  const prefix = `test-rs-store-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const entry = (ts: number, code: number | null, message = `m${ts}`): StoredLogEntry => ({
    id: randomUUID(),
    ts,
    program: null,
    message,
    severity: 'INFO',
    tags: ['rollout_id:r'],
    status: code === null ? null : { code, message: '', details: [] },
    extras: { at: ts },
  });

  it('an older status arriving late (another replica) does not replace a newer one', async () => {
    const store: RolloutLogStore = new RedisRolloutLogStore(redis, new RedisKeys(prefix), { ttlSeconds: 600, maxEntries: 10 });
    const r = { projectId: 'p', rolloutId: 'r' };
    await store.append(r, entry(2000, 100));
    await store.append(r, entry(1000, 101));
    await store.append(r, entry(3000, null));
    expect(await store.latestStatus(r)).toEqual({ ts: 2000, status: { code: 100, message: '', details: [] }, extras: { at: 2000 } });
    expect((await store.range(r, 0, 10)).map((e) => e.ts)).toEqual([3000, 1000, 2000]);
    expect(await store.count(r)).toBe(3);
    expect(await store.count({ projectId: 'q', rolloutId: 'r' })).toBe(0);
  });

  it('skips a value it cannot read instead of failing the request', async () => {
    const store = new RedisRolloutLogStore(redis, new RedisKeys(prefix), { ttlSeconds: 600, maxEntries: 10 });
    const bad = { projectId: 'p', rolloutId: 'bad' };
    await store.append(bad, entry(1, null));
    await redis.lpush(rolloutKey(prefix, 'p', 'bad', 'logs'), 'not json');
    expect((await store.range(bad, 0, 10)).map((e) => e.ts)).toEqual([1]);
  });

  it('escapes braces in a rollout id so the hash tag holds', async () => {
    const store = new RedisRolloutLogStore(redis, new RedisKeys(prefix), { ttlSeconds: 600, maxEntries: 10 });
    await store.append({ projectId: 'p', rolloutId: 'a{b}c' }, entry(5, 101));
    expect(await redis.llen(`${prefix}:{p:a%7Bb%7Dc}:logs`)).toBe(1);
    expect((await store.latestStatus({ projectId: 'p', rolloutId: 'a{b}c' }))?.status.code).toBe(101);
  });
});

describe('rollout status and logs without Redis (in-memory adapter)', () => {
  let gw: Started;
  beforeAll(async () => {
    gw = await start({ ROLLOUT_LOGS_MAX_ENTRIES: '3' });
  });
  afterAll(() => gw.close());

  it('behaves like the Redis adapter: SDK flow, newest first, bounded, status kept apart', async () => {
    expect(gw.app.get(RolloutLogStore).kind).toBe('memory');
    const r = rid('mem');
    const post = (path: string, body: unknown) => fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/logs', sdkPayload(r, 'm0', { status: { status_code: 101, status_message: 'running' } }))).status).toBe(200);
    for (let i = 1; i <= 4; i++) expect((await post('/v1/logs', sdkPayload(r, `m${i}`))).status).toBe(200);
    const logs = await json(await fetch(`${gw.url}/v1/logs?${new URLSearchParams([['tags', `rollout_id:${r}`]])}`));
    expect(logs.entries.map((e: { message: string }) => e.message)).toEqual(['m4', 'm3', 'm2']);
    expect(logs.total_entries).toBe(3);
    const status = await json(await fetch(`${gw.url}/status?rollout_id=${r}`));
    expect(status).toMatchObject({ rollout_id: r, status: { code: 101, message: 'running', details: [] } });
    expect((await post('/logs', { message: 'x', tags: [] })).status).toBe(400);
  });
});
