/**
 * A real Redis Sentinel set-up of a test's own (never a mock, never a Redis
 * it did not start): one master, one replica (`--replicaof`) and three
 * sentinels (`redis-server <conf> --sentinel`, quorum 2), each on a free port
 * in its own dir under one temp dir. A test kills the master by pid and waits
 * until the sentinels have promoted the replica. stop() kills every process
 * it started and removes the temp dir; a process 'exit' hook does the same if
 * a run ends without it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRedisServer, freePort } from './redis';
import { fieldsOf, redisCommand, RedisServerChild, waitUntil } from './redis-server-child';

const HOST = '127.0.0.1';
const SENTINELS = 3;
const QUORUM = 2;

export interface RedisSentinelOptions {
  /** The monitored master's name (default 'mymaster'). */
  name?: string;
  /** sentinel down-after-milliseconds: how long the master may be silent before it counts as down (default 1000). */
  downAfterMs?: number;
  /** sentinel failover-timeout (default 3000): also how long a failed failover attempt waits before the next one (twice this). */
  failoverTimeoutMs?: number;
  /** Budget for starting everything and the sentinels seeing each other (default 20 s). */
  startTimeoutMs?: number;
}

export interface RedisSentinelServer {
  host: string;
  port: number;
  url: string;
  /** pid of the running redis-server; undefined while it is killed. */
  pid: number | undefined;
  /** As of the last create() or waitForFailover(). */
  role: 'master' | 'replica';
}

export interface RedisSentinelFailover {
  /** From the SIGKILL until every sentinel names the new master and it answers ROLE master. */
  ms: number;
  killed: RedisSentinelServer;
  master: { host: string; port: number };
}

interface Server {
  child: RedisServerChild;
  role: 'master' | 'replica';
}

