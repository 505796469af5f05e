import { GatewayErrorCode } from '@app/common';
import { normalizeStatus } from './status.normalizer';
import { thrown } from '../../../test/support/thrown';

const details = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'TERMINATION_REASON', metadata: { termination_reason: 'stop' } }];


describe('normalizeStatus', () => {
  it('current SDK: status {code, message, details}', () => {
    expect(normalizeStatus({ code: 100, message: 'Rollout finished', details })).toEqual({ code: 100, message: 'Rollout finished', details });
  });

  it('earlier SDK: status {status_code, status_message, status_details}', () => {
    expect(normalizeStatus({ status_code: 101, status_message: 'Rollout is running', status_details: [] })).toEqual({
      code: 101,
      message: 'Rollout is running',
      details: [],
    });
  });

  it('oldest SDK: status "<word>" with metadata.status_code / status_message / status_details', () => {
    expect(normalizeStatus('finished', { status_code: 13, status_message: 'boom', status_details: details })).toEqual({ code: 13, message: 'boom', details });
  });

  it('oldest SDK without status: metadata alone still carries the status', () => {
    expect(normalizeStatus(null, { status_code: 101 })).toEqual({ code: 101, message: '', details: [] });
  });

  it('a known word without metadata maps to the eval-protocol code', () => {
    expect(normalizeStatus('running')).toEqual({ code: 101, message: 'running', details: [] });
    expect(normalizeStatus('Finished')).toEqual({ code: 100, message: 'Finished', details: [] });
    expect(normalizeStatus('error', { status_message: 'bad' })).toEqual({ code: 13, message: 'bad', details: [] });
  });

  it('no status → null', () => {
    expect(normalizeStatus(null)).toBeNull();
    expect(normalizeStatus(undefined, { other: 1 })).toBeNull();
  });

  it('missing message and details default to "" and []; an integer string code is accepted', () => {
    expect(normalizeStatus({ code: '101' })).toEqual({ code: 101, message: '', details: [] });
  });

  it('rejects a status without a code, naming the accepted shapes', () => {
    const e = thrown(() => normalizeStatus({ message: 'x' }));
    expect(e.code).toBe(GatewayErrorCode.BadRequest);
    expect(e.message).toMatch(/status has no code; send status as \{code, message, details\}/);
  });

  it('rejects a non-integer code and names the field', () => {
    expect(thrown(() => normalizeStatus({ code: 1.5 })).message).toMatch(/status\.code must be a non-negative integer/);
    expect(thrown(() => normalizeStatus({ status_code: 'done' })).message).toMatch(/status\.status_code must be a non-negative integer/);
    expect(thrown(() => normalizeStatus('x', { status_code: -1 })).message).toMatch(/metadata\.status_code must be a non-negative integer/);
  });

  it('rejects an unknown word without metadata.status_code', () => {
    expect(thrown(() => normalizeStatus('sleepy')).message).toMatch(/status "sleepy" comes without metadata\.status_code and is not a known word/);
    for (const word of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(thrown(() => normalizeStatus(word)).message).toMatch(new RegExp(`status "${word}" comes without metadata\\.status_code and is not a known word`));
    }
  });

  it('rejects a message that is not a string, and other status types', () => {
    expect(thrown(() => normalizeStatus({ code: 1, message: 3 })).message).toMatch(/status\.message must be a string/);
    expect(thrown(() => normalizeStatus([101])).message).toMatch(/status must be an object, a string or null \(got an array\)/);
    expect(thrown(() => normalizeStatus(101)).message).toMatch(/got number/);
  });
});
