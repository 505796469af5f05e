/** Finished completion records with distinct trace and span ids, and the fake Langfuse project, for the export specs. */
import type { ExportCredentials } from './delivery';
import type { TraceRecord } from './trace-record';

/** The one project of the export specs' fake Langfuse. */
export const P1 = { projectId: 'p1', publicKey: 'pk-lf-1', secretKey: 'sk-lf-SECRET-1' };

/** P1's keys for the fake Langfuse at `host`. */
export function p1Credentials(host: string): ExportCredentials {
  return { ...P1, host };
}

let n = 0;
/** A record of rollout `rollout` (with `request` as the client's body), one more each call. */
export function record(rollout = 'r-1', request: Record<string, unknown> = { messages: [{ role: 'user', content: `q ${n + 1}` }] }): TraceRecord {
  n++;
  const hex = n.toString(16).padStart(6, '0');
  const startTime = Date.now();
  return {
    projectId: 'p1',
    traceId: `${'ab'.repeat(13)}${hex}`,
    spanId: `${'cd'.repeat(5)}${hex}`,
    tags: [`rollout_id:${rollout}`, `insertion_id:i-${n}`],
    metadata: { rollout_id: rollout, insertion_id: `i-${n}` },
    request,
    model: 'm',
    startTime,
    endTime: startTime + 12,
    statusCode: 200,
    output: { role: 'assistant', content: `answer ${n}` },
  };
}
