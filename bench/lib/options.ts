/**
 * Benchmark settings: defaults, overridden by environment variables, overridden
 * by `name=value` (or `--name=value`) arguments after the scenario name, e.g.
 * `bench/run.ts overhead duration=10 connections=128`.
 */
import { join } from 'node:path';

export interface BenchOptions {
  /** Concurrent keep-alive connections of the completion-overhead load. */
  connections: number;
  /** Lighter loads run after the main one (comma list, '' or 0 = none): the added latency when the gateway is not CPU-bound. */
  lightConnections: string;
  /** Seconds measured per overhead scenario. */
  durationS: number;
  /** Seconds of unmeasured load before each overhead scenario (JIT, pools, caches). */
  warmupS: number;
  /** Delay of the fake upstream before it answers a completion (ms). */
  upstreamLatencyMs: number;
  /** Which of the overhead targets to run: a (direct), b (proxy), c (gateway). */
  targets: string;
  /**
   * Breakdown load at a fixed rate (req/s, 0 = closed loop). Below saturation
   * the CPU per request measures work done rather than how well a saturated
   * event loop batches, and varies much less from one process to the next.
   */
  rate: number;
  /** Breakdown rows to run: comma-separated words matched against the row names ('' = all). */
  variants: string;
  /** Overhead and breakdown: earlier turns of the conversation, this many KiB, before the usual two messages (0: a ~700-byte body). */
  promptKiB: number;
  /** Pin the proxy/gateway under test to CPU 1 and everything else to CPU 0 (needs taskset and 2+ CPUs). */
  pin: boolean;
  /**
   * With pin: 'one' gives the process under test the last CPU alone; 'all' lets
   * it use every CPU (its worker threads too), sharing the others with the load
   * generator and the fakes, which stay where they are.
   */
  underTestCpus: string;

  /** Streams per side (direct, gateway) of the streaming scenario. */
  streams: number;
  /** Streams in flight at once. */
  streamConcurrency: number;
  /** Content chunks per stream and the gap between them (ms). */
  streamChunks: number;
  streamGapMs: number;

  /** Tracked completions written before a rollout is read back. */
  readCompletions: number;
  /** Delay of the fake Langfuse on every call while reading (ms). */
  readLatencyMs: number;
  /** Fake Langfuse read limit, calls per minute per project (Langfuse Cloud Pro "API" bucket: 1,000). */
  readRpm: number;
  /** Read APIs to measure. */
  readApis: Array<'v2' | 'legacy'>;

  /** SSE streams held open through the gateway for the memory scenario. */
  memoryStreams: number;
  /** Memory: seconds the gateway is left idle (after start, after the warm-up) for its lowest RSS. */
  settleSeconds: number;

  /** open-streams: concurrent streams through one gateway, opened evenly over openSeconds. */
  openStreams: number;
  openSeconds: number;
  /** open-streams: the gap between the upstream's chunks (ms); `chunks` of them per stream. */
  openGapMs: number;

  /** Reliability: completions per second of the steady load. */
  reliabilityRate: number;
  /** Reliability: seconds of each Langfuse fault phase (503, then 429 + Retry-After). */
  faultSeconds: number;
  /** Reliability: seconds Langfuse is down (the gateway is restarted half-way). */
  outageSeconds: number;
  /** Reliability: seconds Redis stays killed. */
  redisDownSeconds: number;

  /** Start every gateway under `node --cpu-prof` and summarise the profiles after each scenario. */
  cpuProf: boolean;
  /** The built gateway to run (another build for A/B experiments); copied before the run. */
  gatewayDist: string;
  /** Node flags for every gateway instead of those in package.json start:prod ('none' for none). */
  nodeFlags: string;
  /** Breakdown A/B: another build run next to gateway-dist, row by row ('' = none). */
  baselineDist: string;
  /** Node flags of the baseline build ('' = as node-flags, 'none' for none). */
  baselineNodeFlags: string;
  /** Extra environment for every gateway started (experiments), from `K=V,K=V`. */
  gatewayEnv: Record<string, string>;

