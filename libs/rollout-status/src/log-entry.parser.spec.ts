import { GatewayErrorCode } from '@app/common';
import { parseLogEntry, severityOf } from './log-entry.parser';
import { thrown } from '../../../test/support/thrown';

const limits = { ROLLOUT_LOG_MAX_MESSAGE_CHARS: 100, ROLLOUT_LOG_MAX_TAGS: 4, ROLLOUT_LOG_MAX_ENTRY_BYTES: 2048 };

/** What eval_protocol's FireworksTracingHttpHandler posts. */
const sdkBody = (over: Record<string, unknown> = {}) => ({
  program: 'eval_protocol',
  status: { code: 101, message: 'Rollout is running', details: [] },
  message: 'Sending completion request',
  tags: ['rollout_id:r-1', 'experiment_id:e', 'run_id:u'],
  extras: { logger_name: 'remote_server.r-1', level: 'WARNING', timestamp: '2026-01-01T00:00:00.000000Z' },
  ...over,
});


describe('parseLogEntry', () => {
  it('accepts the SDK body, stamps the receive time and takes severity from extras.level', () => {
    const parsed = parseLogEntry(sdkBody(), limits, 1_700_000_000_000);
    expect(parsed.rolloutIds).toEqual(['r-1']);
    expect(parsed.entry).toEqual({
      id: expect.any(String),
      ts: 1_700_000_000_000,
      program: 'eval_protocol',
      message: 'Sending completion request',
      severity: 'WARNING',
      tags: ['rollout_id:r-1', 'experiment_id:e', 'run_id:u'],
      status: { code: 101, message: 'Rollout is running', details: [] },
      extras: sdkBody().extras,
    });
  });

  it('group-wise entries belong to every rollout their tags name', () => {
    expect(parseLogEntry(sdkBody({ tags: ['rollout_id:a', 'rollout_id:b', 'rollout_id:a'] }), limits).rolloutIds).toEqual(['a', 'b']);
  });

  it('normalises the old string status with metadata and keeps other metadata under extras.metadata', () => {
    const { entry } = parseLogEntry(sdkBody({ status: 'finished', metadata: { status_code: 100, status_message: 'done', attempt: 2 } }), limits);
    expect(entry.status).toEqual({ code: 100, message: 'done', details: [] });
    expect(entry.extras).toMatchObject({ level: 'WARNING', metadata: { attempt: 2 } });
  });

  it('status null, no program, no extras: INFO and nulls', () => {
    const { entry } = parseLogEntry({ message: 'hi', tags: ['rollout_id:r'], status: null }, limits);
    expect(entry).toMatchObject({ status: null, program: null, extras: null, severity: 'INFO' });
  });

  it('without a rollout_id tag → missing_rollout_tag', () => {
    const e = thrown(() => parseLogEntry(sdkBody({ tags: ['experiment_id:e', 'rollout_id:'] }), limits));
    expect(e.code).toBe(GatewayErrorCode.MissingRolloutTag);
    expect(e.message).toMatch(/at least one "rollout_id:<id>" tag/);
  });

  it('names the field when a type is wrong', () => {
    expect(thrown(() => parseLogEntry(sdkBody({ tags: 'rollout_id:r' }), limits)).message).toMatch(/tags must be an array/);
    expect(thrown(() => parseLogEntry(sdkBody({ message: 5 }), limits)).message).toMatch(/message must be a string/);
    expect(thrown(() => parseLogEntry(sdkBody({ tags: ['rollout_id:r', 7] }), limits)).message).toMatch(/each value in tags must be a string/);
    expect(thrown(() => parseLogEntry(sdkBody({ extras: ['x'] }), limits)).message).toMatch(/extras must be an object/);
    expect(thrown(() => parseLogEntry(sdkBody({ program: 1 }), limits)).message).toMatch(/program must be a string/);
    expect(thrown(() => parseLogEntry([], limits)).message).toMatch(/the body must be a JSON object/);
    expect(thrown(() => parseLogEntry(sdkBody({ message: undefined }), limits)).code).toBe(GatewayErrorCode.BadRequest);
  });

  it('names the limit when the message, the tag count or the entry is too large', () => {
    expect(thrown(() => parseLogEntry(sdkBody({ message: 'x'.repeat(101) }), limits)).message).toMatch(/message is 101 characters, more than ROLLOUT_LOG_MAX_MESSAGE_CHARS \(100\)/);
    expect(thrown(() => parseLogEntry(sdkBody({ tags: ['rollout_id:r', 'a', 'b', 'c', 'd'] }), limits)).message).toMatch(/tags has 5 entries, more than ROLLOUT_LOG_MAX_TAGS \(4\)/);
    expect(thrown(() => parseLogEntry(sdkBody({ extras: { blob: 'x'.repeat(3000) } }), limits)).message).toMatch(/bytes of JSON, more than ROLLOUT_LOG_MAX_ENTRY_BYTES \(2048\)/);
    expect(thrown(() => parseLogEntry(sdkBody({ tags: [`rollout_id:${'r'.repeat(257)}`] }), { ...limits, ROLLOUT_LOG_MAX_ENTRY_BYTES: 1e6 })).message).toMatch(/longer than 256/);
  });

  it('keys such as constructor, __proto__ and prototype are plain data wherever they are; no prototype changes', () => {
    // As JSON.parse builds them: "__proto__" is an own property, not the prototype.
    const body = JSON.parse(
      JSON.stringify(sdkBody({ status: 'running', metadata: { constructor: { prototype: { polluted: 1 } }, attempt: 1 } })).replace(
        '"extras":{',
        '"__proto__":{"polluted":1},"constructor":{"polluted":1},"extras":{"__proto__":{"level":"ERROR","polluted":1},"constructor":{"prototype":{"polluted":1}},',
      ),
    );
    const { entry } = parseLogEntry(body, { ...limits, ROLLOUT_LOG_MAX_ENTRY_BYTES: 1e6 });
    expect(entry.severity).toBe('WARNING');
    expect(Object.getPrototypeOf(entry.extras)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(entry.extras))).toEqual(
      JSON.parse('{"__proto__":{"level":"ERROR","polluted":1},"constructor":{"prototype":{"polluted":1}},"logger_name":"remote_server.r-1","level":"WARNING","timestamp":"2026-01-01T00:00:00.000000Z","metadata":{"constructor":{"prototype":{"polluted":1}},"attempt":1}}'),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('deeply nested extras are stored as they came, or refused with a 400 when they cannot be serialised', () => {
    const nest = (depth: number) => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    const big = { ...limits, ROLLOUT_LOG_MAX_ENTRY_BYTES: 1e7 };
    expect(parseLogEntry(sdkBody({ extras: nest(2000), metadata: { deep: nest(2000) } }), big).entry.extras).toMatchObject({ a: { a: {} } });
    const e = thrown(() => parseLogEntry(sdkBody({ extras: nest(100_000) }), big));
    expect(e.code).toBe(GatewayErrorCode.BadRequest);
    expect(e.message).toMatch(/nests too deeply/);
  });

  it('rejects a bad status with the status message', () => {
    expect(thrown(() => parseLogEntry(sdkBody({ status: { message: 'no code' } }), limits)).message).toMatch(/^Invalid log entry: status has no code/);
  });
});

describe('severityOf', () => {
  it('an explicit severity wins and must be known; aliases are canonicalised', () => {
    expect(severityOf('error', { level: 'INFO' })).toBe('ERROR');
    expect(severityOf('warn', undefined)).toBe('WARNING');
    expect(() => severityOf('LOUD', undefined)).toThrow(/severity "LOUD" is not one of DEFAULT, DEBUG, INFO/);
  });

  it('else the SDK level, else INFO (an unknown level does not fail the entry)', () => {
    expect(severityOf(undefined, { level: 'CRITICAL' })).toBe('CRITICAL');
    expect(severityOf(undefined, { level: 'Level 5' })).toBe('INFO');
    expect(severityOf(undefined, null)).toBe('INFO');
  });
});
