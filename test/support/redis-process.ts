/**
 * A redis-server of a test's own, to kill by pid and start again on the same
 * port and directory. With `durable` it writes an append-only file synced on
 * every write (as an operator runs Redis that must not lose acknowledged
 * data), so a SIGKILL loses nothing it confirmed.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, freePort, pingRedis } from './redis';

export class RedisProcess {
  private child?: ChildProcess;
  private constructor(
    readonly bin: string,
    readonly port: number,
    readonly dir: string,
    private readonly durable: boolean,
  ) {}

  /** undefined when there is no redis-server on PATH (the caller says why it skips). */
  static async create(durable = false): Promise<RedisProcess | undefined> {
    const bin = findRedisServer();
    if (!bin) return undefined;
    const redis = new RedisProcess(bin, await freePort(), mkdtempSync(join(tmpdir(), 'test-redis-process-')), durable);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const persistence = this.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const child = spawn(this.bin, ['--port', String(this.port), '--save', '', ...persistence, '--bind', '127.0.0.1', '--dir', this.dir], { stdio: 'ignore' });
    this.child = child;
    process.once('exit', () => child.kill('SIGKILL'));
    for (let i = 0; i < 200 && (await pingRedis(this.url, 200)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** SIGKILL by pid: no shutdown, no final save. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  }
}
