import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsNumber, Matches, Max, Min } from 'class-validator';
import { toBool, validateConfig } from '@app/common';

export class AppConfig {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 4000;

  /** Host/interface to listen on. */
  @Matches(/^[\w.:-]+$/, { message: 'HOST must be a host name or IP address' })
  HOST: string = '0.0.0.0';

  @IsIn(['error', 'warn', 'info', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'info' | 'debug' | 'verbose' = 'info';

  @IsIn(['json', 'text'])
  LOG_FORMAT: 'json' | 'text' = process.env.NODE_ENV === 'production' ? 'json' : 'text';

  /** Largest accepted request body, e.g. 32mb, 500kb, 1048576. */
  @Matches(/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i, { message: 'MAX_BODY_SIZE must be a size such as 32mb, 500kb or a number of bytes' })
  MAX_BODY_SIZE: string = '32mb';

  /** Seconds to let in-flight requests (streams) finish on SIGTERM before closing them. */
  @IsNumber()
  @Min(0)
  SHUTDOWN_TIMEOUT: number = 30;

  /** OpenAPI UI at /docs and JSON at /docs-json. */
  @Transform(toBool)
  @IsBoolean()
  DOCS_ENABLED: boolean = true;

  /** Serve POST …/chat/completions in front of Express/Nest when nothing else applies to it (direct-chat-route.ts). */
  @Transform(toBool)
  @IsBoolean()
  CHAT_DIRECT_ROUTE: boolean = true;
}

export const appConfig = registerAs('app', () => validateConfig(AppConfig, {
  PORT: process.env.PORT,
  HOST: process.env.HOST,
  LOG_LEVEL: process.env.LOG_LEVEL?.toLowerCase(),
  LOG_FORMAT: process.env.LOG_FORMAT?.toLowerCase(),
  MAX_BODY_SIZE: process.env.MAX_BODY_SIZE,
  SHUTDOWN_TIMEOUT: process.env.SHUTDOWN_TIMEOUT,
  DOCS_ENABLED: process.env.DOCS_ENABLED,
  CHAT_DIRECT_ROUTE: process.env.CHAT_DIRECT_ROUTE,
}));

export function parseByteSize(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(size.trim());
  if (!m) throw new Error(`Invalid size ${size}`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(parseFloat(m[1]) * mult);
}
