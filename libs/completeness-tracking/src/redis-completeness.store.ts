import Redis from 'ioredis';
import { RedisKeys } from '@app/redis';
import { CompletenessStore } from './completeness.store';
import { TrackingSettings } from './tracking.settings';

/**
 * SADD + EXPIRE as one script: one command and one round trip per
 * registration (MULTI/SADD/EXPIRE/EXEC was four commands, with their
 * objects and promises, on the hot path of every tracked completion), and
 * still atomic.
 */
const REGISTER_SCRIPT = `redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1`;

interface RegisterCommand {
  mgwRegister(key: string, id: string, ttlSeconds: number): Promise<number>;
}

interface Waiting {
  key: string;
  id: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Ids of a rollout in one Redis set; the TTL is renewed on every write.
 *
 * Registrations made in the same event-loop turn go out as one pipeline (one
 * socket write) at setImmediate: under load many upstream answers end in the
 * same poll phase, and one write per registration was ~5 % of the gateway's
 * CPU (`npm run bench -- profile`). Each caller still waits for its own reply
 * and gets its own error. Not ioredis enableAutoPipelining: that keeps one
 * pipeline in flight at a time, which during an outage made calls wait on each
 * other's retries (see redis.client.ts).
 */
export class RedisCompletenessStore extends CompletenessStore {
  readonly kind = 'redis';
  private batch: Waiting[] | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly settings: TrackingSettings,
  ) {
    super();
    // ioredis sends EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a restarted Redis).
    if (typeof (redis as unknown as Partial<RegisterCommand>).mgwRegister !== 'function') redis.defineCommand('mgwRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT });
  }

  register(rolloutId: string, insertionId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.batch === undefined) {
        this.batch = [];
        setImmediate(() => this.flush());
      }
      this.batch.push({ key: this.keys.rollout(rolloutId, 'ids'), id: insertionId, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.batch ?? [];
    this.batch = undefined;
    const ttl = this.settings.ROLLOUT_TTL_SECONDS;
    const pipeline = this.redis.pipeline() as unknown as RegisterCommand & ReturnType<Redis['pipeline']>;
    for (const w of batch) void pipeline.mgwRegister(w.key, w.id, ttl);
    pipeline.exec().then(
      (results) =>
        batch.forEach((w, i) => {
          const reply = results?.[i];
          // No reply at all counts as a failure: an id is only reported stored when Redis said so.
          if (!reply || reply[0]) w.reject(reply?.[0] ?? new Error('Redis sent no reply for this registration'));
          else w.resolve();
        }),
      (err: unknown) => batch.forEach((w) => w.reject(err)),
    );
  }

  async expectedIds(rolloutId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.rollout(rolloutId, 'ids'));
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
