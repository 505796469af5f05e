/**
 * GatewayModule as a library: settings from code win over the environment
 * (forRoot and forRootAsync), and every documented port, swapped through
 * forRoot, is the one every part of the gateway uses — the chat route, the
 * tracker, /ready, /traces, /logs, /rollouts.
 */
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import OpenAI from 'openai';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CompletenessStore } from '@app/completeness-tracking';
import { ChatRequest, ChatRequestPreprocessor, CompletionOutcome, CompletionTrace, CompletionTraceStart, CompletionTracer, UpstreamClient, UpstreamRequest, UpstreamResponse } from '@app/completion-forwarding';
import { configureGatewayApp, GatewayModule, listenGateway } from '@app/gateway';
import { RolloutLogStore, StoredLogEntry, StoredStatus } from '@app/rollout-status';
import type { RolloutRef } from '@app/routing-metadata';
import { LangfuseConnection, LangfuseReader, ReadOptions, TraceFilter, TraceHeader, TraceView } from '@app/trace-retrieval';
import { CapturingLogger, json, metadataPath, writeSecrets } from './support/gateway';

/** Upstream calls answered in-process: no network. */
@Injectable()
class CannedUpstream extends UpstreamClient {
  readonly requests: UpstreamRequest[] = [];

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.requests.push(request);
    const body = JSON.stringify({ id: 'chatcmpl-canned', object: 'chat.completion', created: 1, model: 'canned', choices: [{ index: 0, message: { role: 'assistant', content: 'canned' }, finish_reason: 'stop' }] });
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(body)]) };
  }
}

/** Finished traces kept in memory; they are what the reader below serves. */
@Injectable()
class MemoryTracer extends CompletionTracer {
  static readonly ended: Array<{ start: CompletionTraceStart; outcome: CompletionOutcome; traceId: string }> = [];

  start(start: CompletionTraceStart): CompletionTrace {
    const traceId = randomUUID().replace(/-/g, '');
    return {
      traceId,
      end: async (outcome) => {
        MemoryTracer.ended.push({ start, outcome, traceId });
      },
    };
  }
}

@Injectable()
class MemoryReader extends LangfuseReader {
  private views(filter: TraceFilter): TraceView[] {
    return MemoryTracer.ended
      .filter((t) => filter.tags.every((tag) => t.start.tags.includes(tag)) && (!filter.anyTags || filter.anyTags.some((tag) => t.start.tags.includes(tag))))
      .map((t) => ({ id: t.traceId, name: 'chat-completion', user_id: null, session_id: null, tags: t.start.tags, timestamp: t.start.startTime.toISOString(), input: t.start.request.messages, output: t.outcome.output, metadata: t.start.metadata, observations: [] }));
  }

  async findTraces(_conn: LangfuseConnection, filter: TraceFilter, options: ReadOptions): Promise<TraceView[]> {
    return this.views(filter).filter((t) => !options.known?.has(t.id));
  }

  async findTraceHeaders(_conn: LangfuseConnection, filter: TraceFilter): Promise<TraceHeader[]> {
    return this.views(filter).map(({ id, tags }) => ({ id, tags }));
  }
}

@Injectable()
class MapStore extends CompletenessStore {
  readonly kind = 'map';
  readonly ids = new Map<string, Set<string>>();

  async register({ rolloutId }: RolloutRef, insertionId: string): Promise<void> {
    if (!this.ids.has(rolloutId)) this.ids.set(rolloutId, new Set());
    this.ids.get(rolloutId)!.add(insertionId);
  }

  async expectedIds({ rolloutId }: RolloutRef): Promise<string[]> {
    return [...(this.ids.get(rolloutId) ?? [])];
  }

  async ping(): Promise<void> {}
}

@Injectable()
class ArrayLogStore extends RolloutLogStore {
  readonly kind = 'array';
  readonly entries: Array<{ rolloutId: string; entry: StoredLogEntry }> = [];

  async append({ rolloutId }: RolloutRef, entry: StoredLogEntry): Promise<void> {
    this.entries.unshift({ rolloutId, entry });
  }

