import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { createHash } from 'node:crypto';
import { AccountInfo, AuthProvider, AuthRequest, presentedKeys } from '@app/auth';
import { REDIS_CLIENT } from '@app/completeness-tracking';

/** Hash holding sha256(key) → JSON {"accountId": "...", "projects": ["..."]}. */
export const API_KEYS_HASH = 'example:api-keys';

/**
 * A custom AuthProvider: API keys live in a Redis hash that another system
 * manages, so keys can be issued and revoked without restarting the gateway.
 * It reuses the gateway's shared Redis client.
 */
@Injectable()
export class RedisApiKeyAuthProvider extends AuthProvider {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis | null) {
    super();
    if (!redis) throw new Error('RedisApiKeyAuthProvider needs Redis: set REDIS_URL.');
  }

  async authenticate(request: AuthRequest): Promise<AccountInfo | null> {
    for (const key of presentedKeys(request)) {
      const digest = createHash('sha256').update(key).digest('hex');
      const raw = await this.redis!.hget(API_KEYS_HASH, digest);
      if (raw) return JSON.parse(raw) as AccountInfo;
    }
    return null;
  }
}
