/**
 * A real Redis for tests (never a mock). jest's globalSetup calls
 * resolveOrStartRedis() and exports the URL as TEST_REDIS_URL; test files read
 * it with testRedisUrl(). Order:
 *   1. REDIS_URL, if set (must answer PING, else setup fails);
 *   2. 127.0.0.1:6379, if it answers PING;
 *   3. a redis-server from PATH on a free port, in a temp dir, stopped by globalTeardown;
 *   4. otherwise a clear error.
 * Benchmarks can call resolveOrStartRedis() too (and stop() when done).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Redis from 'ioredis';

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export const NO_REDIS_MESSAGE =
  'Tests need Redis: set REDIS_URL, run redis-server on 127.0.0.1:6379, or install redis-server (apt-get install redis-server)';

export interface ResolvedRedis {
  url: string;
  /** Where it came from: REDIS_URL, the local default port, or a redis-server we started. */
  source: 'env' | 'local' | 'spawned';
  /** pid of the redis-server we started (source 'spawned' only). */
  pid?: number;
  /** Stops the redis-server we started and removes its temp dir; a no-op otherwise. */
  stop(): Promise<void>;
}

export interface ResolveRedisOptions {
  /** Environment to read REDIS_URL and PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The local instance to try before spawning (default redis://127.0.0.1:6379). */
  localUrl?: string;
  /** PING timeout for REDIS_URL and the local instance (ms, default 1000). */
  pingTimeoutMs?: number;
  /** How long a spawned redis-server may take to answer PING (ms, default 10000). */
  startTimeoutMs?: number;
}

/** The Redis URL chosen by jest's globalSetup. */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'TEST_REDIS_URL is not set: run the tests through the project jest config (globalSetup test/support/global-setup.ts), ' +
        'or set TEST_REDIS_URL yourself. ' + NO_REDIS_MESSAGE,
    );
  }
  return url;
}

/** Hides the password of a Redis URL for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** PINGs `url` with a real ioredis client: resolves undefined on PONG, else the reason it failed. */
export async function pingRedis(url: string, timeoutMs = 1000): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // ioredis arms this timer on disconnect() and never clears it when the socket had already
    // failed (connection refused), which would keep jest alive for 2 s.
    disconnectTimeout: 100,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let socketError: string | undefined; // e.g. "connect ECONNREFUSED 127.0.0.1:6379", more telling than "Connection is closed."
  client.on('error', (err) => {
    socketError ??= err?.message;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const pong = await Promise.race([client.connect().then(() => client.ping()), deadline]);
    return pong === 'PONG' ? undefined : `unexpected PING reply ${JSON.stringify(pong)}`;
  } catch (err) {
    return String(socketError ?? err?.message ?? err).replace(/\.$/, '');
  } finally {
    if (timer) clearTimeout(timer);
    if (client.status !== 'end') client.disconnect();
  }
}

/** The first executable `redis-server` on PATH, or undefined. */
export function findRedisServer(path = process.env.PATH ?? ''): string | undefined {
  return findExecutable('redis-server', path);
}

/** The first executable `name` (e.g. redis-cli) on PATH, or undefined. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Starts `redis-server` (no persistence, loopback only, temp dir) and waits until it answers PING. */
export async function startRedisServer(bin: string, startTimeoutMs = 10_000): Promise<ResolvedRedis> {
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'test-redis-'));
    const child = spawn(bin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer): void => {
      if (output.length < 8192) output += b.toString();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
    });
    child.once('error', (err) => {
      exited = `could not be started: ${err.message}`;
    });
    // If the test run ends without teardown (crash, Ctrl-C), don't leave it behind.
    const killOnExit = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);

    const url = `redis://127.0.0.1:${port}`;
    const end = Date.now() + startTimeoutMs;
    let pingError: string | undefined = 'not tried';
    while (!exited && Date.now() < end) {
      pingError = await pingRedis(url, 500);
      if (!pingError) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!exited && !pingError) {
      return {
        url,
        source: 'spawned',
        pid: child.pid,
        stop: async () => {
          process.off('exit', killOnExit);
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    process.off('exit', killOnExit);
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    lastError = exited
      ? `${bin} ${exited}: ${output.trim().split('\n').slice(-5).join(' | ')}`
      : `${bin} did not answer PING on ${url} within ${startTimeoutMs} ms (${pingError})`;
    // A port taken between freePort() and the bind: try another one.
    if (!/address already in use/i.test(output)) break;
  }
  throw new Error(`Could not start redis-server for the tests: ${lastError}. ${NO_REDIS_MESSAGE}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Picks the Redis the tests use (see the order at the top of this file). */
export async function resolveOrStartRedis(options: ResolveRedisOptions = {}): Promise<ResolvedRedis> {
  const env = options.env ?? process.env;
  const pingTimeoutMs = options.pingTimeoutMs ?? 1000;
  const noop = async (): Promise<void> => undefined;

  const fromEnv = env.REDIS_URL?.trim();
  if (fromEnv) {
    const error = await pingRedis(fromEnv, Math.max(pingTimeoutMs, 2000));
    if (error) throw new Error(`REDIS_URL (${redactRedisUrl(fromEnv)}) is set but Redis does not answer PING: ${error}. Fix or unset REDIS_URL.`);
    return { url: fromEnv, source: 'env', stop: noop };
  }

  const localUrl = options.localUrl ?? LOCAL_REDIS_URL;
  if (!(await pingRedis(localUrl, pingTimeoutMs))) return { url: localUrl, source: 'local', stop: noop };

  const bin = findRedisServer(env.PATH ?? '');
  if (!bin) throw new Error(`${NO_REDIS_MESSAGE}. (REDIS_URL is unset, nothing answers on ${redactRedisUrl(localUrl)}, and no redis-server on PATH.)`);
  return startRedisServer(bin, options.startTimeoutMs);
}