  async range({ rolloutId }: RolloutRef, offset: number, count: number): Promise<StoredLogEntry[]> {
    return this.entries.filter((e) => e.rolloutId === rolloutId).slice(offset, offset + count).map((e) => e.entry);
  }

  async count({ rolloutId }: RolloutRef): Promise<number> {
    return this.entries.filter((e) => e.rolloutId === rolloutId).length;
  }

  async latestStatus({ rolloutId }: RolloutRef): Promise<StoredStatus | null> {
    const e = this.entries.find((x) => x.rolloutId === rolloutId && x.entry.status);
    return e ? { ts: e.entry.ts, status: e.entry.status!, extras: e.entry.extras } : null;
  }
}

const SECRETS = writeSecrets('langfuse_keys:\n  proj-a: { public_key: pk-lf-a, secret_key: sk-lf-a, host: "http://127.0.0.1:9" }\n');

async function listen(module: ReturnType<typeof GatewayModule.forRoot>) {
  const app = await NestFactory.create<NestExpressApplication>(module, { bodyParser: false, logger: new CapturingLogger([]) });
  configureGatewayApp(app);
  return listenGateway(app, { port: 0, host: '127.0.0.1' });
}

describe('settings from code', () => {
  it('win over the environment the gateway is given (forRoot)', async () => {
    const gw = await listen(GatewayModule.forRoot({ settings: { MAX_BODY_SIZE: '1kb', DOCS_ENABLED: false }, env: { MAX_BODY_SIZE: '32mb', DOCS_ENABLED: 'true', LANGFUSE_EXPORT: 'false' } }));
    try {
      const res = await fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [], pad: 'x'.repeat(2048) }) });
      expect(res.status).toBe(413);
      expect((await json(res)).detail).toContain('MAX_BODY_SIZE (1kb)');
    } finally {
      await gw.close();
    }
  });

  it('can come from a factory that injects from your modules (forRootAsync)', async () => {
    class Limits {
      readonly body = '1kb';
    }
    @Module({ providers: [Limits], exports: [Limits] })
    class LimitsModule {}
    const gw = await listen(
      GatewayModule.forRootAsync({ imports: [LimitsModule], inject: [Limits], useFactory: (limits: Limits) => ({ settings: { MAX_BODY_SIZE: limits.body, LANGFUSE_EXPORT: false }, env: {} }) }),
    );
    try {
      const res = await fetch(`${gw.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [], pad: 'x'.repeat(2048) }) });
      expect(res.status).toBe(413);
    } finally {
      await gw.close();
    }
  });

  it('a misspelt setting in code stops start-up, naming it', async () => {
    await expect(NestFactory.create(GatewayModule.forRoot({ settings: { MAX_BODY_SIEZ: '1kb' } as never, env: {} }), { logger: false, abortOnError: false })).rejects.toThrow(/MAX_BODY_SIEZ: not a setting/);
  });
});

/** Changes the body in place and hands back the same object, as a preprocessor may. */
@Injectable()
class InPlacePreprocessor extends ChatRequestPreprocessor {
  async process(request: ChatRequest): Promise<ChatRequest> {
    (request.body.messages as unknown[]).unshift({ role: 'system', content: 'added in place' });
    return request;
  }
}

describe('the request bytes a tracer is handed', () => {
  // Spaced out, escaped and non-ASCII: what the client sent, byte for byte, is what the tracer may store.
  const raw = '{ "model": "m",\n  "messages": [ { "role": "user", "content": "h\\u00e9llo ✓ \\\\ \\"q\\"" } ] }';
  const tracked = async (gw: Awaited<ReturnType<typeof listen>>, headers: Record<string, string> = {}, body: string | Buffer = raw) => {
    const before = MemoryTracer.ended.length;
    const res = await fetch(`${gw.url}${metadataPath({ rollout: `r-${randomUUID()}` })}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect(res.status).toBe(200);
    return MemoryTracer.ended.slice(before)[0].start;
  };
  const ports = { upstreamClient: CannedUpstream, completionTracer: MemoryTracer, completenessStore: MapStore, settings: { SECRETS_PATH: SECRETS }, env: {} };

  it.each([
    ['through Express and Nest', false],
    ['on the direct chat route', true],
  ])('with the default preprocessor, %s: the bytes the body was parsed from', async (_, directChatRoute) => {
    const gw = await listen(GatewayModule.forRoot({ ...ports, directChatRoute }));
    try {
      const start = await tracked(gw);
      expect(start.requestBytes?.toString('utf8')).toBe(raw);
      expect(JSON.parse(start.requestBytes!.toString('utf8'))).toEqual(start.request);
      // Compressed, with a UTF-8 byte order mark (which the parser of compressed bodies drops): the JSON text, without it.
      const zipped = await tracked(gw, { 'content-encoding': 'gzip' }, gzipSync(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(raw)])));
      expect(zipped.requestBytes?.toString('utf8')).toBe(raw);
    } finally {
      await gw.close();
    }
  });

  it('with a preprocessor of your own (which may change the body in place): none, the tracer serialises the body it gets', async () => {
    const gw = await listen(GatewayModule.forRoot({ ...ports, chatPreprocessor: InPlacePreprocessor, directChatRoute: true }));
    try {
      const start = await tracked(gw);
      expect(start.requestBytes).toBeUndefined();
      expect(start.request.messages).toEqual([{ role: 'system', content: 'added in place' }, { role: 'user', content: 'héllo ✓ \\ "q"' }]);
    } finally {
      await gw.close();
    }
  });
});

