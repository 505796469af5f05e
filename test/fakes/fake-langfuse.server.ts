/**
 * Fake Langfuse server for end-to-end tests and benchmarks (plain node:http, no Nest).
 *
 * It speaks the wire protocol of Langfuse's public API as defined in langfuse/langfuse
 * (fern/apis/server/definition/{trace,observations,commons,projects,health}.yml and the
 * route/zod sources under web/src/pages/api/public + web/src/features/public-api/types),
 * and maps OTel spans the way packages/shared/src/server/otel/OtelIngestionProcessor.ts does.
 * Helpers live in ./langfuse/.
 *
 * AUTH (every endpoint except health and /__fake/*): `Authorization: Basic base64(publicKey:secretKey)`.
 *   missing → 401 {"message":"No authorization header"}; not Basic/undecodable → 401
 *   {"message":"Invalid authorization header"}; unknown keys → 401 {"message":"Invalid credentials.
 *   Confirm that you've configured the correct host."}. Each project only sees its own data.
 *
 * ORDER OF CHECKS per request: latencyMs sleep → (v4-events-only: legacy trace reads 404 before auth)
 *   → auth → [read endpoints only] fail5xxNext → rateLimit → query validation (400) → handler.
 *
 * ---------------------------------------------------------------------------------------------
 * POST /api/public/otel/v1/traces — OTLP/HTTP JSON ExportTraceServiceRequest
 *   Content-Type must contain application/json (else 400 {"error":"Invalid content type"});
 *   application/x-protobuf → 415 (the real server accepts protobuf; this fake does not);
 *   Content-Encoding: gzip supported. Bad JSON → 400 {"error":"Failed to parse OTel JSON Trace"}.
 *   Any span without a usable traceId/spanId (or non-array scopeSpans/spans/attributes/events)
 *   rejects the whole export with 400 {"error":"Invalid OTLP trace export: ..."} (as Langfuse).
 *   Success → 200 {}.  ids: hex (lower-cased); base64 of 16/8 bytes and byte arrays are converted
 *   to hex. Times: startTimeUnixNano/endTimeUnixNano as string/number/{high,low}, floored to ms.
 *   Attribute values: stringValue|intValue|doubleValue|boolValue|arrayValue (others → JSON text).
 *   Mapping (trace id = OTel trace id, observation id = span id, parent = parentSpanId):
 *     observation type   langfuse.observation.type (span|generation|event|agent|tool|chain|retriever|
 *                        evaluator|embedding|guardrail) > openinference.span.kind > gen_ai.operation.name
 *                        (chat/completion/text_completion/generate_content/generate → GENERATION,
 *                        embeddings → EMBEDDING, invoke_agent/create_agent → AGENT, execute_tool → TOOL)
 *                        > gen_ai.tool.name|gen_ai.tool.call.id → TOOL > any model attribute → GENERATION > SPAN
 *     name               gen_ai.tool.name, else span name
 *     input/output       langfuse.observation.input/output, else input.value/output.value, input/output,
 *                        gen_ai.prompt.* / gen_ai.completion.* (key paths rebuilt), llm.input_messages.* /
 *                        llm.output_messages.*, gen_ai.input.messages / gen_ai.output.messages,
 *                        gen_ai.tool.call.arguments / .result. Stored as raw strings (non-strings JSON-encoded).
 *     model              langfuse.observation.model.name > gen_ai.response.model > ai.model.id >
 *                        gen_ai.request.model > llm.response.model > llm.model_name > model
 *     modelParameters    langfuse.observation.model.parameters (JSON) > llm.invocation_parameters >
 *                        gen_ai.request.* (except model); values kept if string/number, else JSON text
 *     usageDetails       langfuse.observation.usage_details (JSON object) > gen_ai.usage.* / llm.token_count.*
 *                        (input_tokens|prompt_tokens → input, output_tokens|completion_tokens → output,
 *                        total_tokens → total, cache/reasoning normalised); `total` added as the sum if absent
 *     costDetails        langfuse.observation.cost_details (JSON) > gen_ai.usage.cost / llm.cost.total → {total}
 *     completionStartTime langfuse.observation.completion_start_time (ISO, or JSON-quoted ISO)
 *     level              langfuse.observation.level (DEBUG/DEFAULT/WARNING/ERROR + aliases) else status.code 2 → ERROR
 *     statusMessage      langfuse.observation.status_message > status.message
 *     promptName/Version langfuse.observation.prompt.name/.version (GENERATION only)
 *     metadata           langfuse.observation.metadata (JSON object) + langfuse.observation.metadata.<k>
 *                        (+ langfuse.metadata.*), plus resourceAttributes, scope {name, version, attributes}
 *                        and, for scopes not named langfuse-sdk*, `attributes` (remaining span attributes)
 *     environment        langfuse.environment > deployment.environment.name > deployment.environment (span,
 *                        then resource) > "default";  release: langfuse.release (span, resource);
 *                        version: langfuse.version > resource service.version
 *     trace attributes   langfuse.trace.name, langfuse.trace.tags (array, JSON-array string or comma string),
 *                        langfuse.user.id|user.id, langfuse.session.id|session.id|gen_ai.conversation.id,
 *                        langfuse.trace.public, langfuse.trace.metadata (+ .<k>), langfuse.trace.input/output.
 *                        A root span (no parent, or langfuse.internal.as_root) sets the legacy trace's
 *                        name (langfuse.trace.name, else span name) and input/output (langfuse.trace.input/
 *                        output, else the span's observation input/output); non-root spans with trace
 *                        attributes update it. Legacy trace tags = sorted union over all spans.
 *                        v4 (v2 API) keeps these PER SPAN: an observation carries tags/userId/sessionId/
 *                        traceName only if its own span had them (SDK propagateAttributes copies them to
 *                        children; a tag set on one span makes only that observation match a tag filter).
 *     isRootObservation  no parent, or langfuse.internal.is_app_root=true (set by LangfuseSpanProcessor)
 *
 * ---------------------------------------------------------------------------------------------
 * GET /api/public/v2/observations  (v4 only; mode 'v3' → 404 {"message":"The observations v2 API is only
 *   available in a Langfuse v4 write mode. ...","error":"LangfuseNotFoundError"})
 *   Query: fields (comma list of core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context;
 *     unknown names dropped; absent → core,basic), expandMetadata (comma keys), limit (default 50,
 *     0..1000, >1000 → 400), cursor (base64 JSON {lastStartTimeTo,lastTraceId,lastId}; bad → 400
 *     "Invalid cursor format"), parseIoAsJson (true → 400), name, userId, sessionId, traceId, version,
 *     parentObservationId ('' = no parent), type (GENERATION|SPAN|EVENT|AGENT|TOOL|CHAIN|RETRIEVER|
 *     EVALUATOR|EMBEDDING|GUARDRAIL, else 400), level (DEBUG|DEFAULT|WARNING|ERROR), isRootObservation
 *     (true|false), environment (repeatable or comma list, any-of), fromStartTime (>=), toStartTime (<)
 *     (ISO 8601 with Z/offset, else 400), filter (JSON array, see below).
 *   filter: [{type, column, operator, value, key?}], types/operators: datetime > < >= <=; string = contains
 *     "does not contain" "starts with" "ends with" matches; stringOptions/categoryOptions "any of" "none of";
 *     arrayOptions "any of" "none of" "all of"; number = > < >= <=; stringObject (+matches)/numberObject
 *     (key = metadata key); boolean = <>; null "is null" "is not null".
 *     Columns: id type name traceId startTime endTime environment level statusMessage version userId
 *     sessionId parentObservationId isRootObservation traceName traceTags tags(alias) latency
 *     timeToFirstToken inputTokens outputTokens totalTokens tokens inputCost outputCost totalCost model
 *     providedModelName promptName promptVersion input output metadata. Unknown column or type mismatch → 400.
 *     Trace tags:  filter=[{"type":"arrayOptions","column":"traceTags","operator":"all of","value":["a","b"]}]
 *     ("any of" needs a non-empty value). input/output filters must be type string and need at least one
 *     "=" or "matches" condition (else 400). Simple params and `filter` are ANDed; a `filter` condition on
 *     the same column replaces the simple param (deriveFilters).
 *   Order: startTime DESC, xxHash32(traceId) DESC, id DESC. Page = limit rows; meta.cursor only when more.
 *   Response {data: [...], meta: {cursor?}}. Per item:
 *     core (always): id traceId startTime endTime projectId parentObservationId type
 *     basic: name level statusMessage version environment bookmarked public userId sessionId isRootObservation
 *     time: completionStartTime createdAt updatedAt        io: input output (RAW STRINGS, null if none)
 *     metadata: metadata (flattened "a.b" keys; values > 200 chars truncated unless in expandMetadata)
 *     model: model (wire key — NOT providedModelName as the Fern docs say) internalModelId modelParameters
 *     usage: usageDetails inputUsage outputUsage totalUsage costDetails inputCost outputCost totalCost
 *            usagePricingTierId usagePricingTierName
 *     prompt: promptId promptName promptVersion
 *     trace_context: traceName (span's langfuse.trace.name, else root observation name) tags release
 *     always: latency timeToFirstToken (seconds), modelId inputPrice outputPrice totalPrice (null)
 *   No trace-level input/output: take them from the root observation (isRootObservation, io group).
 *
 * GET /api/public/traces  (legacy; mode 'v4-events-only' → 404 before auth)
 *   Query: page (>=1, default 1), limit (1..100, default 50, else 400), userId, name, sessionId, version,
 *   release (exact), tags (all-of; repeated params used as-is, a single value is comma-split),
 *   environment (any-of; repeated or comma), fromTimestamp (>=), toTimestamp (<), orderBy
 *   ("<col>.<asc|desc>", col in id,timestamp,name,userId,release,version,public,bookmarked,sessionId;
 *   default timestamp.desc), fields (core,io,scores,observations,metrics; default all), filter (JSON;
 *   columns id name timestamp userId sessionId environment version release tags traceTags bookmarked
 *   metadata latency totalCost).
 *   Response {data: TraceWithDetails[], meta: {page, limit, totalItems, totalPages}}; item: id projectId
 *   timestamp name environment sessionId userId release version bookmarked public tags createdAt updatedAt
 *   input output metadata externalId(null) htmlPath observations(string ids) scores([]) totalCost latency.
 *   Without io: input/output null, metadata {}; without observations/scores: []; without metrics: -1.
 * GET /api/public/traces/{traceId}  (legacy) — TraceWithFullDetails: same trace fields, observations:
 *   ObservationsView[] (id projectId traceId parentObservationId name type environment startTime endTime
 *   version createdAt updatedAt input output (JSON-parsed) metadata level statusMessage model modelParameters
 *   completionStartTime promptId promptName promptVersion usageDetails costDetails usage{unit,input,output,
 *   total} unit promptTokens completionTokens totalTokens usagePricingTierName usagePricingTierId modelId
 *   inputPrice outputPrice totalPrice calculatedInputCost calculatedOutputCost calculatedTotalCost latency
 *   timeToFirstToken), scores [], latency, totalCost. Unknown → 404 {"message":"Trace <id> not found within
 *   authorized project","error":"LangfuseNotFoundError"}. Legacy io/metadata values are JSON-parsed.
 * GET /api/public/projects → {data: [{id, name, organization: {id, name}, metadata: {}}]} (not rate limited)
 * GET /api/public/health (no auth) → {"status":"OK","version":"..."}
 * Anything else under /api/public → 404 JSON; known path with another method → 405.
 *
 * INGESTION FAULTS (options.ingestion, after auth; nothing is stored while one applies): status (every
 *   export answers it; with failNext only the next N), retryAfterSeconds (Retry-After), delayMs (slow answers),
 *   refuseTraceIds (only exports carrying one of these trace ids fail). stop()/start(): the port is closed
 *   (connections refused) and opened again with the same data. `ingestion` counts stored and refused exports.
 * KNOBS: visibilityDelayMs (spans readable by legacy + v2 reads only that long after receipt; a legacy
 *   trace shows only its visible spans), latencyMs (every response), rateLimit (read endpoints, per
 *   project fixed window: 429 {"message":"Rate limit exceeded","code":"rate_limited","details":{...}}
 *   with Retry-After, X-RateLimit-Limit/Remaining/Reset), fail5xxNext (next N reads: 503, 500, 503, …;
 *   decremented in place), mode, withhold(). The legacy `_deprecation` field (Cloud only) is not sent.
 * ADMIN (local, no auth): POST /__fake/reset, GET /__fake/stats, POST /__fake/options (JSON merged into options).
 *
 * Standalone: PORT=4100 FAKE_LANGFUSE_PROJECTS='[{"projectId":"p1","publicKey":"pk-1","secretKey":"sk-1"}]'
 *   FAKE_LANGFUSE_OPTIONS='{"visibilityDelayMs":500}' npx ts-node test/fakes/fake-langfuse.server.ts
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

import { getTrace, listTraces } from './langfuse/legacy-traces';
import { HttpError, isPlainObject, notFound, parseQuery, sleep, type Query } from './langfuse/http-util';
import { attributesToRecord, extractTags, mapResourceSpans, normalizeId } from './langfuse/otlp';
import { ProjectStore } from './langfuse/store';
import type {
  FakeLangfuse,
  FakeLangfuseCall,
  FakeLangfuseOptions,
  FakeLangfuseProject,
  StoredTrace,
} from './langfuse/types';
import { listV2, parseV2Request } from './langfuse/v2-observations';

export type {
  FakeLangfuse,
  FakeLangfuseCall,
  FakeLangfuseMode,
  FakeLangfuseOptions,
  FakeLangfuseProject,
  FakeLangfuseRateLimit,
  StoredObservation,
  StoredTrace,
} from './langfuse/types';

const MAX_BODY_BYTES = 100 * 1024 * 1024;

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type RouteKind = 'otel' | 'traces-list' | 'trace-get' | 'v2-observations' | 'projects' | 'health';
const READ_ROUTES = new Set<RouteKind>(['traces-list', 'trace-get', 'v2-observations']);
const LEGACY_ROUTES = new Set<RouteKind>(['traces-list', 'trace-get']);

function matchRoute(path: string): { kind: RouteKind; method: string; traceId?: string } | undefined {
  if (path === '/api/public/otel/v1/traces') return { kind: 'otel', method: 'POST' };
  if (path === '/api/public/traces') return { kind: 'traces-list', method: 'GET' };
  const m = /^\/api\/public\/traces\/([^/]+)$/.exec(path);
  if (m) return { kind: 'trace-get', method: 'GET', traceId: decodeURIComponent(m[1]) };
  if (path === '/api/public/v2/observations') return { kind: 'v2-observations', method: 'GET' };
  if (path === '/api/public/projects') return { kind: 'projects', method: 'GET' };
  if (path === '/api/public/health') return { kind: 'health', method: 'GET' };
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      size > MAX_BODY_BYTES ? reject(new HttpError(413, { message: 'Request body too large' })) : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

class FakeLangfuseServer implements FakeLangfuse {
  url = '';
  readonly calls: FakeLangfuseCall[] = [];
  readonly ingestion = { stored: 0, refused: 0 };
  private port?: number;
  private readonly server: http.Server;
  private readonly stores = new Map<string, ProjectStore>();
  private withheld: Array<(trace: StoredTrace) => boolean> = [];
  private rateWindows = new Map<string, { start: number; count: number }>();
  private failuresServed = 0;
  private seq = 0;

  constructor(readonly options: FakeLangfuseOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: 'Internal Server Error', error: String(err) }));
        }
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port ?? this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        const addr = this.server.address() as AddressInfo;
        this.port = addr.port;
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.url = `http://${host}:${addr.port}`;
        resolve();
      });
    });
  }

  withhold(predicate: (trace: StoredTrace) => boolean): void {
    this.withheld.push(predicate);
  }

  traces(projectId: string): StoredTrace[] {
    return this.stores.get(projectId)?.allTraces() ?? [];
  }

  reset(): void {
    for (const store of this.stores.values()) store.clear();
    this.tagIndex.clear();
    this.calls.length = 0;
    this.withheld = [];
    this.rateWindows.clear();
    this.failuresServed = 0;
    this.ingestion.stored = 0;
    this.ingestion.refused = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeAllConnections();
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  start(): Promise<void> {
    return this.listen();
  }

  private store(projectId: string): ProjectStore {
    let s = this.stores.get(projectId);
    if (!s) {
      s = new ProjectStore(projectId);
      this.stores.set(projectId, s);
    }
    return s;
  }

  private isWithheld(trace: StoredTrace | undefined): boolean {
    return trace !== undefined && this.withheld.some((p) => p(trace));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const url = new URL(req.url ?? '/', 'http://fake.local');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const query = parseQuery(url.searchParams);
    const method = req.method ?? 'GET';
    let projectId: string | undefined;
    let reply: Reply;
    try {
      const body = await readBody(req);
      if (this.options.latencyMs && this.options.latencyMs > 0) await sleep(this.options.latencyMs);
      const ingestDelay = this.options.ingestion?.delayMs;
      if (ingestDelay && path === '/api/public/otel/v1/traces') await sleep(ingestDelay);
      if (path.startsWith('/__fake/')) {
        reply = this.admin(method, path, body);
      } else {
        const route = matchRoute(path);
        if (!route) {
          throw new HttpError(404, { message: `Route not found: ${method} ${path}`, error: 'NotFound' });
        }
        if (route.method !== method) throw new HttpError(405, { message: `Method ${method} Not Allowed` });
        if (route.kind === 'health') {
          reply = { status: 200, body: { status: 'OK', version: this.version() } };
        } else {
          if (LEGACY_ROUTES.has(route.kind) && this.options.mode === 'v4-events-only') {
            throw new HttpError(404, {
              message:
                'This endpoint is not available on deployments running in Langfuse v4 events_only mode. Learn more about Langfuse v4 at: https://langfuse.com/docs/v4',
            });
          }
          const project = this.authenticate(req.headers.authorization);
          projectId = project.projectId;
          if (READ_ROUTES.has(route.kind)) {
            this.maybeFail();
            this.checkRateLimit(project.projectId);
          }
          reply = this.dispatch(route.kind, project, query, route.traceId, req, body);
        }
      }
    } catch (err) {
      if (err instanceof HttpError) reply = { status: err.status, body: err.body, headers: err.headers };
      else reply = { status: 500, body: { message: 'Internal Server Error', error: err instanceof Error ? err.message : String(err) } };
    }
    this.calls.push({ method, path, query, projectId, status: reply.status, receivedAt, at: Date.now() });
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload).toString(),
      ...reply.headers,
    });
    res.end(payload);
  }

  private version(): string {
    return this.options.mode === 'v3' ? '3.170.0' : '4.0.0';
  }

  private authenticate(header: string | undefined): FakeLangfuseProject {
    if (!header) throw new HttpError(401, { message: 'No authorization header' });
    const m = /^Basic\s+(.+)$/i.exec(header.trim());
    if (!m) throw new HttpError(401, { message: 'Invalid authorization header' });
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    if (sep < 0) throw new HttpError(401, { message: 'Invalid authorization header' });
    const publicKey = decoded.slice(0, sep);
    const secretKey = decoded.slice(sep + 1);
    const project = this.options.projects.find((p) => p.publicKey === publicKey && p.secretKey === secretKey);
    if (!project) {
      throw new HttpError(401, { message: "Invalid credentials. Confirm that you've configured the correct host." });
    }
    return project;
  }

  /** The failure an OTLP export gets while an ingestion fault applies, else undefined. */
  private ingestionFault(body: Buffer): Reply | undefined {
    const f = this.options.ingestion;
    if (!f || f.status === undefined) return undefined;
    if (f.refuseTraceIds) {
      const text = body.toString('utf8');
      if (!f.refuseTraceIds.some((id) => text.includes(id))) return undefined;
    }
    if (f.failNext !== undefined) {
      if (f.failNext <= 0) return undefined;
      f.failNext--;
    }
    const headers: Record<string, string> = f.retryAfterSeconds !== undefined ? { 'Retry-After': String(f.retryAfterSeconds) } : {};
    return { status: f.status, body: { message: f.status === 429 ? 'Rate limit exceeded' : f.status >= 500 ? 'Service Unavailable' : 'Invalid request' }, headers };
  }

  private maybeFail(): void {
    const remaining = this.options.fail5xxNext ?? 0;
    if (remaining <= 0) return;
    this.options.fail5xxNext = remaining - 1;
    const status = this.failuresServed++ % 2 === 0 ? 503 : 500;
    throw new HttpError(
      status,
      status === 503
        ? { message: 'Service Unavailable' }
        : { message: 'Internal Server Error', error: 'An unknown error occurred' },
    );
  }

  private checkRateLimit(projectId: string): void {
    const limit = this.options.rateLimit;
    if (!limit) return;
    const now = Date.now();
    let w = this.rateWindows.get(projectId);
    if (!w || now - w.start >= limit.windowMs) {
      w = { start: now, count: 0 };
      this.rateWindows.set(projectId, w);
    }
    w.count++;
    if (w.count > limit.maxCalls) {
      const resetAt = new Date(w.start + limit.windowMs);
      throw new HttpError(
        429,
        {
          message: 'Rate limit exceeded',
          code: 'rate_limited',
          details: { retryAfterSeconds: limit.retryAfterSeconds, limit: limit.maxCalls, remaining: 0, resetAt: resetAt.toISOString() },
        },
        {
          'Retry-After': String(limit.retryAfterSeconds),
          'X-RateLimit-Limit': String(limit.maxCalls),
          'X-RateLimit-Remaining': '0',
          'X-RateLimit-Reset': resetAt.toString(),
        },
      );
    }
  }

  private visibleBefore(): number {
    return Date.now() - (this.options.visibilityDelayMs ?? 0);
  }

  private dispatch(
    kind: RouteKind,
    project: FakeLangfuseProject,
    query: Query,
    traceId: string | undefined,
    req: http.IncomingMessage,
    body: Buffer,
  ): Reply {
    const store = this.store(project.projectId);
    if (this.options.countOnly && (kind === 'trace-get' || kind === 'v2-observations')) {
      throw new HttpError(501, { message: 'This fake Langfuse runs with countOnly: it keeps trace ids by tag, nothing to read.' });
    }
    switch (kind) {
      case 'otel': {
        const fault = this.ingestionFault(body);
        if (fault) {
          this.ingestion.refused++;
          return fault;
        }
        const reply = this.ingest(store, req, body);
        if (reply.status < 300) this.ingestion.stored++;
        return reply;
      }
      case 'projects':
        return {
          status: 200,
          body: {
            data: [
              {
                id: project.projectId,
                name: project.name ?? project.projectId,
                organization: { id: 'fake-org', name: 'Fake Organization' },
                metadata: {},
              },
            ],
          },
        };
      case 'traces-list': {
        if (this.options.countOnly) return { status: 200, body: this.countTraces(project.projectId, query) };
        const cutoff = this.visibleBefore();
        const visible = store
          .traceIds()
          .filter((id) => this.withheld.length === 0 || !this.isWithheld(store.fullTrace(id)))
          .map((id) => store.visibleTrace(id, cutoff))
          .filter((t): t is StoredTrace => t !== undefined);
        return { status: 200, body: listTraces(visible, query) };
      }
      case 'trace-get': {
        const id = traceId as string;
        const trace = this.isWithheld(store.fullTrace(id)) ? undefined : store.visibleTrace(id, this.visibleBefore());
        if (!trace) throw notFound(`Trace ${id} not found within authorized project`);
        return { status: 200, body: getTrace(trace, query) };
      }
      case 'v2-observations': {
        if (this.options.mode === 'v3') {
          throw notFound(
            'The observations v2 API is only available in a Langfuse v4 write mode. Learn more at: https://langfuse.com/docs/v4',
          );
        }
        const request = parseV2Request(query);
        const cutoff = this.visibleBefore();
        const withheldTraces = new Set(
          this.withheld.length > 0 ? store.traceIds().filter((id) => this.isWithheld(store.fullTrace(id))) : [],
        );
        const visible = store.allObservations().filter((o) => o.ingestedAt <= cutoff && !withheldTraces.has(o.traceId));
        return { status: 200, body: listV2(visible, request) };
      }
      default:
        throw new HttpError(404, { message: 'Not found' });
    }
  }

  /** countOnly: project → tag → ids of the traces carrying it. */
  private readonly tagIndex = new Map<string, Map<string, Set<string>>>();

  private countIndex(projectId: string, traceId: string, tags: string[]): void {
    let byTag = this.tagIndex.get(projectId);
    if (!byTag) this.tagIndex.set(projectId, (byTag = new Map()));
    for (const tag of ['', ...tags]) {
      let ids = byTag.get(tag);
      if (!ids) byTag.set(tag, (ids = new Set()));
      ids.add(traceId);
    }
  }

  /** countOnly: how many traces carry every `tags` filter (all traces without one), as a list page without data. */
  private countTraces(projectId: string, query: Query): Record<string, unknown> {
    const raw = query.tags;
    const wanted = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((t) => String(t).split(',')).filter(Boolean);
    const byTag = this.tagIndex.get(projectId);
    const [first = '', ...rest] = wanted;
    let totalItems = 0;
    for (const id of byTag?.get(first) ?? []) if (rest.every((t) => byTag!.get(t)?.has(id))) totalItems++;
    const limit = Number(query.limit ?? 50) || 50;
    return { data: [], meta: { page: 1, limit, totalItems, totalPages: Math.ceil(totalItems / limit) } };
  }

  private ingest(store: ProjectStore, req: http.IncomingMessage, raw: Buffer): Reply {
    let body = raw;
    const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
    if (encoding.includes('gzip')) {
      try {
        body = gunzipSync(raw);
      } catch {
        return { status: 400, body: { error: 'Failed to decompress request body' } };
      }
    }
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    if (contentType.includes('application/x-protobuf')) {
      return {
        status: 415,
        body: {
          message:
            'This fake Langfuse server only accepts OTLP/HTTP JSON (Content-Type: application/json). ' +
            'Configure the OTLP exporter for JSON; the real Langfuse also accepts application/x-protobuf.',
          error: 'Unsupported Media Type',
        },
      };
    }
    if (!contentType.includes('application/json')) return { status: 400, body: { error: 'Invalid content type' } };
    const ingestionVersion = req.headers['x-langfuse-ingestion-version'];
    if (typeof ingestionVersion === 'string') {
      const v = parseInt(ingestionVersion, 10);
      if (Number.isNaN(v) || v > 4) {
        return { status: 400, body: { error: `Unsupported x-langfuse-ingestion-version: "${ingestionVersion}". Maximum supported: "4".` } };
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return { status: 400, body: { error: 'Failed to parse OTel JSON Trace' } };
    }
    const resourceSpans = isPlainObject(parsed) ? parsed.resourceSpans : undefined;
    if (!Array.isArray(resourceSpans) || resourceSpans.length === 0) return { status: 200, body: {} };
    if (this.options.countOnly) {
      // Only what a count needs: each span's trace id and tags (as the full mapping reads them).
      for (const rs of resourceSpans) {
        for (const ss of (isPlainObject(rs) && Array.isArray(rs.scopeSpans) ? rs.scopeSpans : []) as unknown[]) {
          for (const span of (isPlainObject(ss) && Array.isArray(ss.spans) ? ss.spans : []) as unknown[]) {
            const traceId = isPlainObject(span) ? normalizeId(span.traceId, 16) : undefined;
            if (traceId) this.countIndex(store.projectId, traceId, extractTags(attributesToRecord((span as Record<string, unknown>).attributes)));
          }
        }
      }
      return { status: 200, body: {} };
    }
    const observations = mapResourceSpans(resourceSpans, {
      projectId: store.projectId,
      now: Date.now(),
      nextSeq: () => ++this.seq,
    });
    for (const o of observations) store.upsert(o);
    return { status: 200, body: {} };
  }

  private admin(method: string, path: string, body: Buffer): Reply {
    if (method === 'POST' && path === '/__fake/reset') {
      this.reset();
      return { status: 200, body: { ok: true } };
    }
    if (method === 'GET' && path === '/__fake/stats') {
      const projects: Record<string, { traces: number; observations: number }> = {};
      for (const [id, s] of this.stores) projects[id] = { traces: s.traceIds().length, observations: s.allObservations().length };
      const byStatus: Record<string, number> = {};
      for (const c of this.calls) byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
      return { status: 200, body: { projects, calls: this.calls.length, callsByStatus: byStatus } };
    }
    if (method === 'POST' && path === '/__fake/options') {
      let patch: unknown;
      try {
        patch = JSON.parse(body.toString('utf8') || '{}');
      } catch {
        return { status: 400, body: { message: 'invalid JSON' } };
      }
      if (!isPlainObject(patch)) return { status: 400, body: { message: 'expected an object' } };
      Object.assign(this.options, patch);
      const { projects: _projects, ...rest } = this.options;
      return { status: 200, body: rest };
    }
    return { status: 404, body: { message: `Unknown admin route ${method} ${path}` } };
  }
}

