/**
 * A real Redis Cluster of a test's own (never a mock, never a Redis it did
 * not start): `masters` masters with `replicasPerMaster` replicas each, every
 * node a redis-server from PATH on free ports in its own temp dir, joined by
 * `redis-cli --cluster create`. A test kills a master by pid, waits for its
 * replica to take over, and starts the killed node again (it rejoins as a
 * replica). stop() kills every process it started and removes the temp dirs;
 * a process 'exit' hook does the same if a run ends without it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable, findRedisServer, freePort, isPortFree } from './redis';
import { parseInfo, redisCommand, RedisServerChild, waitUntil } from './redis-server-child';

const HOST = '127.0.0.1';
const SLOTS = 16384;
/** Without cluster-port (Redis < 7) the cluster bus listens on port + 10000: we pick ports where both are free. */
const BUS_OFFSET = 10_000;

export interface RedisClusterOptions {
  /** default 3 */
  masters?: number;
  /** default 1 */
  replicasPerMaster?: number;
  /** cluster-node-timeout: how long a master may be unreachable before its replica takes over (default 1000 ms). */
  nodeTimeoutMs?: number;
  /** Budget for starting the nodes, creating the cluster and syncing the replicas (default 30 s). */
  startTimeoutMs?: number;
}

export interface RedisClusterNode {
  host: string;
  port: number;
  url: string;
  /** pid of the running redis-server; undefined while it is killed. */
  pid: number | undefined;
  /** As of the last create(), waitForFailover() or restart(). */
  role: 'master' | 'replica';
  /** CLUSTER MYID */
  id: string;
}

export interface RedisClusterFailover {
  /** From the SIGKILL until every live node says cluster_state:ok and routes the killed master's slots to its promoted replica. */
  ms: number;
  killed: RedisClusterNode;
  promoted: RedisClusterNode;
}

interface Member {
  child: RedisServerChild;
  role: 'master' | 'replica';
  id: string;
}

interface KilledMaster {
  member: Member;
  /** One slot the killed master served, to find who serves it now. */
  slot: number;
  at: number;
}

export class RedisClusterProcess {
  private readonly members: Member[] = [];
  private killed?: KilledMaster;
  private readonly onExit = (): void => {
    for (const m of this.members) m.child.killNow();
    rmSync(this.dir, { recursive: true, force: true });
  };

  private constructor(
    private readonly server: string,
    private readonly cli: string,
    private readonly options: Required<RedisClusterOptions>,
    /** The temp dir holding one dir per node. */
    readonly dir: string,
  ) {
    process.on('exit', this.onExit);
  }

  /** Why create() would return undefined (redis-server or redis-cli missing from PATH), or undefined when it can run. */
  static unavailable(): string | undefined {
    const missing = ['redis-server', 'redis-cli'].filter((name) => !findExecutable(name));
    return missing.length ? `${missing.join(' and ')} not on PATH (apt-get install redis-server)` : undefined;
  }

