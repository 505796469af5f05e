/**
 * Property-based fuzzing of the gateway's HTTP surface (fast-check): generated
 * JSON bodies (odd, deep, near MAX_BODY_SIZE, with `__proto__`/`constructor`
 * keys, wrong types), chat-route path segments and encoded_base_url, query
 * strings of /traces, /logs, /status and /rollouts, and POST /logs bodies,
 * all against one real gateway over HTTP (fake upstream, fake Langfuse, real
 * Redis). Whatever comes in: never a 5xx, every error is JSON with an
 * `error.message`, no prototype is touched, and the gateway still answers
 * /health. Seeds are fixed (FUZZ_SEED=<n> tries others, FUZZ_SCALE=<n> runs
 * n times as many cases); a failure prints the seed and the shrunk
 * counterexample.
 */
import fc from 'fast-check';
import Redis from 'ioredis';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { FakeLangfuse, startFakeLangfuse } from './fakes/fake-langfuse.server';
import { FakeOpenAI, startFakeOpenAI } from './fakes/fake-openai.server';
import { metadataPath, StartedGateway, startGateway, writeSecrets } from './support/gateway';
import { testRedisUrl } from './support/redis';

const SEED = Number(process.env.FUZZ_SEED ?? 1408);
/** Multiplies every property's number of runs, for a longer search (FUZZ_SCALE=10). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const MAX_BODY = 64 * 1024;
const JSON_DEPTH_LIMIT = 128;
const PROJECT = { projectId: 'fuzz-proj', publicKey: 'pk-lf-fuzz', secretKey: 'sk-lf-fuzz-SECRET' };

// ---------------------------------------------------------------- HTTP, raw
// node:http rather than fetch: paths go out exactly as generated (fetch
// normalises dot segments and re-encodes).

interface Reply {
  status: number;
  contentType: string;
  text: string;
}

interface Outgoing {
  body?: Buffer;
  headers?: Record<string, string>;
  /** Send the body as chunked pieces instead of with a content-length. */
  chunked?: boolean;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
let port = 0;

function send(method: string, path: string, out: Outgoing = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...out.headers };
    if (out.body !== undefined && !out.chunked) headers['content-length'] = String(out.body.length);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (out.body !== undefined && out.chunked) {
      const third = Math.ceil(out.body.length / 3);
      for (let i = 0; i < out.body.length; i += third || 1) req.write(out.body.subarray(i, i + third));
      req.end();
    } else req.end(out.body);
  });
}

/** The property every answer must have; throws (fast-check reports it) otherwise. */
function checkReply(what: string, reply: Reply): void {
  const show = () => `${what} → ${reply.status} ${reply.contentType}: ${reply.text.slice(0, 300)}`;
  if (reply.status >= 500) throw new Error(`5xx: ${show()}`);
  if (reply.status >= 400) {
    if (!reply.contentType.startsWith('application/json')) throw new Error(`error without a JSON body: ${show()}`);
    let message: unknown;
    try {
      message = (JSON.parse(reply.text) as { error?: { message?: unknown } }).error?.message;
    } catch {
      throw new Error(`error body is not JSON: ${show()}`);
    }
    if (typeof message !== 'string' || message.length === 0) throw new Error(`error without error.message: ${show()}`);
  }
}

const codeOf = (reply: Reply): unknown => (JSON.parse(reply.text) as { error?: { code?: unknown } }).error?.code;

// ---------------------------------------------------------------- JSON, written by hand
// Objects are kept as entry lists and written out here, so `"__proto__"` and
// duplicate keys reach the wire exactly as generated (a JS object would turn
// `__proto__` into its prototype, and JSON.stringify would drop it).

class JsonObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, Json]>) {}
}
/** Number tokens JSON.stringify never writes. */
class RawNumber {
  constructor(readonly text: string) {}
}
type Json = null | boolean | number | string | RawNumber | Json[] | JsonObject;

function toJson(v: Json): string {
  if (v instanceof JsonObject) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  if (v instanceof RawNumber) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  return JSON.stringify(v) ?? 'null';
}

const obj = (entries: Array<readonly [string, Json]>) => new JsonObject(entries);

