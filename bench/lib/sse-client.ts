/**
 * A measuring SSE client: POSTs a streaming chat completion and timestamps
 * every server-sent event as it arrives (hrtime), noting how many events
 * came in the same socket read — more than one means they were batched
 * somewhere on the way.
 */
import { Agent, request } from 'node:http';

export interface StreamTiming {
  status: number;
  /** Request sent → response headers (ms). */
  headersMs: number;
  /** Request sent → first SSE event (ms). */
  firstEventMs: number;
  /** Arrival of each event relative to the request (ms). */
  eventMs: number[];
  /** Events completed by each socket read that completed any. */
  eventsPerRead: number[];
  sawDone: boolean;
  totalMs: number;
  /** The gateway's `x-insertion-id` (tracked routes). */
  insertionId?: string;
  error?: string;
}

export function timedStream(agent: Agent, url: string, path: string, headers: Record<string, string>, body: string, timeoutMs = 60_000): Promise<StreamTiming> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const timing: StreamTiming = { status: 0, headersMs: NaN, firstEventMs: NaN, eventMs: [], eventsPerRead: [], sawDone: false, totalMs: NaN };
    let settled = false;
    const done = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      timing.totalMs = ms();
      if (error) timing.error = error;
      resolve(timing);
    };
    const req = request(
      { host: u.hostname, port: u.port, method: 'POST', path, agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        timing.status = res.statusCode ?? 0;
        timing.headersMs = ms();
        const id = res.headers['x-insertion-id'];
        if (typeof id === 'string') timing.insertionId = id;
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = ms();
          pending += chunk;
          let completed = 0;
          for (let sep = pending.indexOf('\n\n'); sep !== -1; sep = pending.indexOf('\n\n')) {
            const event = pending.slice(0, sep);
            pending = pending.slice(sep + 2);
            if (!event.trim()) continue;
            completed++;
            timing.eventMs.push(at);
            if (event.startsWith('data: [DONE]')) timing.sawDone = true;
          }
          if (completed > 0) timing.eventsPerRead.push(completed);
          if (Number.isNaN(timing.firstEventMs) && timing.eventMs.length > 0) timing.firstEventMs = timing.eventMs[0];
        });
        res.once('end', () => done());
        res.once('error', (err) => done(err.message));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
    }, timeoutMs);
    req.once('error', (err) => done(err.message));
    req.setNoDelay(true);
    req.end(body);
  });
}

/** Runs `total` calls of `fn`, `concurrency` at a time. */
export async function pool<T>(total: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      results[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return results;
}
