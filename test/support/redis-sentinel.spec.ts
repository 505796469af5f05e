/**
 * The Sentinel set-up of redis-sentinel.ts is real and fails over, seen
 * through plain ioredis (no gateway code): the master SIGKILLed mid-traffic,
 * the sentinels promote the replica, a client given only the sentinels
 * writes again, and every write the replica acknowledged (WAIT 1) is still
 * there. A write only the master acknowledged may be lost by design
 * (replication is asynchronous): the spec counts such losses and prints them,
 * with the start-up and failover times, on one line.
 */
import Redis from 'ioredis';
import { existsSync } from 'node:fs';
import { RedisSentinelProcess } from './redis-sentinel';
import { redisCommand, waitUntil } from './redis-server-child';
import { unreadable, Writer } from './redis-writes';

let sentinel: RedisSentinelProcess | undefined;
const measured: string[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  sentinel = await RedisSentinelProcess.create({ name: 'mymaster' });
  if (!sentinel) console.warn(`redis-sentinel.spec: skipped, ${RedisSentinelProcess.unavailable()}`);
  else measured.push(`start-up ${Date.now() - t0} ms`);
}, 30_000);

afterAll(async () => {
  await sentinel?.stop();
  if (measured.length) console.log(`redis-sentinel.spec: ${measured.join('; ')}`);
});

function client(s: RedisSentinelProcess): Redis {
  const redis = new Redis({
    sentinels: s.sentinels,
    name: s.name,
    connectTimeout: 500,
    // Fail a write after one reconnection instead of queueing it through the whole
    // failover, so the writers below see the outage.
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  // While the master is down ioredis reports "All sentinels are unreachable" (they still
  // name the dead master): expected here, the writers count the failed writes.
  redis.on('error', () => undefined);
  return redis;
}

it('starts a master, a replica in sync and three sentinels that name the master; plain ioredis writes through them', async () => {
  if (!sentinel) return;
  const [master, replica] = sentinel.servers;
  expect([master.role, replica.role]).toEqual(['master', 'replica']);
  expect(sentinel.sentinels).toHaveLength(3);
  expect(sentinel.sentinelsSetting).toBe(sentinel.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','));
  expect(await sentinel.master()).toEqual({ host: '127.0.0.1', port: master.port });
  expect(await redisCommand(replica.port, 'ROLE')).toEqual(['slave', '127.0.0.1', master.port, 'connected', expect.any(Number)]);

  const redis = client(sentinel);
  try {
    expect(await redis.set('{s}:hello', 'world')).toBe('OK');
    expect(await redis.get('{s}:hello')).toBe('world');
  } finally {
    redis.disconnect();
  }
});

it('the master SIGKILLed mid-traffic: the sentinels promote the replica, writes resume, and WAIT-acknowledged writes survive', async () => {
  if (!sentinel) return;
  const redis = client(sentinel);
  const writers: Writer[] = [];
  try {
    // Acknowledged by the replica before the kill: must all survive.
    const before: string[] = [];
    for (let i = 0; i < 20; i++) {
      const key = `{s}:before:${i}`;
      expect(await redis.pipeline().set(key, String(i)).call('WAIT', '1', '1000').exec()).toEqual([
        [null, 'OK'],
        [null, 1],
      ]);
      before.push(key);
    }

    writers.push(new Writer(redis, 's', 'plain', false), new Writer(redis, 's', 'waited', true));
    await waitUntil('traffic before the kill', 5000, async () => (writers.every((w) => w.acked.length >= 30) ? undefined : 'writing'));

    const [oldMaster, oldReplica] = sentinel.servers;
    const killed = await sentinel.killMaster();
    const killedAt = Date.now();
    expect(killed.port).toBe(oldMaster.port);
    expect(killed.pid).toBeUndefined();
    expect(() => process.kill(oldMaster.pid!, 0)).toThrow(); // gone, by pid

    const failover = await sentinel.waitForFailover();
    expect(failover.master).toEqual({ host: '127.0.0.1', port: oldReplica.port });
    expect(await sentinel.master()).toEqual(failover.master);
    expect(sentinel.servers.map((s) => s.role)).toEqual(['master', 'master']); // the killed one keeps its last role
    const failedOverAt = Date.now();

    // The new master has no replica (the old master is dead), so each WAIT there takes its full 100 ms.
    await waitUntil('writes after the failover', 10_000, async () =>
      writers.every((w) => w.okSince(failedOverAt) >= 5) ? undefined : writers.map((w) => `${w.name}: ${w.okSince(failedOverAt)}`).join(', '),
    );
    await Promise.all(writers.map((w) => w.stop()));
    expect(await redis.call('ROLE')).toEqual(['master', expect.any(Number), []]); // the client follows the sentinels

    const [plain, waited] = writers;
    expect(await unreadable(redis, before)).toEqual([]);
    expect(await unreadable(redis, waited.replicated)).toEqual([]);
    const lostPlain = await unreadable(redis, plain.acked);
    const lostUnreplicated = await unreadable(redis, waited.unreplicated());
    measured.push(
      `failover ${failover.ms} ms (SIGKILL → every sentinel names the replica, ROLE master)`,
      `longest time without an acknowledged write after the kill: ${plain.longestGapAfter(killedAt)} ms`,
      `without WAIT: ${plain.acked.length} acknowledged, ${lostPlain.length} lost${lostPlain.length ? ` (${lostPlain.slice(-3).join(' ')})` : ''}`,
      `with WAIT 1: ${waited.replicated.length} replicated, 0 lost; ${waited.unreplicated().length} acknowledged without a replica, ${lostUnreplicated.length} of them lost`,
    );
  } finally {
    await Promise.all(writers.map((w) => w.stop()));
    redis.disconnect();
  }
}, 30_000);

it('stop() kills every process by pid and removes the temp dir', async () => {
  if (!sentinel) return;
  const pids = [...sentinel.servers.map((s) => s.pid), ...(await sentinelPids(sentinel))].filter((pid): pid is number => pid !== undefined);
  expect(pids.length).toBeGreaterThanOrEqual(4); // the replica (now master) and three sentinels
  const dir = sentinel.dir;
  expect(existsSync(dir)).toBe(true);
  await sentinel.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  expect(existsSync(dir)).toBe(false);
});

/** The sentinels' pids, from INFO server (process_id). */
async function sentinelPids(s: RedisSentinelProcess): Promise<number[]> {
  const pids: number[] = [];
  for (const { port } of s.sentinels) {
    const info = String(await redisCommand(port, 'INFO', ['server']));
    pids.push(Number(/process_id:(\d+)/.exec(info)![1]));
  }
  return pids;
}

it('without redis-server on PATH, create() returns undefined and unavailable() says what is missing', async () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expect(await RedisSentinelProcess.create()).toBeUndefined();
    expect(RedisSentinelProcess.unavailable()).toBe('redis-server not on PATH (apt-get install redis-server)');
  } finally {
    process.env.PATH = path;
  }
});
