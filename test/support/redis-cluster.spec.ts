/**
 * The Redis Cluster of redis-cluster.ts is real and fails over, seen through
 * plain ioredis (no gateway code): keys in several slots, the master of one
 * key's slot SIGKILLed mid-traffic, a replica takes over, writes resume,
 * every write its replica acknowledged (WAIT 1) is still there, and the
 * killed node comes back as a replica. A write only the master acknowledged
 * may be lost by design (replication is asynchronous): the spec counts such
 * losses and prints them, with the start-up and failover times, on one line.
 */
import { Cluster } from 'ioredis';
import { existsSync } from 'node:fs';
import { RedisClusterFailover, RedisClusterNode, RedisClusterProcess } from './redis-cluster';
import { redisCommand, waitUntil } from './redis-server-child';
import { unreadable, Writer } from './redis-writes';

let cluster: RedisClusterProcess | undefined;
const measured: string[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  cluster = await RedisClusterProcess.create({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  if (!cluster) console.warn(`redis-cluster.spec: skipped, ${RedisClusterProcess.unavailable()}`);
  else measured.push(`start-up ${Date.now() - t0} ms`);
}, 40_000);

afterAll(async () => {
  await cluster?.stop();
  if (measured.length) console.log(`redis-cluster.spec: ${measured.join('; ')}`);
});

/** Hash tags spread over the masters: one per master, in the order of cluster.nodes. */
async function tagPerMaster(c: RedisClusterProcess): Promise<Map<number, string>> {
  const tags = new Map<number, string>();
  for (let i = 0; tags.size < 3 && i < 100; i++) {
    const master = await c.masterFor(`{t${i}}`);
    if (!tags.has(master.port)) tags.set(master.port, `t${i}`);
  }
  return tags;
}

function client(c: RedisClusterProcess): Cluster {
  const redis = new Cluster(c.startupNodes, {
    // A write to a dead master is retried for ~1.6 s (16 × 100 ms) and then fails: the
    // writers below see the outage instead of queueing through it.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    redisOptions: { connectTimeout: 500 },
  });
  // Connection errors while a master is down are expected here: the writers count the failed writes.
  redis.on('error', () => undefined);
  return redis;
}

it('starts 3 masters with a replica each, every slot served, and plain ioredis reads and writes across slots', async () => {
  if (!cluster) return;
  const nodes = cluster.nodes;
  expect(nodes).toHaveLength(6);
  expect(nodes.filter((n) => n.role === 'master')).toHaveLength(3);
  expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
  expect(new Set(nodes.map((n) => n.pid)).size).toBe(6);
  expect(cluster.nodesSetting).toBe(nodes.map((n) => `127.0.0.1:${n.port}`).join(','));
  expect(cluster.startupNodes).toEqual(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));

  const tags = await tagPerMaster(cluster);
  const byPort = (a: number, b: number): number => a - b;
  expect([...tags.keys()].sort(byPort)).toEqual(nodes.filter((n) => n.role === 'master').map((n) => n.port).sort(byPort));
  const redis = client(cluster);
  try {
    for (const tag of tags.values()) await redis.set(`{${tag}}:hello`, tag);
    for (const tag of tags.values()) expect(await redis.get(`{${tag}}:hello`)).toBe(tag);
  } finally {
    redis.disconnect();
  }
});

let killed: RedisClusterNode | undefined;
let promoted: RedisClusterNode | undefined;

