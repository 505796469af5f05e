/**
 * Small HTTP helpers for the fake Langfuse server: error type with the body shapes
 * Langfuse's public API uses, query parsing and JSON parsing helpers.
 */

export type Query = Record<string, string | string[]>;

/** An error answered as JSON with the given status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : `HTTP ${status}`);
  }
}

/** Langfuse BaseError subclasses answer `{message, error: <ErrorName>}`. */
export function invalidRequest(message: string): HttpError {
  return new HttpError(400, { message, error: 'InvalidRequestError' });
}

export function notFound(message: string): HttpError {
  return new HttpError(404, { message, error: 'LangfuseNotFoundError' });
}

/** Zod validation failures answer `{message: "Invalid request data", error: issues}`. */
export function zodLike(path: Array<string | number>, message: string, code = 'custom'): HttpError {
  return new HttpError(400, {
    message: 'Invalid request data',
    error: [{ code, path, message }],
  });
}

export function parseQuery(searchParams: URLSearchParams): Query {
  const out: Query = {};
  for (const [key, value] of searchParams) {
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
  }
  return out;
}

/** A single-valued query parameter (repeating it is a validation error, as with zod's z.string()). */
export function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw zodLike([name], 'Expected string, received array', 'invalid_type');
  return v;
}

/** A parameter declared `allow-multiple` (string | string[]). */
export function multi(query: Query, name: string): string | string[] | undefined {
  return query[name];
}

/** `z.iso.datetime({ offset: true })`: ISO 8601 date-time with Z or a numeric offset. */
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function isoDateTimeParam(query: Query, name: string): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  if (!ISO_DATETIME.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw zodLike([name], 'Invalid ISO datetime', 'invalid_format');
  }
  return Date.parse(raw);
}

/**
 * Langfuse's parseJsonPrioritised: JSON-parse a stored string, fall back to the raw string.
 * (Langfuse preserves big-integer precision; plain JSON.parse is close enough here.)
 */
export function parseJsonPrioritised(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** The legacy API's rendering of stored input/output: '' / null → null, else parseJsonPrioritised. */
export function renderLegacyIo(value: string | null | undefined): unknown {
  if (!value) return null;
  return parseJsonPrioritised(value);
}

/** Legacy metadata round trip: top-level values are stored as strings and JSON-parsed on read. */
export function legacyMetadata(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value === null || value === undefined) {
      out[key] = null;
      continue;
    }
    const stored = typeof value === 'string' ? value : JSON.stringify(value);
    out[key] = parseJsonPrioritised(stored);
  }
  return out;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** lodash-style deep merge of plain objects (b wins), used for the trace metadata merge. */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue;
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
