/**
 * Scale-out on the real thing (issue 16): two gateway instances share a
 * local Redis Cluster (3 masters, 3 replicas) or a master behind Sentinel
 * (1 replica, 3 sentinels). Tracked completions and streams of several
 * rollouts go through both; every id is recorded once, /traces is complete
 * and logs and status read the same through either. Then the master holding
 * a rollout is killed by pid mid-load: the topology fails over, registrations
 * made meanwhile wait in the retry queues and land, and nothing a client got
 * a 200 for is missing. REDIS_WAIT_REPLICAS=1: a write waits until a replica
 * has it, so the promoted replica has every acknowledged id; after the
 * failover the new master has no replica left, and its writes are stored
 * unconfirmed and counted (not refused).
 */
import OpenAI from 'openai';
import Redis, { Cluster } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RolloutTracker } from '@app/completeness-tracking';
import { LangfuseCompletionTracer } from '@app/langfuse-export';
import { RedisKeys } from '@app/redis';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { exportingGatewaySettings, json, metadataPath, metricValue, StartedGateway, startGateway } from './support/gateway';
import { runLoad } from './support/load';
import { RedisClusterProcess } from './support/redis-cluster';
import { RedisSentinelProcess } from './support/redis-sentinel';

const PROJECT = { projectId: 'proj-a', publicKey: 'pk-lf-topo', secretKey: 'sk-lf-topo-SECRET' };

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;

beforeAll(async () => {
  upstream = await startFakeOpenAI({ recordRequests: false });
  langfuse = await startFakeLangfuse({ projects: [PROJECT] });
});
afterAll(async () => {
  await Promise.all([upstream?.close(), langfuse?.close()]);
});

interface Topology {
  settings: Record<string, string>;
  /** A client of our own, to check what Redis holds. */
  client(): Redis | Cluster;
  /** Kills (by pid) the master serving `key` and waits until the topology serves it again. */
  failOver(key: string): Promise<number>;
  stop(): Promise<void>;
}

const topologies: Record<string, () => Promise<Topology>> = {
  'Redis Cluster (3 masters, 3 replicas)': async () => {
    const cluster = await RedisClusterProcess.create({ nodeTimeoutMs: 1000 });
    if (!cluster) throw new Error(`The Redis Cluster suite needs ${RedisClusterProcess.unavailable()}.`);
    return {
      settings: { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodesSetting },
      client: () => new Cluster(cluster.startupNodes),
      failOver: async (key) => {
        await cluster.killMaster(key);
        return (await cluster.waitForFailover()).ms;
      },
      stop: () => cluster.stop(),
    };
  },
  'Redis Sentinel (1 master, 1 replica, 3 sentinels)': async () => {
    const sentinel = await RedisSentinelProcess.create({ name: 'gw-master' });
    if (!sentinel) throw new Error(`The Redis Sentinel suite needs ${RedisSentinelProcess.unavailable()}.`);
    return {
      settings: { REDIS_URL: '', REDIS_SENTINELS: sentinel.sentinelsSetting, REDIS_SENTINEL_NAME: sentinel.name },
      client: () => new Redis({ sentinels: sentinel.sentinels, name: sentinel.name }),
      failOver: async () => {
        await sentinel.killMaster();
        return (await sentinel.waitForFailover()).ms;
      },
      stop: () => sentinel.stop(),
    };
  },
};

