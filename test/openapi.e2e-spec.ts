/**
 * The OpenAPI document the real gateway serves at /openapi.json (where the
 * eval-protocol SDK's validation script looks), checked against the gateway
 * itself: a structurally valid OpenAPI 3 document, every route Nest
 * registered in it with its methods, the /traces query as parseTracesQuery
 * accepts it, the chat body and headers, and security as the AuthProvider in
 * use reads credentials.
 */
import { Controller, Get, Param, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, ModulesContainer } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getMetadataStorage } from 'class-validator';
import { APP_GATEWAY_OPTIONS } from '../apps/gateway/src/app.module';
import { CatchAllController } from '../libs/completion-forwarding/src/catch-all.controller';
import { TracesQueryDto } from '../libs/trace-retrieval/src/traces-query';
import { json, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** An extra route, as a platform team adds one (README "Extending"). */
@Controller()
class ThingsController {
  @Get('things/:thing_id')
  thing(@Param('thing_id') id: string) {
    return { id };
  }
}

let gw: StartedGateway;
let doc: Doc;
beforeAll(async () => {
  gw = await startGateway({ REDIS_URL: testRedisUrl(), LITELLM_URL: 'http://127.0.0.1:9/v1' }, { ...APP_GATEWAY_OPTIONS, controllers: [ThingsController] });
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await res.json();
});
afterAll(() => gw.close());

/** What a small OpenAPI 3.0 validator would say (no dependency for it): the problems found, none when valid. */
function problems(d: Doc): string[] {
  const out: string[] = [];
  if (!/^3\.\d+\.\d+$/.test(String(d.openapi))) out.push(`openapi is ${d.openapi}`);
  if (typeof d.info?.title !== 'string' || !d.info.title || typeof d.info?.version !== 'string' || !d.info.version) out.push('info needs title and version');
  if (typeof d.paths !== 'object' || Object.keys(d.paths).length === 0) out.push('no paths');
  const schemes = new Set(Object.keys(d.components?.securitySchemes ?? {}));
  const checkSecurity = (where: string, security: unknown) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return void out.push(`${where}: security is not an array`);
    for (const req of security) for (const name of Object.keys(req)) if (!schemes.has(name)) out.push(`${where}: security names undeclared scheme ${name}`);
  };
  checkSecurity('document', d.security);
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Doc>(d.paths ?? {})) {
    if (!path.startsWith('/')) out.push(`${path}: does not start with /`);
    for (const key of Object.keys(item)) if (!METHODS.includes(key) && !['parameters', 'summary', 'description', 'servers'].includes(key)) out.push(`${path}: unknown member ${key}`);
    const templateParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method];
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.responses || Object.keys(op.responses).length === 0) out.push(`${where}: no responses`);
      for (const [status, response] of Object.entries<Doc>(op.responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) out.push(`${where}: response key ${status}`);
        if (typeof response.description !== 'string') out.push(`${where} ${status}: no description`);
      }
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) out.push(`${where}: duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const params: Doc[] = op.parameters ?? [];
      const seen = new Set<string>();
      for (const p of params) {
        if (!['path', 'query', 'header', 'cookie'].includes(p.in) || typeof p.name !== 'string') out.push(`${where}: bad parameter ${JSON.stringify(p)}`);
        if (seen.has(`${p.in}:${p.name}`)) out.push(`${where}: parameter ${p.in} ${p.name} twice`);
        seen.add(`${p.in}:${p.name}`);
        if (p.in === 'path' && p.required !== true) out.push(`${where}: path parameter ${p.name} not required`);
        if (p.in === 'path' && !templateParams.includes(p.name)) out.push(`${where}: path parameter ${p.name} is not in the path`);
        if (!p.schema && !p.content) out.push(`${where}: parameter ${p.name} has no schema`);
      }
      for (const name of templateParams) if (!params.some((p) => p.in === 'path' && p.name === name)) out.push(`${where}: {${name}} is not described`);
      checkSecurity(where, op.security);
    }
  }
  // Every $ref points at something.
  const walk = (node: unknown, at: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}[${i}]`));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') {
        if (resolve(d, String(v)) === undefined) out.push(`${at}: $ref ${v} does not resolve`);
      } else walk(v, `${at}.${k}`);
    }
  };
  walk(d, '#');
  return out;
}

function resolve(d: Doc, ref: string): Doc {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .reduce((node: Doc, key) => (node === undefined ? undefined : node[key.replace(/~1/g, '/').replace(/~0/g, '~')]), d);
}

