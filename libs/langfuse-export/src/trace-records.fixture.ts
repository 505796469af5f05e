/** Finished completion records with distinct trace and span ids, for the export specs. */
import type { TraceRecord } from './trace-record';

let n = 0;
/** A record of rollout `rollout`, one more each call. */
export function record(rollout = 'r-1'): TraceRecord {
  n++;
  const hex = n.toString(16).padStart(6, '0');
  const startTime = Date.now();
  return {
    projectId: 'p1',
    traceId: `${'ab'.repeat(13)}${hex}`,
    spanId: `${'cd'.repeat(5)}${hex}`,
    tags: [`rollout_id:${rollout}`, `insertion_id:i-${n}`],
    metadata: { rollout_id: rollout, insertion_id: `i-${n}` },
    request: { messages: [{ role: 'user', content: `q ${n}` }] },
    model: 'm',
    startTime,
    endTime: startTime + 12,
    statusCode: 200,
    output: { role: 'assistant', content: `answer ${n}` },
  };
}
