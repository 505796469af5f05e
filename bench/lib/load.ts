/**
 * Closed-loop HTTP load with autocannon (keep-alive connections, each sending
 * its next request as soon as the previous answer is complete). Latencies are
 * kept at full precision (autocannon's own histogram rounds to whole ms, too
 * coarse for a 2 ms budget).
 */
import autocannon from 'autocannon';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { distribution, Distribution, Samples } from './stats';

export interface LoadSpec {
  url: string;
  method?: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests instead of running for durationS. */
  amount?: number;
  /** Collect the x-insertion-id of every 200 (tracked gateway routes). */
  collectInsertionIds?: boolean;
  /** Per-request timeout (s). */
  timeoutS?: number;
  /** Open loop: at most this many requests per second in all (0 or unset: as fast as answers come). */
  rate?: number;
}

export interface LoadResult {
  /** Completed responses per second (any status). */
  rps: number;
  responses: number;
  latency: Distribution;
  statusCounts: Record<string, number>;
  ok: number;
  errors: number;
  timeouts: number;
  durationS: number;
  insertionIds?: Set<string>;
  /**
   * Event-loop delay of the load generator's own process while it ran (ms):
   * when this is large, latencies include time the generator (or a fake
   * sharing its process) sat on finished responses.
   */
  generatorLoopDelay: { p99: number; max: number };
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new Samples();
  const statusCounts: Record<string, number> = {};
  const insertionIds = spec.collectInsertionIds ? new Set<string>() : undefined;
  let responses = 0;
  const started = process.hrtime.bigint();
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: spec.method ?? 'POST',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        duration: spec.durationS,
        amount: spec.amount,
        ...(spec.rate ? { overallRate: spec.rate } : {}),
        timeout: spec.timeoutS ?? 30,
        setupClient: insertionIds
          ? (client) => {
              client.on('headers', (info: { statusCode: number; headers: string[] }) => {
                if (info.statusCode !== 200) return;
                const raw = info.headers;
                for (let i = 0; i < raw.length; i += 2) {
                  if (raw[i].length === 14 && raw[i].toLowerCase() === 'x-insertion-id') {
                    insertionIds.add(String(raw[i + 1]));
                    break;
                  }
                }
              });
            }
          : undefined,
      },
      (err, result) => {
        loopDelay.disable();
        if (err) return reject(err);
        const durationS = Number(process.hrtime.bigint() - started) / 1e9;
        const ok = statusCounts['200'] ?? 0;
        resolve({
          rps: responses / Math.max(result.duration, 1e-9),
          responses,
          latency: distribution(latencies.values()),
          statusCounts,
          ok,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: Math.min(durationS, result.duration),
          insertionIds,
          generatorLoopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++;
      latencies.push(responseTime);
      statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
    });
  });
}
