/**
 * A fake OpenAI-compatible upstream: a plain node `http` server speaking the
 * chat-completions wire protocol (JSON and SSE), for e2e tests and load
 * benchmarks. Not Nest, no per-request heavy work, keep-alive on.
 *
 * Routes (any prefix, so one server can stand in for several providers' bases
 * such as `/v1`, `/inference/v1`, `/openai/v1`):
 *   POST …/chat/completions   chat.completion or an SSE stream of chat.completion.chunk
 *   GET  …/models             OpenAI list shape; GET …/models/{id} one model
 *   anything else             200 `{path, method}` (for catch-all proxy tests)
 *
 * Behaviour knobs, resolved per request as: request header > model name > server options.
 *   header                        model-name token          options field
 *   x-fake-latency-ms: N          fake-latency-N            latencyMs        delay before answering
 *   x-fake-status: N              fake-status-N             status           answer N with an OpenAI error body
 *   x-fake-hang: 1                fake-hang                 hang             never answer (until close())
 *   x-fake-chunks: N              fake-chunks-N             chunks           content pieces in a stream
 *   x-fake-chunk-gap-ms: N        fake-chunk-gap-N          chunkGapMs       delay between stream chunks
 *   x-fake-fail-mid-stream: 1     fake-fail-mid-stream      failMidStream    destroy the socket mid-stream
 *   x-fake-fail-after-chunks: N   fake-fail-after-chunks-N  failAfterChunks  content pieces sent before that
 *   x-fake-content: text          –                         content          the assistant text
 *   x-fake-end-after-chunks: N    –                         –                end the stream cleanly after N content pieces (no finish_reason, no [DONE])
 *   x-fake-done-delay-ms: N       –                         –                wait this long between the finish_reason chunk and [DONE]
 *   x-fake-first-chunk-delay-ms: N –                        –                send the headers, then wait this long before the first chunk (time to first token)
 * Latency, status and hang apply to every route; the others to chat streams.
 *
 * Standalone (benchmarks): `PORT=9100 npx ts-node test/fakes/fake-openai.server.ts`
 * (HOST, FAKE_LATENCY_MS, FAKE_CHUNKS, FAKE_CHUNK_GAP_MS, FAKE_RECORD_REQUESTS=1 optional;
 * recording is off by default there).
 */
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

export interface FakeOpenAIOptions {
  /** Delay before answering any request (ms). */
  latencyMs: number;
  /** When set (not 2xx), every request is answered with this status and an OpenAI-style error body. */
  status?: number;
  /** Message of the error body. */
  errorMessage?: string;
  /** Never answer (sockets are destroyed by close()). */
  hang: boolean;
  /** Number of content pieces in a stream (the role chunk, finish chunk and usage chunk come on top). */
  chunks: number;
  /** Delay between stream chunks (ms); 0 still writes each chunk separately. */
  chunkGapMs: number;
  /** Destroy the socket in the middle of a stream. */
  failMidStream: boolean;
  /** Content pieces sent before a mid-stream failure (default: half of `chunks`, at least 1). */
  failAfterChunks?: number;
  /** The assistant text: fixed, or computed from the parsed request body. Default: `Echo: <last user message>`. */
  content?: string | ((body: ChatRequestBody) => string);
  /** Model ids listed by GET …/models. */
  models: string[];
  /** Record every request in `requests` (turn off for benchmarks). */
  recordRequests: boolean;
}

export interface StartFakeOpenAIOptions extends Partial<FakeOpenAIOptions> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
}

