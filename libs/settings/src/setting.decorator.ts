import 'reflect-metadata';

/** What the docs say about one setting (the environment variable of the same name). */
export interface SettingInfo {
  /** The environment variable, which is also the property name and the key in code settings. */
  name: string;
  /** One line for README and .env.example. */
  doc: string;
  /** The default as the docs show it, when the field initializer can't say it (computed defaults). */
  defaultDoc?: string;
  /** Never echoed back in a start-up error (passwords, URLs that may carry one). */
  sensitive?: boolean;
}

export interface SettingsGroupInfo {
  /** Heading in the docs. */
  title: string;
  /** Position in the docs (lower first). */
  order: number;
  settings: SettingInfo[];
}

type SettingsClass = abstract new () => object;

const groups = new Map<SettingsClass, SettingsGroupInfo>();
const pending = new WeakMap<object, SettingInfo[]>();

/**
 * Marks a class as one lib's settings: every property decorated with
 * `@Setting` is read from code settings, else from the environment variable
 * of the same name, and validated with the class-validator decorators beside
 * it (settings-source.ts). The class is the single definition of its
 * settings: the docs (.env.example, the README table) are generated from it.
 */
export function Settings(title: string, order: number): ClassDecorator {
  return (target) => {
    groups.set(target as unknown as SettingsClass, { title, order, settings: pending.get(target.prototype) ?? [] });
  };
}

/** One setting of a `@Settings` class; see Settings. */
export function Setting(doc: string, options: Omit<SettingInfo, 'name' | 'doc'> = {}): PropertyDecorator {
  return (prototype, property) => {
    const list = pending.get(prototype) ?? [];
    list.push({ name: String(property), doc, ...options });
    pending.set(prototype, list);
  };
}

/** The settings a class declares (empty for a class without `@Settings`). */
export function settingsOf(cls: SettingsClass): SettingInfo[] {
  return groups.get(cls)?.settings ?? [];
}

/** Every settings class loaded so far, in docs order. */
export function settingsGroups(): Array<SettingsGroupInfo & { cls: SettingsClass }> {
  return [...groups].map(([cls, info]) => ({ cls, ...info })).sort((a, b) => a.order - b.order);
}

/** Every setting name loaded so far. */
export function knownSettingNames(): Set<string> {
  return new Set([...groups.values()].flatMap((g) => g.settings.map((s) => s.name)));
}