  /** Where JSON results, gateway logs and CPU profiles go. */
  resultsDir: string;
  /** Run each scenario this many times (fresh processes each time); overhead then prints medians. */
  repeat: number;
  /** Hard stop for the whole run (s): everything is killed after that. */
  maxRunS: number;
}

const SPEC: Record<keyof BenchOptions, { env: string; arg: string }> = {
  connections: { env: 'BENCH_CONNECTIONS', arg: 'connections' },
  lightConnections: { env: 'BENCH_LIGHT_CONNECTIONS', arg: 'light-connections' },
  durationS: { env: 'BENCH_DURATION', arg: 'duration' },
  warmupS: { env: 'BENCH_WARMUP', arg: 'warmup' },
  upstreamLatencyMs: { env: 'BENCH_UPSTREAM_LATENCY_MS', arg: 'latency' },
  targets: { env: 'BENCH_TARGETS', arg: 'targets' },
  variants: { env: 'BENCH_VARIANTS', arg: 'variants' },
  promptKiB: { env: 'BENCH_PROMPT_KIB', arg: 'prompt-kib' },
  rate: { env: 'BENCH_RATE', arg: 'rate' },
  pin: { env: 'BENCH_PIN', arg: 'pin' },
  underTestCpus: { env: 'BENCH_UNDER_TEST_CPUS', arg: 'under-test-cpus' },
  streams: { env: 'BENCH_STREAMS', arg: 'streams' },
  streamConcurrency: { env: 'BENCH_STREAM_CONCURRENCY', arg: 'stream-concurrency' },
  streamChunks: { env: 'BENCH_STREAM_CHUNKS', arg: 'chunks' },
  streamGapMs: { env: 'BENCH_STREAM_GAP_MS', arg: 'gap' },
  readCompletions: { env: 'BENCH_READ_COMPLETIONS', arg: 'completions' },
  readLatencyMs: { env: 'BENCH_READ_LATENCY_MS', arg: 'read-latency' },
  readRpm: { env: 'BENCH_READ_RPM', arg: 'read-rpm' },
  readApis: { env: 'BENCH_READ_APIS', arg: 'read-apis' },
  memoryStreams: { env: 'BENCH_MEMORY_STREAMS', arg: 'memory-streams' },
  settleSeconds: { env: 'BENCH_SETTLE_SECONDS', arg: 'settle-seconds' },
  openStreams: { env: 'BENCH_OPEN_STREAMS', arg: 'open-streams' },
  openSeconds: { env: 'BENCH_OPEN_SECONDS', arg: 'open-seconds' },
  openGapMs: { env: 'BENCH_OPEN_GAP_MS', arg: 'open-gap' },
  reliabilityRate: { env: 'BENCH_RELIABILITY_RATE', arg: 'reliability-rate' },
  faultSeconds: { env: 'BENCH_FAULT_SECONDS', arg: 'fault-seconds' },
  outageSeconds: { env: 'BENCH_OUTAGE_SECONDS', arg: 'outage-seconds' },
  redisDownSeconds: { env: 'BENCH_REDIS_DOWN_SECONDS', arg: 'redis-down-seconds' },
  cpuProf: { env: 'BENCH_CPU_PROF', arg: 'cpu-prof' },
  gatewayDist: { env: 'BENCH_GATEWAY_DIST', arg: 'gateway-dist' },
  gatewayEnv: { env: 'BENCH_GATEWAY_ENV', arg: 'gateway-env' },
  nodeFlags: { env: 'BENCH_NODE_FLAGS', arg: 'node-flags' },
  baselineDist: { env: 'BENCH_BASELINE_DIST', arg: 'baseline-dist' },
  baselineNodeFlags: { env: 'BENCH_BASELINE_NODE_FLAGS', arg: 'baseline-node-flags' },
  resultsDir: { env: 'BENCH_RESULTS_DIR', arg: 'results' },
  repeat: { env: 'BENCH_REPEAT', arg: 'repeat' },
  maxRunS: { env: 'BENCH_MAX_SECONDS', arg: 'max-seconds' },
};

