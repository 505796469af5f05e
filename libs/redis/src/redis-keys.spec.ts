import fc from 'fast-check';
import { RedisKeys } from './redis-keys';

/** Ids made of the characters the escaping is about, their escapes, and a few ordinary characters. */
const part = fc.string({ unit: fc.constantFrom('%', '{', '}', ':', '%7B', '%7D', '%3A', '%25', '7', 'B', 'a', '-'), maxLength: 8 });
const ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D', ':': '%3A' };

/** An id and a look-alike: some of its special characters written as their escapes (what a non-injective encoding confuses). */
const lookAlikes = fc.tuple(part, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 })).map(([id, flips]) => {
  let i = 0;
  return [id, id.replace(/[%{}:]/g, (c) => (flips[i++ % flips.length] ? ESCAPES[c] : c))] as const;
});
const keys = new RedisKeys('mgw');

describe('RedisKeys', () => {
  it('maps two different (project, rollout) pairs to two different keys (property)', () => {
    fc.assert(
      fc.property(fc.tuple(fc.option(part, { nil: undefined }), part, fc.boolean()), fc.tuple(fc.option(part, { nil: undefined }), part, fc.boolean()), ([p1, r1, t1], [p2, r2, t2]) => {
        const same = (p1 ?? '') === (p2 ?? '') && r1 === r2 && t1 === t2;
        expect(keys.rollout({ projectId: p1, rolloutId: r1, trail: t1 }, 'ids') === keys.rollout({ projectId: p2, rolloutId: r2, trail: t2 }, 'ids')).toBe(same);
      }),
      { numRuns: 5_000 },
    );
  });

  it('keeps the whole project and rollout (or trail) inside one hash tag, so it has one Cluster slot (property)', () => {
    fc.assert(
      fc.property(fc.option(part, { nil: undefined }), part, fc.boolean(), (projectId, rolloutId, trail) => {
        const key = keys.rollout({ projectId, rolloutId, trail }, 'logs');
        // Redis hashes what lies between the first '{' and the next '}'.
        const open = key.indexOf('{');
        const close = key.indexOf('}', open + 1);
        expect(key.slice(0, open)).toBe('mgw:');
        expect(key.slice(close)).toBe('}:logs');
        expect(key.slice(open + 1, close).split(':')).toHaveLength(trail ? 3 : 2);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never maps an id and its look-alike (escapes written out) to the same key (property)', () => {
    fc.assert(
      fc.property(lookAlikes, part, ([a, b], project) => {
        expect(keys.rollout({ projectId: project, rolloutId: a }, 'ids') === keys.rollout({ projectId: project, rolloutId: b }, 'ids')).toBe(a === b);
        expect(keys.rollout({ projectId: a, rolloutId: project }, 'ids') === keys.rollout({ projectId: b, rolloutId: project }, 'ids')).toBe(a === b);
      }),
      { numRuns: 5_000 },
    );
  });

  it('the collision the original escaping had is gone', () => {
    expect(keys.rollout({ projectId: 'p', rolloutId: 'col{1}' }, 'ids')).not.toBe(keys.rollout({ projectId: 'p', rolloutId: 'col%7B1%7D' }, 'ids'));
    expect(keys.rollout({ projectId: 'a:b', rolloutId: 'c' }, 'ids')).not.toBe(keys.rollout({ projectId: 'a', rolloutId: 'b:c' }, 'ids'));
    expect(keys.rollout({ projectId: 'p', rolloutId: 'x', trail: true }, 'ids')).toBe('mgw:{p:trail:x}:ids');
    expect(keys.rollout({ projectId: 'p', rolloutId: 'trail:x' }, 'ids')).toBe('mgw:{p:trail%3Ax}:ids');
  });
});
