/**
 * Langfuse trace export alone: the built gateway's LangfuseCompletionTracer
 * (span start and end with a completion's attributes, the SDK's span
 * processor, batched OTLP/HTTP JSON) in a loop, in its own process pinned like
 * the gateway, exporting to the fake Langfuse. Reports CPU µs per completion —
 * the part of the gateway's per-completion cost that the required SDK decides —
 * with the export on the main thread and in its worker thread (then the main
 * thread's share is what requests pay), and checks that every trace arrived.
 * With baseline-dist=, the other build runs first, in its own process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { BenchEnv } from '../lib/env';
import { baselineGatewayMain, BENCH_PROJECT, chatBody, currentGatewayMain, distRootOf } from '../lib/gateway';
import { nodeCommand } from '../lib/processes';
import { log, table } from '../lib/report';
import { median, round } from '../lib/stats';

export interface ExportRow {
  build: string;
  /** CPU µs per completion, one value per round: the whole process, and its main thread alone. */
  cpuUsPerCompletion: number[];
  mainThreadUsPerCompletion: number[];
  tracesExpected: number;
  tracesReceived: number;
}

export interface ExportResult {
  settings: { completions: number; rounds: number };
  rows: ExportRow[];
}

const COMPLETIONS = 20_000;
const ROUNDS = 3;

export async function runExport(env: BenchEnv): Promise<ExportResult> {
  const langfuse = await env.fakeLangfuseProcess();
  // [row name, gateway main, LANGFUSE_EXPORT_WORKER]
  const builds: Array<[string, string, string]> = [
    ['current, main thread', currentGatewayMain(), 'false'],
    ['current, worker thread', currentGatewayMain(), 'true'],
  ];
  const baseline = baselineGatewayMain();
  if (baseline) builds.unshift(['baseline', baseline, 'false']);
  const rows: ExportRow[] = [];
  for (const [build, main, worker] of builds) {
    const rollout = `bench-export-${randomUUID().slice(0, 8)}`;
    log(`  ${build}: ${ROUNDS} rounds of ${COMPLETIONS.toLocaleString('en-US')} completions (after a warm-up)`);
    const out = await runDriver(env, distRootOf(main), langfuse.url, rollout, worker);
    rows.push({
      build,
      cpuUsPerCompletion: out.cpuUsPerCompletion,
      mainThreadUsPerCompletion: out.mainThreadUsPerCompletion,
      tracesExpected: out.completions,
      tracesReceived: await langfuse.countTraces(rollout),
    });
  }
  return { settings: { completions: COMPLETIONS, rounds: ROUNDS }, rows };
}

interface DriverOutput {
  cpuUsPerCompletion: number[];
  mainThreadUsPerCompletion: number[];
  completions: number;
}

function runDriver(env: BenchEnv, dist: string, langfuseUrl: string, rollout: string, worker: string): Promise<DriverOutput> {
  const script = join(__dirname, '..', 'export-driver.js');
  const [cmd, argv] = nodeCommand([script], env.cpu.underTest);
  const child = spawn(cmd, argv, {
    env: {
      ...process.env,
      BENCH_DIST: dist,
      BENCH_LANGFUSE_URL: langfuseUrl,
      BENCH_PROJECT: JSON.stringify(BENCH_PROJECT),
      BENCH_CHAT_BODY: chatBody(),
      BENCH_COMPLETIONS: String(COMPLETIONS),
      BENCH_ROUNDS: String(ROUNDS),
      BENCH_ROLLOUT: rollout,
      BENCH_EXPORT_WORKER: worker,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  env.defer(async () => void child.kill());
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`export driver exited with ${code}: ${stderr.trim()}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`export driver printed no result: ${stdout}${stderr}`));
      }
    });
  });
}

export function printExport(r: ExportResult): void {
  log(
    table(
      `Langfuse export alone — ${r.settings.rounds} rounds of ${r.settings.completions.toLocaleString('en-US')} completions, the tracer in its own pinned process`,
      ['build', 'CPU µs per completion (median)', 'rounds', 'of which main thread (median)', 'traces in fake Langfuse'],
      r.rows.map((row) => [
        row.build,
        round(median(row.cpuUsPerCompletion), 1),
        row.cpuUsPerCompletion.map((v) => round(v, 1)).join(' / '),
        round(median(row.mainThreadUsPerCompletion), 1),
        `${row.tracesReceived.toLocaleString('en-US')} of ${row.tracesExpected.toLocaleString('en-US')}`,
      ]),
    ),
  );
}
