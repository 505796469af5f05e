import { GatewayErrorCode } from '@app/common';
import { parseLogsQuery, parseRolloutIdParam } from './logs.query';

const now = 1_700_000_000_000;

describe('parseLogsQuery', () => {
  it('reads repeated tags, limit, hours_back and program', () => {
    expect(parseLogsQuery({ tags: ['rollout_id:r', 'run_id:u'], limit: '5', hours_back: '0.5', program: 'p' }, 1000, now)).toEqual({
      rolloutId: 'r',
      tags: ['rollout_id:r', 'run_id:u'],
      limit: 5,
      since: now - 1_800_000,
      program: 'p',
    });
  });

  it('caps the limit at the list bound (ROLLOUT_LOGS_MAX_ENTRIES)', () => {
    expect(parseLogsQuery({ tags: 'rollout_id:r', limit: '5000' }, 1000).limit).toBe(1000);
    expect(parseLogsQuery({ tags: 'rollout_id:r' }, 20).limit).toBe(20);
  });

  it('defaults the limit to 100 and accepts a single tag', () => {
    expect(parseLogsQuery({ tags: 'rollout_id:r' }, 1000, now)).toMatchObject({ limit: 100, since: undefined, program: undefined });
  });

  it('requires a rollout_id tag', () => {
    expect(() => parseLogsQuery({ tags: 'run_id:u' }, 1000)).toThrow(expect.objectContaining({ code: GatewayErrorCode.MissingRolloutTag }));
    expect(() => parseLogsQuery({}, 1000)).toThrow(/tags=rollout_id:<id>/);
  });

  it('rejects bad numbers and nested values with the parameter name', () => {
    expect(() => parseLogsQuery({ tags: 'rollout_id:r', limit: '0' }, 1000)).toThrow(/limit must be a positive integer/);
    expect(() => parseLogsQuery({ tags: 'rollout_id:r', limit: '2.5' }, 1000)).toThrow(/limit must be a positive integer/);
    expect(() => parseLogsQuery({ tags: 'rollout_id:r', limit: 'ten' }, 1000)).toThrow(/limit must be a number/);
    expect(() => parseLogsQuery({ tags: 'rollout_id:r', hours_back: '-1' }, 1000)).toThrow(/hours_back must be a positive number/);
    expect(() => parseLogsQuery({ tags: { a: 'rollout_id:r' } }, 1000)).toThrow(/tags must be repeated plain values/);
    expect(() => parseLogsQuery({ tags: 'rollout_id:r', program: ['a', 'b'] }, 1000)).toThrow(/program must be given once/);
  });

  it.each([
    ['limit', '1e20', /limit must be a positive integer, at most 1000000 \(got "1e20"\)/],
    ['limit', '1000001', /limit must be a positive integer, at most 1000000/],
    ['limit', '-5', /limit must be a positive integer/],
    ['limit', 'NaN', /limit must be a number \(got "NaN"\)/],
    ['limit', 'Infinity', /limit must be a number \(got "Infinity"\)/],
    ['limit', '0x10', /limit must be a number \(got "0x10"\)/],
    ['limit', ['1', '2'], /limit must be given once/],
    ['limit', { a: '1' }, /limit must be given once/],
    ['hours_back', '1e20', /hours_back must be a positive number of hours, at most 87840 \(got "1e20"\)/],
    ['hours_back', '-Infinity', /hours_back must be a number/],
    ['hours_back', '1e-400', /hours_back must be a positive number of hours/],
    ['hours_back', ['1', '2'], /hours_back must be given once/],
  ])('%s=%j → 400 naming the parameter and its range', (param, value, message) => {
    let err: unknown;
    try {
      parseLogsQuery({ tags: 'rollout_id:r', [param]: value }, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: GatewayErrorCode.InvalidQuery, status: 400 });
    expect((err as Error).message).toMatch(message);
  });

  it('accepts the bounds themselves; a limit over the list bound still reads the whole list', () => {
    expect(parseLogsQuery({ tags: 'rollout_id:r', limit: '1000000', hours_back: '87840' }, 1000, now)).toMatchObject({ limit: 1000, since: now - 87_840 * 3_600_000 });
  });
});

describe('parseRolloutIdParam', () => {
  it('requires a bounded id', () => {
    expect(parseRolloutIdParam('r')).toBe('r');
    expect(() => parseRolloutIdParam(undefined)).toThrow(/rollout_id is required/);
    expect(() => parseRolloutIdParam('r'.repeat(257))).toThrow(/longer than 256/);
  });

  it('takes one plain value (GET /status, /rollouts?project_id=)', () => {
    expect(() => parseRolloutIdParam(['a', 'b'])).toThrow(/rollout_id must be given once/);
    expect(() => parseRolloutIdParam({ a: 'b' }, 'project_id')).toThrow(/project_id must be given once/);
  });
});
