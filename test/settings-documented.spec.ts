/**
 * Every setting is defined once, in its lib's settings class; .env.example
 * and the README's configuration tables are generated from those classes
 * (npm run settings:docs) and must match them. Nothing reads an environment
 * variable of ours outside a settings class.
 */
import 'reflect-metadata';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import '@app/gateway';
import { renderEnvExample, settingsGroups, withSettingsTables } from '@app/settings';

const ROOT = join(__dirname, '..');
const names = settingsGroups().flatMap((g) => g.settings.map((s) => s.name));

it('finds the settings of every lib', () => {
  expect(names).toEqual(expect.arrayContaining(['PORT', 'REDIS_URL', 'CHAT_DIRECT_ROUTE', 'LANGFUSE_READ_API', 'LANGFUSE_EXPORT_WORKER', 'AUTH_PROVIDER', 'ROLLOUT_LOGS_MAX_ENTRIES']));
  expect(new Set(names).size).toBe(names.length);
});

it('.env.example is generated from the settings classes (run npm run settings:docs)', () => {
  expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toBe(renderEnvExample());
});

it('the README configuration tables are generated from the settings classes (run npm run settings:docs)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toBe(withSettingsTables(readme));
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) return sources(path);
    return f.endsWith('.ts') && !f.endsWith('.spec.ts') ? [path] : [];
  });
}

it('no lib reads one of its settings from process.env behind its settings class', () => {
  const offenders = sources(join(ROOT, 'libs')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/process\.env\.([A-Z0-9_]+)|process\.env\[['"]([A-Z0-9_]+)['"]\]/g)]
      .map((m) => m[1] ?? m[2])
      .filter((name) => names.includes(name))
      .map((name) => `${file.slice(ROOT.length + 1)}: ${name}`),
  );
  expect(offenders).toEqual([]);
});
