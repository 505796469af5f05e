/**
 * The JSON `filter` query parameter of Langfuse's public API
 * (packages/shared/src/interfaces/filters.ts: singleFilter / eventsTableSingleFilter),
 * evaluated in memory, plus the merge with simple query-parameter filters
 * (public-api-filter-builder.ts deriveFilters: an advanced filter on the same
 * column drops the simple filter on that column; all others are ANDed).
 */
import { HttpError, invalidRequest, zodLike } from './http-util';

export const FILTER_OPERATORS = {
  datetime: ['>', '<', '>=', '<='],
  string: ['=', 'contains', 'does not contain', 'starts with', 'ends with'],
  stringOptions: ['any of', 'none of'],
  categoryOptions: ['any of', 'none of'],
  arrayOptions: ['any of', 'none of', 'all of'],
  number: ['=', '>', '<', '>=', '<='],
  stringObject: ['=', 'contains', 'does not contain', 'starts with', 'ends with'],
  numberObject: ['=', '>', '<', '>=', '<='],
  booleanObject: ['=', '<>'],
  boolean: ['=', '<>'],
  null: ['is null', 'is not null'],
  positionInTrace: ['='],
} as const;

export type FilterType = keyof typeof FILTER_OPERATORS;

export interface FilterCondition {
  type: FilterType;
  column: string;
  operator: string;
  value?: unknown;
  key?: string;
}

export type ColumnKind = 'string' | 'datetime' | 'number' | 'boolean' | 'array' | 'object';

export interface ColumnDef<T> {
  kind: ColumnKind;
  /** Physical column identity, used for the simple-vs-advanced precedence rule. */
  field: string;
  get(row: T): unknown;
  /** Column accepts the `matches` operator (v2: input, output, metadata). */
  matches?: 'ci' | 'cs';
}

export type Predicate<T> = (row: T) => boolean;

const COMPATIBLE: Record<ColumnKind, FilterType[]> = {
  string: ['string', 'stringOptions', 'null'],
  datetime: ['datetime', 'null'],
  number: ['number', 'null'],
  boolean: ['boolean', 'null'],
  array: ['arrayOptions', 'null'],
  object: ['stringObject', 'numberObject', 'categoryOptions', 'booleanObject', 'null'],
};

const EXPECTED: Record<ColumnKind, string> = {
  string: 'string',
  datetime: 'datetime',
  number: 'number',
  boolean: 'boolean',
  array: 'arrayOptions',
  object: 'stringObject',
};

/**
 * Parses and validates the `filter` parameter (JSON array of conditions).
 * `allowMatches` adds the events-table `matches` operator (v2 observations only).
 */
export function parseFilterParam(raw: string | undefined, allowMatches: boolean): FilterCondition[] {
  if (raw === undefined || raw === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalidRequest('Invalid JSON in filter parameter');
  }
  if (!Array.isArray(parsed)) throw zodLike(['filter'], 'Expected array, received ' + typeof parsed, 'invalid_type');
  return parsed.map((item, i) => validateCondition(item, i, allowMatches));
}

function validateCondition(item: unknown, i: number, allowMatches: boolean): FilterCondition {
  const path = (...p: Array<string | number>) => ['filter', i, ...p];
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw zodLike(path(), 'Expected object', 'invalid_type');
  }
  const c = item as Record<string, unknown>;
  const type = c.type as FilterType;
  if (typeof type !== 'string' || !(type in FILTER_OPERATORS)) {
    throw zodLike(path('type'), `Invalid discriminator value. Expected ${Object.keys(FILTER_OPERATORS).join(' | ')}`, 'invalid_union');
  }
  if (typeof c.column !== 'string') throw zodLike(path('column'), 'Expected string', 'invalid_type');
  const ops: readonly string[] = FILTER_OPERATORS[type];
  const operator = c.operator;
  const matchesAllowed = allowMatches && (type === 'string' || type === 'stringObject') && operator === 'matches';
  if (typeof operator !== 'string' || (!ops.includes(operator) && !matchesAllowed)) {
    throw zodLike(path('operator'), `Invalid enum value. Expected ${ops.map((o) => `'${o}'`).join(' | ')}`, 'invalid_value');
  }
  const v = c.value;
  const bad = (msg: string) => zodLike(path('value'), msg, 'invalid_type');
  switch (type) {
    case 'datetime':
      if ((typeof v !== 'string' && typeof v !== 'number') || Number.isNaN(new Date(v).getTime())) throw bad('Invalid date');
      break;
    case 'string':
    case 'stringObject':
      if (typeof v !== 'string') throw bad('Expected string');
      break;
    case 'number':
    case 'numberObject':
      if (typeof v !== 'number') throw bad('Expected number');
      break;
    case 'boolean':
    case 'booleanObject':
      if (typeof v !== 'boolean') throw bad('Expected boolean');
      break;
    case 'stringOptions':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('Expected array of strings');
      if (v.length === 0) throw zodLike(path('value'), 'Invalid input', 'custom');
      break;
    case 'categoryOptions':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('Expected array of strings');
      break;
    case 'arrayOptions':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad('Expected array of strings');
      if (v.length === 0 && operator === 'any of') {
        throw zodLike(
          path(),
          "Value array must not be empty unless operator is 'all of' or 'none of' (which represent waiting for selection)",
        );
      }
      break;
    case 'null':
      if (v !== '' && v !== undefined) throw zodLike(path('value'), 'Invalid literal value, expected ""', 'invalid_literal');
      break;
    case 'positionInTrace':
      break;
  }
  if ((type === 'stringObject' || type === 'numberObject' || type === 'booleanObject' || type === 'categoryOptions') &&
    typeof c.key !== 'string') {
    throw zodLike(path('key'), 'Required', 'invalid_type');
  }
  return { type, column: c.column, operator, value: v, key: typeof c.key === 'string' ? c.key : undefined };
}

