/**
 * The direct chat route (libs/gateway/src/direct-chat-route.ts): the same
 * requests get the same answers, metrics and access log lines with it as
 * through Express and Nest (CHAT_DIRECT_ROUTE=false), and its contract: the
 * library default keeps chat on the framework, where everything an app adds
 * runs; an app that opts in (directChatRoute: true, as the shipped app)
 * gets the gateway's own steps, its AuthProvider included, and nothing else.
 */
import { CallHandler, ExecutionContext, Injectable, Module, NestInterceptor, Scope } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import OpenAI from 'openai';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AccountInfo, AuthProvider, AuthRequest } from '@app/auth';
import { ChatRequest, ChatRequestPreprocessor } from '@app/completion-forwarding';
import { GatewayExtensions } from '@app/gateway';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { metadataPath, rolloutKey, settleRegistrations, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const KEY = 'gw-direct-route-0123456789';
const SECRETS = writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-lf-a, secret_key: sk-lf-SECRET-a }
  proj-b: { public_key: pk-lf-b, secret_key: sk-lf-SECRET-b }
default_project_id: proj-a
api_keys:
  - { account_id: team-a, key: ${KEY}, projects: [proj-a] }
`);

let upstream: FakeOpenAI;
let redis: Redis;
beforeAll(async () => {
  upstream = await startFakeOpenAI();
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await upstream.close();
  await redis.quit();
});
beforeEach(() => upstream.reset());

const env = (extra: Record<string, string> = {}) => ({
  AUTH_PROVIDER: 'api_key',
  LITELLM_URL: `${upstream.url}/v1`,
  REDIS_URL: testRedisUrl(),
  SECRETS_PATH: SECRETS,
  MAX_BODY_SIZE: '2kb',
  ...extra,
});
const DIRECT = /\[Gateway\] Chat completions take the direct route/;
const decision = (gw: StartedGateway) => gw.logs.find((l) => l.includes('Chat completions')) ?? '(no decision logged)';

interface Case {
  name: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  upstreamStatus?: number;
}

const chatBody = (extra: object = {}) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });
const auth = { 'content-type': 'application/json', 'x-gateway-key': KEY };
const tracked = () => metadataPath({ rollout: `r-${randomUUID()}` });

const CASES: Case[] = [
  { name: 'tracked 200', path: `${tracked()}/chat/completions`, headers: auth, body: chatBody() },
  { name: 'tracked stream', path: `/v1${tracked()}/chat/completions`, headers: auth, body: chatBody({ stream: true }) },
  { name: 'untracked 200 with a caller X-Request-Id', path: '/v1/chat/completions', headers: { ...auth, 'x-request-id': 'caller-id-1' }, body: chatBody() },
  { name: 'query string and trailing slash', path: `${tracked()}/chat/completions/?api-version=1`, headers: auth, body: chatBody() },
  { name: 'upper-case path (Express matches case-insensitively)', path: '/V1/Chat/Completions', headers: auth, body: chatBody() },
  { name: 'no key', path: `${tracked()}/chat/completions`, headers: { 'content-type': 'application/json' }, body: chatBody() },
  { name: 'project the key may not use', path: `/project_id/proj-b${tracked()}/chat/completions`, headers: auth, body: chatBody() },
  { name: 'unknown project', path: `/project_id/nope${tracked()}/chat/completions`, headers: auth, body: chatBody() },
  { name: 'malformed JSON', path: `${tracked()}/chat/completions`, headers: auth, body: '{"model": "m", ' },
  { name: 'body over MAX_BODY_SIZE', path: `${tracked()}/chat/completions`, headers: auth, body: chatBody({ pad: 'x'.repeat(4096) }) },
  { name: 'not JSON at all', path: `${tracked()}/chat/completions`, headers: { ...auth, 'content-type': 'text/plain' }, body: 'hello' },
  { name: 'latin1 charset', path: `${tracked()}/chat/completions`, headers: { ...auth, 'content-type': 'application/json; charset=latin1' }, body: chatBody() },
  { name: 'no messages', path: `${tracked()}/chat/completions`, headers: auth, body: JSON.stringify({ model: 'm' }) },
  { name: 'bad base64 base URL', path: `${tracked()}/encoded_base_url/%%%/chat/completions`, headers: auth, body: chatBody() },
  { name: 'undecodable path segment', path: '/rollout_id/%E0%A4%A/invocation_id/i/experiment_id/e/run_id/u/row_id/w/chat/completions', headers: auth, body: chatBody() },
  { name: 'upstream 500', path: `${tracked()}/chat/completions`, headers: auth, body: chatBody(), upstreamStatus: 500 },
];

const VARYING = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|"created":\d+|r-[0-9a-f-]{36}|chatcmpl-\w+/g;

/** Status, header names and the values that must agree, and the body with ids and times masked. */
async function answer(gw: StartedGateway, c: Case) {
  upstream.options.status = c.upstreamStatus;
  const res = await fetch(`${gw.url}${c.path}`, { method: 'POST', headers: c.headers, body: c.body });
  const body = (await res.text()).replace(VARYING, '<varies>');
  upstream.options.status = undefined;
  const names = [...res.headers.keys()].filter((n) => n !== 'date').sort();
  const pick = ['content-type', 'cache-control', 'x-request-id'].map((n) => `${n}=${n === 'x-request-id' && res.headers.get(n) !== 'caller-id-1' ? typeof res.headers.get(n) : res.headers.get(n)}`);
  return { status: res.status, names, pick, body };
}

/**
 * Every case against one gateway, then its metrics and access log lines. One
 * gateway at a time: Nest's static Logger writes to the newest app's logger.
 */
async function runCases(extraEnv: Record<string, string>, extensions?: GatewayExtensions) {
  const gw = await startGateway(env(extraEnv), extensions);
  try {
    const answers = [];
    for (const c of CASES) answers.push({ case: c.name, ...(await answer(gw, c)) });
    const metrics = (await (await fetch(`${gw.url}/metrics`, { headers: { 'x-gateway-key': KEY } })).text()).split('\n').filter((l) => l.startsWith('gateway_http_requests_total') && l.includes('method="POST"')).sort();
    const accessLines = gw.logs.filter((l) => l.includes('[HTTP] POST')).map((l) => l.replace(VARYING, '<varies>').replace(/ [\d.]+ms$/, ''));
    return { answers, metrics, accessLines, decision: decision(gw) };
  } finally {
    await gw.close();
  }
}

describe('the direct route answers as Express and Nest do', () => {
  it('same status, headers and body for every case; the same metrics and access log lines', async () => {
    const framework = await runCases({ CHAT_DIRECT_ROUTE: 'false' });
    const direct = await runCases({});
    const library = await runCases({}, { directChatRoute: false });
    expect(framework.decision).toMatch(/go through Express and Nest \(CHAT_DIRECT_ROUTE=false\)/);
    expect(library.decision).toMatch(/go through Express and Nest \(the app did not opt in/);
    expect(library.answers).toEqual(framework.answers);
    expect(direct.decision).toMatch(DIRECT);
    for (let i = 0; i < CASES.length; i++) expect(direct.answers[i]).toEqual(framework.answers[i]);
    // The request context runs before the body parser: a 413 carries a request id too.
    expect(direct.answers.find((a) => a.case === 'body over MAX_BODY_SIZE')).toMatchObject({ status: 413, pick: expect.arrayContaining(['x-request-id=string']) });
    expect(direct.metrics).toEqual(framework.metrics);
    expect(direct.metrics).toContain('gateway_http_requests_total{route="/rollout_id/:rollout_id/invocation_id/:invocation_id/experiment_id/:experiment_id/run_id/:run_id/row_id/:row_id/chat/completions",method="POST",status="200"} 2');
    expect(direct.accessLines).toEqual(framework.accessLines);
    expect(direct.accessLines).toContain('log [HTTP] POST /project_id/proj-b/rollout_id/<varies>/invocation_id/inv-1/experiment_id/exp-1/run_id/run-1/row_id/row-1/chat/completions 403');
  });

  it('a completion through the openai SDK is recorded under its rollout on the direct route', async () => {
    const gw = await startGateway(env());
    try {
      const rollout = `r-${randomUUID()}`;
      const client = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'sk-client', defaultHeaders: { 'x-gateway-key': KEY }, maxRetries: 0 });
      const { response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      await settleRegistrations(gw);
      expect(await redis.smembers(rolloutKey(gw.keyPrefix, 'proj-a', rollout, 'ids'))).toEqual([response.headers.get('x-insertion-id')]);
      expect(upstream.requests[0].headers['x-gateway-key']).toBeUndefined();
      expect(decision(gw)).toMatch(DIRECT);
    } finally {
      await gw.close();
    }
  });
});

describe('access log lines', () => {
  it.each([
    ['info', false],
    ['debug', true],
  ])('LOG_LEVEL=%s: failures always get a line; successes only at debug (not even built otherwise), on either path', async (level, successLogged) => {
    for (const path of [{}, { CHAT_DIRECT_ROUTE: 'false' }] as Record<string, string>[]) {
      const gw = await startGateway(env({ ...path, LOG_LEVEL: level }));
      try {
        const client = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout: `r-${randomUUID()}` })}`, apiKey: 'sk-client', defaultHeaders: { 'x-gateway-key': KEY }, maxRetries: 0 });
        await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
        const denied = await fetch(`${gw.url}${metadataPath({ rollout: 'r-denied' })}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(denied.status).toBe(401);
        const lines = gw.logs.filter((l) => l.includes('[HTTP] POST'));
        expect(lines.some((l) => / 401 [\d.]+ms$/.test(l) && l.startsWith('log '))).toBe(true);
        expect(lines.some((l) => / 200 [\d.]+ms$/.test(l) && l.startsWith('debug '))).toBe(successLogged);
      } finally {
        await gw.close();
      }
    }
  });
});

@Injectable()
class StampInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    context.switchToHttp().getResponse<ServerResponse>().setHeader('x-stamped', 'interceptor');
    return next.handle();
  }
}

@Module({ providers: [{ provide: APP_INTERCEPTOR, useClass: StampInterceptor }] })
class StampModule {}

@Injectable({ scope: Scope.REQUEST })
class PerRequestPreprocessor extends ChatRequestPreprocessor {
  async process(request: ChatRequest): Promise<ChatRequest> {
    return { ...request, body: { ...request.body, metadata: { tags: ['per-request'] } } };
  }
}

/** Accepts only `Authorization: Bearer team-key` and says so: proves the AuthProvider runs on the direct route. */
@Injectable()
class TeamKeyAuth extends AuthProvider {
  readonly credentialHeaders = ['authorization'];
  seen = 0;

  async authenticate(request: AuthRequest): Promise<AccountInfo | null> {
    this.seen++;
    return request.headers.authorization === 'Bearer team-key' ? { accountId: 'team' } : null;
  }
}

describe('the contract: the library keeps chat on the framework; an app that opts in gets the gateway’s steps only', () => {
  const complete = async (gw: StartedGateway, headers: Record<string, string> = auth) => {
    const res = await fetch(`${gw.url}${tracked()}/chat/completions`, { method: 'POST', headers, body: chatBody() });
    expect(res.status).toBe(200);
    return res;
  };

  it('by default (no directChatRoute) a global interceptor from an imported module runs on chat calls', async () => {
    const gw = await startGateway(env(), { directChatRoute: false, imports: [StampModule] });
    try {
      expect((await complete(gw)).headers.get('x-stamped')).toBe('interceptor');
      expect(decision(gw)).toMatch(/go through Express and Nest \(the app did not opt in/);
    } finally {
      await gw.close();
    }
  });

  it('by default Express middleware the app adds after configureGatewayApp runs on chat calls', async () => {
    const gw = await startGateway(env(), { directChatRoute: false }, (app) =>
      app.use(function stamp(_req: unknown, res: ServerResponse, next: () => void) {
        res.setHeader('x-stamped', 'middleware');
        next();
      }),
    );
    try {
      expect((await complete(gw)).headers.get('x-stamped')).toBe('middleware');
    } finally {
      await gw.close();
    }
  });

  it('by default a global prefix moves the chat routes, and Express serves them there', async () => {
    const gw = await startGateway(env(), { directChatRoute: false }, (app) => app.setGlobalPrefix('api'));
    try {
      const res = await fetch(`${gw.url}/api${tracked()}/chat/completions`, { method: 'POST', headers: auth, body: chatBody() });
      expect(res.status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('by default a request-scoped chat preprocessor is built per request by Nest', async () => {
    const gw = await startGateway(env(), { directChatRoute: false, chatPreprocessor: PerRequestPreprocessor });
    try {
      await complete(gw);
      expect(upstream.requests[0].body.metadata.tags).toContain('per-request');
    } finally {
      await gw.close();
    }
  });

  it('opted in, chat calls skip what the app added (knowingly), other routes keep it, and the AuthProvider still decides', async () => {
    const gw = await startGateway({ ...env(), AUTH_PROVIDER: undefined } as never, { directChatRoute: true, imports: [StampModule], authProvider: TeamKeyAuth });
    try {
      const provider = gw.app.get(AuthProvider) as TeamKeyAuth;
      expect(decision(gw)).toMatch(DIRECT);
      expect((await fetch(`${gw.url}${tracked()}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() })).status).toBe(401);
      const res = await complete(gw, { 'content-type': 'application/json', authorization: 'Bearer team-key' });
      expect(res.headers.get('x-stamped')).toBeNull();
      expect(provider.seen).toBe(2);
      // The gateway credential the provider consumed never reaches the LLM provider.
      expect(upstream.requests.at(-1)!.headers.authorization).toBeUndefined();
      const other = await fetch(`${gw.url}/v1/status?rollout_id=r-1`, { headers: { authorization: 'Bearer team-key' } });
      expect(other.headers.get('x-stamped')).toBe('interceptor');
    } finally {
      await gw.close();
    }
  });

  it('opting in with a request-scoped chat dependency fails at start-up, saying what to change', async () => {
    await expect(startGateway(env(), { directChatRoute: true, chatPreprocessor: PerRequestPreprocessor })).rejects.toThrow(/direct chat route.*request-scoped.*directChatRoute: false/s);
  });
});
