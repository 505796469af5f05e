/**
 * Benchmarks of the gateway (issue 5). Runs the BUILT gateway (dist/) as its
 * own process against fakes on loopback, prints tables, writes JSON to
 * bench/results/, and stops everything it started.
 *
 *   npm run build
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/run.ts [which] [name=value ...]
 *
 * which: all (default: overhead, streaming, read, memory) | overhead | streaming | read | memory
 *        | profile (overhead (c) under --cpu-prof) | breakdown (cost of each feature)
 *        | export (the Langfuse tracer alone: CPU per completion)
 *        | reliability (Langfuse and Redis faults under load: nothing lost)
 *        | cluster (two gateways on a Redis Cluster, a master killed: throughput, nothing lost)
 *        | open-streams (9,900 concurrent streams through one gateway: RSS, event loop, nothing lost)
 * settings: see bench/README.md and bench/lib/options.ts (env BENCH_* or name=value),
 * e.g. duration=10 connections=128 repeat=3.
 */
import { join, resolve } from 'node:path';
import { BenchEnv } from './lib/env';
import { snapshotBaselineDist, snapshotDist } from './lib/gateway';
import { parseOptions } from './lib/options';
import { killAllChildren, pinSelf } from './lib/processes';
import { log, machine, machineLine, writeResults } from './lib/report';
import { OverheadResult, printOverhead, printOverheadMedians, runOverhead } from './scenarios/overhead';
import { runProfile, summariseProfiles } from './scenarios/profile';
import { BreakdownResult, printBreakdown, printBreakdownMedians, runBreakdown } from './scenarios/breakdown';
import { printStreaming, runStreaming } from './scenarios/streaming';
import { printRead, runRead } from './scenarios/read';
import { printMemory, runMemory } from './scenarios/memory';
import { printExport, runExport } from './scenarios/export';
import { printReliability, runReliability } from './scenarios/reliability';
import { printCluster, runCluster } from './scenarios/cluster';
import { printOpenStreams, runOpenStreams } from './scenarios/open-streams';

type Scenario = 'overhead' | 'streaming' | 'read' | 'memory' | 'profile' | 'breakdown' | 'export' | 'reliability' | 'cluster' | 'open-streams';
const ALL: Scenario[] = ['overhead', 'streaming', 'read', 'memory'];
const KNOWN: Scenario[] = [...ALL, 'profile', 'breakdown', 'export', 'reliability', 'cluster', 'open-streams'];

async function runScenario(which: Scenario, env: BenchEnv): Promise<unknown> {
  switch (which) {
    case 'overhead': {
      const r = await runOverhead(env);
      for (const level of r) printOverhead(level);
      return r;
    }
    case 'streaming': {
      const r = await runStreaming(env);
      printStreaming(r);
      return r;
    }
    case 'read': {
      const r = await runRead(env);
      printRead(r);
      return r;
    }
    case 'memory': {
      const r = await runMemory(env);
      printMemory(r);
      return r;
    }
    case 'breakdown': {
      const r = await runBreakdown(env);
      printBreakdown(r);
      return r;
    }
    case 'export': {
      const r = await runExport(env);
      printExport(r);
      return r;
    }
    case 'reliability': {
      const r = await runReliability(env);
      printReliability(r);
      return r;
    }
    case 'open-streams': {
      const r = await runOpenStreams(env);
      printOpenStreams(r);
      return r;
    }
    case 'cluster': {
      const r = await runCluster(env);
      printCluster(r);
      return r;
    }
    case 'profile':
      return runProfile(env);
    default:
      throw new Error(`scenario ${which} is not implemented yet`);
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const which = args[0] && !args[0].includes('=') ? args.shift() ?? 'all' : 'all';
  const scenarios: Scenario[] = which === 'all' ? ALL : [which as Scenario];
  for (const s of scenarios) if (!KNOWN.includes(s)) throw new Error(`Unknown scenario "${s}" (all, ${KNOWN.join(', ')})`);
  const options = parseOptions(args);
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const dropSnapshot = snapshotDist(join(options.resultsDir, `.dist-${runId}`), resolve(options.gatewayDist));
  process.once('exit', dropSnapshot);
  if (options.baselineDist) process.once('exit', snapshotBaselineDist(join(options.resultsDir, `.dist-${runId}-baseline`), resolve(options.baselineDist)));

  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after BENCH_MAX_SECONDS=${options.maxRunS} s: stopping everything.\n`);
    killAllChildren();
    process.exit(2);
  }, options.maxRunS * 1000);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllChildren();
      process.exit(130);
    });
  }

  log(machineLine());
  const results: Record<string, unknown> = {};
  let failed = false;
  for (const scenario of scenarios) {
    const repeats: unknown[] = [];
    for (let rep = 1; rep <= options.repeat; rep++) {
      // cluster runs several gateways and redis-servers side by side: nothing is pinned there.
      const env = new BenchEnv(scenario === 'cluster' ? { ...options, pin: false } : options, `${runId}-${scenario}${options.repeat > 1 ? `-${rep}` : ''}`);
      const pinned = await pinSelf(env.cpu.rest);
      log(`\n== ${scenario}${options.repeat > 1 ? ` (${rep}/${options.repeat})` : ''} ==${pinned ? ` (load generator and fakes on CPU ${env.cpu.rest}, process under test on CPU ${env.cpu.underTest})` : ''}`);
      let result: unknown;
      try {
        result = await runScenario(scenario, env);
      } catch (err) {
        failed = true;
        result = { error: (err as Error).message };
        process.stderr.write(`bench: ${scenario} failed: ${(err as Error).stack ?? err}\n`);
      } finally {
        await env.stopAll();
      }
      if (options.cpuProf) {
        const profiles = summariseProfiles(env.cpuProfDir, env.measuredFrom);
        if (result && typeof result === 'object') (result as Record<string, unknown>).profiles = profiles;
      }
      repeats.push(result);
    }
    results[scenario] = options.repeat > 1 ? repeats : repeats[0];
    if (scenario === 'overhead' && options.repeat > 1) printOverheadMedians(repeats.filter(Array.isArray) as OverheadResult[][]);
    if (scenario === 'breakdown' && options.repeat > 1) printBreakdownMedians(repeats.filter((r) => r && typeof r === 'object' && 'rows' in r) as BreakdownResult[]);
  }
  const file = writeResults(options.resultsDir, which, { machine: machine(), options, results });
  log(`\nresults: ${file}`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.message}\n`);
    killAllChildren();
    process.exit(1);
  },
);
