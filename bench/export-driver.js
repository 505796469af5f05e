/**
 * Child process of the `export` scenario: the built gateway's
 * LangfuseCompletionTracer alone, in a loop — start, end, and the SDK's batched
 * OTLP export to the fake Langfuse — timed with process.cpuUsage. Plain
 * JavaScript on a built dist (BENCH_DIST), so any build can be measured.
 * BENCH_EXPORT_WORKER sets LANGFUSE_EXPORT_WORKER. Prints one JSON line: CPU µs
 * per completion for each round, of the process and of its main thread.
 */
'use strict';
require('reflect-metadata');
const { join } = require('node:path');
const { existsSync, readFileSync } = require('node:fs');
const { setImmediate: tick } = require('node:timers/promises');

const dist = process.env.BENCH_DIST;
const project = JSON.parse(process.env.BENCH_PROJECT);
const request = JSON.parse(process.env.BENCH_CHAT_BODY);
const completions = Number(process.env.BENCH_COMPLETIONS);
const rounds = Number(process.env.BENCH_ROUNDS);
const rollout = process.env.BENCH_ROLLOUT;

const creds = { projectId: project.projectId, publicKey: project.publicKey, secretKey: project.secretKey, host: process.env.BENCH_LANGFUSE_URL };
const vault = { findCredentials: () => creds, onReload: () => undefined, projectIds: () => [creds.projectId], credentialsFor: () => creds };
// This build's defaults for every export setting (older builds kept them elsewhere), then the bench's.
const settingsFile = join(dist, 'libs/langfuse-export/src/langfuse-export.settings.js');
const settings = {
  ...(existsSync(settingsFile) ? { ...new (require(settingsFile).LangfuseExportSettings)() } : {}),
  LANGFUSE_EXPORT: true, LANGFUSE_FLUSH_AT: 256, LANGFUSE_FLUSH_INTERVAL: 1, LANGFUSE_EXPORT_QUEUE_SIZE: 65536, LANGFUSE_EXPORT_CONCURRENCY: 4, LANGFUSE_ENVIRONMENT: undefined,
  LANGFUSE_EXPORT_WORKER: process.env.BENCH_EXPORT_WORKER === 'true',
};
// The tracer of this build: @app/langfuse-export since issue 13, completion-forwarding before; since
// issue 15 it takes the Redis connection (none here: traces wait in memory) and the spool, and starts
// its export at bootstrap.
const current = join(dist, 'libs/langfuse-export/src/langfuse-completion.tracer.js');
const options = { workerScript: join(dist, 'libs/langfuse-export/src/export.worker.js') };
const noRedis = { client: undefined };
const noSpool = { dir: '', take: () => [], write: () => undefined };
const Tracer = existsSync(current) ? require(current).LangfuseCompletionTracer : require(join(dist, 'libs/completion-forwarding/src/langfuse-completion.tracer.js')).LangfuseCompletionTracer;
const tracer = Tracer.length >= 4 ? new Tracer(vault, settings, noRedis, noSpool, options) : new Tracer(vault, settings, options);
tracer.onApplicationBootstrap?.();
const output = { role: 'assistant', content: 'The train arrives at 13:10.' };
const usage = { prompt_tokens: 96, completion_tokens: 12, total_tokens: 108 };

let n = 0;
function one() {
  const id = `0192f0c4-${String(n++).padStart(4, '0')}-7000-8000-000000000000`;
  const metadata = { rollout_id: rollout, insertion_id: id, invocation_id: 'inv-bench', experiment_id: 'exp-bench', run_id: 'run-bench', row_id: 'row-1' };
  const tags = Object.entries(metadata).map(([k, v]) => `${k}:${v}`);
  const trace = tracer.start({ projectId: project.projectId, tags, metadata, request, model: request.model, startTime: new Date() });
  trace.end({ statusCode: 200, output, usage, model: request.model, completionStartTime: new Date() });
}

async function run(count) {
  for (let i = 0; i < count; i++) {
    one();
    // Let the exporter's requests and responses through, as a server's event loop would.
    if (i % 64 === 63) await tick();
    // This loop makes spans far faster than a gateway does; flushing every few
    // batches keeps the backlog under the exporter's 30 concurrent exports.
    if (i % 2048 === 2047) await tracer.flush();
  }
  await tracer.flush();
}

/** CPU µs of the main thread alone (process.cpuUsage counts every thread): /proc, in clock ticks (10 ms). */
function mainThreadCpuUs() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

(async () => {
  await run(Math.min(5000, completions));
  const perRound = [];
  const mainPerRound = [];
  for (let r = 0; r < rounds; r++) {
    const before = process.cpuUsage();
    const mainBefore = mainThreadCpuUs();
    await run(completions);
    const used = process.cpuUsage(before);
    perRound.push((used.user + used.system) / completions);
    mainPerRound.push((mainThreadCpuUs() - mainBefore) / completions);
  }
  await tracer.onApplicationShutdown();
  process.stdout.write(`${JSON.stringify({ cpuUsPerCompletion: perRound, mainThreadUsPerCompletion: mainPerRound, completions: n })}\n`);
})().catch((err) => {
  process.stderr.write(`${require('node:util').inspect(err)}\n`);
  process.exit(1);
});