/** `METHOD /path/{param}` of every handler Nest registered, read from the controllers' route metadata. */
function registeredRoutes(app: NestExpressApplication): string[] {
  const scanner = new MetadataScanner();
  const routes: string[] = [];
  for (const wrapper of new DiscoveryService(app.get(ModulesContainer)).getControllers()) {
    const type = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
    if (!type || type === CatchAllController) continue;
    const base = [Reflect.getMetadata(PATH_METADATA, type) ?? ''].flat() as string[];
    for (const name of scanner.getAllMethodNames(type.prototype)) {
      const handler = type.prototype[name];
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (paths === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      for (const b of base) for (const p of [paths].flat()) routes.push(`${method} ${`/${b}/${p}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1').replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

const documented = (d: Doc) => Object.entries<Doc>(d.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));

it('is a valid OpenAPI 3 document, the same at /openapi.json and /docs-json, with the UI at /docs', async () => {
  expect(problems(doc)).toEqual([]);
  expect(doc.info.title).toBe('Metadata Gateway');
  expect(await json(await fetch(`${gw.url}/docs-json`))).toEqual(doc);
  const ui = await fetch(`${gw.url}/docs`);
  expect(ui.status).toBe(200);
  expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
  // The catch-all is not an operation; the description says what it does.
  expect(Object.keys(doc.paths).some((p) => p.includes('{path}'))).toBe(false);
  expect(doc.info.description).toMatch(/proxied/i);
  expect(doc.info.description).toMatch(/405/);
});

it('names every route Nest registered (the catch-all aside) with its methods, and no other', () => {
  const registered = registeredRoutes(gw.app);
  // All the aliases: with and without /v1, project_id, trails, encoded_base_url; and the extra controller.
  expect(registered).toEqual(
    expect.arrayContaining([
      'GET /v1/traces/pointwise',
      'GET /v1/project_id/{project_id}/trails/{trail_id}/traces/pointwise',
      'POST /rollout_id/{rollout_id}/invocation_id/{invocation_id}/experiment_id/{experiment_id}/run_id/{run_id}/row_id/{row_id}/encoded_base_url/{encoded_base_url}/chat/completions',
      'POST /v1/project_id/{project_id}/trails/{trail_id}/chat/completions',
      'POST /logs',
      'GET /v1/logs',
      'GET /status',
      'GET /project_id/{project_id}/rollouts/{rollout_id}',
      'GET /health/ready',
      'GET /metrics',
      'GET /things/{thing_id}',
    ]),
  );
  expect(registered.length).toBeGreaterThan(50);
  expect(documented(doc).sort()).toEqual([...new Set(registered)].sort());
});

it('every operation documents its path parameters, its responses, and the error body for its errors', () => {
  const op = doc.paths['/v1/project_id/{project_id}/trails/{trail_id}/traces'].get;
  const pathParams = op.parameters.filter((p: Doc) => p.in === 'path');
  expect(pathParams.map((p: Doc) => p.name).sort()).toEqual(['project_id', 'trail_id']);
  for (const p of pathParams) expect(p.description).toEqual(expect.any(String));
  expect(doc.paths['/v1/traces'].get.parameters.filter((p: Doc) => p.in === 'path')).toEqual([]);
  for (const [path, item] of Object.entries<Doc>(doc.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      const responses = item[method].responses;
      expect([path, Object.keys(responses).some((s) => s.startsWith('2'))]).toEqual([path, true]);
      for (const [status, response] of Object.entries<Doc>(responses)) {
        if (Number(status) >= 400 && !(path.endsWith('ready') && status === '503')) {
          expect([path, status, response.content['application/json'].schema.$ref]).toEqual([path, status, '#/components/schemas/GatewayErrorBody']);
        }
      }
    }
  }
  const error = doc.components.schemas.GatewayErrorDetail;
  expect(error.required).toEqual(expect.arrayContaining(['message', 'type', 'code']));
  expect(error.properties.code.enum).toEqual(expect.arrayContaining(['method_not_allowed', 'invalid_query', 'incomplete_traces']));
  expect(Object.keys(doc.paths['/v1/traces'].get.responses).sort()).toEqual(['200', '400', '401', '403', '404', '502', '503']);
  expect(doc.paths['/v1/traces'].get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/TracesResponse');
  const trace = resolve(doc, resolve(doc, '#/components/schemas/TracesResponse').properties.traces.items.$ref);
  expect(Object.keys(trace.properties)).toEqual(
    expect.arrayContaining(['id', 'name', 'user_id', 'session_id', 'tags', 'timestamp', 'input', 'output', 'metadata', 'observations']),
  );
  expect(doc.paths['/health'].get.responses['200'].content['application/json'].example).toEqual({ status: 'healthy', service: 'metadata-proxy' });
  expect(doc.paths['/v1/logs'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/PostLogBody');
  expect(doc.paths['/v1/status'].get.parameters.find((p: Doc) => p.name === 'rollout_id')).toMatchObject({ in: 'query', required: true });
  expect(doc.paths['/v1/rollouts/{rollout_id}'].get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/RolloutProgressView');
});

it('the traces operations document every query parameter parseTracesQuery accepts, and only those', () => {
  // What the validator keeps (whitelist: true): the properties of TracesQueryDto with a validation rule.
  const accepted = [...new Set(getMetadataStorage().getTargetValidationMetadatas(TracesQueryDto, '', true, false).map((m) => m.propertyName))].sort();
  expect(accepted).toEqual(expect.arrayContaining(['tags', 'limit', 'sample_size', 'page', 'max_retries', 'sleep_between_gets', 'fields', 'from_timestamp', 'to_timestamp']));
  for (const path of ['/traces', '/v1/traces/pointwise', '/v1/project_id/{project_id}/traces', '/trails/{trail_id}/traces/pointwise']) {
    const query = doc.paths[path].get.parameters.filter((p: Doc) => p.in === 'query');
    expect([path, query.map((p: Doc) => p.name).sort()]).toEqual([path, accepted]);
    for (const p of query) expect([path, p.name, typeof p.description]).toEqual([path, p.name, 'string']);
  }
  const params = Object.fromEntries(doc.paths['/v1/traces'].get.parameters.map((p: Doc) => [p.name, p]));
  expect(params.tags.schema).toMatchObject({ type: 'array', items: { type: 'string' } });
  expect(params.limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1_000_000, default: 100 });
  expect(params.max_retries.schema).toMatchObject({ type: 'integer', minimum: 0, maximum: 20, default: 3 });
  expect(params.max_retries.description).toMatch(/reads in all/);
  expect(params.fields.description).toMatch(/never narrows/);
  expect(params.from_timestamp.schema).toMatchObject({ type: 'string', format: 'date-time' });
});

it('the chat operations document the request body and the x-insertion-id header', () => {
  const chatPaths = Object.keys(doc.paths).filter((p) => p.endsWith('/chat/completions'));
  expect(chatPaths).toHaveLength(16);
  expect(chatPaths).toEqual(expect.arrayContaining(['/chat/completions', '/v1/chat/completions', '/project_id/{project_id}/rollout_id/{rollout_id}/invocation_id/{invocation_id}/experiment_id/{experiment_id}/run_id/{run_id}/row_id/{row_id}/encoded_base_url/{encoded_base_url}/chat/completions']));
  for (const path of chatPaths) {
    const op = doc.paths[path].post;
    const body = op.requestBody.content['application/json'].schema;
    expect(body.additionalProperties).toBe(true);
    const request = resolve(doc, body.allOf[0].$ref);
    expect(Object.keys(request.properties)).toEqual(expect.arrayContaining(['model', 'messages', 'stream', 'metadata']));
    expect(request.required).toEqual(expect.arrayContaining(['model', 'messages']));
    expect(request.properties.metadata.properties.tags).toMatchObject({ type: 'array', items: { type: 'string' } });
    const ok = op.responses['200'];
    expect(Object.keys(ok.headers)).toEqual(expect.arrayContaining(['x-insertion-id', 'x-langfuse-trace-id', 'x-request-id']));
    expect(Object.keys(ok.content)).toEqual(expect.arrayContaining(['application/json', 'text/event-stream']));
  }
  const encoded = doc.paths['/v1/rollout_id/{rollout_id}/invocation_id/{invocation_id}/experiment_id/{experiment_id}/run_id/{run_id}/row_id/{row_id}/encoded_base_url/{encoded_base_url}/chat/completions'].post;
  expect(encoded.parameters.find((p: Doc) => p.name === 'encoded_base_url').description).toMatch(/base64/);
});

it('with AUTH_PROVIDER=none the document asks for no credential', () => {
  expect(doc.components.securitySchemes ?? {}).toEqual({});
  expect(doc.security ?? []).toEqual([]);
  for (const item of Object.values<Doc>(doc.paths)) for (const m of METHODS.filter((x) => item[x])) expect(item[m].security).toBeUndefined();
});

describe('with AUTH_PROVIDER=api_key', () => {
  const KEY = 'gw-openapi-0123456789abcdef';
  let authed: StartedGateway;
  beforeAll(async () => {
    const secrets = writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-a, secret_key: sk-a-secret }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY}, projects: [proj-a] }
`);
    authed = await startGateway({ REDIS_URL: testRedisUrl(), LITELLM_URL: 'http://127.0.0.1:9/v1', AUTH_PROVIDER: 'api_key', SECRETS_PATH: secrets });
  });
  afterAll(() => authed.close());

  it('the document needs no key, and declares X-Gateway-Key and Authorization: Bearer, required everywhere but /health and /ready', async () => {
    const res = await fetch(`${authed.url}/openapi.json`);
    expect(res.status).toBe(200);
    const d: Doc = await res.json();
    expect(problems(d)).toEqual([]);
    expect(d.components.securitySchemes).toEqual({
      'gateway-key': expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Gateway-Key' }),
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    });
    expect(d.security).toEqual([{ 'gateway-key': [] }, { bearer: [] }]);
    expect(d.paths['/v1/traces'].get.security).toBeUndefined();
    expect(d.paths['/v1/chat/completions'].post.security).toBeUndefined();
    for (const path of ['/health', '/v1/health', '/ready', '/health/ready']) expect(d.paths[path].get.security).toEqual([{}]);
    // METRICS_ALLOW addresses need none; everyone else a key.
    expect(d.paths['/metrics'].get.security).toEqual(expect.arrayContaining([{}, { 'gateway-key': [] }, { bearer: [] }]));
    expect((await fetch(`${authed.url}/docs`)).status).toBe(200);
  });
});
