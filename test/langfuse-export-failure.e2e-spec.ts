/**
 * A trace export that Langfuse refuses is logged, not lost in silence: the
 * gateway's project keys are wrong for the fake Langfuse, which answers the
 * OTLP request 401 (not retried). The completion itself still succeeds.
 */
import OpenAI from 'openai';
import { randomUUID } from 'node:crypto';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { metadataPath, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

let upstream: FakeOpenAI;
let langfuse: FakeLangfuse;
let gw: StartedGateway;

beforeAll(async () => {
  upstream = await startFakeOpenAI();
  langfuse = await startFakeLangfuse({ projects: [{ projectId: 'proj-a', publicKey: 'pk-lf-a', secretKey: 'sk-lf-RIGHT-a' }] });
  gw = await startGateway({
    LITELLM_URL: `${upstream.url}/v1`,
    REDIS_URL: testRedisUrl(),
    LANGFUSE_EXPORT: 'true',
    LANGFUSE_HOST: langfuse.url,
    LANGFUSE_FLUSH_INTERVAL: '0.1',
    SECRETS_PATH: writeSecrets(`
langfuse_keys:
  proj-a: { public_key: pk-lf-a, secret_key: sk-lf-WRONG-a }
default_project_id: proj-a
`),
  });
});
afterAll(async () => {
  await gw.close();
  await Promise.all([upstream.close(), langfuse.close()]);
});

it('logs a refused export with the HTTP status, and no key', async () => {
  const rollout = `r-${randomUUID()}`;
  const c = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'sk-client', maxRetries: 0 });
  const answer = await c.chat.completions.create({ model: 'accounts/m', messages: [{ role: 'user', content: 'hi' }] });
  expect(answer.choices[0].message.content).toBeTruthy();

  // The batch goes out on the 0.1 s flush timer; its failure is reported asynchronously.
  const deadline = Date.now() + 10_000;
  let line: string | undefined;
  while (!line && Date.now() < deadline) {
    line = gw.logs.find((l) => l.includes('Langfuse trace export failed'));
    if (!line) await new Promise((r) => setTimeout(r, 50));
  }
  expect(line).toBeDefined();
  expect(line).toContain('HTTP 401');
  expect(langfuse.traces('proj-a')).toHaveLength(0);
  expect(gw.logs.join('\n')).not.toContain('sk-lf-WRONG');
});