const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', '', ' ', '\u0000'];
const FIELD_KEYS = ['model', 'messages', 'metadata', 'tags', 'stream', 'extras', 'status', 'code', 'level', 'role', 'content', 'message', 'program', 'severity'];
const key = fc.oneof(fc.constantFrom(...ODD_KEYS, ...FIELD_KEYS), fc.string({ unit: 'binary', maxLength: 10 }));
const scalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom('1e400', '-1e400', '-0', '1E-400', '123456789012345678901234567890', '0.0000000000000000000001').map((t) => new RawNumber(t)),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom(...ODD_KEYS),
);
const { json } = fc.letrec<{ json: Json; array: Json[]; object: JsonObject }>((tie) => ({
  json: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('json'), { maxLength: 4 }),
  object: fc.array(fc.tuple(key, tie('json')), { maxLength: 5 }).map((e) => obj(e)),
}));
/** An object whose keys are mostly the troublesome ones, values anything. */
const oddObject = fc.array(fc.tuple(fc.constantFrom(...ODD_KEYS), json), { minLength: 1, maxLength: 4 }).map((e) => obj(e));

/** `depth` objects/arrays inside each other, written directly (the recursion above stays shallow). */
function nested(depth: number, shape: 'array' | 'object' | 'mixed'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const array = shape === 'array' || (shape === 'mixed' && i % 2 === 1);
    open += array ? '[' : '{"k":';
    close = (array ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

// ---------------------------------------------------------------- transport variants

type Encoding = 'gzip' | 'deflate' | 'br' | 'identity' | 'bogus' | undefined;

interface Transport {
  contentType: string | undefined;
  encoding: Encoding;
  chunked: boolean;
}

const jsonContentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF8', 'application/json; charset="utf8"', 'application/vnd.api+json');
const jsonTransport: fc.Arbitrary<Transport> = fc.record({
  contentType: jsonContentType,
  encoding: fc.constantFrom<Encoding>(undefined, undefined, 'gzip', 'deflate', 'br', 'identity'),
  chunked: fc.boolean(),
});
const oddTransport: fc.Arbitrary<Transport> = fc.record({
  contentType: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/jsonx', 'multipart/form-data; boundary=x'),
  encoding: fc.constantFrom<Encoding>(undefined, 'gzip', 'bogus'),
  chunked: fc.boolean(),
});
const transport = fc.oneof({ weight: 4, arbitrary: jsonTransport }, { weight: 1, arbitrary: oddTransport });

function encode(body: Buffer, encoding: Encoding): Buffer {
  if (encoding === 'gzip') return zlib.gzipSync(body);
  if (encoding === 'deflate') return zlib.deflateSync(body);
  if (encoding === 'br') return zlib.brotliCompressSync(body);
  return body;
}

function outgoing(text: string | Buffer, t: Transport): Outgoing {
  const headers: Record<string, string> = {};
  if (t.contentType !== undefined) headers['content-type'] = t.contentType;
  if (t.encoding !== undefined) headers['content-encoding'] = t.encoding;
  return { body: encode(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'), t.encoding), headers, chunked: t.chunked };
}

/** Bodies that are not JSON, or not the JSON a handler expects. */
const rawBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.constantFrom('', ' ', 'null', 'true', '0', '"str"', '[]', '{}', '\uFEFF{}', 'NaN', '{"a":1,}', '{"a":}', '{"model":"m","messages":[', "{'a':1}", '\u0000', '[[[[[[', ']]]]', '{"a":"\\u12"}', '{"a":"\\x41"}'),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  json.map(toJson).map((s) => s.slice(0, Math.max(0, s.length - 1))), // truncated
);

// ---------------------------------------------------------------- chat bodies

/** The fake upstream reads behaviour knobs (status, hang, latency) from `fake-…` tokens in the model name; never send one by chance. */
const noFakeKnob = (text: string) => !text.includes('fake-');

const model: fc.Arbitrary<Json> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
  fc.constantFrom('openai/gpt-4o-mini', 'constructor/x', '__proto__/x', 'toString', '/', 'a/', '/a', 'fireworks_ai/', ''),
  json,
);
const message: fc.Arbitrary<Json> = fc.oneof(
  fc
    .record({ role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'tool', 'constructor'), json), content: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), json) })
    .map(({ role, content }) => obj([['role', role], ['content', content]])),
  json,
);
const chatBody: fc.Arbitrary<JsonObject> = fc
  .tuple(model, fc.oneof({ weight: 3, arbitrary: fc.array(message, { maxLength: 4 }) }, { weight: 1, arbitrary: json }), fc.array(fc.tuple(key, json), { maxLength: 4 }), fc.option(oddObject))
  .map(([m, msgs, extra, odd]) => obj([['model', m], ['messages', msgs], ...extra, ...(odd ? [['metadata', odd] as const] : [])]));

