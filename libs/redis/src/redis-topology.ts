/**
 * Where Redis is, as plain data: one node (REDIS_URL, REDIS_HOST), a Redis
 * Cluster (REDIS_CLUSTER_NODES) or a master followed through Sentinel
 * (REDIS_SENTINELS). The gateway's shared client is built from it, and so is
 * the export worker's stream reader (a worker thread gets data, not a
 * client), so both reach the same Redis the same way.
 *
 * Cluster mode needs nothing else from the stores: every key of a rollout
 * carries the project and rollout id as one hash tag (one slot), every
 * script and multi-key command stays inside one rollout's keys or the
 * trace stream's own key, and pipelines are not used across slots (the
 * TickBatcher sends commands one by one there; the cluster client pipelines
 * them per node itself).
 */
import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisSettings } from './redis.settings';

/** The shared client: one node (also behind Sentinel) or a cluster. */
export type RedisClient = Redis | Cluster;

/** Connection options that survive structured cloning (no functions). */
export type PlainRedisOptions = Pick<RedisOptions, 'host' | 'port' | 'username' | 'password' | 'tls' | 'sentinels' | 'name' | 'sentinelPassword' | 'enableTLSForSentinelMode' | 'sentinelTLS'>;

/** How to reach Redis. Holds the password: never log it (describeTopology does not). */
export type RedisTopology =
  | { kind: 'single'; url?: string; options: PlainRedisOptions }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; options: PlainRedisOptions }
  | { kind: 'sentinel'; options: PlainRedisOptions };

/** The topology the settings name; undefined when none is configured (stores in memory). */
export function topologyOf(settings: RedisSettings): RedisTopology | undefined {
  const named = (['REDIS_URL', 'REDIS_HOST', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter((name) => settings[name]);
  if (named.length > 1) {
    throw new Error(`Redis is configured more than once (${named.join(', ')}): set only one of REDIS_URL, REDIS_HOST, REDIS_CLUSTER_NODES and REDIS_SENTINELS.`);
  }
  const auth: PlainRedisOptions = {
    ...(settings.REDIS_USERNAME ? { username: settings.REDIS_USERNAME } : {}),
    ...(settings.REDIS_PASSWORD ? { password: settings.REDIS_PASSWORD } : {}),
    ...(settings.REDIS_TLS ? { tls: {} } : {}),
  };
  if (settings.REDIS_URL) return { kind: 'single', url: settings.REDIS_URL, options: settings.REDIS_TLS ? { tls: {} } : {} };
  if (settings.REDIS_HOST) return { kind: 'single', options: { host: settings.REDIS_HOST, port: settings.REDIS_PORT, ...auth } };
  if (settings.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: hostPorts(settings.REDIS_CLUSTER_NODES), options: auth };
  if (settings.REDIS_SENTINELS) {
    return {
      kind: 'sentinel',
      options: {
        sentinels: hostPorts(settings.REDIS_SENTINELS),
        name: settings.REDIS_SENTINEL_NAME,
        ...(settings.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: settings.REDIS_SENTINEL_PASSWORD } : {}),
        ...auth,
        ...(settings.REDIS_TLS ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
      },
    };
  }
  return undefined;
}

/**
 * A client for the topology. `options` are added to every node connection
 * (retry strategy, timeouts, names); `cluster` to the cluster client.
 */
export function createRedisClient(topology: RedisTopology, options: RedisOptions = {}, cluster: Omit<ClusterOptions, 'redisOptions'> = {}): RedisClient {
  if (topology.kind === 'cluster') {
    return new Cluster(topology.nodes, {
      ...cluster,
      redisOptions: { ...topology.options, ...options },
      // Managed clusters with TLS (ElastiCache) hand out names whose certificates only match as given.
      ...(topology.options.tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
    });
  }
  return topology.kind === 'single' && topology.url ? new Redis(topology.url, { ...topology.options, ...options }) : new Redis({ ...topology.options, ...options });
}

/** For log lines: where Redis is, without credentials. */
export function describeTopology(topology: RedisTopology): string {
  const tls = topology.options.tls ? ' over TLS' : '';
  switch (topology.kind) {
    case 'cluster':
      return `Redis Cluster (seed nodes ${topology.nodes.map((n) => `${n.host}:${n.port}`).join(', ')})${tls}`;
    case 'sentinel':
      return `Redis master "${topology.options.name}" through the sentinels ${(topology.options.sentinels ?? []).map((n) => `${n.host}:${n.port}`).join(', ')}${tls}`;
    default: {
      if (topology.url) {
        const url = new URL(topology.url);
        return `Redis at ${url.host}${url.protocol === 'rediss:' ? ' over TLS' : tls}`;
      }
      return `Redis at ${topology.options.host}:${topology.options.port}${tls}`;
    }
  }
}

function hostPorts(list: string): Array<{ host: string; port: number }> {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      return { host: entry.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(entry.slice(at + 1)) };
    });
}
