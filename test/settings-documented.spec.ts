/**
 * Every environment variable a config namespace reads is documented where an
 * operator looks: a line in .env.example and a row in the README's
 * configuration table (rows may abbreviate siblings as `A_B_C` / `_D`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const NOT_OURS = new Set(['NODE_ENV']);

function settingsRead(): string[] {
  const names = new Set<string>();
  for (const lib of readdirSync(join(ROOT, 'libs'))) {
    const dir = join(ROOT, 'libs', lib, 'src');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.config.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/process\.env\.([A-Z0-9_]+)/g)) if (!NOT_OURS.has(m[1])) names.add(m[1]);
    }
  }
  return [...names].sort();
}

/** Names in backticks in the README, with `_SUFFIX` abbreviations expanded against the row's first full name. */
function readmeNames(): Set<string> {
  const names = new Set<string>();
  for (const line of readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n')) {
    const tokens = [...line.matchAll(/`([A-Z_][A-Z0-9_]*)`/g)].map((m) => m[1]);
    const full = tokens.find((t) => !t.startsWith('_'));
    for (const t of tokens) {
      if (!t.startsWith('_')) names.add(t);
      else if (full) {
        const at = full.indexOf(t.split('_')[1] ? `_${t.split('_')[1]}` : t);
        if (at > 0) names.add(full.slice(0, at) + t);
      }
    }
  }
  return names;
}

const settings = settingsRead();
const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');
const readme = readmeNames();

it('finds the settings (the scan works)', () => {
  expect(settings).toEqual(expect.arrayContaining(['PORT', 'REDIS_URL', 'CHAT_DIRECT_ROUTE', 'LANGFUSE_READ_API']));
});

it.each(settings)('%s is in .env.example and in the README', (name) => {
  expect(envExample).toMatch(new RegExp(`^#?\\s*${name}=`, 'm'));
  expect(readme.has(name)).toBe(true);
});
