// Validates Kubernetes objects against the API's OpenAPI schemas, as compiled into the
// `kubernetes-models` package (types, formats, enums, required fields). That package is
// ESM-only, and the specs run as CommonJS under ts-jest: deployment-manifests.spec.ts
// runs this file with node, sends the objects as a JSON array on stdin and reads one
// result per object on stdout: { ok: true } or { ok: false, errors: [...] }.
import { readFileSync } from 'node:fs';

const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const object of objects) {
  const { apiVersion, kind } = object;
  // `v1` is the core group (kubernetes-models/v1/Service); `apps/v1` → kubernetes-models/apps/v1/Deployment.
  const specifier = `kubernetes-models/${apiVersion}/${kind}`;
  let Model;
  try {
    Model = (await import(specifier))[kind];
  } catch (err) {
    results.push({ ok: false, errors: [`no Kubernetes schema for ${apiVersion} ${kind} (${specifier}): ${err.message}`] });
    continue;
  }
  try {
    new Model(object).validate();
    results.push({ ok: true });
  } catch (err) {
    const details = Array.isArray(err.errors) ? err.errors.map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`) : [];
    results.push({ ok: false, errors: details.length > 0 ? details : [err.message] });
  }
}
process.stdout.write(JSON.stringify(results));
