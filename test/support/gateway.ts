/**
 * Boots the real gateway (AppModule by default, same bootstrap as main.ts) on a free
 * port with the given environment, for e2e tests over real HTTP.
 */
import { ConsoleLogger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureGatewayApp } from '@app/gateway';
import { AppModule } from '../../apps/gateway/src/app.module';

export interface StartedGateway {
  url: string;
  app: NestExpressApplication;
  /** Every log line the gateway printed (for no-secrets-in-logs checks). */
  logs: string[];
  /** The Redis key prefix this instance uses (unique per start). */
  keyPrefix: string;
  close(): Promise<void>;
}

/** Captures log lines instead of printing them (set GATEWAY_TEST_LOGS=1 to also print). */
class CapturingLogger extends ConsoleLogger {
  constructor(private readonly lines: string[]) {
    super({ logLevels: ['fatal', 'error', 'warn', 'log', 'debug'] });
  }

  protected printMessages(messages: unknown[], context = '', logLevel: Parameters<ConsoleLogger['printMessages']>[2] = 'log'): void {
    for (const m of messages) this.lines.push(`${logLevel} [${context}] ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    if (process.env.GATEWAY_TEST_LOGS) super.printMessages(messages, context, logLevel);
  }
}

const ENV_KEYS = [
  'PORT', 'HOST', 'DOCS_ENABLED', 'LOG_LEVEL', 'LOG_FORMAT', 'MAX_BODY_SIZE', 'SHUTDOWN_TIMEOUT', 'SECRETS_PATH', 'LANGFUSE_HOST', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT',
  'REDIS_PASSWORD', 'REDIS_KEY_PREFIX', 'ROLLOUT_TTL_SECONDS', 'REGISTRATION_QUEUE_SIZE', 'LITELLM_URL', 'LITELLM_TRUSTED', 'DEFAULT_UPSTREAM_URL',
  'UPSTREAM_PROVIDERS', 'REQUEST_TIMEOUT', 'ALLOW_PRIVATE_UPSTREAMS', 'FORWARD_METADATA_TAGS', 'UPSTREAM_MAX_FREE_SOCKETS', 'LANGFUSE_EXPORT',
  'LANGFUSE_ENVIRONMENT', 'LANGFUSE_FLUSH_AT', 'LANGFUSE_FLUSH_INTERVAL', 'LANGFUSE_EXPORT_QUEUE_SIZE', 'LANGFUSE_EXPORT_CONCURRENCY', 'LANGFUSE_EXPORT_WORKER', 'AUTH_PROVIDER', 'LANGFUSE_READ_API',
  'LANGFUSE_READ_TIMEOUT_MS', 'LANGFUSE_READ_CONCURRENCY', 'LANGFUSE_READ_RPM', 'LANGFUSE_READ_BUDGET_MS', 'LANGFUSE_COMPLETENESS_BACKOFF_MS',
  'LANGFUSE_V2_PAGE_SIZE', 'CHAT_DIRECT_ROUTE', 'ROLLOUT_LOGS_MAX_ENTRIES', 'ROLLOUT_LOG_MAX_MESSAGE_CHARS', 'ROLLOUT_LOG_MAX_TAGS', 'ROLLOUT_LOG_MAX_ENTRY_BYTES',
];

/** `configure` runs after configureGatewayApp, where an app's own main.ts would add its own (app.use…). */
export async function startGateway(
  env: Record<string, string | undefined> = {},
  rootModule: Type<unknown> = AppModule,
  configure?: (app: NestExpressApplication) => void,
): Promise<StartedGateway> {
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  const keyPrefix = env.REDIS_KEY_PREFIX ?? `test-${randomUUID().slice(0, 8)}`;
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, { REDIS_KEY_PREFIX: keyPrefix, LANGFUSE_EXPORT: 'false' }, stripUndefined(env));
  const logs: string[] = [];
  try {
    const app = await NestFactory.create<NestExpressApplication>(rootModule, { bodyParser: false, logger: new CapturingLogger(logs) });
    configureGatewayApp(app);
    configure?.(app);
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    return { url: `http://127.0.0.1:${address.port}`, app, logs, keyPrefix, close: () => app.close() };
  } finally {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function stripUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
}

/** Writes a secrets YAML to a temp file and returns its path. */
export function writeSecrets(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-secrets-'));
  const path = join(dir, 'secrets.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** URL-safe base64 with padding, as eval-protocol encodes encoded_base_url. */
export function encodeBaseUrl(url: string): string {
  return Buffer.from(url).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

export function metadataPath(m: { rollout: string; invocation?: string; experiment?: string; run?: string; row?: string; project?: string; baseUrl?: string }): string {
  const parts = [
    m.project ? `/project_id/${m.project}` : '',
    `/rollout_id/${m.rollout}/invocation_id/${m.invocation ?? 'inv-1'}/experiment_id/${m.experiment ?? 'exp-1'}/run_id/${m.run ?? 'run-1'}/row_id/${m.row ?? 'row-1'}`,
    m.baseUrl ? `/encoded_base_url/${encodeBaseUrl(m.baseUrl)}` : '',
  ];
  return parts.join('');
}

/** fetch's json() is `unknown` under Node's types; tests read fields freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json();