it('a master SIGKILLed mid-traffic: its replica takes over, writes resume in every slot, and WAIT-acknowledged writes survive', async () => {
  if (!cluster) return;
  const tags = await tagPerMaster(cluster);
  const [victimTag, otherTag] = [...tags.values()];
  const victim = await cluster.masterFor(`{${victimTag}}`);
  const redis = client(cluster);
  const writers: Writer[] = [];
  try {
    // Acknowledged by the replica before the kill: must all survive.
    const before: string[] = [];
    for (const tag of tags.values()) {
      for (let i = 0; i < 20; i++) {
        const key = `{${tag}}:before:${i}`;
        const [[, ok], [, replicas]] = (await redis.pipeline().set(key, String(i)).call('WAIT', '1', '1000').exec())!;
        expect([ok, replicas]).toEqual(['OK', 1]);
        before.push(key);
      }
    }

    writers.push(new Writer(redis, victimTag, 'plain', false), new Writer(redis, victimTag, 'waited', true), new Writer(redis, otherTag, 'plain', false));
    await waitUntil('traffic before the kill', 5000, async () => (writers.every((w) => w.acked.length >= 30) ? undefined : 'writing'));

    killed = await cluster.killMaster(`{${victimTag}}`);
    expect(killed.port).toBe(victim.port);
    expect(killed.pid).toBeUndefined();
    expect(() => process.kill(victim.pid!, 0)).toThrow(); // gone, by pid
    const killedAt = Date.now();

    const failover: RedisClusterFailover = await cluster.waitForFailover();
    expect(failover.killed.port).toBe(victim.port);
    expect(failover.promoted.role).toBe('master');
    expect(failover.promoted.port).not.toBe(victim.port);
    expect((await cluster.masterFor(`{${victimTag}}`)).port).toBe(failover.promoted.port);
    promoted = failover.promoted;
    const failedOverAt = Date.now();

    // Writes resume in the failed-over slot and elsewhere (the promoted master has no replica
    // until the killed node is back, so each WAIT there now takes its full 100 ms).
    await waitUntil('writes after the failover', 10_000, async () =>
      writers.every((w) => w.okSince(failedOverAt) >= 5) ? undefined : writers.map((w) => `${w.name}@${w.tag}: ${w.okSince(failedOverAt)}`).join(', '),
    );
    await Promise.all(writers.map((w) => w.stop()));

    const [victimPlain, victimWaited, other] = writers;
    expect(await unreadable(redis, before)).toEqual([]);
    expect(await unreadable(redis, victimWaited.replicated)).toEqual([]);
    expect(await unreadable(redis, other.acked)).toEqual([]);
    const lostPlain = await unreadable(redis, victimPlain.acked);
    const lostWaitedUnreplicated = await unreadable(redis, victimWaited.unreplicated());
    measured.push(
      `failover ${failover.ms} ms (SIGKILL → replica serves the slots, cluster_state:ok on every node)`,
      `longest time without an acknowledged write after the kill: victim slot ${victimPlain.longestGapAfter(killedAt)} ms, another master's slot ${other.longestGapAfter(killedAt)} ms`,
      `victim slot without WAIT: ${victimPlain.acked.length} acknowledged, ${lostPlain.length} lost${lostPlain.length ? ` (${lostPlain.slice(-3).join(' ')})` : ''}`,
      `with WAIT 1: ${victimWaited.replicated.length} replicated, 0 lost; ${victimWaited.acked.length - victimWaited.replicated.length} acknowledged without a replica, ${lostWaitedUnreplicated.length} of them lost`,
    );
  } finally {
    await Promise.all(writers.map((w) => w.stop()));
    redis.disconnect();
  }
}, 30_000);

it('the killed master starts again and rejoins as a replica of the node that took over', async () => {
  if (!cluster || !killed || !promoted) return;
  const t0 = Date.now();
  const back = await cluster.restart(killed.port);
  measured.push(`restart → replica in sync ${Date.now() - t0} ms`);
  expect(back.role).toBe('replica');
  expect(back.pid).toEqual(expect.any(Number));
  expect(await redisCommand(back.port, 'ROLE')).toEqual(['slave', '127.0.0.1', promoted.port, 'connected', expect.any(Number)]);
  expect(cluster.nodes.filter((n) => n.role === 'master')).toHaveLength(3);
  const redis = client(cluster);
  try {
    const tags = await tagPerMaster(cluster);
    for (const tag of tags.values()) expect(await redis.set(`{${tag}}:after-restart`, 'ok')).toBe('OK');
  } finally {
    redis.disconnect();
  }
});

it('stop() kills every node by pid and removes the temp dirs', async () => {
  if (!cluster) return;
  const pids = cluster.nodes.map((n) => n.pid!);
  const dir = cluster.dir;
  expect(existsSync(dir)).toBe(true);
  await cluster.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  expect(existsSync(dir)).toBe(false);
});

it('without redis-server and redis-cli on PATH, create() returns undefined and unavailable() says what is missing', async () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expect(await RedisClusterProcess.create()).toBeUndefined();
    expect(RedisClusterProcess.unavailable()).toBe('redis-server and redis-cli not on PATH (apt-get install redis-server)');
  } finally {
    process.env.PATH = path;
  }
});