// ---------------------------------------------------------------- paths

const PRINTABLE = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => !'?#/%'.includes(c));

/** %-encodes every byte of the UTF-8 form except unreserved characters. */
function pct(text: string | Uint8Array): string {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  let out = '';
  for (const b of bytes) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * One path segment as a client might send it. Raw characters stay printable
 * ASCII: Node's HTTP parser itself refuses other bytes in a request line
 * (a bare 400 before any gateway code runs), so those go %-encoded.
 */
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '%', '%ZZ', '%E0%A4%A', '%C3%28', '%FF', '%00', '%2F', '%252F', '%2e%2e', '..', '.', '{x}', '{', '}', '*', '(', ')', ':id', '%7B%7D', '__proto__', 'constructor', 'prototype', 'a/b', ';', '@'),
  fc.stringMatching(/^[A-Za-z0-9_.~-]{1,40}$/),
  fc.string({ unit: 'binary', maxLength: 30 }).map(pct),
  fc.uint8Array({ maxLength: 24 }).map(pct),
  fc.string({ unit: fc.constantFrom(...PRINTABLE), minLength: 1, maxLength: 20 }),
  fc.integer({ min: 250, max: 1500 }).map((n) => 'r'.repeat(n)),
);

const base64 = (bytes: Buffer, form: 'url' | 'std' | 'nopad') => {
  const b64 = bytes.toString('base64');
  if (form === 'std') return b64.replace(/\//g, '%2F').replace(/\+/g, '%2B');
  const url = b64.replace(/\+/g, '-').replace(/\//g, '_');
  return form === 'nopad' ? url.replace(/=+$/, '') : url;
};

/**
 * encoded_base_url values. URLs that decode to a public host are left out on
 * purpose: the gateway would really resolve and connect to them, so the
 * answer (a 502 from DNS or the network) would be the network's, not the
 * gateway's handling of its input. The private ones are refused by the
 * gateway's UPSTREAM_DENY_CIDRS below, for the same reason.
 */
const privateUrl = fc
  .tuple(
    fc.constantFrom('http', 'https', 'HTTP'),
    fc.constantFrom('127.0.0.1', '127.1.2.3', '10.0.0.1', '192.168.1.1', '169.254.169.254', '172.16.0.1', '100.64.0.1', '0.0.0.0', '[::1]', '[fe80::1]', '[fc00::1]', 'localhost', '127.1', '2130706433', '0x7f.1'),
    fc.constantFrom('', ':1', ':80', ':6379', ':65535'),
    fc.constantFrom('', '/', '/v1', '/v1/', '/v1?x=1', '/v1#frag'),
  )
  .map(([scheme, host, p, path]) => `${scheme}://${host}${p}${path}`);
const notAnUpstream = fc.constantFrom('ftp://example.com/v1', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/plain,hi', 'http://user:pw@127.0.0.1/v1', 'https://user@10.0.0.1', 'not a url', '', 'http://', 'http://[::1', 'gopher://127.0.0.1:6379/_PING', 'ws://127.0.0.1');
const encodedBaseUrl = fc.oneof(
  segment,
  fc.uint8Array({ maxLength: 60 }).map((b) => base64(Buffer.from(b), 'url')),
  fc.tuple(fc.oneof(privateUrl, notAnUpstream), fc.constantFrom('url', 'std', 'nopad') as fc.Arbitrary<'url' | 'std' | 'nopad'>).map(([u, form]) => base64(Buffer.from(u), form)),
);

/** Mostly a plain id, so that the other segments and encoded_base_url get their turn too. */
const idSegment = fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/) }, { weight: 2, arbitrary: segment });

