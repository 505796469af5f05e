/**
 * The pieces every scenario shares: Redis (as the tests find or start it), the
 * fake OpenAI upstream and the pass-through proxy as child processes, the fake
 * Langfuse in-process (its `calls` and stored traces are read directly).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import ts from 'typescript';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startFakeLangfuse, type FakeLangfuse, type FakeLangfuseOptions } from '../../test/fakes/fake-langfuse.server';
import { resolveOrStartRedis, type ResolvedRedis } from '../../test/support/redis';
import { BENCH_PROJECT, GatewayChild, startGatewayProcess } from './gateway';
import { BenchOptions } from './options';
import { Child, cpuSets, REPO_ROOT, startNode } from './processes';

export const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

export class BenchEnv {
  private readonly stops: Array<() => Promise<unknown>> = [];
  readonly logDir: string;
  readonly cpu: { underTest?: string; rest?: string };

  constructor(readonly options: BenchOptions, readonly runId: string) {
    this.logDir = join(options.resultsDir, 'logs', runId);
    mkdirSync(this.logDir, { recursive: true });
    this.cpu = cpuSets(options.pin, options.underTestCpus === 'all');
  }

  /** Where gateways started with --cpu-prof write their profiles. */
  get cpuProfDir(): string {
    return join(this.logDir, 'cpuprofile');
  }

  /** Settings every gateway of a scenario shares: logs, CPU pinning, profiling, extra env. */
  gatewayCommon(): { logDir: string; cpuList?: string; cpuProfDir?: string; env: Record<string, string>; nodeFlags?: string[] } {
    return {
      nodeFlags: parseNodeFlags(this.options.nodeFlags),
      logDir: this.logDir,
      cpuList: this.cpu.underTest,
      cpuProfDir: this.options.cpuProf ? this.cpuProfDir : undefined,
      env: this.options.gatewayEnv,
    };
  }

  /** pid → ms after spawn when the measured window began (profiles are summarised from there). */
  readonly measuredFrom = new Map<number, number>();

  /** Notes that the measured part of the load on `child` starts now. */
  markMeasured(child: Child): void {
    this.measuredFrom.set(child.pid, Date.now() - child.spawnedAt);
  }

  /** Registers a clean-up step (run in reverse order by stopAll). */
  defer(stop: () => Promise<unknown>): void {
    this.stops.push(stop);
  }

  async redis(): Promise<{ resolved: ResolvedRedis; client: Redis }> {
    const resolved = await resolveOrStartRedis();
    this.defer(() => resolved.stop());
    const client = new Redis(resolved.url, { maxRetriesPerRequest: 1 });
    this.defer(async () => client.disconnect());
    return { resolved, client };
  }

  async fakeUpstream(name = 'fake-upstream'): Promise<Child> {
    const child = await startNode({
      name,
      script: join(REPO_ROOT, 'test', 'fakes', 'fake-openai.server.ts'),
      nodeArgs: TS_NODE,
      env: { HOST: '127.0.0.1', FAKE_RECORD_REQUESTS: '0' },
      readyPath: '/v1/models',
      logDir: this.logDir,
      cpuList: this.cpu.rest,
    });
    this.defer(() => child.stop());
    return child;
  }

  /**
   * Redis, the fake upstream and the fake Langfuse (as a process), and one
   * gateway tracking into a fresh key prefix with export on; all stopped or
   * cleaned up by stopAll.
   */
  async trackedGateway(
    nodeArgs: string[] = [],
  ): Promise<{ gateway: GatewayChild; upstream: Child; langfuse: Child & { countTraces(rollout: string): Promise<number> }; redis: Redis; keyPrefix: string }> {
    const { client: redis, resolved } = await this.redis();
    const langfuse = await this.fakeLangfuseProcess();
    const upstream = await this.fakeUpstream();
    const keyPrefix = `bench-${randomUUID().slice(0, 8)}`;
    this.defer(() => deletePrefix(redis, keyPrefix));
    const gateway = await startGatewayProcess({
      ...this.gatewayCommon(),
      name: 'gateway',
      upstreamUrl: upstream.url,
      redisUrl: resolved.url,
      keyPrefix,
      langfuseUrl: langfuse.url,
      nodeArgs,
    });
    this.defer(() => gateway.stop());
    return { gateway, upstream, langfuse, redis, keyPrefix };
  }

  /** The baseline proxy, transpiled to plain JS first so it runs on bare node (no TypeScript compiler in its memory). */
  async passthroughProxy(upstreamUrl: string, nodeArgs: string[] = []): Promise<Child> {
    return this.baseline('passthrough-proxy', { UPSTREAM_URL: upstreamUrl }, nodeArgs);
  }

  /** `framework-floor.ts`: one forwarding route on bare node, express or Nest (FLOOR). */
  async frameworkFloor(kind: 'node' | 'express' | 'nest', upstreamUrl: string): Promise<Child> {
    return this.baseline('framework-floor', { UPSTREAM_URL: upstreamUrl, FLOOR: kind }, [], `floor-${kind}`);
  }

  /** Runs bench/<file>.ts as plain JS on the core under test. */
  private async baseline(file: string, env: Record<string, string>, nodeArgs: string[], name = file): Promise<Child> {
    const source = readFileSync(join(__dirname, '..', `${file}.ts`), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    // The log dir is inside the repo, so the script's imports resolve against its node_modules.
    const script = join(this.logDir, `${name}.js`);
    writeFileSync(script, js);
    const child = await startNode({ name, script, nodeArgs, env, readyPath: '/v1/models', logDir: this.logDir, cpuList: this.cpu.underTest });
    this.defer(() => child.stop());
    return child;
  }

  /**
   * The fake Langfuse as its own process, for scenarios where it is only the
   * export sink: its OTLP parsing then never stalls the load generator. It
   * runs `countOnly`: it maps every span but keeps only trace ids by tag, so
   * a long run neither grows it nor slows it (countTraces still works).
   */
  async fakeLangfuseProcess(): Promise<Child & { countTraces(rollout: string): Promise<number> }> {
    const child = await startNode({
      name: 'fake-langfuse',
      script: join(REPO_ROOT, 'test', 'fakes', 'fake-langfuse.server.ts'),
      nodeArgs: TS_NODE,
      env: { HOST: '127.0.0.1', FAKE_LANGFUSE_PROJECTS: JSON.stringify([BENCH_PROJECT]), FAKE_LANGFUSE_OPTIONS: JSON.stringify({ countOnly: true }) },
      readyPath: '/api/public/health',
      logDir: this.logDir,
      cpuList: this.cpu.rest,
    });
    this.defer(() => child.stop());
    const auth = `Basic ${Buffer.from(`${BENCH_PROJECT.publicKey}:${BENCH_PROJECT.secretKey}`).toString('base64')}`;
    return {
      ...child,
      countTraces: async (rollout: string) => {
        const res = await fetch(`${child.url}/api/public/traces?limit=1&fields=core&tags=${encodeURIComponent(`rollout_id:${rollout}`)}`, { headers: { authorization: auth } });
        const body = (await res.json()) as { meta?: { totalItems?: number } };
        return body.meta?.totalItems ?? 0;
      },
    };
  }

  async fakeLangfuse(extra: Partial<FakeLangfuseOptions> = {}): Promise<FakeLangfuse> {
    const fake = await startFakeLangfuse({ projects: [BENCH_PROJECT], ...extra });
    this.defer(() => fake.close());
    return fake;
  }

  async stopAll(): Promise<void> {
    while (this.stops.length > 0) {
      const stop = this.stops.pop() as () => Promise<unknown>;
      try {
        await stop();
      } catch {
        // keep stopping the rest
      }
    }
  }
}

/** Deletes every key of a bench prefix (SCAN, never KEYS). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A node-flags= setting: '' → undefined (start:prod's flags), 'none' → [], else the flags. */
export function parseNodeFlags(setting: string): string[] | undefined {
  const flags = setting.trim();
  return flags === '' ? undefined : flags === 'none' ? [] : flags.split(/[\s,]+/);
}