function strOp(operator: string, actual: string, expected: string, matches?: 'ci' | 'cs'): boolean {
  switch (operator) {
    case '=':
      return actual === expected;
    case 'contains':
      return actual.includes(expected);
    case 'does not contain':
      return !actual.includes(expected);
    case 'starts with':
      return actual.startsWith(expected);
    case 'ends with':
      return actual.endsWith(expected);
    case 'matches':
      return matches === 'ci' ? actual.toLowerCase().includes(expected.toLowerCase()) : actual.includes(expected);
    default:
      return false;
  }
}

function numOp(operator: string, actual: number, expected: number): boolean {
  switch (operator) {
    case '=':
      return actual === expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
    default:
      return false;
  }
}

function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Compiles one validated condition against a column table. */
export function compileCondition<T>(cond: FilterCondition, columns: Record<string, ColumnDef<T>>): {
  field: string;
  predicate: Predicate<T>;
} {
  const col = columns[cond.column];
  if (!col) {
    throw invalidRequest(
      `Invalid filter column '${cond.column}'. Columns supported (by this fake): ${Object.keys(columns).join(', ')}`,
    );
  }
  if (cond.type === 'positionInTrace') return { field: col.field, predicate: () => true };
  if (!COMPATIBLE[col.kind].includes(cond.type)) {
    throw invalidRequest(
      `Invalid filter type '${cond.type}' for column '${cond.column}'. Expected filter type '${EXPECTED[col.kind]}'.`,
    );
  }
  if (cond.operator === 'matches' && !col.matches) {
    throw invalidRequest(`The 'matches' operator is only supported for input, output and metadata filters.`);
  }
  const op = cond.operator;
  const v = cond.value;
  let predicate: Predicate<T>;
  switch (cond.type) {
    case 'null':
      predicate = (row) => {
        const value = col.get(row);
        const isNull = value === null || value === undefined || value === '';
        return op === 'is null' ? isNull : !isNull;
      };
      break;
    case 'string':
      predicate = (row) => {
        const value = col.get(row);
        if (op === 'does not contain' && (value === null || value === undefined)) return true;
        return strOp(op, asText(value), v as string, col.matches);
      };
      break;
    case 'stringOptions': {
      const set = new Set(v as string[]);
      predicate = (row) => (op === 'any of' ? set.has(asText(col.get(row))) : !set.has(asText(col.get(row))));
      break;
    }
    case 'arrayOptions': {
      const wanted = v as string[];
      predicate = (row) => {
        const raw = col.get(row);
        const have = new Set(Array.isArray(raw) ? raw.map(String) : []);
        if (op === 'all of') return wanted.every((w) => have.has(w));
        const any = wanted.some((w) => have.has(w));
        return op === 'any of' ? any : !any;
      };
      break;
    }
    case 'datetime': {
      const expected = new Date(v as string | number).getTime();
      predicate = (row) => {
        const raw = col.get(row);
        if (raw === null || raw === undefined) return false;
        const actual = typeof raw === 'number' ? raw : Date.parse(String(raw));
        return !Number.isNaN(actual) && numOp(op, actual, expected);
      };
      break;
    }
    case 'number':
      predicate = (row) => {
        const raw = col.get(row);
        return typeof raw === 'number' && numOp(op, raw, v as number);
      };
      break;
    case 'boolean':
      predicate = (row) => (op === '=' ? col.get(row) === v : col.get(row) !== v);
      break;
    case 'stringObject':
    case 'numberObject':
    case 'booleanObject':
    case 'categoryOptions': {
      const key = cond.key as string;
      predicate = (row) => {
        const obj = col.get(row) as Record<string, unknown> | undefined;
        const raw = obj ? obj[key] : undefined;
        if (cond.type === 'stringObject') {
          if (raw === undefined) return op === 'does not contain';
          return strOp(op, asText(raw), v as string, col.matches);
        }
        if (cond.type === 'numberObject') {
          const n = typeof raw === 'number' ? raw : Number(raw);
          return raw !== undefined && !Number.isNaN(n) && numOp(op, n, v as number);
        }
        if (cond.type === 'booleanObject') {
          const b = raw === true || raw === 'true';
          return op === '=' ? raw !== undefined && b === v : raw === undefined || b !== v;
        }
        const set = new Set(v as string[]);
        return op === 'any of' ? set.has(asText(raw)) : !set.has(asText(raw));
      };
      break;
    }
    default:
      throw new HttpError(400, { message: `Unsupported filter type '${String(cond.type)}'` });
  }
  return { field: col.field, predicate };
}

export interface SimpleFilter<T> {
  field: string;
  predicate: Predicate<T>;
}

/** deriveFilters: advanced filters first; a simple filter is dropped when an advanced one targets its field. */
export function deriveFilters<T>(
  simple: SimpleFilter<T>[],
  advanced: FilterCondition[],
  columns: Record<string, ColumnDef<T>>,
): Predicate<T>[] {
  const compiled = advanced.map((c) => compileCondition(c, columns));
  const advancedFields = new Set(compiled.map((c) => c.field));
  return [
    ...compiled.map((c) => c.predicate),
    ...simple.filter((s) => !advancedFields.has(s.field)).map((s) => s.predicate),
  ];
}
