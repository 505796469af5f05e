/**
 * The composed gateway (AppModule, as `npm start` runs it) serves the rollout
 * routes itself: the catch-all proxy must not swallow /logs, /status or
 * /rollouts/:id, with or without /v1.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { json, StartedGateway, startGateway } from './support/gateway';
import { testRedisUrl } from './support/redis';

let gw: StartedGateway;
beforeAll(async () => {
  // No upstream is reachable here: a request that fell through to the catch-all would fail with 502.
  gw = await startGateway({ REDIS_URL: testRedisUrl(), LITELLM_URL: 'http://127.0.0.1:9/v1' });
});
afterAll(async () => {
  const redis = new Redis(testRedisUrl());
  const keys = await redis.keys(`${gw.keyPrefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await gw.close();
});

it('POST /logs, GET /v1/status, GET /v1/logs and GET /rollouts/:id are answered by the gateway', async () => {
  const r = `gw-${randomUUID()}`;
  const body = { program: 'eval_protocol', status: { code: 100, message: 'Rollout finished', details: [] }, message: 'done', tags: [`rollout_id:${r}`], extras: { level: 'INFO' } };
  for (const path of ['/logs', '/v1/logs']) {
    const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect((await json(res)).ok).toBe(true);
  }
  for (const path of ['/v1/status', '/status']) {
    expect(await json(await fetch(`${gw.url}${path}?rollout_id=${r}`))).toMatchObject({ rollout_id: r, status: { code: 100 } });
  }
  expect((await json(await fetch(`${gw.url}/v1/logs?tags=rollout_id:${r}`))).total_entries).toBe(2);
  for (const path of [`/rollouts/${r}`, `/v1/rollouts/${r}`]) {
    expect(await json(await fetch(`${gw.url}${path}`))).toMatchObject({ rollout_id: r, expected_completions: 0, status: { code: 100 }, log_entries: 2 });
  }
});
