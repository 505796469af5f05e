import { setMaxListeners } from 'node:events';
import { GatewayError, GatewayErrorCode } from '@app/common';

/**
 * The time one /traces (or countVisible) call may spend. Every wait — a
 * rate-limit pause, a retry backoff, a completeness round — asks the budget
 * first, so the call fails with a reason instead of overrunning it. The
 * signal aborts in-flight Langfuse calls at the deadline or when the client
 * goes away.
 */
export class ReadBudget {
  readonly deadline: number;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly totalMs: number,
    parent?: AbortSignal,
  ) {
    this.deadline = Date.now() + totalMs;
    // Every in-flight Langfuse call listens on this signal (hundreds on the legacy path).
    setMaxListeners(0, this.controller.signal);
    this.timer = setTimeout(() => this.controller.abort(new Error('budget exhausted')), totalMs);
    this.timer.unref();
    if (parent) {
      if (parent.aborted) this.controller.abort(parent.reason);
      else parent.addEventListener('abort', () => this.controller.abort(parent.reason), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** True when waiting `ms` would still leave the deadline ahead. */
  allows(ms: number): boolean {
    return !this.aborted && Date.now() + ms < this.deadline;
  }

  /** Waits `ms`, or throws LangfuseUnavailable right away when that would overrun the budget. */
  async sleep(ms: number, reason: string): Promise<void> {
    if (ms <= 0) return;
    if (!this.allows(ms)) throw this.exhausted(reason);
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
    if (this.aborted) throw this.exhausted(reason);
  }

  exhausted(reason: string): GatewayError {
    return new GatewayError(
      GatewayErrorCode.LangfuseUnavailable,
      `Reading traces from Langfuse did not finish within ${this.totalMs} ms (LANGFUSE_READ_BUDGET_MS): ${reason}.`,
      { budget_ms: this.totalMs },
    );
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
