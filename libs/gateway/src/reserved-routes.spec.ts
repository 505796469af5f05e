import type { OpenAPIObject } from '@nestjs/swagger';
import { allowedMethods, isDocsPath, ReservedRoutes } from './reserved-routes';

const ok = { responses: { 200: { description: '' } } };
const document: OpenAPIObject = {
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  paths: {
    '/v1/traces': { get: ok },
    '/logs': { get: ok, post: ok },
    '/project_id/{project_id}/logs': { get: ok, post: ok },
    '/rollouts/{rollout_id}': { get: ok },
    '/project_id/{project_id}/chat/completions': { post: ok },
    '/project_id/{project_id}/traces': { get: ok },
    '/files/{name}.json': { get: ok },
  },
};
const routes = ReservedRoutes.fromDocument(document);
const at = (path: string) => {
  const m = routes.methodsAt(path);
  return m && [...m].sort();
};

it('reads each documented path with its methods', () => {
  expect(at('/v1/traces')).toEqual(['GET']);
  expect(at('/logs')).toEqual(['GET', 'POST']);
  expect(at('/rollouts/r-1')).toEqual(['GET']);
});

it('a {param} is exactly one non-empty segment', () => {
  expect(at('/rollouts/a%2Fb')).toEqual(['GET']);
  expect(at('/rollouts/a/b')).toBeUndefined();
  expect(at('/rollouts/')).toBeUndefined();
  expect(at('/rollouts')).toBeUndefined();
  expect(at('/project_id//logs')).toBeUndefined();
});

it('matches literals case-insensitively and ignores one trailing slash, as Express does', () => {
  expect(at('/V1/Traces')).toEqual(['GET']);
  expect(at('/v1/traces/')).toEqual(['GET']);
  expect(at('/v1/traces//')).toBeUndefined();
  expect(at('/PROJECT_ID/Proj-A/LOGS')).toEqual(['GET', 'POST']);
});

it('a segment that mixes a parameter with text matches by pattern', () => {
  expect(at('/files/report.json')).toEqual(['GET']);
  expect(at('/files/report.JSON')).toEqual(['GET']);
  expect(at('/files/report.txt')).toBeUndefined();
});

it('leaves every other path to the catch-all', () => {
  for (const path of ['/v1/models', '/v1/embeddings', '/', '/v1', '/traces', '/v1/traces/extra', '/project_id/p']) expect(at(path)).toBeUndefined();
});

it('a literal and a parameter at the same place both count (the union of their methods)', () => {
  const r = new ReservedRoutes().add('/a/{id}', ['get']).add('/a/new', ['post']);
  expect([...r.methodsAt('/a/new')!].sort()).toEqual(['GET', 'POST']);
  expect([...r.methodsAt('/a/x')!]).toEqual(['GET']);
});

it('Allow lists HEAD wherever GET is', () => {
  expect(allowedMethods(new Set(['POST']))).toEqual(['POST']);
  expect(allowedMethods(new Set(['POST', 'GET']))).toEqual(['GET', 'HEAD', 'POST']);
});

it('knows the docs paths, whatever their case', () => {
  for (const path of ['/openapi.json', '/OpenAPI.json', '/docs', '/docs/', '/docs/swagger-ui.css', '/docs-json', '/docs-yaml/']) expect(isDocsPath(path)).toBe(true);
  for (const path of ['/v1/openapi.json', '/documents', '/docsx', '/v1/docs', '/openapi.yaml']) expect(isDocsPath(path)).toBe(false);
});
