import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';

/**
 * Validates one config namespace read from the environment. A bad value stops
 * start-up with one line per problem, naming the variable.
 */
export function validateConfig<T extends object>(
  cls: new () => T,
  raw: Record<string, unknown>,
): T {
  const cleaned: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined && v !== '') cleaned[k] = v;
  }
  const instance = plainToInstance(cls, cleaned, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: false, skipMissingProperties: false });
  if (errors.length > 0) throw new ConfigError(errors.map(describe));
  return instance;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function describe(e: ValidationError): string {
  const constraints = Object.values(e.constraints ?? {}).join('; ');
  return `${e.property}: ${constraints} (got ${JSON.stringify(e.value)})`;
}

/**
 * `true/false/1/0/yes/no/on/off` → boolean; anything else is left for the
 * validator to reject. Reads the raw string from the source object: with
 * enableImplicitConversion, class-transformer has already turned `value`
 * into Boolean("false") === true by the time a @Transform runs.
 */
export function toBool({ value, key, obj }: { value: unknown; key?: string; obj?: Record<string, unknown> }): unknown {
  const raw = obj && key !== undefined && key in obj ? obj[key] : value;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw !== 'string') return raw;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return raw;
}
