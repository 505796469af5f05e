import { withDeadline } from './deadline';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withDeadline', () => {
  it('passes the answer (or the error) through when it comes in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 50)).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('refused')), 50)).rejects.toThrow('refused');
    await expect(withDeadline(after(10, 'late-ish'), 100)).resolves.toBe('late-ish');
  });

  it('rejects no earlier than the deadline and at most one window later, every call of a shared window', async () => {
    const started = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => withDeadline(never(), 60)));
    const elapsed = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'rejected' && /no answer within 60 ms/.test(String(o.reason)))).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(59);
  });

  it('an answer after the deadline changes nothing; calls in later windows get their own deadline', async () => {
    const first = withDeadline(after(80, 'too late'), 30);
    await new Promise((r) => setTimeout(r, 20));
    const second = withDeadline(after(30, 'in time'), 30);
    await expect(first).rejects.toThrow('no answer within 30 ms');
    await expect(second).resolves.toBe('in time');
  });
});