describe('every port swapped through forRoot reaches everything that uses it', () => {
  it('upstream client, tracer, completeness store, reader and log store', async () => {
    const gw = await listen(
      GatewayModule.forRoot({
        upstreamClient: CannedUpstream,
        completionTracer: MemoryTracer,
        completenessStore: MapStore,
        langfuseReader: MemoryReader,
        rolloutLogStore: ArrayLogStore,
        settings: { SECRETS_PATH: SECRETS },
        env: {},
      }),
    );
    try {
      const rollout = `r-${randomUUID()}`;
      const client = new OpenAI({ baseURL: `${gw.url}${metadataPath({ rollout })}`, apiKey: 'sk-client', maxRetries: 0 });
      const { data, response } = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      const id = response.headers.get('x-insertion-id')!;
      expect(data.choices[0].message.content).toBe('canned');
      expect(gw.app.get(UpstreamClient)).toBeInstanceOf(CannedUpstream);
      expect((gw.app.get(UpstreamClient) as CannedUpstream).requests).toHaveLength(1);
      expect(MemoryTracer.ended.map((t) => t.traceId)).toContain(response.headers.get('x-langfuse-trace-id'));
      expect((gw.app.get(CompletenessStore) as MapStore).ids.get(rollout)).toEqual(new Set([id]));

      expect(await json(await fetch(`${gw.url}/ready`))).toMatchObject({ status: 'ready', store: { kind: 'map' } });
      const traces = await json(await fetch(`${gw.url}/v1/traces?tags=rollout_id:${rollout}`));
      expect(traces).toMatchObject({ total_traces: 1, traces: [{ output: { role: 'assistant', content: 'canned' } }] });

      const posted = await fetch(`${gw.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'done', tags: [`rollout_id:${rollout}`], status: { code: 100, message: 'finished', details: [] } }) });
      expect(posted.status).toBe(200);
      expect((gw.app.get(RolloutLogStore) as ArrayLogStore).entries).toHaveLength(1);
      expect(await json(await fetch(`${gw.url}/v1/status?rollout_id=${rollout}`))).toMatchObject({ status: { code: 100 } });
      expect(await json(await fetch(`${gw.url}/v1/rollouts/${rollout}?check=langfuse`))).toMatchObject({ expected_completions: 1, log_entries: 1, langfuse: { visible: 1, expected: 1 } });
    } finally {
      await gw.close();
    }
  });
});
