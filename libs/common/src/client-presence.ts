import type { ServerResponse } from 'node:http';

/**
 * The client's side of a call: whether it left before its answer was
 * finished, and a way to hear of it. Not an AbortSignal per call: an
 * AbortController, its EventTarget and listeners cost 9 % of the gateway's
 * CPU per completion (bench/README.md, issue 17); this rides on the
 * response's own 'close' event. `signal` makes an AbortSignal on first use.
 */
export interface ClientPresence {
  /** The client disconnected before its response was finished. */
  readonly gone: boolean;
  /** Calls `listener` once when the client goes (at once if it has); returns what stops listening. */
  onGone(listener: () => void): () => void;
  /** An AbortSignal aborted when the client goes, made on first access. */
  readonly signal: AbortSignal;
}

/** The client of `res`: gone when the response closes before it was finished (chat cuts its upstream call, /traces its Langfuse reads). */
export function clientPresence(res: ServerResponse): ClientPresence {
  return new ResponsePresence(res);
}

class ResponsePresence implements ClientPresence {
  private controller?: AbortController;

  constructor(private readonly res: ServerResponse) {}

  get gone(): boolean {
    return this.res.destroyed && !this.res.writableFinished;
  }

  onGone(listener: () => void): () => void {
    if (this.gone) {
      listener();
      return () => undefined;
    }
    const onClose = () => {
      if (!this.res.writableFinished) listener();
    };
    this.res.once('close', onClose);
    return () => this.res.off('close', onClose);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      this.onGone(() => controller.abort());
    }
    return this.controller.signal;
  }
}
