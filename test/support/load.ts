/**
 * A small closed-loop load on real keep-alive connections (node:http), for
 * fault tests: `connections` loops each send tracked completions one after
 * another until told to stop or until their connection is refused,
 * optionally at a bounded rate.
 */
import http from 'node:http';

export interface Outcome {
  /** HTTP status, or the socket error's code when the call got no answer. */
  status: number | string;
  insertionId?: string;
  /** The answer's Connection header. */
  connection?: string;
  startedAt: number;
  ms: number;
}

export interface Load {
  outcomes: Outcome[];
  /** Stops sending new calls; resolves when every loop has ended. */
  stop(): Promise<void>;
  done: Promise<void>;
}

export interface LoadOptions {
  connections: number;
  body?: object;
  headers?: Record<string, string>;
  /** Each loop ends when its connection is refused (the gateway stopped). */
  untilRefused?: boolean;
  /** Calls per second across all loops at most (each loop waits out its share); unbounded when absent. */
  rate?: number;
}

export function runLoad(url: string, path: string, options: LoadOptions): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const outcomes: Outcome[] = [];
  let stopped = false;
  const body = JSON.stringify(options.body ?? { model: 'm', messages: [{ role: 'user', content: 'load' }] });
  const once = () =>
    new Promise<Outcome>((resolve) => {
      const startedAt = Date.now();
      const req = http.request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...options.headers } }, (res) => {
        res.resume();
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            insertionId: res.headers['x-insertion-id'] as string | undefined,
            connection: res.headers.connection,
            startedAt,
            ms: Date.now() - startedAt,
          }),
        );
        res.once('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', startedAt, ms: Date.now() - startedAt }));
      });
      req.once('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? err.message, startedAt, ms: Date.now() - startedAt }));
      req.end(body);
    });
  const intervalMs = options.rate ? (options.connections * 1000) / options.rate : 0;
  const loop = async (_: unknown, index: number) => {
    // Spread the loops over one interval so a rate-limited load is even.
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, (index * intervalMs) / options.connections));
    while (!stopped) {
      const outcome = await once();
      outcomes.push(outcome);
      if (typeof outcome.status === 'string') {
        if (options.untilRefused && outcome.status === 'ECONNREFUSED') return;
        await new Promise((r) => setTimeout(r, 20));
      }
      const wait = intervalMs - outcome.ms;
      if (wait > 0 && !stopped) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const done = Promise.all(Array.from({ length: options.connections }, loop)).then(() => agent.destroy());
  return {
    outcomes,
    done,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