  /** Starts the nodes and creates the cluster; undefined when redis-server or redis-cli is not on PATH (the caller says why it skips). */
  static async create(options: RedisClusterOptions = {}): Promise<RedisClusterProcess | undefined> {
    const server = findRedisServer();
    const cli = findExecutable('redis-cli');
    if (!server || !cli) return undefined;
    const cluster = new RedisClusterProcess(
      server,
      cli,
      { masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000, startTimeoutMs: 30_000, ...options },
      mkdtempSync(join(tmpdir(), 'test-redis-cluster-')),
    );
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get nodes(): RedisClusterNode[] {
    return this.members.map((m) => this.describe(m));
  }

  /** For `new Redis.Cluster(startupNodes)`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.members.map((m) => ({ host: HOST, port: m.child.port }));
  }

  /** `127.0.0.1:p1,127.0.0.1:p2,...`: the value for a REDIS_CLUSTER_NODES setting. */
  get nodesSetting(): string {
    return this.members.map((m) => `${HOST}:${m.child.port}`).join(',');
  }

  /** The master that serves `key`'s slot, as a live node sees it now (CLUSTER KEYSLOT, CLUSTER SLOTS). */
  async masterFor(key: string): Promise<RedisClusterNode> {
    const port = this.livePort();
    const slot = Number(await redisCommand(port, 'CLUSTER', ['KEYSLOT', key]));
    return this.describe(this.member(ownerOf(slot, await slotsSeenBy(port), port)));
  }

  /** SIGKILLs by pid the master at `target` (a port) or the one serving `target` (a key); waitForFailover() then waits for its replica. */
  async killMaster(target: number | string): Promise<RedisClusterNode> {
    const member = this.member(typeof target === 'number' ? target : (await this.masterFor(target)).port);
    const port = member.child.port;
    const role = (await redisCommand(port, 'ROLE')) as unknown[];
    if (role[0] !== 'master') throw new Error(`killMaster: ${HOST}:${port} is a ${role[0]}, not a master`);
    const served = (await slotsSeenBy(port)).find(([, , [, owner]]) => Number(owner) === port);
    if (!served) throw new Error(`killMaster: ${HOST}:${port} serves no slot`);
    this.killed = { member, slot: served[0], at: Date.now() };
    await member.child.kill();
    return this.describe(member);
  }

  /**
   * Waits until a replica of the killed master serves its slots (ROLE master)
   * and every live node says cluster_state:ok with all slots served by live
   * nodes. Measured from the kill.
   */
  async waitForFailover(timeoutMs = 20_000): Promise<RedisClusterFailover> {
    const killed = this.killed;
    if (!killed) throw new Error('waitForFailover: no master was killed (call killMaster first)');
    const deadPort = killed.member.child.port;
    let promoted: Member | undefined;
    await waitUntil(`Redis Cluster failover of ${HOST}:${deadPort}`, timeoutMs, async () => {
      promoted = undefined;
      for (const m of this.running()) {
        const port = m.child.port;
        const state = parseInfo(await redisCommand(port, 'CLUSTER', ['INFO'])).cluster_state;
        if (state !== 'ok') return `${HOST}:${port} says cluster_state:${state}`;
        const slots = await slotsSeenBy(port);
        let covered = 0;
        for (const [from, to, [, owner]] of slots) {
          if (Number(owner) === deadPort) return `${HOST}:${port} still routes slots ${from}-${to} to the killed ${HOST}:${deadPort}`;
          covered += to - from + 1;
        }
        if (covered !== SLOTS) return `${HOST}:${port} routes ${covered} of ${SLOTS} slots`;
        const owner = this.member(ownerOf(killed.slot, slots, port));
        if (promoted && promoted !== owner) return `nodes disagree on who serves slot ${killed.slot}`;
        promoted = owner;
      }
      const role = (await redisCommand(promoted!.child.port, 'ROLE')) as unknown[];
      return role[0] === 'master' ? undefined : `${HOST}:${promoted!.child.port} serves slot ${killed.slot} but ROLE says ${role[0]}`;
    });
    const ms = Date.now() - killed.at;
    await this.refreshRoles();
    return { ms, killed: this.describe(killed.member), promoted: this.describe(promoted!) };
  }

  /** Starts the killed node at `port` again (same dir, nodes.conf and AOF) and waits until it has rejoined (as a replica, after a failover) and the cluster is whole. */
  async restart(port: number, timeoutMs = 20_000): Promise<RedisClusterNode> {
    const member = this.member(port);
    if (member.child.running) throw new Error(`restart: ${HOST}:${port} is running (pid ${member.child.pid})`);
    await member.child.start();
    if (this.killed?.member === member) this.killed = undefined;
    await waitUntil(`${HOST}:${port} rejoining the cluster`, timeoutMs, () => this.health());
    await this.refreshRoles();
    return this.describe(member);
  }

  /** SIGKILLs every node it started and removes the temp dirs. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.child.kill()));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    process.off('exit', this.onExit);
  }

  private async start(): Promise<void> {
    const { masters, replicasPerMaster, startTimeoutMs } = this.options;
    const end = Date.now() + startTimeoutMs;
    const taken = new Set<number>();
    const count = masters * (1 + replicasPerMaster);
    for (let i = 0; i < count; i++) this.members.push({ child: await this.node(i, taken), role: 'master', id: '' });
    await Promise.all(this.members.map((m, i) => this.startNode(m, i, taken)));

    const args = ['--cluster', 'create', ...this.members.map((m) => `${HOST}:${m.child.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'];
    const created = await run(this.cli, args, Math.max(1000, end - Date.now()));
    if (created.error) {
      throw new Error(`redis-cli ${args.join(' ')} failed (${created.error}): ${tail(created.output)}`);
    }
    try {
      await waitUntil('Redis Cluster start-up (all slots served, every master with its replicas in sync)', Math.max(1000, end - Date.now()), () => this.health());
    } catch (err) {
      throw new Error(`${err.message}. redis-cli said: ${tail(created.output)}`);
    }
    for (const m of this.members) m.id = String(await redisCommand(m.child.port, 'CLUSTER', ['MYID']));
    await this.refreshRoles();
  }

  /** A node on a port whose cluster bus port (port + 10000) is free too. */
  private async node(index: number, taken: Set<number>): Promise<RedisServerChild> {
    let port = 0;
    for (let attempt = 0; attempt < 50 && !port; attempt++) {
      const candidate = await freePort();
      const bus = candidate + BUS_OFFSET;
      if (bus <= 65535 && !taken.has(candidate) && !taken.has(bus) && (await isPortFree(bus))) port = candidate;
    }
    if (!port) throw new Error('Redis Cluster: found no free port with a free cluster bus port (port + 10000) in 50 tries');
    taken.add(port).add(port + BUS_OFFSET);
    const dir = join(this.dir, `node-${index}`);
    mkdirSync(dir, { recursive: true });
    const { nodeTimeoutMs } = this.options;
    return new RedisServerChild(this.server, port, dir, [
      '--port', String(port),
      '--bind', HOST,
      '--dir', dir,
      '--daemonize', 'no',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // A replica takes over however long it had lost its master: the default (10)
      // lets it refuse when its last contact is older than 10 × node timeout.
      '--cluster-replica-validity-factor', '0',
      // Replicas sync at once instead of the master waiting 5 s for more of them.
      '--repl-diskless-sync-delay', '0',
      // Durable: every acknowledged write is fsynced before the reply.
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--save', '',
    ]);
  }

  /** Starts a member; on a port taken since it was picked, picks another (before the cluster exists, ports are free to change). */
  private async startNode(member: Member, index: number, taken: Set<number>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await member.child.start();
        return;
      } catch (err) {
        if (attempt >= 3 || !/address already in use/i.test(err.message)) throw err;
        member.child = await this.node(index, taken);
      }
    }
  }

  /** undefined when every node runs, says cluster_state:ok with all slots, knows every node as healthy, and each master has its replicas in sync. */
  private async health(): Promise<string | undefined> {
    const down = this.members.find((m) => !m.child.running);
    if (down) return `${HOST}:${down.child.port} is not running`;
    const replicasOf = new Map<number, number>();
    let masters = 0;
    for (const m of this.members) {
      const port = m.child.port;
      const info = parseInfo(await redisCommand(port, 'CLUSTER', ['INFO']));
      if (info.cluster_state !== 'ok') return `${HOST}:${port} says cluster_state:${info.cluster_state}`;
      if (Number(info.cluster_slots_ok) !== SLOTS) return `${HOST}:${port} says cluster_slots_ok:${info.cluster_slots_ok}`;
      if (Number(info.cluster_known_nodes) !== this.members.length) return `${HOST}:${port} knows ${info.cluster_known_nodes} of ${this.members.length} nodes`;
      const failing = String(await redisCommand(port, 'CLUSTER', ['NODES']))
        .split('\n')
        .map((line) => line.split(' '))
        .find((fields) => fields.length > 2 && /fail|handshake|noaddr/.test(fields[2]));
      if (failing) return `${HOST}:${port} flags ${failing[1]} as ${failing[2]}`;
      const role = (await redisCommand(port, 'ROLE')) as unknown[];
      if (role[0] === 'master') masters++;
      else if (role[3] !== 'connected') return `replica ${HOST}:${port} is ${role[3]} to ${role[1]}:${role[2]}`;
      else replicasOf.set(Number(role[2]), (replicasOf.get(Number(role[2])) ?? 0) + 1);
    }
    const { masters: wanted, replicasPerMaster } = this.options;
    if (masters !== wanted) return `${masters} masters, not ${wanted}`;
    for (const m of this.members) {
      const replicas = replicasOf.get(m.child.port);
      if (replicas !== undefined && replicas !== replicasPerMaster) return `${HOST}:${m.child.port} has ${replicas} replicas in sync, not ${replicasPerMaster}`;
    }
    if ([...replicasOf.values()].reduce((a, b) => a + b, 0) !== wanted * replicasPerMaster) return `replicas in sync: ${JSON.stringify([...replicasOf])}`;
    return undefined;
  }

  private async refreshRoles(): Promise<void> {
    for (const m of this.running()) {
      const role = (await redisCommand(m.child.port, 'ROLE')) as unknown[];
      m.role = role[0] === 'master' ? 'master' : 'replica';
    }
  }

  private running(): Member[] {
    return this.members.filter((m) => m.child.running);
  }

  private livePort(): number {
    const live = this.running()[0];
    if (!live) throw new Error('no node of the cluster is running');
    return live.child.port;
  }

  private member(port: number): Member {
    const member = this.members.find((m) => m.child.port === port);
    if (!member) throw new Error(`no node of this cluster listens on ${port} (nodes: ${this.nodesSetting})`);
    return member;
  }

  private describe(m: Member): RedisClusterNode {
    return { host: HOST, port: m.child.port, url: m.child.url, pid: m.child.pid, role: m.role, id: m.id };
  }
}

type SlotRange = [from: number, to: number, master: [host: string, port: number, ...rest: unknown[]], ...replicas: unknown[]];

/** CLUSTER SLOTS as the node at `port` sees it. */
async function slotsSeenBy(port: number): Promise<SlotRange[]> {
  return (await redisCommand(port, 'CLUSTER', ['SLOTS'])) as SlotRange[];
}

/** The port of the master serving `slot` in a CLUSTER SLOTS reply (from the node at `seenBy`). */
function ownerOf(slot: number, slots: SlotRange[], seenBy: number): number {
  const range = slots.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no node serves slot ${slot} according to ${HOST}:${seenBy}`);
  return Number(range[2][1]);
}

/** Runs a command to its end (SIGKILL after `timeoutMs`); resolves its output and, if it failed, why. */
function run(bin: string, args: string[], timeoutMs: number): Promise<{ output: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (!err) resolve({ output });
      else resolve({ output, error: err.killed ? `killed after ${timeoutMs} ms` : `exit ${err.code ?? err.signal}` });
    });
  });
}

/** The last lines of a command's output, without colour codes. */
function tail(output: string, lines = 8): string {
  return output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .trim()
    .split('\n')
    .slice(-lines)
    .join(' | ');
}
