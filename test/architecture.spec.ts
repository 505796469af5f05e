/**
 * The layering the libs promise, checked on the sources: each lib is reached
 * only through its public index, the lib graph has no cycle, no module is
 * global, and an index exports a module, its ports and its types — not its
 * controllers.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const LIBS = join(__dirname, '..', 'libs');
const libs = readdirSync(LIBS).filter((d) => statSync(join(LIBS, d)).isDirectory());

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    if (statSync(path).isDirectory()) return sources(path);
    return f.endsWith('.ts') && !f.endsWith('.spec.ts') ? [path] : [];
  });
}

const files = libs.flatMap((lib) => sources(join(LIBS, lib, 'src')).map((file) => ({ lib, file, text: readFileSync(file, 'utf8') })));
const imports = (text: string) => [...text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);

it('finds the libs', () => {
  expect(libs).toEqual(expect.arrayContaining(['settings', 'redis', 'langfuse-export', 'completion-forwarding', 'gateway']));
});

it('a lib reaches another only through its public index (@app/<lib>), never a file inside it', () => {
  const offenders = files.flatMap(({ lib, file, text }) =>
    imports(text)
      .filter((spec) => /^@app\/[^/]+\/.+/.test(spec) || (spec.startsWith('.') && spec.includes('../') && !join(file, '..', spec).startsWith(join(LIBS, lib))))
      .map((spec) => `${relative(LIBS, file)} imports ${spec}`),
  );
  expect(offenders).toEqual([]);
});

it('the lib graph has no cycle', () => {
  const deps = new Map(libs.map((lib) => [lib, new Set<string>()]));
  for (const { lib, text } of files) {
    for (const spec of imports(text)) {
      const m = /^@app\/([^/]+)$/.exec(spec);
      if (m && m[1] !== lib) deps.get(lib)!.add(m[1]);
    }
  }
  const cycles: string[] = [];
  const visit = (lib: string, path: string[]) => {
    if (path.includes(lib)) return void cycles.push([...path.slice(path.indexOf(lib)), lib].join(' → '));
    for (const dep of deps.get(lib) ?? []) visit(dep, [...path, lib]);
  };
  for (const lib of libs) visit(lib, []);
  expect(cycles).toEqual([]);
});

it('no module is global: each lib module imports what it uses', () => {
  const offenders = files.filter(({ text }) => /@Global\(\)|global:\s*true|isGlobal:\s*true/.test(text)).map(({ file }) => relative(LIBS, file));
  expect(offenders).toEqual([]);
});

it('an index names what it exports and exports no controller', () => {
  for (const lib of libs) {
    const index = readFileSync(join(LIBS, lib, 'src', 'index.ts'), 'utf8');
    expect(index).not.toMatch(/export \* from/);
    expect(index).not.toMatch(/Controller\b/);
  }
});
