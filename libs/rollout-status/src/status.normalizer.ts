import { GatewayError, GatewayErrorCode } from '@app/common';
import { RolloutStatus, STATUS_FINISHED, STATUS_RUNNING } from './rollout-log.entry';

/**
 * Words older SDKs sent as `status: "<word>"` when no `metadata.status_code`
 * came with them, mapped to eval-protocol's codes (google.rpc.Code + 100/101).
 */
const STATUS_WORDS: Record<string, number> = {
  running: STATUS_RUNNING,
  finished: STATUS_FINISHED,
  completed: STATUS_FINISHED,
  error: 13,
  failed: 13,
  cancelled: 1,
  canceled: 1,
  stopped: 1,
  aborted: 10,
};

const SHAPES =
  'send status as {code, message, details}, {status_code, status_message, status_details}, or a word with metadata.status_code/status_message/status_details';

/**
 * Normalises the three shapes eval-protocol SDK versions have posted to
 * `/logs` into `{code, message, details}`; null when the entry carries no status:
 * - `status: {code, message, details}` (current);
 * - `status: {status_code, status_message, status_details}`;
 * - `status: "<word>"` (or null) with `metadata.status_code` / `status_message` / `status_details`.
 * Throws a 400 naming the field for anything else.
 */
export function normalizeStatus(status: unknown, metadata?: unknown): RolloutStatus | null {
  const meta = isPlainObject(metadata) ? metadata : {};
  if (status === undefined || status === null) {
    if (meta.status_code === undefined || meta.status_code === null) return null;
    return fromParts('metadata.status_code', meta.status_code, meta.status_message, meta.status_details, 'metadata');
  }
  if (typeof status === 'string') {
    if (meta.status_code !== undefined && meta.status_code !== null) {
      return fromParts('metadata.status_code', meta.status_code, meta.status_message, meta.status_details, 'metadata');
    }
    const word = status.trim().toLowerCase();
    // Own keys only: "constructor" or "__proto__" is not a status word.
    const code = Object.hasOwn(STATUS_WORDS, word) ? STATUS_WORDS[word] : undefined;
    if (code === undefined) {
      throw bad(
        `status "${truncate(status)}" comes without metadata.status_code and is not a known word (${Object.keys(STATUS_WORDS).join(', ')}); ${SHAPES}.`,
      );
    }
    return fromParts('status', code, meta.status_message ?? status, meta.status_details, 'metadata');
  }
  if (isPlainObject(status)) {
    if (status.code !== undefined && status.code !== null) {
      return fromParts('status.code', status.code, status.message ?? status.status_message, status.details ?? status.status_details, 'status');
    }
    if (status.status_code !== undefined && status.status_code !== null) {
      return fromParts('status.status_code', status.status_code, status.status_message ?? status.message, status.status_details ?? status.details, 'status');
    }
    throw bad(`status has no code; ${SHAPES}.`);
  }
  throw bad(`status must be an object, a string or null (got ${Array.isArray(status) ? 'an array' : typeof status}); ${SHAPES}.`);
}

function fromParts(codeField: string, code: unknown, message: unknown, details: unknown, parent: string): RolloutStatus {
  return {
    code: toCode(codeField, code),
    message: toMessage(`${parent}.${parent === 'metadata' ? 'status_message' : 'message'}`, message),
    details: details === undefined || details === null ? [] : details,
  };
}

function toCode(field: string, value: unknown): number {
  const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw bad(`${field} must be a non-negative integer such as 101 (running) or 100 (finished); got ${truncate(JSON.stringify(value) ?? String(value))}.`);
  }
  return n;
}

function toMessage(field: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw bad(`${field} must be a string.`);
  return value;
}

function bad(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.BadRequest, `Invalid log entry: ${message}`);
}

function truncate(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
