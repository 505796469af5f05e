import { ReadBudget } from './read-budget';

/**
 * One Langfuse project's read budget inside this replica, shared by every
 * request: at most `concurrency` calls in flight, at most `rpm` calls in
 * any 60 s (GCRA: a burst of one second's worth, then evenly spaced at
 * rpm − burst per minute, so burst plus a minute of spacing stays within
 * rpm and Langfuse never has to answer 429), and a pause for everyone after
 * a 429 until its Retry-After has passed.
 */
export class ProjectThrottle {
  private readonly intervalMs: number;
  private readonly burstMs: number;
  /** GCRA theoretical arrival time. */
  private tat = 0;
  private pausedUntil = 0;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    rpm: number,
    private readonly concurrency: number,
  ) {
    const burst = Math.max(1, Math.floor(rpm / 60));
    // GCRA admits at most burst + t / interval calls in any window t.
    this.intervalMs = 60_000 / Math.max(1, rpm - burst);
    this.burstMs = (burst - 1) * this.intervalMs;
  }

  /** Runs `fn` once a slot and a rate token are free; throws (budget exhausted) rather than wait past the deadline. */
  async run<T>(budget: ReadBudget, what: string, fn: () => Promise<T>): Promise<T> {
    await this.acquireSlot(budget, what);
    try {
      await budget.sleep(this.reserveToken(budget, what), `waiting for the Langfuse rate budget (LANGFUSE_READ_RPM) before ${what}`);
      return await fn();
    } finally {
      this.releaseSlot();
    }
  }

  /** Langfuse said 429: nobody calls this project again before `untilMs`. */
  pauseUntil(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  /** Ms to wait for the next token, reserving it; throws when that wait would overrun the budget. */
  private reserveToken(budget: ReadBudget, what: string): number {
    const now = Date.now();
    const tat = Math.max(this.tat, now);
    const wait = Math.max(0, tat - this.burstMs - now, this.pausedUntil - now);
    if (wait > 0 && !budget.allows(wait)) {
      throw budget.exhausted(`the Langfuse rate budget (LANGFUSE_READ_RPM, or a 429 Retry-After) would delay ${what} by ${wait} ms`);
    }
    this.tat = Math.max(tat, now + wait) + this.intervalMs;
    return wait;
  }

  private async acquireSlot(budget: ReadBudget, what: string): Promise<void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(budget.exhausted(`still queued for a Langfuse connection slot (LANGFUSE_READ_CONCURRENCY) before ${what}`));
      };
      const grant = () => {
        budget.signal.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiting.push(grant);
      budget.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.inFlight--;
  }
}
