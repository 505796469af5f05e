import { Cluster } from 'ioredis';
import { validateSettings } from '@app/settings';
import { createRedisClient, describeTopology, topologyOf } from './redis-topology';
import { RedisSettings } from './redis.settings';

const settings = (raw: Record<string, string>) => validateSettings(RedisSettings, raw);

describe('topologyOf', () => {
  it('none configured → no Redis (stores in memory)', () => {
    expect(topologyOf(settings({}))).toBeUndefined();
  });

  it('one node by URL or host, with TLS and an ACL user', () => {
    expect(topologyOf(settings({ REDIS_URL: 'rediss://u:pw@cache:6380/2' }))).toEqual({ kind: 'single', url: 'rediss://u:pw@cache:6380/2', options: {} });
    expect(topologyOf(settings({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_USERNAME: 'gw', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }))).toEqual({
      kind: 'single',
      options: { host: 'cache', port: 6380, username: 'gw', password: 'pw', tls: {} },
    });
  });

  it('a cluster from its seed nodes (IPv6 in brackets)', () => {
    expect(topologyOf(settings({ REDIS_CLUSTER_NODES: 'redis-0:6379, [::1]:7000', REDIS_PASSWORD: 'pw' }))).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'redis-0', port: 6379 },
        { host: '::1', port: 7000 },
      ],
      options: { password: 'pw' },
    });
  });

  it('a master behind sentinels', () => {
    expect(topologyOf(settings({ REDIS_SENTINELS: 's0:26379,s1:26379', REDIS_SENTINEL_NAME: 'gw-master', REDIS_SENTINEL_PASSWORD: 'spw', REDIS_PASSWORD: 'pw' }))).toEqual({
      kind: 'sentinel',
      options: { sentinels: [{ host: 's0', port: 26379 }, { host: 's1', port: 26379 }], name: 'gw-master', sentinelPassword: 'spw', password: 'pw' },
    });
  });

  it('two topologies at once, or a bad node list, stop start-up with a message naming them', () => {
    expect(() => topologyOf(settings({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:6379' }))).toThrow(/more than once \(REDIS_URL, REDIS_CLUSTER_NODES\)/);
    expect(() => settings({ REDIS_CLUSTER_NODES: 'redis-0' })).toThrow(/REDIS_CLUSTER_NODES must be host:port/);
    expect(() => settings({ REDIS_SENTINELS: 's0:26379,' })).toThrow(/REDIS_SENTINELS must be host:port/);
  });
});

describe('describeTopology', () => {
  it('says where Redis is without any credential', () => {
    const lines = [
      describeTopology(topologyOf(settings({ REDIS_URL: 'rediss://u:secret-pw@cache:6380' }))!),
      describeTopology(topologyOf(settings({ REDIS_CLUSTER_NODES: 'r0:6379,r1:6379', REDIS_PASSWORD: 'secret-pw', REDIS_TLS: 'true' }))!),
      describeTopology(topologyOf(settings({ REDIS_SENTINELS: 's0:26379', REDIS_SENTINEL_PASSWORD: 'secret-pw' }))!),
    ];
    expect(lines).toEqual(['Redis at cache:6380 over TLS', 'Redis Cluster (seed nodes r0:6379, r1:6379) over TLS', 'Redis master "mymaster" through the sentinels s0:26379']);
    expect(lines.join()).not.toContain('secret-pw');
  });
});

describe('createRedisClient', () => {
  it('a cluster client for a cluster, a node client otherwise (not connected here)', () => {
    const cluster = createRedisClient(topologyOf(settings({ REDIS_CLUSTER_NODES: '127.0.0.1:1' }))!, {}, { lazyConnect: true });
    const node = createRedisClient(topologyOf(settings({ REDIS_HOST: '127.0.0.1', REDIS_PORT: '1' }))!, { lazyConnect: true });
    expect(cluster).toBeInstanceOf(Cluster);
    expect(node).not.toBeInstanceOf(Cluster);
    cluster.disconnect();
    node.disconnect();
  });
});
