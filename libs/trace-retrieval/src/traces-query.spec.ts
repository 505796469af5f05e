import { GatewayError, GatewayErrorCode } from '@app/common';
import { parseTracesQuery, rolloutIdsOf } from './traces-query';
import { thrown } from '../../../test/support/thrown';


describe('parseTracesQuery', () => {
  it('applies the defaults and keeps a single tag as a list', () => {
    expect(parseTracesQuery({ tags: 'rollout_id:r1' })).toEqual({ tags: ['rollout_id:r1'], limit: 100, max_retries: 3 });
  });

  it('reads what the eval-protocol SDK sends and ignores unknown params such as include_payloads=True', () => {
    const q = parseTracesQuery({ limit: '100', tags: ['rollout_id:r1', 'row_id:w'], sleep_between_gets: '0.1', max_retries: '5', include_payloads: 'True' });
    expect(q).toEqual({ tags: ['rollout_id:r1', 'row_id:w'], limit: 100, sleep_between_gets: 0.1, max_retries: 5 });
    expect(q).not.toHaveProperty('include_payloads');
  });

  it('parses every filter', () => {
    const q = parseTracesQuery({
      tags: 'rollout_id:r',
      sample_size: '7',
      user_id: 'u',
      session_id: 's',
      name: 'chat-completion',
      environment: 'prod',
      version: 'v1',
      release: 'r1',
      fields: 'core, io',
      hours_back: '1.5',
      from_timestamp: '2026-01-01T00:00:00+02:00',
      to_timestamp: '2026-01-02T00:00:00',
    });
    expect(q).toMatchObject({
      sample_size: 7,
      user_id: 'u',
      session_id: 's',
      name: 'chat-completion',
      environment: 'prod',
      version: 'v1',
      release: 'r1',
      fields: 'core, io',
      hours_back: 1.5,
      from_timestamp: '2025-12-31T22:00:00.000Z',
      // no zone: UTC, as Python's naive isoformat() means it
      to_timestamp: '2026-01-02T00:00:00.000Z',
    });
  });

  it('accepts any fields value the SDK or a Langfuse client sends (it never narrows the answer)', () => {
    for (const fields of ['core', 'core,observations', 'id,tags', 'io, scores', 'anything']) expect(parseTracesQuery({ tags: 'x', fields }).fields).toBe(fields);
    expect(thrown(() => parseTracesQuery({ fields: 'x'.repeat(1001) })).message).toMatch(/fields: expected a string of at most 1000 characters/);
  });

  it('treats empty values as absent', () => {
    expect(parseTracesQuery({ tags: 'rollout_id:r', user_id: '', sample_size: '' })).toEqual({ tags: ['rollout_id:r'], limit: 100, max_retries: 3 });
  });

  it.each([
    ['limit', 'abc', 'an integer between 1 and 1000000'],
    ['limit', '0', 'an integer between 1 and 1000000'],
    ['limit', '2.5', 'an integer between 1 and 1000000'],
    ['limit', '1e20', 'an integer between 1 and 1000000'],
    ['limit', '1000001', 'an integer between 1 and 1000000'],
    ['limit', 'Infinity', 'an integer between 1 and 1000000'],
    ['limit', 'NaN', 'an integer between 1 and 1000000'],
    ['limit', '0x10', 'an integer between 1 and 1000000'],
    ['limit', ['10', '20'], 'an integer between 1 and 1000000'],
    ['max_retries', 'True', 'an integer between 0 and 20'],
    ['max_retries', '-1', 'an integer between 0 and 20'],
    ['max_retries', '1e20', 'an integer between 0 and 20'],
    ['sample_size', '0', 'an integer between 1 and 1000000'],
    ['sample_size', '1e20', 'an integer between 1 and 1000000'],
    ['sample_size', '-5', 'an integer between 1 and 1000000'],
    ['sample_size', '9007199254740993', 'an integer between 1 and 1000000'],
    ['page', '-5', 'an integer between 1 and 1000000 (ignored'],
    ['page', '0', 'an integer between 1 and 1000000 (ignored'],
    ['page', '1.5', 'an integer between 1 and 1000000 (ignored'],
    ['page', '1e20', 'an integer between 1 and 1000000 (ignored'],
    ['page', 'two', 'an integer between 1 and 1000000 (ignored'],
    ['sleep_between_gets', 'soon', 'a number of seconds between 0 and 60'],
    ['sleep_between_gets', '1e20', 'a number of seconds between 0 and 60'],
    ['sleep_between_gets', '-Infinity', 'a number of seconds between 0 and 60'],
    ['hours_back', '0', 'a number of hours > 0'],
    ['hours_back', '-1', 'a number of hours > 0 and at most 87840'],
    ['hours_back', '1e20', 'a number of hours > 0 and at most 87840'],
    ['hours_back', '1e-400', 'a number of hours > 0'],
    ['from_timestamp', 'yesterday', 'an ISO 8601 date-time'],
    ['from_timestamp', '2026-02-30T00:00:00Z', 'an ISO 8601 date-time'],
    ['from_timestamp', '20260101T000000Z', 'an ISO 8601 date-time'],
    ['to_timestamp', '2026-W01', 'an ISO 8601 date-time'],
    ['to_timestamp', ['2026-01-01', '2026-01-02'], 'an ISO 8601 date-time'],
    ['user_id', ['a', 'b'], 'a single non-empty string'],
  ])('%s=%j → 400 naming the parameter and what it takes', (param, value, expected) => {
    const err = thrown(() => parseTracesQuery({ tags: 'rollout_id:r', [param]: value }));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.code).toBe(GatewayErrorCode.InvalidQuery);
    expect(err.status).toBe(400);
    expect(err.message).toContain(`${param}: expected ${expected}`);
    expect(err.message).toContain(JSON.stringify(value));
  });

  it('accepts the bounds themselves, and a positive page, which it ignores', () => {
    expect(parseTracesQuery({ tags: 'rollout_id:r', limit: '1000000', sample_size: '1e6', hours_back: '87840', page: '3' })).toEqual({
      tags: ['rollout_id:r'],
      limit: 1_000_000,
      sample_size: 1_000_000,
      hours_back: 87_840,
      max_retries: 3,
    });
  });

  it('names every bad parameter at once', () => {
    const err = thrown(() => parseTracesQuery({ limit: 'x', max_retries: 'y' }));
    expect(err.message).toMatch(/^Invalid query parameters: limit: .*; max_retries: /);
    expect(err.details).toEqual({ param: ['limit', 'max_retries'] });
  });

  it('rejects a window that ends before it starts', () => {
    const err = thrown(() => parseTracesQuery({ from_timestamp: '2026-01-02T00:00:00Z', to_timestamp: '2026-01-01T00:00:00Z' }));
    expect(err.code).toBe(GatewayErrorCode.InvalidQuery);
    expect(err.message).toContain('from_timestamp');
  });
});

describe('rolloutIdsOf', () => {
  it('finds the rollouts among other tags, each once', () => {
    expect(rolloutIdsOf(parseTracesQuery({ tags: ['row_id:w', 'rollout_id:r-1', 'rollout_id:r-1'] }))).toEqual(['r-1']);
    expect(rolloutIdsOf(parseTracesQuery({ tags: ['rollout_id:a', 'rollout_id:b'] }))).toEqual(['a', 'b']);
  });

  it('none for a plain tag-filtered read', () => {
    expect(rolloutIdsOf(parseTracesQuery({ tags: 'experiment_id:e1' }))).toEqual([]);
  });

  it.each([[{}], [{ tags: 'rollout_id:' }]])('%j → 400 that says how to fix it', (raw) => {
    const err = thrown(() => rolloutIdsOf(parseTracesQuery(raw)));
    expect(err.code).toBe(GatewayErrorCode.MissingRolloutTag);
    expect(err.status).toBe(400);
    expect(err.message).toContain('?tags=rollout_id:');
  });
});