const chatPath = fc
  .record({
    v1: fc.boolean(),
    project: fc.option(fc.oneof(segment, fc.constant(PROJECT.projectId)), { freq: 2 }),
    metadata: fc.option(fc.tuple(idSegment, idSegment, idSegment, idSegment, idSegment)),
    baseUrl: fc.option(encodedBaseUrl, { freq: 2 }),
    tail: fc.constantFrom('/chat/completions', '/chat/completions/', '/CHAT/Completions', '/chat/completions/x', '/chat//completions'),
  })
  .map(({ v1, project, metadata, baseUrl, tail }) => {
    let path = v1 ? '/v1' : '';
    if (project !== null) path += `/project_id/${project}`;
    if (metadata !== null) {
      const [r, i, e, u, w] = metadata;
      path += `/rollout_id/${r}/invocation_id/${i}/experiment_id/${e}/run_id/${u}/row_id/${w}`;
    }
    if (baseUrl !== null) path += `/encoded_base_url/${baseUrl}`;
    return path + tail;
  });

// ---------------------------------------------------------------- queries

const QUERY_KEYS = [
  'tags', 'limit', 'sample_size', 'user_id', 'session_id', 'name', 'environment', 'version', 'release', 'fields', 'hours_back',
  'from_timestamp', 'to_timestamp', 'sleep_between_gets', 'max_retries', 'rollout_id', 'check', 'project_id', 'program', 'include_payloads',
];
const queryKey = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...QUERY_KEYS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '__proto__', 'constructor', 'prototype', '__proto__[x]', 'constructor[prototype][x]', 'prototype[a]', 'tags[]', 'tags[0]', 'tags[1][0]', 'tags[constructor]',
      'tags[__proto__]', 'tags[constructor][a]', 'tags[prototype][a]', 'limit[constructor]', 'limit[]', 'rollout_id[]', 'rollout_id[a]', 'check[]', 'tags[a][b][c][d][e][f][g]', 'a[', ']', '[]', '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map(pct) },
);
const timestamp = fc.oneof(
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-01-01', '2026-01-01T10:00:00', '2026-01-01 10:00:00', '2026-01-01T10:00:00+05:30', '2026-13-01', '2026-02-30', '2026-01-01T25:00:00', '99999-01-01', '0000-00-00', 'yesterday', '1700000000', '-2026-01-01'),
  // ISO 8601 forms Date cannot read (a 400 naming the parameter, never a 500).
  fc.constantFrom('2026-W01', '2026-W01-1', '20260101', '20260101T000000Z', '2026-01-01T10', '2026-01-01T10:00:00,5', '2026-01-01T10:00:00-00', '2026-01-01T10:00:00+14'),
);

let recordedRollout = '';
let loggedRollout = '';

const queryValue = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc
      .oneof(
        fc.constantFrom(`rollout_id:${recordedRollout}`, `rollout_id:${loggedRollout}`, `rollout_id:${randomUUID()}`, 'rollout_id:', 'rollout_id', 'insertion_id:x', 'langfuse', recordedRollout, PROJECT.projectId),
        fc.constantFrom('0', '1', '-1', '1.5', '1e3', '1e400', 'NaN', 'Infinity', '-0', '0x10', ' 3 ', '', '20', '21', '60', '61', '100000000000000000000', '5e-324'),
        fc.constantFrom('core', 'io,observations', 'core, io ,metrics', 'bogus', 'core,,io'),
        timestamp,
      )
      .map(pct),
    segment,
    fc.string({ unit: 'binary', maxLength: 30 }).map(pct),
  );
/** What a real caller sends to `route` (so the generated pairs also reach the code behind validation), or nothing. */
function baseQuery(route: string): fc.Arbitrary<Array<[string, string]>> {
  const rollout = fc.constantFrom(recordedRollout, loggedRollout, `fuzz-none-${randomUUID()}`);
  if (route.includes('traces')) {
    const window = fc.option(fc.tuple(fc.constantFrom('from_timestamp', 'to_timestamp'), timestamp.map(pct)), { nil: undefined });
    return fc
      .tuple(fc.option(rollout, { nil: undefined }), window)
      .map(([r, w]): Array<[string, string]> => [...(r === undefined ? [] : [['tags', `rollout_id:${r}`] as [string, string]]), ...(w === undefined ? [] : [w])]);
  }
  if (route.includes('logs')) return fc.option(rollout.map((r): Array<[string, string]> => [['tags', `rollout_id:${r}`]]), { nil: [] });
  if (route.includes('status')) return fc.option(rollout.map((r): Array<[string, string]> => [['rollout_id', r]]), { nil: [] });
  return fc.constantFrom<Array<[string, string]>>([], [['check', 'langfuse']], [['check', 'langfuse'], ['project_id', PROJECT.projectId]]);
}