/** The parts of a chat-completions body the fake reads; everything else is kept as sent. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ChatRequestBody = Record<string, any>;

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** Raw query string without `?` ('' if none). */
  query: string;
  /** Node's lower-cased headers, e.g. `headers.authorization`. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; the raw text if it was not JSON; undefined if empty. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  receivedAt: number;
  /** True once the connection closed before the response was fully sent (client abort, hang, fail-mid-stream). */
  aborted: boolean;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:<port>` (no trailing slash, no prefix). */
  url: string;
  port: number;
  server: Server;
  /** Mutable: changes apply to the next requests. */
  options: FakeOpenAIOptions;
  /** Recorded requests, in arrival order (same array across reset()). */
  requests: RecordedRequest[];
  /** Clears `requests` and restores `options` to the values given at start. */
  reset(): void;
  /** Stops listening and destroys every open socket (hanging ones included). */
  close(): Promise<void>;
}

const DEFAULTS: FakeOpenAIOptions = {
  latencyMs: 0,
  hang: false,
  chunks: 4,
  chunkGapMs: 0,
  failMidStream: false,
  models: ['fake-model', 'gpt-4o-mini'],
  recordRequests: true,
};

interface Knobs {
  latencyMs: number;
  status?: number;
  hang: boolean;
  chunks: number;
  chunkGapMs: number;
  failMidStream: boolean;
  failAfterChunks?: number;
  endAfterChunks?: number;
  doneDelayMs?: number;
  firstChunkDelayMs?: number;
  content?: string;
}

const MODEL_KNOB = /fake-(latency|status|hang|chunks|chunk-gap|fail-mid-stream|fail-after-chunks)(?:-(\d+))?(?!\w)/g;

function num(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function flag(v: string | string[] | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = (Array.isArray(v) ? v[0] : v).trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'false' || s === 'no');
}

function resolveKnobs(o: FakeOpenAIOptions, headers: IncomingHttpHeaders, model: unknown): Knobs {
  const k: Knobs = {
    latencyMs: o.latencyMs,
    status: o.status,
    hang: o.hang,
    chunks: o.chunks,
    chunkGapMs: o.chunkGapMs,
    failMidStream: o.failMidStream,
    failAfterChunks: o.failAfterChunks,
  };
  if (typeof model === 'string' && model.includes('fake-')) {
    for (const m of model.matchAll(MODEL_KNOB)) {
      const n = m[2] === undefined ? undefined : Number(m[2]);
      switch (m[1]) {
        case 'latency': if (n !== undefined) k.latencyMs = n; break;
        case 'status': if (n !== undefined) k.status = n; break;
        case 'hang': k.hang = true; break;
        case 'chunks': if (n !== undefined) k.chunks = n; break;
        case 'chunk-gap': if (n !== undefined) k.chunkGapMs = n; break;
        case 'fail-mid-stream': k.failMidStream = true; break;
        case 'fail-after-chunks': if (n !== undefined) { k.failMidStream = true; k.failAfterChunks = n; } break;
      }
    }
  }
  k.latencyMs = num(headers['x-fake-latency-ms']) ?? k.latencyMs;
  k.status = num(headers['x-fake-status']) ?? k.status;
  k.hang = flag(headers['x-fake-hang']) ?? k.hang;
  k.chunks = num(headers['x-fake-chunks']) ?? k.chunks;
  k.chunkGapMs = num(headers['x-fake-chunk-gap-ms']) ?? k.chunkGapMs;
  k.failMidStream = flag(headers['x-fake-fail-mid-stream']) ?? k.failMidStream;
  const after = num(headers['x-fake-fail-after-chunks']);
  if (after !== undefined) {
    k.failMidStream = true;
    k.failAfterChunks = after;
  }
  k.endAfterChunks = num(headers['x-fake-end-after-chunks']);
  k.doneDelayMs = num(headers['x-fake-done-delay-ms']);
  k.firstChunkDelayMs = num(headers['x-fake-first-chunk-delay-ms']);
  const content = headers['x-fake-content'];
  if (content !== undefined) k.content = Array.isArray(content) ? content[0] : content;
  return k;
}

const ERROR_KINDS: Record<number, [type: string, code: string | null]> = {
  400: ['invalid_request_error', 'invalid_request'],
  401: ['invalid_request_error', 'invalid_api_key'],
  403: ['permission_error', 'permission_denied'],
  404: ['invalid_request_error', 'model_not_found'],
  408: ['timeout_error', 'timeout'],
  409: ['invalid_request_error', 'conflict'],
  422: ['invalid_request_error', 'unprocessable_entity'],
  429: ['rate_limit_error', 'rate_limit_exceeded'],
};

/** The body OpenAI answers errors with. */
export function openAIErrorBody(status: number, message?: string): { error: { message: string; type: string; code: string | null; param: null } } {
  const [type, code] = ERROR_KINDS[status] ?? (status >= 500 ? ['server_error', 'server_error'] : ['invalid_request_error', null]);
  return { error: { message: message ?? `Fake upstream error (HTTP ${status})`, type, code, param: null } };
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let s = '';
    for (const part of content) if (part && typeof part === 'object' && typeof part.text === 'string') s += (s ? ' ' : '') + part.text;
    return s;
  }
  return '';
}

/** Default content: an echo of the last user message (deterministic, so tests can assert). */
export function defaultContent(body: ChatRequestBody): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') return `Echo: ${textOf(messages[i].content)}`;
  }
  return 'Echo: (no user message)';
}

/** A cheap, deterministic token estimate (~4 characters per token). */
function tokens(chars: number): number {
  return chars === 0 ? 0 : Math.ceil(chars / 4);
}

function promptChars(body: ChatRequestBody): number {
  let n = 0;
  if (Array.isArray(body.messages)) for (const m of body.messages) n += textOf(m?.content).length;
  return n;
}

/** Splits `text` into exactly `n` pieces (some may be empty when the text is short). */
function split(text: string, n: number): string[] {
  if (n <= 0) return [];
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(text.slice(i * size, (i + 1) * size));
  return out;
}

function isChatPath(path: string): boolean {
  return path.endsWith('/chat/completions') || path.endsWith('/chat/completions/');
}

export async function startFakeOpenAI(options: StartFakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const { host = '127.0.0.1', port = 0, ...rest } = options;
  const initial: FakeOpenAIOptions = { ...DEFAULTS, ...stripUndefined(rest) };
  const opts: FakeOpenAIOptions = { ...initial };
  const requests: RecordedRequest[] = [];
  let seq = 0;

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = chunks.length === 0 ? '' : chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      handle(req, res, raw);
    });
    req.on('error', () => res.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Keep-alive for benchmark clients; never cut a hanging or slow request ourselves.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.timeout = 0;

  function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    let body: ChatRequestBody | string | undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const id = ++seq;
    let closed = false;
    res.once('close', () => {
      closed = true;
    });
    if (opts.recordRequests) {
      const rec: RecordedRequest = { method, path, query: q === -1 ? '' : url.slice(q + 1), headers: req.headers, body, receivedAt: Date.now(), aborted: false };
      requests.push(rec);
      res.once('close', () => {
        if (!res.writableFinished) rec.aborted = true;
      });
    }
    const json = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as ChatRequestBody) : undefined;
    const knobs = resolveKnobs(opts, req.headers, json?.model);
    res.setHeader('x-request-id', `req_fake_${id}`);

    if (knobs.hang) return; // never answered; close() destroys the socket

    const respond = (): void => {
      if (closed) return;
      if (knobs.status !== undefined && (knobs.status < 200 || knobs.status >= 300)) {
        return sendJson(res, knobs.status, openAIErrorBody(knobs.status, opts.errorMessage));
      }
      if (method === 'POST' && isChatPath(path)) {
        if (!json) return sendJson(res, 400, openAIErrorBody(400, 'Request body must be a JSON object'));
        return chat(res, json, knobs, id, () => closed);
      }
      if (method === 'GET' && /\/models\/?$/.test(path)) {
        const created = 1_700_000_000;
        return sendJson(res, 200, { object: 'list', data: opts.models.map((m) => ({ id: m, object: 'model', created, owned_by: 'fake-openai' })) });
      }
      const one = method === 'GET' ? /\/models\/(.+)$/.exec(path) : null;
      if (one) {
        const modelId = decodeURIComponent(one[1]);
        if (opts.models.includes(modelId)) return sendJson(res, 200, { id: modelId, object: 'model', created: 1_700_000_000, owned_by: 'fake-openai' });
        return sendJson(res, 404, openAIErrorBody(404, `The model '${modelId}' does not exist`));
      }
      return sendJson(res, 200, { path, method });
    };

    if (knobs.latencyMs > 0) delay(res, knobs.latencyMs).then(respond);
    else respond();
  }

  function content(body: ChatRequestBody, knobs: Knobs): string {
    if (knobs.content !== undefined) return knobs.content;
    const c = opts.content;
    if (typeof c === 'string') return c;
    if (typeof c === 'function') return c(body);
    return defaultContent(body);
  }

  function chat(res: ServerResponse, body: ChatRequestBody, knobs: Knobs, seqId: number, isClosed: () => boolean): void {
    const text = content(body, knobs);
    const model = typeof body.model === 'string' ? body.model : 'fake-model';
    const id = `chatcmpl-fake${seqId}`;
    const created = Math.floor(Date.now() / 1000);
    const prompt = tokens(promptChars(body));
    const completion = tokens(text.length);
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };

    if (body.stream !== true) {
      return sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_fake',
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage,
      });
    }

    const includeUsage = body.stream_options?.include_usage === true;
    const pieces = split(text, Math.max(0, Math.floor(knobs.chunks)));
    const failAfter = knobs.failMidStream ? Math.min(pieces.length, knobs.failAfterChunks ?? Math.max(1, Math.floor(pieces.length / 2))) : -1;
    const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":"fp_fake","choices":`;
    const usageTail = includeUsage ? ',"usage":null}' : '}';
    const frames: string[] = [];
    frames.push(`data: ${head}[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]${usageTail}\n\n`);
    for (const p of pieces) frames.push(`data: ${head}[{"index":0,"delta":{"content":${JSON.stringify(p)}},"logprobs":null,"finish_reason":null}]${usageTail}\n\n`);
    frames.push(`data: ${head}[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]${usageTail}\n\n`);
    if (includeUsage) frames.push(`data: ${head}[],"usage":${JSON.stringify(usage)}}\n\n`);
    frames.push('data: [DONE]\n\n');
    // Frame index after which to fail: the role frame plus `failAfter` content frames.
    const failAt = failAfter >= 0 ? 1 + failAfter : -1;
    // Frame index at which to end cleanly, as if the upstream simply stopped (no finish_reason, no [DONE]).
    const endAt = knobs.endAfterChunks !== undefined ? 1 + Math.min(pieces.length, knobs.endAfterChunks) : -1;
    const doneAt = frames.length - 1;

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();

    const gap = knobs.chunkGapMs;
    let i = 0;
    const next = (): void => {
      if (isClosed()) return;
      if (i === failAt) {
        res.socket?.destroy();
        res.destroy();
        return;
      }
      if (i >= frames.length || i === endAt) {
        res.end();
        return;
      }
      res.write(frames[i++]);
      const wait = i === doneAt && knobs.doneDelayMs ? knobs.doneDelayMs : gap;
      if (wait > 0) delay(res, wait).then(next);
      else setImmediate(next);
    };
    if (knobs.firstChunkDelayMs) delay(res, knobs.firstChunkDelayMs).then(next);
    else next();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    server,
    options: opts,
    requests,
    reset(): void {
      requests.length = 0;
      for (const k of Object.keys(opts) as (keyof FakeOpenAIOptions)[]) delete opts[k];
      Object.assign(opts, initial);
    },
    async close(): Promise<void> {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = [...sockets];
      const gone = open.map((s) => new Promise<void>((resolve) => (s.destroyed && !sockets.has(s) ? resolve() : s.once('close', () => resolve()))));
      for (const s of open) s.destroy();
      await Promise.all([stopped, ...gone]);
    },
  };
}

function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Resolves after `ms`, or early (without firing) if the response closed; the timer is cleared either way. */
function delay(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve();
    }, ms);
    res.once('close', onClose);
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

if (require.main === module) {
  const env = process.env;
  startFakeOpenAI({
    host: env.HOST ?? '127.0.0.1',
    port: Number(env.PORT ?? 9100),
    latencyMs: Number(env.FAKE_LATENCY_MS ?? 0),
    chunks: env.FAKE_CHUNKS ? Number(env.FAKE_CHUNKS) : undefined,
    chunkGapMs: Number(env.FAKE_CHUNK_GAP_MS ?? 0),
    recordRequests: env.FAKE_RECORD_REQUESTS === '1' || env.FAKE_RECORD_REQUESTS === 'true',
  }).then(
    (fake) => {
      process.stdout.write(`fake OpenAI upstream listening on ${fake.url} (e.g. base URL ${fake.url}/v1)\n`);
      const stop = (): void => {
        fake.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err) => {
      process.stderr.write(`fake OpenAI upstream failed to start: ${err?.message ?? err}\n`);
      process.exit(1);
    },
  );
}