/** Starts a fake Langfuse on 127.0.0.1 (ephemeral port unless options.port). */
export async function startFakeLangfuse(options: FakeLangfuseOptions): Promise<FakeLangfuse> {
  const server = new FakeLangfuseServer(options);
  await server.listen();
  return server;
}

if (require.main === module) {
  const projects: FakeLangfuseProject[] = process.env.FAKE_LANGFUSE_PROJECTS
    ? (JSON.parse(process.env.FAKE_LANGFUSE_PROJECTS) as FakeLangfuseProject[])
    : [{ projectId: 'fake-project', publicKey: 'pk-lf-fake', secretKey: 'sk-lf-fake' }];
  const extra = process.env.FAKE_LANGFUSE_OPTIONS
    ? (JSON.parse(process.env.FAKE_LANGFUSE_OPTIONS) as Partial<FakeLangfuseOptions>)
    : {};
  startFakeLangfuse({
    ...extra,
    projects,
    port: Number(process.env.PORT ?? extra.port ?? 4100),
    host: process.env.HOST ?? extra.host ?? '127.0.0.1',
  })
    .then((fake) => {
      process.stdout.write(`fake-langfuse listening on ${fake.url} (projects: ${projects.map((p) => p.projectId).join(', ')})\n`);
      const stop = () => {
        void fake.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    })
    .catch((err) => {
      process.stderr.write(`fake-langfuse failed to start: ${String(err)}\n`);
      process.exit(1);
    });
}
