import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { attachRequestContext, currentRequestContext, requestContextOf, runWithRequestContext, withRequestContext } from './request-context';

/** Stands in for a response: runWithRequestContext only listens for its 'close'. */
function response(): ServerResponse & EventEmitter {
  return new EventEmitter() as ServerResponse & EventEmitter;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('request context', () => {
  it('withRequestContext scopes a context to a synchronous call, nested scopes restore the outer one', () => {
    expect(currentRequestContext()).toBeUndefined();
    const outer = { requestId: 'outer' };
    const seen: Array<string | undefined> = [];
    withRequestContext(outer, () => {
      seen.push(currentRequestContext()?.requestId);
      withRequestContext({ requestId: 'inner' }, () => seen.push(currentRequestContext()?.requestId));
      // No context given: the outer one stays.
      withRequestContext(undefined, () => seen.push(currentRequestContext()?.requestId));
      seen.push(currentRequestContext()?.requestId);
    });
    expect(seen).toEqual(['outer', 'inner', 'outer', 'outer']);
    expect(currentRequestContext()).toBeUndefined();
  });

  it('a context attached to a response is found from it', () => {
    const res = response();
    const ctx = { requestId: 'r-1' };
    attachRequestContext(res, ctx);
    expect(requestContextOf(res)).toBe(ctx);
    expect(requestContextOf(response())).toBeUndefined();
  });

  it('runWithRequestContext carries each request’s context across awaits, and ends it once the last such request closed', async () => {
    const a = response();
    const b = response();
    const seen: Record<string, Array<string | undefined>> = { a: [], b: [] };
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const later: Array<() => void> = [];

    const run = (name: 'a' | 'b', res: ServerResponse) =>
      new Promise<void>((done) =>
        runWithRequestContext({ requestId: name }, res, () => {
          void (async () => {
            await tick();
            seen[name].push(currentRequestContext()?.requestId);
            await gate;
            seen[name].push(currentRequestContext()?.requestId);
            // Work the request still does after every response closed.
            await new Promise<void>((r) => later.push(r));
            seen[name].push(currentRequestContext()?.requestId);
            done();
          })();
        }),
      );

    const runs = [run('a', a), run('b', b)];
    await tick();
    await tick();
    // a closes while b is still in flight: the storage stays on, for both.
    a.emit('close');
    release();
    await tick();
    await tick();
    expect(seen).toEqual({ a: ['a', 'a'], b: ['b', 'b'] });
    // b closes too: nothing needs the storage any more, so it is off (a's leftover work has none).
    b.emit('close');
    for (const resume of later.splice(0)) resume();
    await Promise.all(runs);
    expect(seen).toEqual({ a: ['a', 'a', undefined], b: ['b', 'b', undefined] });

    // And the next request has its context again.
    const c = response();
    const inC = await new Promise<string | undefined>((resolve) =>
      runWithRequestContext({ requestId: 'c' }, c, () => void tick().then(() => resolve(currentRequestContext()?.requestId))),
    );
    expect(inC).toBe('c');
    c.emit('close');
  });
});
