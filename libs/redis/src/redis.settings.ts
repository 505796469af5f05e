import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Setting, Settings, toBool } from '@app/settings';

/** `host:port[,host:port…]` (IPv6 hosts in brackets). */
const HOST_PORT_LIST = /^\s*(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}(\s*,\s*(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5})*\s*$/;

@Settings('Redis (completeness store, rollout logs and status)', 30)
export class RedisSettings {
  @Setting(
    'redis://[user:password@]host:port[/db] or rediss://… (one node). Or use REDIS_HOST, REDIS_CLUSTER_NODES or REDIS_SENTINELS; with none of them, stores are in memory (one process only).',
    { sensitive: true },
  )
  @IsOptional()
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must look like redis://host:6379 or rediss://…' })
  REDIS_URL?: string;

  @Setting('Redis host, when REDIS_URL is not set.')
  @IsOptional()
  @IsString()
  REDIS_HOST?: string;

  @Setting('Redis port, with REDIS_HOST.')
  @IsInt()
  @Min(1)
  @Max(65535)
  REDIS_PORT: number = 6379;

  @Setting('Redis Cluster: some of its nodes as host:port,host:port (the rest are discovered). Every key of a rollout shares one hash slot.')
  @IsOptional()
  @Matches(HOST_PORT_LIST, { message: 'REDIS_CLUSTER_NODES must be host:port[,host:port…], e.g. redis-0:6379,redis-1:6379' })
  REDIS_CLUSTER_NODES?: string;

  @Setting('Redis Sentinel: the sentinels as host:port,host:port; the gateway follows the master they name (REDIS_SENTINEL_NAME).')
  @IsOptional()
  @Matches(HOST_PORT_LIST, { message: 'REDIS_SENTINELS must be host:port[,host:port…], e.g. sentinel-0:26379,sentinel-1:26379' })
  REDIS_SENTINELS?: string;

  @Setting('The master group the sentinels monitor, with REDIS_SENTINELS.')
  @IsString()
  @Matches(/^[\w.-]+$/, { message: 'REDIS_SENTINEL_NAME takes letters, digits and . _ -' })
  REDIS_SENTINEL_NAME: string = 'mymaster';

  @Setting('Password of the sentinels themselves, when they require one (the data nodes use REDIS_PASSWORD).', { sensitive: true })
  @IsOptional()
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  @Setting('Redis ACL user, with REDIS_HOST, REDIS_CLUSTER_NODES or REDIS_SENTINELS (in REDIS_URL: redis://user:password@host).')
  @IsOptional()
  @IsString()
  REDIS_USERNAME?: string;

  @Setting('Redis password, with REDIS_HOST, REDIS_CLUSTER_NODES or REDIS_SENTINELS (in REDIS_URL: redis://:password@host).', { sensitive: true })
  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @Setting('Connect to Redis over TLS (REDIS_HOST, the cluster nodes, the master behind the sentinels); a rediss:// REDIS_URL implies it.')
  @Transform(toBool)
  @IsBoolean()
  REDIS_TLS: boolean = false;

  @Setting(
    'Replicas asked to confirm each registration and trace (Redis WAIT) before the client gets its 200, so it survives a failover of the master (set 1 with a replicated Cluster or Sentinel). None confirming within REDIS_WAIT_TIMEOUT_MS (no live replica): kept on the master alone, logged.',
  )
  @IsInt()
  @Min(0)
  @Max(16)
  REDIS_WAIT_REPLICAS: number = 0;

  @Setting('How long a write waits for REDIS_WAIT_REPLICAS replicas to confirm it (ms).')
  @IsInt()
  @Min(1)
  @Max(10_000)
  REDIS_WAIT_TIMEOUT_MS: number = 100;

  @Setting('Prefix of every key; keys look like `mgw:{project:rollout}:ids`.')
  @Matches(/^[A-Za-z0-9_.:-]*$/, { message: 'REDIS_KEY_PREFIX may hold letters, digits and _.:- only' })
  REDIS_KEY_PREFIX: string = 'mgw';
}
