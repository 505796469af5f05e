/**
 * One redis-server child process (a cluster node, a master, a replica or a
 * sentinel) for the topology helpers redis-cluster.ts and redis-sentinel.ts:
 * started with the given arguments on a fixed port and directory, killed by
 * pid, started again on the same port and directory. It keeps the tail of
 * what redis-server printed for error messages. It owns no temp dir and no
 * exit hook: the topology that starts it removes both.
 */
import { ChildProcess, spawn } from 'node:child_process';
import Redis from 'ioredis';
import { pingRedis } from './redis';

const OUTPUT_LIMIT = 16_384;

export class RedisServerChild {
  private child?: ChildProcess;
  private output = '';

  constructor(
    readonly bin: string,
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** pid while the process runs, else undefined. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last `lines` lines redis-server printed (for error messages). */
  outputTail(lines = 8): string {
    return this.output.trim().split('\n').slice(-lines).join(' | ');
  }

  /** Spawns redis-server and waits until it answers PING; throws with its output if it exits or stays silent. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.running) throw new Error(`redis-server on port ${this.port} is already running (pid ${this.child?.pid})`);
    const child = spawn(this.bin, [...this.args], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let failed: string | undefined;
    child.once('error', (err) => {
      failed = `could not be started: ${err.message}`;
    });
    child.once('exit', (code, signal) => {
      failed ??= `exited with ${signal ?? `code ${code}`}`;
    });
    const end = Date.now() + timeoutMs;
    let pingError: string | undefined = 'not tried';
    while (!failed && Date.now() < end) {
      pingError = await pingRedis(this.url, 500);
      if (!pingError) return;
      await sleep(25);
    }
    this.killNow();
    throw new Error(
      `redis-server on port ${this.port} ${failed ?? `did not answer PING within ${timeoutMs} ms (${pingError})`}: ${this.outputTail()}`,
    );
  }

  /** SIGKILL by pid (no shutdown, no final save) and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }

  /** SIGKILL without waiting, for process 'exit' hooks. */
  killNow(): void {
    if (!this.running || this.child?.pid === undefined) return;
    try {
      process.kill(this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs one command on 127.0.0.1:`port` over a short-lived ioredis connection
 * (so a killed node costs one refused connection, not a client that keeps
 * reconnecting) and returns the raw reply.
 */
export async function redisCommand(port: number, command: string, args: (string | number)[] = [], timeoutMs = 1000): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    // See pingRedis in redis.ts: without it a refused connection keeps jest alive for 2 s.
    disconnectTimeout: 100,
    // A node that is loading its data or a sentinel answers commands before INFO says it is ready.
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let socketError: Error | undefined;
  client.on('error', (err: Error) => {
    socketError ??= err;
  });
  try {
    await client.connect();
    return await client.call(command, ...args);
  } catch (err) {
    throw socketError ?? err;
  } finally {
    if (client.status !== 'end') client.disconnect();
  }
}

/** Parses an INFO or CLUSTER INFO reply (`field:value` lines). */
export function parseInfo(reply: unknown): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of String(reply).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return fields;
}

/** Turns a flat [field, value, field, value, ...] reply (SENTINEL MASTER/REPLICAS entries) into an object. */
export function fieldsOf(reply: unknown): Record<string, string> {
  const flat = reply as unknown[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
  return fields;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns undefined (done); throws
 * after `timeoutMs` with `what` and the last reason `check` gave.
 */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<string | undefined>, intervalMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  let reason: string | undefined = 'not checked';
  while (Date.now() < end) {
    try {
      reason = await check();
    } catch (err) {
      reason = String(err?.message ?? err);
    }
    if (reason === undefined) return;
    await sleep(intervalMs);
  }
  throw new Error(`${what}: not done within ${timeoutMs} ms (last: ${reason})`);
}
