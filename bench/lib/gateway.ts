/**
 * Starts the built gateway (dist/) as its own process, configured like a
 * production deployment behind a LiteLLM-style upstream: Redis tracking on,
 * Langfuse export on (to the fake), JSON logs at info.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisKeys } from '@app/redis';
import { Child, LoopStats, REPO_ROOT, startNode } from './processes';

export type { LoopStats };
export type GatewayChild = Child;

export const REPO_DIST = join(REPO_ROOT, 'dist');
const MAIN_IN_DIST = join('apps', 'gateway', 'src', 'main.js');
let gatewayMain = join(REPO_DIST, MAIN_IN_DIST);

export const BENCH_PROJECT = { projectId: 'bench-project', publicKey: 'pk-lf-bench', secretKey: 'sk-lf-bench' };

export interface GatewayStart {
  name: string;
  upstreamUrl: string;
  redisUrl: string;
  keyPrefix: string;
  /** Fake Langfuse base URL; export is off without it. */
  langfuseUrl?: string;
  logDir: string;
  cpuList?: string;
  /** Write a V8 CPU profile into this directory when the gateway exits. */
  cpuProfDir?: string;
  env?: Record<string, string | undefined>;
  /** Extra node flags (e.g. --expose-gc for the memory scenario). */
  nodeArgs?: string[];
  /** Replaces the production flags of start:prod (A/B of a flag); undefined: those flags. */
  nodeFlags?: string[];
  /** main.js to run instead of the snapshot of gateway-dist (the baseline of an A/B). */
  main?: string;
}

export function assertBuilt(dist = REPO_DIST): void {
  const main = join(dist, MAIN_IN_DIST);
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: build the gateway first (npm run build); the benchmark runs the built dist.`);
  }
}

/**
 * Copies the built gateway to a private directory inside the repo (so
 * node_modules still resolves) and runs it from there: a rebuild during the
 * run (nest build empties dist/) cannot pull files from under it. Returns the
 * clean-up function.
 */
export function snapshotDist(snapshotDir: string, dist = REPO_DIST): () => void {
  gatewayMain = copyDist(snapshotDir, dist);
  return () => rmSync(snapshotDir, { recursive: true, force: true });
}

let baselineMain: string | undefined;

/** The same for a second build (`baseline-dist=`), which breakdown runs next to the current one. */
export function snapshotBaselineDist(snapshotDir: string, dist: string): () => void {
  baselineMain = copyDist(snapshotDir, dist);
  return () => rmSync(snapshotDir, { recursive: true, force: true });
}

/** The root of a build's dist/, from its main.js (for scenarios that load modules of a build). */
export function distRootOf(main: string): string {
  return main.slice(0, main.length - MAIN_IN_DIST.length - 1);
}

/** main.js of the build under test (the snapshot of gateway-dist). */
export function currentGatewayMain(): string {
  return gatewayMain;
}

/** main.js of the baseline build, when one was given. */
export function baselineGatewayMain(): string | undefined {
  return baselineMain;
}

function copyDist(snapshotDir: string, dist: string): string {
  assertBuilt(dist);
  rmSync(snapshotDir, { recursive: true, force: true });
  cpSync(dist, snapshotDir, { recursive: true, filter: (src) => !src.endsWith('.map') && !src.endsWith('.tsbuildinfo') });
  assertBuilt(snapshotDir);
  return join(snapshotDir, MAIN_IN_DIST);
}

/** A secrets YAML pointing the bench project at the fake Langfuse. */
export function writeBenchSecrets(langfuseUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-secrets-'));
  const path = join(dir, 'secrets.yaml');
  writeFileSync(
    path,
    [
      'langfuse_keys:',
      `  ${BENCH_PROJECT.projectId}:`,
      `    public_key: ${BENCH_PROJECT.publicKey}`,
      `    secret_key: ${BENCH_PROJECT.secretKey}`,
      `    host: ${langfuseUrl}`,
      `default_project_id: ${BENCH_PROJECT.projectId}`,
      '',
    ].join('\n'),
  );
  return path;
}

/** The node flags `npm run start:prod` runs the gateway with, so the benchmark measures the same process. */
export function productionNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const m = /^node\s+(.*?)\s*dist\/apps\/gateway\/src\/main\.js$/.exec(pkg.scripts['start:prod'] ?? '');
  if (!m) throw new Error('package.json scripts.start:prod is not "node [flags] dist/apps/gateway/src/main.js"');
  return m[1].split(/\s+/).filter(Boolean);
}

export async function startGatewayProcess(start: GatewayStart): Promise<GatewayChild> {
  const nodeArgs = [...(start.nodeFlags ?? productionNodeFlags()), ...(start.nodeArgs ?? []), ...(start.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${start.cpuProfDir}`] : [])];
  return startNode({
    name: start.name,
    script: start.main ?? gatewayMain,
    nodeArgs,
    readyPath: '/health',
    logDir: start.logDir,
    cpuList: start.cpuList,
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT: '2',
      REDIS_URL: start.redisUrl,
      REDIS_KEY_PREFIX: start.keyPrefix,
      LITELLM_URL: `${start.upstreamUrl}/v1`,
      ...(start.langfuseUrl
        ? { LANGFUSE_EXPORT: 'true', LANGFUSE_HOST: start.langfuseUrl, SECRETS_PATH: writeBenchSecrets(start.langfuseUrl) }
        : { LANGFUSE_EXPORT: 'false' }),
      ...start.env,
    },
  });
}

/** The Redis key of a rollout's data as a bench gateway writes it: the calls carry no project, so the secrets' default project. */
export function benchRolloutKey(keyPrefix: string, rollout: string, kind: string): string {
  return new RedisKeys(keyPrefix).rollout({ projectId: BENCH_PROJECT.projectId, rolloutId: rollout }, kind);
}

/** The tracked chat route of the eval-protocol SDK (no /v1, no project). */
export function trackedPath(rolloutId: string, row = 'row-1'): string {
  return `/rollout_id/${rolloutId}/invocation_id/inv-bench/experiment_id/exp-bench/run_id/run-bench/row_id/${row}/chat/completions`;
}

/**
 * A small but realistic chat body (system + user turn, sampling params), ~700
 * bytes; with `promptKiB`, that many KiB of earlier turns come before the
 * user's (a long conversation, as an agent's rollout sends).
 */
export function chatBody(extra: Record<string, unknown> = {}, promptKiB = 0): string {
  const earlier: Array<{ role: string; content: string }> = [];
  for (let size = 0, turn = 1; size < promptKiB * 1024; turn++) {
    const content = `Turn ${turn}: the train left at 09:${String(turn % 60).padStart(2, '0')} and covered ${turn * 7} km; the next leg is ${turn * 3} km at 64 km/h, then a 15-minute stop. `.repeat(4);
    earlier.push({ role: turn % 2 ? 'user' : 'assistant', content });
    size += content.length + 32;
  }
  return JSON.stringify({
    model: 'fake-model',
    messages: [
      {
        role: 'system',
        content:
          'You are a careful assistant taking part in an evaluation. Answer concisely, show the final answer on the last line, and do not include chain-of-thought beyond what is needed to justify the answer.',
      },
      ...earlier,
      {
        role: 'user',
        content:
          'A train leaves the station at 09:40 and travels 180 km at an average speed of 72 km/h. It then waits 15 minutes and travels another 96 km at 64 km/h. At what time does it arrive? Give the answer as HH:MM.',
      },
    ],
    temperature: 0.2,
    max_tokens: 256,
    ...extra,
  });
}
