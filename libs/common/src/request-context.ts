/**
 * The request context: the request id, rollout and project that every log
 * line written about a request carries (GatewayLogger reads
 * currentRequestContext()).
 *
 * Two ways to carry it, because one of them costs every promise:
 *
 * - **Explicitly** (the chat hot path, the direct chat route): the context
 *   is attached to the response (requestContextOf(res)), code passes it on,
 *   and a log line is written inside withRequestContext(ctx, …), a plain
 *   synchronous scope.
 * - **Implicitly, across awaits** (routes served by Express and Nest: reads
 *   of traces, status and logs, whose services log deep in async code):
 *   runWithRequestContext puts it in an AsyncLocalStorage. On Node 20 an
 *   enabled AsyncLocalStorage runs a hook on every promise the process
 *   creates, whichever request it belongs to (about 6 % of the main
 *   thread's CPU per tracked completion, bench/README.md, issue 17). So the
 *   storage is enabled only while such a request is in flight, and disabled
 *   when the last one closes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';

/** Per-request facts that every log line of the request carries. */
export interface RequestContext {
  requestId: string;
  rolloutId?: string;
  /** The trail routes' trail. */
  trailId?: string;
  projectId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
const attached = new WeakMap<ServerResponse, RequestContext>();
/** The context of the synchronous withRequestContext scope running now. */
let scoped: RequestContext | undefined;
/** Requests running in the storage whose response has not closed. */
let inStorage = 0;

/** Makes `ctx` the context of the request `res` answers (requestContextOf). */
export function attachRequestContext(res: ServerResponse, ctx: RequestContext): void {
  attached.set(res, ctx);
}

/** The context attached to a response, if any. */
export function requestContextOf(res: ServerResponse): RequestContext | undefined {
  return attached.get(res);
}

/** Runs `fn` (synchronously) with `ctx` as the context of the log lines it writes. */
export function withRequestContext<T>(ctx: RequestContext | undefined, fn: () => T): T {
  const outer = scoped;
  scoped = ctx ?? outer;
  try {
    return fn();
  } finally {
    scoped = outer;
  }
}

/**
 * Runs `next` with `ctx` as the context of every log line it writes, also
 * after awaits, until `res` closes (see the file comment for the cost).
 */
export function runWithRequestContext(ctx: RequestContext, res: ServerResponse, next: () => void): void {
  inStorage++;
  res.once('close', () => {
    // No request left that needs it: promises stop paying for the storage (run() enables it again).
    if (--inStorage === 0) storage.disable();
  });
  storage.run(ctx, next);
}

/** The context of the log line being written: a withRequestContext scope's, else the storage's. */
export function currentRequestContext(): RequestContext | undefined {
  return scoped ?? storage.getStore();
}
