/**
 * Transforms for settings: environment values are strings, code settings
 * are typed. Each leaves anything it cannot read as it is, for the validator
 * to reject with the setting's name.
 */

/**
 * `true/false/1/0/yes/no/on/off` → boolean. Reads the raw value from the
 * source object: with enableImplicitConversion, class-transformer has
 * already turned `value` into Boolean("false") === true by the time a
 * @Transform runs.
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

/** Lower-cases a string (enumerated settings such as LOG_LEVEL=INFO). */
export function toLowerCase({ value }: { value: unknown }): unknown {
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i;

/** `32mb` → 33554432. */
export function parseByteSize(size: string): number {
  const m = BYTE_SIZE.exec(size.trim());
  if (!m) throw new Error(`Invalid size ${size}`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(parseFloat(m[1]) * mult);
}
