/**
 * Boots the real gateway (GatewayModule with the shipped app's options, the
 * same bootstrap as main.ts) on a free port, for e2e tests over real HTTP.
 * Settings are passed as code settings over an empty environment, so the
 * test process's own environment never leaks in.
 */
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configureGatewayApp, GatewayExtensions, GatewayModule, GatewaySettings, listenGateway } from '@app/gateway';
import { RolloutTracker } from '@app/completeness-tracking';
import { RedisKeys } from '@app/redis';
import { APP_GATEWAY_OPTIONS } from '../../apps/gateway/src/app.module';
import { TEST_EXPORT_WORKER_SCRIPT } from './export-worker';
import { testRedisUrl } from './redis';

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
export class CapturingLogger extends ConsoleLogger {
  constructor(private readonly lines: string[]) {
    super({ logLevels: ['fatal', 'error', 'warn', 'log', 'debug'] });
  }

  protected printMessages(messages: unknown[], context = '', logLevel: Parameters<ConsoleLogger['printMessages']>[2] = 'log'): void {
    for (const m of messages) this.lines.push(`${logLevel} [${context}] ${typeof m === 'string' ? m : JSON.stringify(m)}`);
    if (process.env.GATEWAY_TEST_LOGS) super.printMessages(messages, context, logLevel);
  }
}

/** Settings as tests write them: environment-style strings, or typed values. */
export type TestSettings = Record<string, string | number | boolean | undefined>;

/**
 * Starts a gateway with `settings` (REDIS_KEY_PREFIX unique, LANGFUSE_EXPORT
 * off unless set) and `extensions` (default: the shipped app's).
 * `configure` runs after configureGatewayApp, where an app's own main.ts
 * would add its own (app.use…).
 */
export async function startGateway(
  settings: TestSettings = {},
  extensions: GatewayExtensions = APP_GATEWAY_OPTIONS,
  configure?: (app: NestExpressApplication) => void,
): Promise<StartedGateway> {
  const keyPrefix = typeof settings.REDIS_KEY_PREFIX === 'string' ? settings.REDIS_KEY_PREFIX : `test-${randomUUID().slice(0, 8)}`;
  const module = GatewayModule.forRoot({
    exportWorkerScript: TEST_EXPORT_WORKER_SCRIPT,
    ...extensions,
    // A spool of its own, so gateways of parallel tests never take over each other's leftovers.
    settings: { REDIS_KEY_PREFIX: keyPrefix, LANGFUSE_EXPORT: false, SPOOL_DIR: mkdtempSync(join(tmpdir(), 'gw-spool-')), ...stripUndefined(settings) } as GatewaySettings,
    env: {},
  });
  const logs: string[] = [];
  const app = await NestFactory.create<NestExpressApplication>(module, { bodyParser: false, logger: new CapturingLogger(logs) });
  try {
    configureGatewayApp(app);
    configure?.(app);
    const gateway = await listenGateway(app, { port: 0, host: '127.0.0.1' });
    return { url: gateway.url, app, logs, keyPrefix, close: () => gateway.close() };
  } catch (err) {
    await app.close();
    throw err;
  }
}

function stripUndefined(settings: TestSettings): TestSettings {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
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

/**
 * Settings of a gateway that forwards to `upstreamUrl`, records in the test
 * Redis under `prefix` and exports to the fake Langfuse at `langfuseUrl`, with
 * `projects` in its secrets file (the first is the default project). Two
 * gateways with the same prefix share their rollouts (e.g. one reading
 * through v2, one through the legacy API).
 */
export function exportingGatewaySettings(options: {
  upstreamUrl: string;
  langfuseUrl: string;
  prefix: string;
  projects: Array<{ projectId: string; publicKey: string; secretKey: string }>;
}): Record<string, string> {
  return {
    LITELLM_URL: `${options.upstreamUrl}/v1`,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: options.prefix,
    LANGFUSE_EXPORT: 'true',
    LANGFUSE_HOST: options.langfuseUrl,
    LANGFUSE_FLUSH_INTERVAL: '0.1',
    SECRETS_PATH: writeSecrets(
      `langfuse_keys:\n${options.projects.map((p) => `  ${p.projectId}: { public_key: ${p.publicKey}, secret_key: ${p.secretKey} }`).join('\n')}\ndefault_project_id: ${options.projects[0].projectId}\n`,
    ),
  };
}

/** fetch's json() is `unknown` under Node's types; tests read fields freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (res: Response): Promise<any> => res.json();

/** The value of one unlabelled metric on the gateway's /metrics (undefined when absent). */
export async function metricValue(gw: { url: string }, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/**
 * Stores registrations Redis did not confirm within REGISTRATION_TIMEOUT_MS
 * (a busy CI machine) and that wait in the gateway's retry queue, so a test
 * reading Redis directly sees every id the client got a 200 for.
 */
export async function settleRegistrations(gw: StartedGateway): Promise<void> {
  const tracker = gw.app.get(RolloutTracker, { strict: false });
  if (tracker.stats().pending > 0) await tracker.drain();
}

/** The Redis key of one kind of a rollout's data (ids, logs, status), as the gateway lays it out. */
export function rolloutKey(prefix: string, projectId: string | undefined, rolloutId: string, kind: string): string {
  return new RedisKeys(prefix).rollout({ projectId, rolloutId }, kind);
}
