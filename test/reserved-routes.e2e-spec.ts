/**
 * The catch-all never swallows a path the gateway documents: a method the
 * document does not list for such a path is a 405 from the gateway (with
 * Allow and the error body), never a call to the upstream; the docs paths
 * are the gateway's whether the docs are on or off. Undocumented paths still
 * go upstream, and chat calls still work on both chat paths.
 */
import { Controller, Get, Param } from '@nestjs/common';
import { request } from 'node:http';
import OpenAI from 'openai';
import { APP_GATEWAY_OPTIONS } from '../apps/gateway/src/app.module';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { json, metadataPath, StartedGateway, startGateway } from './support/gateway';
import { testRedisUrl } from './support/redis';

/** An extra route, as a platform team adds one through GatewayModule.forRoot({ controllers }). */
@Controller()
class ThingsController {
  @Get('things/:thing_id')
  thing(@Param('thing_id') id: string) {
    return { id };
  }
}

let upstream: FakeOpenAI;
beforeAll(async () => {
  upstream = await startFakeOpenAI();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const settings = () => ({ REDIS_URL: testRedisUrl(), LITELLM_URL: `${upstream.url}/v1` });
const chatBody = JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });

async function expectMethodNotAllowed(gw: StartedGateway, method: string, path: string, allow: string, use: string): Promise<void> {
  const res = await fetch(`${gw.url}${path}`, { method, headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' }, body: ['GET', 'HEAD'].includes(method) ? undefined : chatBody });
  const body = await json(res);
  expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
  const bare = path.split('?')[0];
  expect(body).toEqual({
    error: { message: `${method} ${bare} is not a route of this gateway: use ${use}.`, type: 'invalid_request_error', code: 'method_not_allowed' },
    detail: `${method} ${bare} is not a route of this gateway: use ${use}.`,
  });
  expect(res.headers.get('x-request-id')).toEqual(expect.any(String));
}

describe('the shipped gateway (direct chat route, docs on)', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway(settings(), { ...APP_GATEWAY_OPTIONS, controllers: [ThingsController] });
  });
  afterAll(() => gw.close());

  it('answers a method a documented path does not serve with 405, Allow and the error body, and calls no upstream', async () => {
    const tracked = metadataPath({ rollout: 'r-405', baseUrl: 'https://models.example/v1' });
    const cases: Array<[string, string, string, string]> = [
      ['POST', '/v1/traces', 'GET, HEAD', 'GET'],
      ['DELETE', '/v1/traces/pointwise?tags=rollout_id:r', 'GET, HEAD', 'GET'],
      ['PUT', '/logs', 'GET, HEAD, POST', 'GET or POST'],
      ['PATCH', '/v1/project_id/proj-a/logs', 'GET, HEAD, POST', 'GET or POST'],
      ['POST', '/v1/status', 'GET, HEAD', 'GET'],
      ['DELETE', '/rollouts/r-1', 'GET, HEAD', 'GET'],
      ['GET', '/v1/chat/completions', 'POST', 'POST'],
      ['GET', '/chat/completions', 'POST', 'POST'],
      ['PUT', `${tracked}/chat/completions`, 'POST', 'POST'],
      ['GET', '/v1/project_id/proj-a/trails/t-1/chat/completions', 'POST', 'POST'],
      ['POST', '/trails/t-1/traces', 'GET, HEAD', 'GET'],
      ['DELETE', '/health', 'GET, HEAD', 'GET'],
      ['POST', '/health/ready', 'GET, HEAD', 'GET'],
      ['POST', '/metrics', 'GET, HEAD', 'GET'],
      ['OPTIONS', '/v1/traces', 'GET, HEAD', 'GET'],
      // An extra controller's route is reserved too, with no list to update.
      ['DELETE', '/things/t-1', 'GET, HEAD', 'GET'],
      // As Express matches: case-insensitive, one trailing slash ignored.
      ['POST', '/V1/Traces', 'GET, HEAD', 'GET'],
      ['POST', '/v1/traces/', 'GET, HEAD', 'GET'],
    ];
    for (const [method, path, allow, use] of cases) await expectMethodNotAllowed(gw, method, path, allow, use);
    expect(upstream.requests).toEqual([]);
  });

  it('a request line in absolute form is matched by its path, as Express routes it', async () => {
    const status = (method: string) =>
      new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(gw.url);
        const req = request({ host: hostname, port, method, path: `${gw.url}/v1/traces?tags=rollout_id:r` }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('POST')).toBe(405);
    // GET reaches the traces route (no secrets file here: tracing is off), not the upstream.
    expect(await status('GET')).toBe(503);
    expect(upstream.requests).toEqual([]);
  });

  it('serves what the document lists: GET and HEAD, any case, and the extra route', async () => {
    expect(await json(await fetch(`${gw.url}/V1/HEALTH`))).toEqual({ status: 'healthy', service: 'metadata-proxy' });
    const head = await fetch(`${gw.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await json(await fetch(`${gw.url}/things/t-1`))).toEqual({ id: 't-1' });
    expect(upstream.requests).toEqual([]);
  });

  it('still sends undocumented paths upstream, whatever the method', async () => {
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer sk-client' } });
    expect(models.status).toBe(200);
    const embeddings = await fetch(`${gw.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' }, body: '{"model":"m","input":"x"}' });
    expect(embeddings.status).not.toBe(405);
    // Longer or shorter than a documented path: not the gateway's.
    await fetch(`${gw.url}/v1/traces/extra`, { method: 'POST', headers: { authorization: 'Bearer sk-client' } });
    await fetch(`${gw.url}/v1/chat`, { method: 'POST', headers: { authorization: 'Bearer sk-client' } });
    expect(upstream.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models', 'POST /v1/embeddings', 'POST /v1/traces/extra', 'POST /v1/chat']);
  });

  it('chat calls still go through, tracked and not', async () => {
    const openai = (path: string) => new OpenAI({ baseURL: `${gw.url}${path}`, apiKey: 'sk-client', maxRetries: 0, timeout: 10_000 });
    const { response } = await openai(metadataPath({ rollout: 'r-405-ok' })).chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-insertion-id')).toEqual(expect.any(String));
    await openai('/v1').chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(upstream.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/chat/completions', 'POST /v1/chat/completions']);
  });

  it('the docs paths are the gateway’s: GET serves them, other methods are 405, a missing asset 404', async () => {
    for (const path of ['/openapi.json', '/OPENAPI.JSON', '/docs-json', '/docs-yaml', '/docs', '/docs/']) {
      expect([path, (await fetch(`${gw.url}${path}`)).status]).toEqual([path, 200]);
    }
    await expectMethodNotAllowed(gw, 'POST', '/openapi.json', 'GET, HEAD', 'GET');
    await expectMethodNotAllowed(gw, 'PUT', '/docs', 'GET, HEAD', 'GET');
    await expectMethodNotAllowed(gw, 'POST', '/docs/swagger-ui.css', 'GET, HEAD', 'GET');
    const missing = await fetch(`${gw.url}/docs/no-such-asset.js`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error.code).toBe('not_found');
    expect(upstream.requests).toEqual([]);
  });
});

describe('chat through Express and Nest (CHAT_DIRECT_ROUTE=false)', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway({ ...settings(), CHAT_DIRECT_ROUTE: false });
  });
  afterAll(() => gw.close());

  it('POST chat works; other methods on the chat paths are 405', async () => {
    const res = await fetch(`${gw.url}${metadataPath({ rollout: 'r-nest' })}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-client' }, body: chatBody });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-insertion-id')).toEqual(expect.any(String));
    await expectMethodNotAllowed(gw, 'PUT', '/v1/chat/completions', 'POST', 'POST');
    expect(upstream.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/chat/completions']);
  });
});

describe('DOCS_ENABLED=false', () => {
  let gw: StartedGateway;
  beforeAll(async () => {
    gw = await startGateway({ ...settings(), DOCS_ENABLED: false });
  });
  afterAll(() => gw.close());

  it('the docs paths answer a 404 that says why, from the gateway, whatever the method', async () => {
    for (const [method, path] of [
      ['GET', '/openapi.json'],
      ['GET', '/docs'],
      ['GET', '/docs/swagger-ui.css'],
      ['GET', '/docs-json'],
      ['HEAD', '/docs-yaml'],
      ['POST', '/openapi.json'],
    ]) {
      const res = await fetch(`${gw.url}${path}`, { method });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      if (method !== 'HEAD') {
        const body = await json(res);
        expect(body.error).toEqual({ message: `${path} is not served: the API docs are turned off on this gateway (DOCS_ENABLED=false).`, type: 'invalid_request_error', code: 'not_found' });
      }
    }
    expect(upstream.requests).toEqual([]);
  });

  it('the routes are still reserved from the catch-all', async () => {
    await expectMethodNotAllowed(gw, 'POST', '/v1/traces', 'GET, HEAD', 'GET');
    expect(upstream.requests).toEqual([]);
  });
});
