/**
 * 3. Reading a rollout: N tracked completions through the gateway (Langfuse
 * export on), then the eval-protocol SDK's read, `GET /v1/traces?tags=
 * rollout_id:R&limit=100&sleep_between_gets=0.1&max_retries=5`, against the
 * fake Langfuse answering every call after L ms and rate-limiting reads per
 * project (Langfuse Cloud's per-minute buckets), on the v2 observations path
 * and on the legacy trace path (LANGFUSE_READ_API=v2 | legacy). Each API gets
 * a fresh fake Langfuse and gateway, so calls and rate windows don't mix.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { FakeLangfuse } from '../../test/fakes/fake-langfuse.server';
import { BenchEnv, deletePrefix } from '../lib/env';
import { BENCH_PROJECT, benchRolloutKey, chatBody, startGatewayProcess, trackedPath } from '../lib/gateway';
import { runLoad } from '../lib/load';
import { assertAlive, sleep } from '../lib/processes';
import { log, table } from '../lib/report';
import { round } from '../lib/stats';

export interface ReadRun {
  api: 'v2' | 'legacy';
  completions: number;
  idsRecorded: number;
  tracesIngested: number;
  status: number;
  totalTraces?: number;
  tracesWithObservations?: number;
  wallMs: number;
  langfuseCalls: number;
  callsByRoute: Record<string, number>;
  rateLimited: number;
  error?: string;
}

export interface ReadResult {
  settings: { completions: number; langfuseLatencyMs: number; readRpm: number; query: string };
  runs: ReadRun[];
}

const ROUTE_NAMES: Array<[RegExp, string]> = [
  [/^\/api\/public\/v2\/observations$/, 'GET v2/observations'],
  [/^\/api\/public\/traces$/, 'GET traces (list)'],
  [/^\/api\/public\/traces\/[^/]+$/, 'GET traces/{id}'],
  [/^\/api\/public\/otel\/v1\/traces$/, 'POST otel'],
];

export async function runRead(env: BenchEnv): Promise<ReadResult> {
  const o = env.options;
  const { client: redis, resolved } = await env.redis();
  const upstream = await env.fakeUpstream();
  const runs: ReadRun[] = [];
  const query = (rollout: string) => `/v1/traces?tags=${encodeURIComponent(`rollout_id:${rollout}`)}&limit=100&sleep_between_gets=0.1&max_retries=5`;

  for (const api of o.readApis) {
    const langfuse = await env.fakeLangfuse();
    const keyPrefix = `bench-${randomUUID().slice(0, 8)}`;
    const gateway = await startGatewayProcess({
      ...env.gatewayCommon(),
      name: `gateway-read-${api}`,
      upstreamUrl: upstream.url,
      redisUrl: resolved.url,
      keyPrefix,
      langfuseUrl: langfuse.url,
      env: { ...env.options.gatewayEnv, LANGFUSE_READ_API: api, LANGFUSE_READ_RPM: String(o.readRpm) },
    });
    const rollout = `bench-read-${api}-${Date.now()}`;
    try {
      log(`  ${api}: writing ${o.readCompletions} tracked completions`);
      const write = await runLoad({
        url: gateway.url + trackedPath(rollout),
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-provider-key' },
        body: chatBody(),
        connections: 32,
        durationS: 120,
        amount: o.readCompletions,
      });
      assertAlive(upstream, gateway);
      const idsRecorded = await redis.scard(benchRolloutKey(keyPrefix, rollout, 'ids'));
      const tracesIngested = await waitForIngestion(langfuse, rollout, idsRecorded, 30_000);
      log(`    ${write.ok} × 200, ${idsRecorded} ids in Redis, ${tracesIngested} traces in the fake Langfuse`);

      langfuse.calls.length = 0;
      langfuse.options.latencyMs = o.readLatencyMs;
      langfuse.options.rateLimit = { maxCalls: o.readRpm, windowMs: 60_000, retryAfterSeconds: 10 };
      log(`  ${api}: GET ${query(rollout)} (Langfuse ${o.readLatencyMs} ms per call, ${o.readRpm} reads/min)`);
      env.markMeasured(gateway);
      const started = process.hrtime.bigint();
      const answer = await getJson(gateway.url + query(rollout), 300_000);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const calls = langfuse.calls.filter((c) => !c.path.startsWith('/api/public/otel'));
      const callsByRoute: Record<string, number> = {};
      for (const c of calls) {
        const name = ROUTE_NAMES.find(([re]) => re.test(c.path))?.[1] ?? c.path;
        const key = c.status === 200 ? name : `${name} → ${c.status}`;
        callsByRoute[key] = (callsByRoute[key] ?? 0) + 1;
      }
      const body = answer.body as { total_traces?: number; traces?: Array<{ observations?: unknown[] }>; message?: string } | undefined;
      const run: ReadRun = {
        api,
        completions: o.readCompletions,
        idsRecorded,
        tracesIngested,
        status: answer.status,
        totalTraces: body?.total_traces,
        tracesWithObservations: body?.traces?.filter((t) => Array.isArray(t.observations) && t.observations.length > 0).length,
        wallMs,
        langfuseCalls: calls.length,
        callsByRoute,
        rateLimited: calls.filter((c) => c.status === 429).length,
        error: answer.status === 200 ? undefined : (body?.message ?? answer.error ?? `HTTP ${answer.status}`).slice(0, 300),
      };
      runs.push(run);
      log(`    HTTP ${run.status}, ${run.totalTraces ?? '-'} traces in ${round(wallMs / 1000, 2)} s, ${run.langfuseCalls} Langfuse calls ${JSON.stringify(callsByRoute)}`);
    } finally {
      await gateway.stop();
      await deletePrefix(redis, keyPrefix);
      await langfuse.close();
    }
  }
  return { settings: { completions: o.readCompletions, langfuseLatencyMs: o.readLatencyMs, readRpm: o.readRpm, query: query('R') }, runs };
}

async function waitForIngestion(langfuse: FakeLangfuse, rollout: string, expected: number, timeoutMs: number): Promise<number> {
  const tag = `rollout_id:${rollout}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = langfuse.traces(BENCH_PROJECT.projectId).filter((t) => t.tags.includes(tag)).length;
    if (n >= expected || Date.now() > deadline) return n;
    await sleep(250);
  }
}

function getJson(url: string, timeoutMs: number): Promise<{ status: number; body?: unknown; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, headers: { authorization: 'Bearer sk-bench-provider-key' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          resolve({ status: res.statusCode ?? 0, error: text.slice(0, 300) });
        }
      });
      res.once('error', (err) => resolve({ status: res.statusCode ?? 0, error: err.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (err) => resolve({ status: 0, error: err.message }));
    req.end();
  });
}

export function printRead(r: ReadResult): void {
  const s = r.settings;
  log(
    table(
      `Reading a rollout — ${s.completions} tracked completions, fake Langfuse ${s.langfuseLatencyMs} ms per call, ${s.readRpm} reads/min per project (LANGFUSE_READ_RPM=${s.readRpm})`,
      ['read API', 'HTTP', 'traces returned', 'with observations', 'wall time s', 'Langfuse calls', '429s', 'calls by route'],
      r.runs.map((x) => [
        x.api,
        x.status,
        x.totalTraces,
        x.tracesWithObservations,
        round(x.wallMs / 1000, 2),
        x.langfuseCalls,
        x.rateLimited,
        Object.entries(x.callsByRoute).map(([k, v]) => `${k}: ${v}`).join(', '),
      ]),
    ),
  );
  for (const x of r.runs) if (x.error) log(`  ${x.api}: ${x.error}`);
  const v2 = r.runs.find((x) => x.api === 'v2');
  if (v2) log(`  target on v2: ≤ 3 s and a handful of calls → ${v2.status === 200 && v2.wallMs <= 3000 && v2.langfuseCalls <= 5 ? 'met' : 'NOT met'}`);
}
