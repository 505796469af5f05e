import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Setting, Settings } from '@app/settings';

@Settings('Redis (completeness store, rollout logs and status)', 30)
export class RedisSettings {
  @Setting('redis://[:password@]host:port[/db] or rediss://…; with REDIS_HOST unset too, stores are in memory (one process only).', { sensitive: true })
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

  @Setting('Redis password, with REDIS_HOST.', { sensitive: true })
  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @Setting('Prefix of every key; keys look like `mgw:{rollout}:ids`.')
  @Matches(/^[A-Za-z0-9_.:-]*$/, { message: 'REDIS_KEY_PREFIX may hold letters, digits and _.:- only' })
  REDIS_KEY_PREFIX: string = 'mgw';
}
