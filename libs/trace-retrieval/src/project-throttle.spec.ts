import { GatewayErrorCode } from '@app/common';
import { ProjectThrottle } from './project-throttle';
import { ReadBudget } from './read-budget';

describe('ProjectThrottle', () => {
  it('keeps at most `concurrency` calls in flight', async () => {
    const throttle = new ProjectThrottle(60_000, 2);
    const budget = new ReadBudget(5_000);
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        throttle.run(budget, 'call', async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 20));
          inFlight--;
        }),
      ),
    );
    expect(peak).toBe(2);
    budget.dispose();
  });

  it('spaces calls to the per-minute rate after a one-second burst', async () => {
    const throttle = new ProjectThrottle(600, 10); // 10/s: burst of 10, then one per 100 ms
    const budget = new ReadBudget(5_000);
    const started = Date.now();
    for (let i = 0; i < 12; i++) await throttle.run(budget, 'call', async () => undefined);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(1_000);
    budget.dispose();
  });

  it('never makes more than rpm calls in any 60 s, burst included', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const rpm = 600;
      const throttle = new ProjectThrottle(rpm, 1_000);
      const budget = new ReadBudget(10 * 60_000);
      const at: number[] = [];
      const all = Promise.all(Array.from({ length: 2 * rpm }, () => throttle.run(budget, 'call', async () => void at.push(Date.now()))));
      while (at.length < 2 * rpm) await jest.advanceTimersByTimeAsync(50);
      await all;
      let worst = 0;
      for (let i = 0, j = 0; i < at.length; i++) {
        while (at[i] - at[j] >= 60_000) j++;
        worst = Math.max(worst, i - j + 1);
      }
      expect(worst).toBeLessThanOrEqual(rpm);
      expect(worst).toBeGreaterThan(rpm * 0.95); // and it still uses the budget
      budget.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('pauses every caller after a 429, and fails fast when the pause outlasts the budget', async () => {
    const throttle = new ProjectThrottle(60_000, 4);
    throttle.pauseUntil(Date.now() + 150);
    const budget = new ReadBudget(5_000);
    const started = Date.now();
    await throttle.run(budget, 'call', async () => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    throttle.pauseUntil(Date.now() + 10_000);
    const short = new ReadBudget(1_000);
    await expect(throttle.run(short, 'GET /x', async () => undefined)).rejects.toMatchObject({
      code: GatewayErrorCode.LangfuseUnavailable,
      message: expect.stringContaining('Retry-After'),
    });
    budget.dispose();
    short.dispose();
  });
});