const queryString = (route: string) =>
  fc
    .tuple(baseQuery(route), fc.array(fc.tuple(queryKey, queryValue()), { maxLength: 5 }), fc.constantFrom('&', '&&', '&;'))
    .map(([base, extra, sep]) => {
      const pairs = [...base, ...extra];
      return { pairs, text: pairs.map(([k, v]) => `${k}=${v}`).join(sep) };
    });

// ---------------------------------------------------------------- POST /logs bodies

const logBody = (): fc.Arbitrary<string> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record(
          {
            program: fc.oneof({ weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) }, { weight: 1, arbitrary: json }),
            status: fc.oneof(
              { weight: 2, arbitrary: fc.constantFrom<Json>(null, 'running', 'finished', 'constructor', '__proto__', 'toString', 'sleepy') },
              {
                weight: 4,
                arbitrary: fc
                  .record({
                    code: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -1, max: 200 }) }, { weight: 1, arbitrary: json }),
                    message: fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 20 }) }, { weight: 1, arbitrary: json }),
                    details: json,
                  })
                  .map(({ code, message, details }) => obj([['code', code], ['message', message], ['details', details]])),
              },
              { weight: 1, arbitrary: oddObject },
              { weight: 1, arbitrary: json },
            ),
            message: fc.oneof({ weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) }, { weight: 1, arbitrary: json }),
            tags: fc.oneof(
              {
                weight: 6,
                arbitrary: fc
                  .array(fc.oneof(fc.constantFrom('rollout_id:', 'experiment_id:e', 'constructor', '__proto__', `rollout_id:${'x'.repeat(300)}`), fc.string({ unit: 'binary', maxLength: 20 })), { maxLength: 4 })
                  .map((tags) => [`rollout_id:${loggedRollout}`, ...tags]),
              },
              { weight: 1, arbitrary: fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { maxLength: 3 }) },
              { weight: 1, arbitrary: json },
            ),
            extras: fc.oneof({ weight: 3, arbitrary: oddObject }, { weight: 1, arbitrary: json }),
            metadata: fc.oneof(
              { weight: 3, arbitrary: oddObject },
              { weight: 1, arbitrary: json },
              { weight: 1, arbitrary: fc.constant(obj([['status_code', 13], ['constructor', obj([['prototype', obj([['polluted', true]])]])]])) },
            ),
            severity: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<Json>('error', 'WARN', 'info', null, 'loud', 'constructor') }, { weight: 1, arbitrary: json }),
          },
          { requiredKeys: ['message', 'tags'] },
        )
        .chain((fields) => fc.option(oddObject).map((odd) => obj([...Object.entries(fields), ...(odd ? odd.entries : [])]))),
    },
    { weight: 1, arbitrary: json },
  ).map(toJson);

// ---------------------------------------------------------------- the suite