export class RedisSentinelProcess {
  private readonly members: Server[] = [];
  private sentinelChildren: RedisServerChild[] = [];
  private killed?: { server: Server; at: number };
  private readonly onExit = (): void => {
    for (const c of this.children()) c.killNow();
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(
    private readonly bin: string,
    private readonly options: Required<RedisSentinelOptions>,
    /** The temp dir holding one dir per process. */
    readonly dir: string,
  ) {
    process.on('exit', this.onExit);
  }

  /** Why create() would return undefined (no redis-server on PATH), or undefined when it can run. */
  static unavailable(): string | undefined {
    return findRedisServer() ? undefined : 'redis-server not on PATH (apt-get install redis-server)';
  }

  /** Starts master, replica and sentinels; undefined when redis-server is not on PATH (the caller says why it skips). */
  static async create(options: RedisSentinelOptions = {}): Promise<RedisSentinelProcess | undefined> {
    const bin = findRedisServer();
    if (!bin) return undefined;
    const set = new RedisSentinelProcess(
      bin,
      { name: 'mymaster', downAfterMs: 1000, failoverTimeoutMs: 3000, startTimeoutMs: 20_000, ...options },
      mkdtempSync(join(tmpdir(), 'test-redis-sentinel-')),
    );
    try {
      await set.start();
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  get name(): string {
    return this.options.name;
  }

  /** The master and the replica (data nodes, not sentinels). */
  get servers(): RedisSentinelServer[] {
    return this.members.map((s) => this.describe(s));
  }

  /** For `new Redis({ sentinels, name })`. */
  get sentinels(): { host: string; port: number }[] {
    return this.sentinelChildren.map((c) => ({ host: HOST, port: c.port }));
  }

  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`: the value for a REDIS_SENTINELS setting. */
  get sentinelsSetting(): string {
    return this.sentinelChildren.map((c) => `${HOST}:${c.port}`).join(',');
  }

  /** The current master as the first sentinel that answers names it (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  async master(): Promise<{ host: string; port: number }> {
    let lastError: unknown;
    for (const sentinel of this.sentinelChildren.filter((c) => c.running)) {
      try {
        return await this.masterSeenBy(sentinel.port);
      } catch (err) {
        lastError = err;
      }
    }
    throw new Error(`no sentinel names a master for ${this.name}: ${lastError}`);
  }

  /** SIGKILLs the current master by pid; waitForFailover() then waits for the sentinels to promote the replica. */
  async killMaster(): Promise<RedisSentinelServer> {
    const { port } = await this.master();
    const server = this.members.find((s) => s.child.port === port);
    if (!server) throw new Error(`killMaster: the sentinels name ${HOST}:${port}, which this set-up did not start`);
    const role = (await redisCommand(port, 'ROLE')) as unknown[];
    if (role[0] !== 'master') throw new Error(`killMaster: the sentinels name ${HOST}:${port} but its ROLE is ${role[0]}`);
    this.killed = { server, at: Date.now() };
    await server.child.kill();
    return this.describe(server);
  }

  /** Waits until every sentinel names a new master and it answers ROLE master. Measured from the kill. */
  async waitForFailover(timeoutMs = 20_000): Promise<RedisSentinelFailover> {
    const killed = this.killed;
    if (!killed) throw new Error('waitForFailover: no master was killed (call killMaster first)');
    const deadPort = killed.server.child.port;
    let master: { host: string; port: number } | undefined;
    await waitUntil(`Sentinel failover of ${HOST}:${deadPort}`, timeoutMs, async () => {
      master = undefined;
      for (const sentinel of this.sentinelChildren) {
        const named = await this.masterSeenBy(sentinel.port);
        if (named.port === deadPort) return `sentinel ${HOST}:${sentinel.port} still names the killed ${HOST}:${deadPort}`;
        if (master && master.port !== named.port) return `sentinels name ${master.port} and ${named.port}`;
        master = named;
      }
      const role = (await redisCommand(master!.port, 'ROLE')) as unknown[];
      return role[0] === 'master' ? undefined : `sentinels name ${HOST}:${master!.port} but its ROLE is ${role[0]}`;
    });
    const ms = Date.now() - killed.at;
    this.killed = undefined;
    for (const s of this.members) if (s.child.running) s.role = s.child.port === master!.port ? 'master' : 'replica';
    return { ms, killed: this.describe(killed.server), master: master! };
  }

  /** SIGKILLs every process it started and removes the temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.children().map((c) => c.kill()));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    process.off('exit', this.onExit);
  }

  private async start(): Promise<void> {
    const end = Date.now() + this.options.startTimeoutMs;
    const master = await this.startServer('master');
    const replica = await this.startServer('replica', ['--replicaof', HOST, String(master.child.port)]);
    await waitUntil(`replica ${HOST}:${replica.child.port} in sync with ${HOST}:${master.child.port}`, Math.max(1000, end - Date.now()), async () => {
      const role = (await redisCommand(replica.child.port, 'ROLE')) as unknown[];
      return role[3] === 'connected' ? undefined : `ROLE ${JSON.stringify(role)}`;
    });
    // Sentinels come after the replica is in sync: their first INFO of the master then lists it.
    await this.startSentinels(master.child.port);
    try {
      await waitUntil(`sentinels watching ${this.name}`, Math.max(1000, end - Date.now()), () => this.sentinelsReady(master.child.port, replica.child.port));
    } catch (err) {
      throw new Error(`${err.message}. Sentinel output: ${this.sentinelChildren.map((c) => `[${c.port}] ${c.outputTail(3)}`).join(' ')}`);
    }
  }

  private async startServer(role: 'master' | 'replica', extra: string[] = []): Promise<Server> {
    const dir = join(this.dir, role);
    mkdirSync(dir);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = new RedisServerChild(this.bin, port, dir, [
        '--port', String(port),
        '--bind', HOST,
        '--dir', dir,
        '--daemonize', 'no',
        // Durable: every acknowledged write is fsynced before the reply.
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--save', '',
        // A replica syncs at once instead of the master waiting 5 s for more of them.
        '--repl-diskless-sync-delay', '0',
        ...extra,
      ]);
      const server: Server = { child, role };
      this.members.push(server);
      try {
        await child.start();
        return server;
      } catch (err) {
        this.members.pop();
        if (attempt >= 3 || !/address already in use/i.test(err.message)) throw err;
      }
    }
  }

  /**
   * Three sentinels, each told the ids and ports of the other two (`sentinel
   * myid`, `known-sentinel`), so they need not wait for each other's hello
   * messages (published every 2 s) before they can agree on a failover.
   * Started together, so each finds the others listening on its first try.
   */
  private async startSentinels(masterPort: number): Promise<void> {
    const { name, downAfterMs, failoverTimeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      const ports: number[] = [];
      while (ports.length < SENTINELS) {
        const port = await freePort();
        if (!ports.includes(port)) ports.push(port);
      }
      const ids = ports.map(() => randomBytes(20).toString('hex'));
      this.sentinelChildren = ports.map((port, i) => {
        const dir = join(this.dir, `sentinel-${attempt}-${i}`);
        mkdirSync(dir);
        const conf = join(dir, 'sentinel.conf'); // a sentinel rewrites its config file: it must be writable
        writeFileSync(
          conf,
          [
            `port ${port}`,
            `bind ${HOST}`,
            `dir ${dir}`,
            `sentinel myid ${ids[i]}`,
            `sentinel monitor ${name} ${HOST} ${masterPort} ${QUORUM}`,
            `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
            `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
            `sentinel parallel-syncs ${name} 1`,
            ...ports.flatMap((other, j) => (j === i ? [] : [`sentinel known-sentinel ${name} ${HOST} ${other} ${ids[j]}`])),
            '',
          ].join('\n'),
        );
        return new RedisServerChild(this.bin, port, dir, [conf, '--sentinel', '--daemonize', 'no']);
      });
      const started = await Promise.allSettled(this.sentinelChildren.map((c) => c.start()));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) return;
      await Promise.all(this.sentinelChildren.map((c) => c.kill()));
      if (attempt >= 3 || !/address already in use/i.test(failed.reason?.message)) throw failed.reason;
    }
  }

  /** undefined when every sentinel sees the master up, its replica in sync, and the other sentinels connected. */
  private async sentinelsReady(masterPort: number, replicaPort: number): Promise<string | undefined> {
    for (const sentinel of this.sentinelChildren) {
      const at = `sentinel ${HOST}:${sentinel.port}`;
      const master = fieldsOf(await redisCommand(sentinel.port, 'SENTINEL', ['MASTER', this.name]));
      if (Number(master.port) !== masterPort || master.flags !== 'master') return `${at} sees master ${master.ip}:${master.port} as ${master.flags}`;
      const replicas = ((await redisCommand(sentinel.port, 'SENTINEL', ['REPLICAS', this.name])) as unknown[]).map(fieldsOf);
      if (replicas.length !== 1 || Number(replicas[0].port) !== replicaPort || replicas[0].flags !== 'slave' || replicas[0]['master-link-status'] !== 'ok') {
        return `${at} sees replicas ${JSON.stringify(replicas.map((r) => [r.port, r.flags, r['master-link-status']]))}`;
      }
      const others = ((await redisCommand(sentinel.port, 'SENTINEL', ['SENTINELS', this.name])) as unknown[]).map(fieldsOf);
      if (others.length !== SENTINELS - 1 || others.some((o) => o.flags !== 'sentinel')) {
        return `${at} sees sentinels ${JSON.stringify(others.map((o) => [o.port, o.flags]))}`;
      }
    }
    return undefined;
  }

  private async masterSeenBy(sentinelPort: number): Promise<{ host: string; port: number }> {
    const addr = (await redisCommand(sentinelPort, 'SENTINEL', ['GET-MASTER-ADDR-BY-NAME', this.name])) as [string, string] | null;
    if (!addr) throw new Error(`sentinel ${HOST}:${sentinelPort} does not know ${this.name}`);
    return { host: addr[0], port: Number(addr[1]) };
  }

  private children(): RedisServerChild[] {
    return [...this.members.map((s) => s.child), ...this.sentinelChildren];
  }

  private describe(s: Server): RedisSentinelServer {
    return { host: HOST, port: s.child.port, url: s.child.url, pid: s.child.pid, role: s.role };
  }
}
