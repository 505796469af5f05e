/**
 * Unknown fields in Kubernetes objects: the schemas kubernetes-models compiles accept
 * any extra property (as the API's OpenAPI documents do), so a misspelt field such as
 * `readinesProbe` or `terminationGracePeriod` would pass them, and the API server would
 * reject it (kubectl's default --validate=strict) or drop it. This walks each object
 * against the package's TypeScript declarations of the same schemas, with the
 * TypeScript compiler's type checker, and names every field the type does not have.
 */
import { dirname, join } from 'node:path';
import ts from 'typescript';

export interface KubernetesObject {
  apiVersion: string;
  kind: string;
  [field: string]: unknown;
}

/** For each object, the paths of the fields its Kubernetes type does not declare. */
export function unknownFields(objects: KubernetesObject[]): string[][] {
  const root = dirname(require.resolve('kubernetes-models/package.json', { paths: [join(__dirname, '..', '..')] }));
  // One probe file naming each object's interface: `kubernetes-models/apps/v1/Deployment` declares `IDeployment`.
  const probe = join(root, '__fields_probe__.ts');
  const source = objects.map((o, i) => `import type { I${o.kind} as T${i} } from "kubernetes-models/${o.apiVersion}/${o.kind}";\ndeclare const v${i}: T${i};`).join('\n');
  const options: ts.CompilerOptions = { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => (f === probe ? source : readFile(f));
  host.fileExists = (f) => f === probe || fileExists(f);
  host.getSourceFile = (f, v, onError) => (f === probe ? ts.createSourceFile(f, source, v) : getSourceFile(f, v, onError));
  const program = ts.createProgram([probe], options, host);
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(probe)!;
  const declared = new Map<string, ts.Type>();
  file.forEachChild((node) => {
    if (ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) declared.set(d.name.getText(file), checker.getTypeAtLocation(d));
  });
  // A kind the package does not have: its import line (2 lines per object) does not resolve.
  const diagnostics = ts.getPreEmitDiagnostics(program, file);
  return objects.map((object, i) => {
    const type = declared.get(`v${i}`)!;
    const unresolved = diagnostics.filter((d) => d.start !== undefined && file.getLineAndCharacterOfPosition(d.start).line === 2 * i);
    if (unresolved.length > 0) return [`${object.apiVersion} ${object.kind}: ${ts.flattenDiagnosticMessageText(unresolved[0].messageText, ' ')}`];
    const found: string[] = [];
    walk(checker, object, type, '', found);
    return found;
  });
}

function walk(checker: ts.TypeChecker, value: unknown, type: ts.Type, path: string, found: string[]): void {
  if (value === null || typeof value !== 'object') return;
  const shape = objectPart(checker, type);
  if (!shape) return;
  if (Array.isArray(value)) {
    if (!checker.isArrayType(shape)) return;
    const element = checker.getTypeArguments(shape as ts.TypeReference)[0];
    value.forEach((v, i) => walk(checker, v, element, `${path}[${i}]`, found));
    return;
  }
  // A map (labels, annotations, ConfigMap data): any key, values of the index type.
  const index = checker.getIndexTypeOfType(shape, ts.IndexKind.String);
  for (const [key, v] of Object.entries(value)) {
    const prop = checker.getPropertyOfType(shape, key);
    const at = path ? `${path}.${key}` : key;
    if (prop) walk(checker, v, checker.getTypeOfSymbol(prop), at, found);
    else if (index) walk(checker, v, index, at, found);
    else found.push(at);
  }
}

/** The object (or array) type in an optional or union type; undefined for primitives and ambiguous unions. */
function objectPart(checker: ts.TypeChecker, type: ts.Type): ts.Type | undefined {
  const t = checker.getNonNullableType(type);
  const parts = t.isUnion() ? t.types.filter((p) => p.flags & ts.TypeFlags.Object) : t.flags & ts.TypeFlags.Object ? [t] : [];
  return parts.length === 1 ? parts[0] : undefined;
}