describe('fuzzing the HTTP surface: no input makes a 5xx', () => {
  let gw: StartedGateway;
  let upstream: FakeOpenAI;
  let langfuse: FakeLangfuse;
  let redis: Redis;
  const prototypeKeys = () => [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join(','));
  let prototypesBefore: string[];
  const chatUrl = () => `${metadataPath({ rollout: `fuzz-${randomUUID()}` })}/chat/completions`;
  const run = <T>(arb: fc.Arbitrary<T>, numRuns: number, check: (value: T) => Promise<void>) =>
    fc.assert(
      fc.asyncProperty(arb, async (value) => {
        await check(value);
      }),
      { seed: SEED, numRuns: numRuns * SCALE },
    );

  beforeAll(async () => {
    prototypesBefore = prototypeKeys();
    upstream = await startFakeOpenAI({ recordRequests: false });
    langfuse = await startFakeLangfuse({ projects: [PROJECT] });
    gw = await startGateway({
      LITELLM_URL: `${upstream.url}/v1`,
      REDIS_URL: testRedisUrl(),
      SECRETS_PATH: writeSecrets(`langfuse_keys:\n  ${PROJECT.projectId}: { public_key: ${PROJECT.publicKey}, secret_key: ${PROJECT.secretKey}, host: "${langfuse.url}" }\ndefault_project_id: ${PROJECT.projectId}\n`),
      AUTH_PROVIDER: 'none',
      MAX_BODY_SIZE: '64kb',
      LANGFUSE_EXPORT: true,
      LANGFUSE_FLUSH_INTERVAL: 0.05,
      // Completeness rounds without waits and no read throttling: a /traces call on an incomplete
      // rollout ends after max_retries quick rounds instead of backing off for seconds.
      LANGFUSE_COMPLETENESS_BACKOFF_MS: 0,
      LANGFUSE_READ_RPM: 1_000_000,
      // The old public-only guard: the private hosts of `privateUrl` are refused, not connected to.
      UPSTREAM_DENY_CIDRS: '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7',
    });
    port = Number(new URL(gw.url).port);
    redis = new Redis(testRedisUrl());

    // One rollout with a completion in Langfuse and one with logs, for the read routes to find.
    recordedRollout = `fuzz-rec-${randomUUID()}`;
    loggedRollout = `fuzz-log-${randomUUID()}`;
    const chat = await send('POST', `${metadataPath({ rollout: recordedRollout })}/chat/completions`, {
      body: Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })),
      headers: { 'content-type': 'application/json' },
    });
    expect(chat.status).toBe(200);
    const log = await send('POST', '/v1/logs', {
      body: Buffer.from(JSON.stringify({ message: 'm', tags: [`rollout_id:${loggedRollout}`], status: { code: 101 } })),
      headers: { 'content-type': 'application/json' },
    });
    expect(log.status).toBe(200);
    const deadline = Date.now() + 5000;
    while ((await send('GET', `/v1/traces?tags=rollout_id:${recordedRollout}&max_retries=0`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the recorded completion never showed up in the fake Langfuse');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterEach(async () => {
    const health = await send('GET', '/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toEqual({ status: 'healthy', service: 'metadata-proxy' });
  });

  afterAll(async () => {
    agent.destroy();
    if (redis) {
      const keys = await redis.keys(`${gw.keyPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await gw?.close();
    await upstream?.close();
    await langfuse?.close();
  });

  it('chat bodies: odd JSON, wrong types, prototype keys, other content types and encodings', async () => {
    const body = fc.oneof(
      { weight: 3, arbitrary: chatBody.map(toJson).filter(noFakeKnob) },
      { weight: 1, arbitrary: json.map(toJson).filter(noFakeKnob) },
      { weight: 1, arbitrary: rawBody },
    );
    await run(fc.tuple(body, transport, fc.constantFrom('tracked', 'untracked', 'project')), 150, async ([text, t, route]) => {
      const path = route === 'tracked' ? chatUrl() : route === 'untracked' ? '/v1/chat/completions' : `/project_id/${PROJECT.projectId}/chat/completions`;
      checkReply(`POST ${path}`, await send('POST', path, outgoing(text, t)));
    });
  });

  it('nesting depth: over the limit is 400 invalid_json on every route and body path; at or under it is served', async () => {
    const depth = fc.oneof(fc.integer({ min: 1, max: 140 }), fc.integer({ min: 120, max: 135 }), fc.integer({ min: 140, max: 6000 }));
    const shape = fc.constantFrom<'array' | 'object' | 'mixed'>('array', 'object', 'mixed');
    const route = fc.constantFrom('chat', 'untracked-chat', 'logs');
    await run(fc.tuple(depth, shape, route, fc.constantFrom<Encoding>(undefined, 'gzip', 'deflate'), fc.boolean(), jsonContentType), 60, async ([d, s, r, encoding, chunked, contentType]) => {
      // Depth counts the enclosing body too: 1 for the chat body, 2 for the log entry's extras.
      const [path, text, total] =
        r === 'logs'
          ? ['/v1/logs', `{"message":"deep","tags":["rollout_id:${loggedRollout}"],"extras":{"x":${nested(d, s)}}}`, d + 2]
          : [r === 'chat' ? chatUrl() : '/v1/chat/completions', `{"model":"m","messages":[{"role":"user","content":"hi"}],"x":${nested(d, s)}}`, d + 1];
      const reply = await send('POST', path, outgoing(text, { contentType, encoding, chunked }));
      checkReply(`POST ${path} nested ${d} (${s})`, reply);
      if (total > JSON_DEPTH_LIMIT) {
        expect(reply.status).toBe(400);
        expect(codeOf(reply)).toBe('invalid_json');
        expect(reply.text).toContain(`more than ${JSON_DEPTH_LIMIT} levels deep`);
      } else {
        expect(reply.status).toBe(200);
      }
    });
  });

  it('bodies near MAX_BODY_SIZE: 413 body_too_large over it (raw or inflated), served under it', async () => {
    const size = fc.oneof(fc.integer({ min: MAX_BODY - 3000, max: MAX_BODY + 3000 }), fc.integer({ min: MAX_BODY - 50, max: MAX_BODY + 50 }));
    await run(fc.tuple(size, fc.boolean(), fc.constantFrom<Encoding>(undefined, 'gzip', 'br'), fc.boolean(), jsonContentType), 40, async ([bytes, multiByte, encoding, chunked, contentType]) => {
      const head = '{"model":"m","messages":[{"role":"user","content":"';
      const tail = '"}]}';
      const room = Math.max(0, bytes - head.length - tail.length);
      // 'é' is two bytes in UTF-8: byte and character counts differ.
      const content = multiByte ? 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2) : 'x'.repeat(room);
      const text = head + content + tail;
      const size = Buffer.byteLength(text);
      const reply = await send('POST', chatUrl(), outgoing(text, { contentType, encoding, chunked }));
      checkReply(`${size}-byte body`, reply);
      if (size > MAX_BODY) {
        expect(reply.status).toBe(413);
        expect(codeOf(reply)).toBe('body_too_large');
      } else {
        expect(reply.status).toBe(200);
      }
    });
  });

  it('chat route paths: odd segments, %-encodings, unicode, empty, long, braces, encoded_base_url garbage', async () => {
    const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
    await run(chatPath, 150, async (path) => {
      checkReply(`POST ${path}`, await send('POST', path, { body, headers: { 'content-type': 'application/json' } }));
    });
  });

  it('query strings of /traces, /logs, /status and /rollouts/:id', async () => {
    const route = fc.constantFrom('/v1/traces', '/traces', '/v1/traces/pointwise', `/v1/project_id/${PROJECT.projectId}/traces`, '/v1/logs', '/logs', '/v1/status', '/status', 'rollouts');
    const request = route.chain((r) => fc.tuple(fc.constant(r), queryString(r), segment));
    await run(request, 200, async ([r, query, rolloutSegment]) => {
      const path = r === 'rollouts' ? `/v1/rollouts/${rolloutSegment || recordedRollout}` : r;
      const url = `${path}?${query.text}`;
      checkReply(`GET ${url}`, await send('GET', url));
    });
  });

  it('POST /logs bodies: wrong types, odd status shapes, prototype keys; what was stored reads back', async () => {
    await run(fc.tuple(logBody(), fc.constantFrom('/v1/logs', '/logs')), 120, async ([text, path]) => {
      checkReply(`POST ${path} ${text.slice(0, 200)}`, await send('POST', path, { body: Buffer.from(text), headers: { 'content-type': 'application/json' } }));
    });
    for (const url of [`/v1/logs?tags=rollout_id:${loggedRollout}&limit=1000`, `/v1/status?rollout_id=${loggedRollout}`, `/v1/rollouts/${loggedRollout}?check=langfuse`]) {
      const reply = await send('GET', url);
      checkReply(`GET ${url}`, reply);
      expect(reply.status).toBe(200);
    }
  });

  it('after all of it: no prototype changed and nothing was an unhandled error', () => {
    expect(prototypeKeys()).toEqual(prototypesBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(gw.logs.filter((l) => l.includes('Unhandled error'))).toEqual([]);
  });
});

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
