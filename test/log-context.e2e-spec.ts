/**
 * Every log line written about a request carries its request id (and its
 * rollout and project once known), on both ways a request is served: the
 * direct chat route, which passes the context explicitly, and the Express +
 * Nest routes, which keep it in AsyncLocalStorage across awaits. The built
 * gateway as a child process, LOG_FORMAT=json, as an operator runs it.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { metadataPath, writeSecrets } from './support/gateway';
import { GatewayProcess, startGatewayProcess } from './support/gateway-process';

const PROJECT = { projectId: 'proj-logs', publicKey: 'pk-lf-logs', secretKey: 'sk-lf-logs-SECRET' };

interface LogLine {
  level: string;
  message: string;
  context?: string;
  request_id?: string;
  rollout_id?: string;
  project_id?: string;
}

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let gw: GatewayProcess;

beforeAll(async () => {
  upstream = await startFakeOpenAI({ recordRequests: false });
  langfuse = await startFakeLangfuse({ projects: [PROJECT] });
  gw = await startGatewayProcess({
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'debug',
    LITELLM_URL: `${upstream.url}/v1`,
    LANGFUSE_HOST: langfuse.url,
    SECRETS_PATH: writeSecrets(`langfuse_keys:\n  ${PROJECT.projectId}: { public_key: ${PROJECT.publicKey}, secret_key: ${PROJECT.secretKey} }\n`),
  });
});
afterAll(async () => {
  await gw?.kill();
  await Promise.all([upstream?.close(), langfuse?.close()]);
});

/** The JSON log lines the gateway printed with this request id (waits a moment for the finish handler's line). */
async function linesOf(requestId: string, minimum = 1): Promise<LogLine[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const lines = gw.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine).filter((l) => l.request_id === requestId);
    if (lines.length >= minimum || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('direct chat route: the access line of a tracked completion (openai SDK) names its request, rollout and project', async () => {
  const rollout = `r-logs-${randomUUID()}`;
  const requestId = `req-${randomUUID()}`;
  const client = new OpenAI({ apiKey: 'sk-provider', baseURL: `${gw.url}${metadataPath({ rollout, project: PROJECT.projectId })}`, maxRetries: 0 });
  const { response } = await client.chat.completions
    .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }, { headers: { 'X-Request-Id': requestId } })
    .withResponse();
  // Ours, not the upstream's: that one comes back under its own name.
  expect(response.headers.get('x-request-id')).toBe(requestId);
  expect(response.headers.get('x-upstream-request-id')).toMatch(/^req_fake_/);
  expect(response.headers.get('x-insertion-id')).toBeTruthy();

  const lines = await linesOf(requestId);
  expect(lines).toEqual([expect.objectContaining({ context: 'HTTP', rollout_id: rollout, project_id: PROJECT.projectId, message: expect.stringMatching(/^POST \/project_id\/.* 200 /) })]);
});

it('direct chat route: a line the upstream client writes after awaits (an SSRF refusal) and the access line of the 403 carry the request', async () => {
  const rollout = `r-logs-${randomUUID()}`;
  const requestId = `req-${randomUUID()}`;
  // A client-chosen upstream on loopback: refused by the default policy, logged by the upstream client.
  const path = `${metadataPath({ rollout, project: PROJECT.projectId, baseUrl: `http://127.0.0.1:${upstream.port}/v1` })}/chat/completions`;
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
  });
  expect(res.status).toBe(403);

  const lines = await linesOf(requestId, 2);
  const refusal = lines.find((l) => l.message.startsWith('Refused the encoded_base_url upstream'));
  expect(refusal).toEqual(expect.objectContaining({ level: 'warn', rollout_id: rollout, project_id: PROJECT.projectId }));
  expect(lines.find((l) => l.context === 'HTTP')?.message).toMatch(/ 403 /);
});

it('direct chat route: a stream the upstream breaks is logged, deep in the relay, with its request', async () => {
  const rollout = `r-logs-${randomUUID()}`;
  const requestId = `req-${randomUUID()}`;
  const client = new OpenAI({ apiKey: 'sk-provider', baseURL: `${gw.url}${metadataPath({ rollout, project: PROJECT.projectId })}`, maxRetries: 0 });
  const read = async () => {
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], stream: true },
      { headers: { 'X-Request-Id': requestId, 'x-fake-fail-mid-stream': '1', 'x-fake-fail-after-chunks': '2' } },
    );
    for await (const _chunk of stream) {
      // read until it breaks
    }
  };
  await expect(read()).rejects.toThrow();

  // The warning only: a response cut mid-stream never finishes, so it has no access line.
  const lines = await linesOf(requestId);
  expect(lines.find((l) => l.message.includes('interrupted: not recorded'))).toEqual(expect.objectContaining({ level: 'warn', rollout_id: rollout, project_id: PROJECT.projectId }));
});

it('Nest routes: lines written after awaits carry their own request, also when two requests interleave', async () => {
  const ids = [`req-${randomUUID()}`, `req-${randomUUID()}`];
  const rollouts = [`r-logs-${randomUUID()}`, `r-logs-${randomUUID()}`];
  for (const rollout of rollouts) {
    const client = new OpenAI({ apiKey: 'sk-provider', baseURL: `${gw.url}${metadataPath({ rollout, project: PROJECT.projectId })}`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
  }
  // Both reads at once; each waits for its trace to reach Langfuse (the export sends it within a second).
  const answers = await Promise.all(
    ids.map((id, i) =>
      fetch(`${gw.url}/v1/traces?tags=rollout_id:${rollouts[i]}&project_id=${PROJECT.projectId}&max_retries=20&sleep_between_gets=0.2`, { headers: { 'x-request-id': id } }),
    ),
  );
  for (const a of answers) expect({ status: a.status, body: await a.text() }).toEqual({ status: 200, body: expect.any(String) });
  for (const [i, id] of ids.entries()) {
    const lines = await linesOf(id, 2);
    // The service's line is written once Langfuse answered; the access line at the finish.
    const service = lines.find((l) => l.context !== 'HTTP');
    expect(service?.message).toContain(rollouts[i]);
    expect(lines.find((l) => l.context === 'HTTP')?.message).toMatch(/^GET \/v1\/traces 200 /);
  }
});