export function defaultOptions(): BenchOptions {
  return {
    connections: 256,
    lightConnections: '16,1',
    durationS: 20,
    warmupS: 3,
    upstreamLatencyMs: 50,
    targets: 'a,b,c',
    variants: '',
    promptKiB: 0,
    rate: 0,
    pin: true,
    underTestCpus: 'one',
    streams: 400,
    streamConcurrency: 40,
    streamChunks: 20,
    streamGapMs: 20,
    readCompletions: 1000,
    readLatencyMs: 50,
    readRpm: 1000,
    readApis: ['v2', 'legacy'],
    memoryStreams: 1000,
    settleSeconds: 150,
    openStreams: 9900,
    openSeconds: 10,
    openGapMs: 1000,
    reliabilityRate: 20,
    faultSeconds: 10,
    outageSeconds: 60,
    redisDownSeconds: 10,
    cpuProf: false,
    gatewayDist: join(__dirname, '..', '..', 'dist'),
    gatewayEnv: {},
    nodeFlags: '',
    baselineDist: '',
    baselineNodeFlags: '',
    resultsDir: join(__dirname, '..', 'results'),
    repeat: 1,
    maxRunS: 1800,
  };
}

/** Options from the defaults, the environment and `name=value` arguments; throws on a bad value. */
export function parseOptions(args: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const options = defaultOptions();
  const fromArgs = new Map<string, string>();
  for (const arg of args) {
    const m = /^(?:--)?([\w-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`Unknown argument "${arg}": expected name=value (${Object.values(SPEC).map((s) => s.arg).join(', ')})`);
    fromArgs.set(m[1], m[2]);
  }
  const known = new Set(Object.values(SPEC).map((s) => s.arg));
  for (const name of fromArgs.keys()) if (!known.has(name)) throw new Error(`Unknown setting "${name}" (known: ${[...known].join(', ')})`);

  const target = options as unknown as Record<string, unknown>;
  for (const [key, spec] of Object.entries(SPEC) as Array<[keyof BenchOptions, { env: string; arg: string }]>) {
    const raw = fromArgs.get(spec.arg) ?? env[spec.env];
    if (raw === undefined || raw === '') continue;
    const current = options[key];
    if (typeof current === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${spec.env} / ${spec.arg}= must be a non-negative number, got "${raw}"`);
      target[key] = n;
    } else if (typeof current === 'boolean') {
      target[key] = !/^(0|false|no|off)$/i.test(raw);
    } else if (Array.isArray(current)) {
      const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
      for (const v of list) if (v !== 'v2' && v !== 'legacy') throw new Error(`${spec.env} / ${spec.arg}= takes v2,legacy; got "${v}"`);
      target[key] = list;
    } else if (typeof current === 'object' && current !== null) {
      const pairs: Record<string, string> = {};
      for (const pair of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new Error(`${spec.env} / ${spec.arg}= takes NAME=value,NAME=value; got "${pair}"`);
        pairs[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      target[key] = pairs;
    } else {
      target[key] = raw;
    }
  }
  if (options.connections < 1) throw new Error('connections must be ≥ 1');
  if (options.underTestCpus !== 'one' && options.underTestCpus !== 'all') throw new Error(`under-test-cpus takes one or all; got "${options.underTestCpus}"`);
  if (options.reliabilityRate <= 0) throw new Error('reliability-rate must be > 0');
  if (options.repeat < 1 || !Number.isInteger(options.repeat)) throw new Error('repeat must be a whole number ≥ 1');
  return options;
}
