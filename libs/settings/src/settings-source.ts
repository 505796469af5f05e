import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { knownSettingNames, SettingInfo, settingsOf } from './setting.decorator';

export type SettingValue = string | number | boolean;

export interface SettingsModuleOptions {
  /**
   * Settings from code, by their environment variable names
   * (`{ REDIS_URL: 'redis://…', LANGFUSE_EXPORT: false }`). They win over the
   * environment.
   */
  settings?: Readonly<Record<string, SettingValue | undefined>>;
  /** Where the other settings come from: `process.env` by default; `{}` for the defaults alone. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Invalid settings: one line per problem, each naming the variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The settings of one gateway instance: code settings over the environment.
 * Each lib loads its own `@Settings` class from it (settingsProvider), so two
 * gateways in one process can run with different settings, and nothing reads
 * `process.env` behind the source's back.
 */
export class SettingsSource {
  private readonly overrides: Readonly<Record<string, SettingValue | undefined>>;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly loaded = new Map<abstract new () => object, object>();

  constructor(options: SettingsModuleOptions = {}) {
    this.overrides = options.settings ?? {};
    this.env = options.env ?? process.env;
    const known = knownSettingNames();
    const unknown = Object.keys(this.overrides).filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw new ConfigError(unknown.map((name) => `${name}: not a setting of the gateway (code settings use the environment variable names, e.g. REDIS_URL)`));
    }
  }

  /** The validated settings of one class; a bad value throws ConfigError naming it. */
  load<T extends object>(cls: new () => T): T {
    let settings = this.loaded.get(cls) as T | undefined;
    if (!settings) {
      const infos = settingsOf(cls);
      const raw: Record<string, unknown> = {};
      for (const { name } of infos) {
        const value = this.overrides[name] !== undefined ? this.overrides[name] : this.env[name];
        if (value !== undefined && value !== '') raw[name] = value;
      }
      settings = validateSettings(cls, raw, infos);
      this.loaded.set(cls, settings);
    }
    return settings;
  }
}

/** Validates raw values against a settings class (also usable without a source, e.g. in unit specs). */
export function validateSettings<T extends object>(cls: new () => T, raw: Record<string, unknown>, infos: SettingInfo[] = settingsOf(cls)): T {
  const instance = plainToInstance(cls, raw, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(instance, { whitelist: false, skipMissingProperties: false });
  if (errors.length > 0) {
    const sensitive = new Set(infos.filter((s) => s.sensitive).map((s) => s.name));
    throw new ConfigError(errors.map((e) => describe(e, raw[e.property], sensitive.has(e.property))));
  }
  return instance;
}

/** One line per setting, with the value as it was given (not as converted), unless it is sensitive. */
function describe(e: ValidationError, given: unknown, sensitive: boolean): string {
  const constraints = Object.values(e.constraints ?? {}).join('; ');
  return `${e.property}: ${constraints} (got ${sensitive ? 'a value not shown here' : JSON.stringify(given)})`;
}
