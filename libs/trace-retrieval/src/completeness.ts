/**
 * The completeness algorithm, transport- and storage-free: read what the
 * caller asked for, see which recorded insertion ids are still missing, and
 * re-query only those with exponential backoff until all are visible, the
 * rounds run out, or the next wait would overrun the budget.
 */
import { LangfuseConnection } from './langfuse-connections';
import { LangfuseReader, ReadOptions } from './langfuse.reader';
import { INSERTION_TAG_PREFIX, tagValues } from '@app/routing-metadata';
import { TraceFilter, TraceView } from './trace.model';

export interface CompletenessRequest {
  conn: LangfuseConnection;
  /** The caller's tags and filters; re-query rounds add the missing insertion ids as any-of tags. */
  filter: TraceFilter;
  /** Insertion ids that must all be visible. */
  expected: readonly string[];
  /** Re-query rounds after the first read. */
  maxRetries: number;
  /** Wait before the first re-query round; doubles every round. */
  backoffMs: number;
  read: Omit<ReadOptions, 'known'>;
}

export interface CompletenessResult {
  traces: TraceView[];
  found: number;
  expected: number;
  /** Still missing insertion ids, sorted. */
  missing: string[];
  /** Re-query rounds spent. */
  rounds: number;
  /** True when the rounds stopped because the next wait would overrun the budget. */
  stoppedByBudget: boolean;
}

export async function readUntilComplete(reader: LangfuseReader, request: CompletenessRequest): Promise<CompletenessResult> {
  const { conn, filter, read } = request;
  const expected = new Set(request.expected);
  const traces = new Map<string, TraceView>();
  const found = new Set<string>();
  // Only traces of recorded completions count and are returned: a trace the
  // rollout's tags match without a recorded id (a call the client saw fail,
  // someone else's tagging) is no part of the rollout.
  const absorb = (batch: TraceView[]) => {
    for (const trace of batch) {
      const ids = tagValues(trace.tags, INSERTION_TAG_PREFIX).filter((id) => expected.has(id));
      if (ids.length === 0) continue;
      traces.set(trace.id, trace);
      for (const id of ids) found.add(id);
    }
  };
  const missing = () => [...expected].filter((id) => !found.has(id)).sort();

  absorb(await reader.findTraces(conn, filter, { ...read, known: new Set() }));
  let rounds = 0;
  let stoppedByBudget = false;
  while (found.size < expected.size && rounds < request.maxRetries) {
    const waitMs = request.backoffMs * 2 ** rounds;
    if (!read.budget.allows(waitMs)) {
      stoppedByBudget = true;
      break;
    }
    await read.budget.sleep(waitMs, 'waiting for missing traces to become visible');
    rounds++;
    const anyTags = missing().map((id) => `${INSERTION_TAG_PREFIX}${id}`);
    absorb(await reader.findTraces(conn, { ...filter, anyTags }, { ...read, known: new Set(traces.keys()) }));
  }
  return { traces: [...traces.values()], found: found.size, expected: expected.size, missing: missing(), rounds, stoppedByBudget };
}

/** UUIDv7 ids sort by creation time as text: the newest is the greatest. */
export function newestId(ids: readonly string[]): string {
  return ids.reduce((a, b) => (b.toLowerCase() > a.toLowerCase() ? b : a));
}

/** `size` distinct elements chosen uniformly (partial Fisher–Yates). */
export function sample<T>(items: readonly T[], size: number, random: () => number = Math.random): T[] {
  const copy = [...items];
  const n = Math.min(size, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, n);
}