describe.each(Object.keys(topologies))('%s', (name) => {
  let topology: Topology;
  let redis: Redis | Cluster;
  let a: StartedGateway;
  let b: StartedGateway;
  const prefix = `topo-${randomUUID().slice(0, 8)}`;
  const keys = new RedisKeys(prefix);
  const idsKey = (rollout: string) => keys.rollout({ projectId: PROJECT.projectId, rolloutId: rollout }, 'ids');

  beforeAll(async () => {
    topology = await topologies[name]();
    redis = topology.client();
    const settings = {
      ...exportingGatewaySettings({ upstreamUrl: upstream.url, langfuseUrl: langfuse.url, prefix, projects: [PROJECT] }),
      ...topology.settings,
      REDIS_WAIT_REPLICAS: '1',
      LANGFUSE_COMPLETENESS_BACKOFF_MS: '100',
    };
    // Two instances, each its own consumer in the trace stream's group.
    a = await startGateway({ ...settings, LANGFUSE_EXPORT_CONSUMER: `${prefix}-a` });
    b = await startGateway({ ...settings, LANGFUSE_EXPORT_CONSUMER: `${prefix}-b` });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    redis?.disconnect();
    await topology?.stop();
  }, 60_000);

  const flushBoth = () => Promise.all([a, b].map((gw) => gw.app.get(LangfuseCompletionTracer).flush()));
  const pendingIn = (gw: StartedGateway) => gw.app.get(RolloutTracker, { strict: false }).stats().pending;
  const traced = () => new Set(langfuse.traces(PROJECT.projectId).flatMap((t) => t.tags.filter((tag) => tag.startsWith('insertion_id:')).map((tag) => tag.slice('insertion_id:'.length))));

  it('completions and streams of several rollouts through both instances: each id recorded once, /traces, logs and status the same through either', async () => {
    const rollouts = Array.from({ length: 4 }, () => `r-${randomUUID()}`);
    const sent = new Map<string, string[]>(rollouts.map((r) => [r, []]));
    await Promise.all(
      rollouts.flatMap((rollout) =>
        Array.from({ length: 6 }, async (_, i) => {
          const gw = i % 2 === 0 ? a : b;
          const client = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout, row: `row-${i}` })}`, apiKey: 'sk-client', maxRetries: 0 });
          let id: string | null;
          if (i % 3 === 0) {
            const { data: stream, response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `q${i}` }], stream: true }).withResponse();
            for await (const _ of stream) {
              // consume
            }
            id = response.headers.get('x-insertion-id');
          } else {
            id = (await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `q${i}` }] }).withResponse()).response.headers.get('x-insertion-id');
          }
          sent.get(rollout)!.push(id!);
        }),
      ),
    );
    await flushBoth();
    for (const rollout of rollouts) {
      const stored = await redis.smembers(idsKey(rollout));
      expect(stored.sort()).toEqual([...sent.get(rollout)!].sort());
      for (const gw of [a, b]) {
        const res = await fetch(`${gw.url}/v1/traces?tags=rollout_id:${rollout}&max_retries=5`);
        expect(res.status).toBe(200);
        expect((await json(res)).total_traces).toBe(6);
      }
    }

    // Logs and status posted through one instance read the same through the other.
    const [rollout] = rollouts;
    const posted = await fetch(`${a.url}/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ program: 'ep', message: 'rollout finished', status: { code: 100, message: 'done', details: [] }, tags: [`rollout_id:${rollout}`], extras: { level: 'INFO' } }),
    });
    expect(posted.status).toBeLessThan(300);
    const [logsA, logsB, statusA, statusB] = await Promise.all([
      fetch(`${a.url}/v1/logs?tags=rollout_id:${rollout}`).then(json),
      fetch(`${b.url}/v1/logs?tags=rollout_id:${rollout}`).then(json),
      fetch(`${a.url}/v1/status?rollout_id=${rollout}`).then(json),
      fetch(`${b.url}/v1/status?rollout_id=${rollout}`).then(json),
    ]);
    expect(logsB).toEqual(logsA);
    expect(logsA.entries.map((e: { message: string }) => e.message)).toEqual(['rollout finished']);
    expect(statusB).toEqual(statusA);
    expect(statusA.status).toMatchObject({ code: 100 });
  }, 60_000);

  it('the master holding a rollout is killed mid-load: calls keep answering 200, and every id and trace they answered for is there after the failover', async () => {
    const rollout = `r-failover-${randomUUID()}`;
    const path = `${metadataPath({ rollout })}/chat/completions`;
    const loads = [a, b].map((gw) => runLoad(gw.url, path, { connections: 4 }));
    await new Promise((r) => setTimeout(r, 600));
    const failoverMs = await topology.failOver(idsKey(rollout));
    await new Promise((r) => setTimeout(r, 600));
    await Promise.all(loads.map((l) => l.stop()));

    const outcomes = loads.flatMap((l) => l.outcomes);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    const ok = outcomes.map((o) => o.insertionId!);
    expect(ok.length).toBeGreaterThan(20);

    // The retry queues land what waited during the failover.
    const deadline = Date.now() + 20_000;
    while ((pendingIn(a) > 0 || pendingIn(b) > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect([pendingIn(a), pendingIn(b)]).toEqual([0, 0]);
    const stored = new Set(await redis.smembers(idsKey(rollout)));
    expect(ok.filter((id) => !stored.has(id))).toEqual([]);
    expect(stored.size).toBe(new Set(ok).size);

    await flushBoth();
    const seen = traced();
    expect(ok.filter((id) => !seen.has(id))).toEqual([]);
    for (const gw of [a, b]) {
      const res = await fetch(`${gw.url}/v1/traces?tags=rollout_id:${rollout}&max_retries=5`);
      expect(res.status).toBe(200);
      expect((await json(res)).total_traces).toBe(new Set(ok).size);
    }
    // The promoted master has no replica of its own: writes after the failover are stored unconfirmed, and counted.
    const unconfirmed = async (gw: StartedGateway) => (await metricValue(gw, 'gateway_redis_unconfirmed_writes_total')) ?? 0;
    expect((await unconfirmed(a)) + (await unconfirmed(b))).toBeGreaterThan(0);
    // One line for the record: how long Redis took to serve the rollout again.
    console.log(`${name}: failover in ${failoverMs} ms; ${ok.length} completions answered 200 across it, all recorded and traced`);
  }, 90_000);
});
