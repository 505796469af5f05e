import { registerAs } from '@nestjs/config';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { validateConfig } from '@app/common';

export class TrackingConfig {
  /** redis://[:password@]host:port[/db] or rediss://… */
  @IsOptional()
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must look like redis://host:6379 or rediss://…' })
  REDIS_URL?: string;

  @IsOptional()
  @IsString()
  REDIS_HOST?: string;

  @IsInt()
  @Min(1)
  @Max(65535)
  REDIS_PORT: number = 6379;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  /** Prefix of every key; keys look like `mgw:{rollout}:ids`. */
  @Matches(/^[A-Za-z0-9_.:-]*$/, { message: 'REDIS_KEY_PREFIX may hold letters, digits and _.:- only' })
  REDIS_KEY_PREFIX: string = 'mgw';

  /** How long a rollout's ids are kept after the last write. */
  @IsInt()
  @Min(60)
  ROLLOUT_TTL_SECONDS: number = 7 * 24 * 3600;

  /** Registrations waiting for a Redis outage to end, at most. */
  @IsInt()
  @Min(1)
  REGISTRATION_QUEUE_SIZE: number = 10_000;
}

export const trackingConfig = registerAs('tracking', () => validateConfig(TrackingConfig, {
  REDIS_URL: process.env.REDIS_URL,
  REDIS_HOST: process.env.REDIS_HOST,
  REDIS_PORT: process.env.REDIS_PORT,
  REDIS_PASSWORD: process.env.REDIS_PASSWORD,
  REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX,
  ROLLOUT_TTL_SECONDS: process.env.ROLLOUT_TTL_SECONDS,
  REGISTRATION_QUEUE_SIZE: process.env.REGISTRATION_QUEUE_SIZE,
}));

