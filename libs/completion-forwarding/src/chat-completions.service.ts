/**
 * Order of a tracked call: tag → forward → (200) id recorded → trace handed
 * to the tracer, marked as failed if the id could not be recorded → the
 * response, with `x-insertion-id`, to the client. Both the registration and
 * the trace hand-over are durable (or the failure is loud) before the client
 * sees a 200. For SSE the upstream's `[DONE]` is held back until then, so a
 * client never sees a clean end of a stream that was not recorded (the
 * OpenAI SDK ignores events after `[DONE]`, so the failure must replace it);
 * a stream that ends without `[DONE]` or a finish_reason ends with an error
 * event. A client that leaves after the generation finished (finish_reason
 * seen, only `[DONE]` pending) is recorded: the completion happened. One that
 * leaves earlier aborts the upstream call and is not recorded.
 *
 * The trace of a call the client saw fail (an upstream error, an interrupted
 * stream, an id that could not be recorded) is exported marked failed (level
 * ERROR, `rollout_id:` tag replaced), so /traces never counts it.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { v7 as uuidv7 } from 'uuid';
import { AccountInfo, ProjectResolver } from '@app/auth';
import { ClientPresence, clientPresence, currentRequestContext, GatewayError, GatewayErrorCode, RequestContext, requestContextOf, withRequestContext } from '@app/common';
import { RolloutTracker } from '@app/completeness-tracking';
import { CredentialVault } from '@app/credential-vault';
import { buildMetadataTags, buildTrailTags, ChatRouteParams, mergeTags, parseChatRoute, RolloutMetadata, RolloutRef } from '@app/routing-metadata';
import { ChatRequestPreprocessor, PassThroughChatRequestPreprocessor } from './chat-request.preprocessor';
import { CompletionOutcome, CompletionTrace, CompletionTracer } from './completion.tracer';
import { clientHeaders, upstreamHeaders } from './forwarded-headers';
import { ForwardingPolicy } from './forwarding.policy';
import { writeForwardResult } from './response-writer';
import { SseAccumulator } from './sse-accumulator';
import { UpstreamClient, UpstreamResponse } from './upstream.client';
import { UpstreamTarget, UpstreamTargetResolver } from './upstream-target.resolver';

export interface ChatCall {
  params: ChatRouteParams;
  body: unknown;
  headers: IncomingHttpHeaders;
  account: AccountInfo;
  /** Whether the client disconnected. */
  client: ClientPresence;
  /** The request's log context: forward() adds the rollout and project, and logs with it. */
  context?: RequestContext;
  /** The bytes `body` was parsed from (the body parser's `rawBody`), if at hand. */
  rawBody?: Buffer;
}

type Headers = Record<string, string | string[]>;

export type ForwardResult =
  | { kind: 'buffered'; status: number; headers: Headers; body: Buffer }
  | { kind: 'stream'; status: number; headers: Headers; chunks: AsyncGenerator<Buffer, void, undefined> };

interface Tracked {
  rollout: RolloutRef;
  insertionId: string;
}

@Injectable()
export class ChatCompletionsService {
  private readonly logger = new Logger(ChatCompletionsService.name);
  /** The body the tracer gets is the one the client sent, byte for byte: only the default preprocessor (not a subclass) guarantees that; another may change it, in place or not. */
  private readonly bodyAsReceived: boolean;

  constructor(
    private readonly upstream: UpstreamClient,
    private readonly resolver: UpstreamTargetResolver,
    private readonly tracer: CompletionTracer,
    private readonly tracker: RolloutTracker,
    private readonly vault: CredentialVault,
    private readonly projects: ProjectResolver,
    private readonly preprocessor: ChatRequestPreprocessor,
    private readonly policy: ForwardingPolicy,
  ) {
    this.bodyAsReceived = preprocessor.constructor === PassThroughChatRequestPreprocessor;
  }

  /**
   * What a chat route does once the caller is authenticated and the body is
   * parsed: forward, then write the answer to a plain node response. The Nest
   * route and the gateway's direct chat route both call it, so both answer
   * alike. Rejects before anything was written (the caller sends the error)
   * or after a stream started (the caller ends the socket).
   */
  async serve(params: ChatRouteParams, body: unknown, headers: IncomingHttpHeaders, account: AccountInfo, res: ServerResponse, rawBody?: Buffer): Promise<void> {
    const result = await this.forward({ params, body, headers, account, client: clientPresence(res), context: requestContextOf(res), rawBody });
    await writeForwardResult(res, result);
  }

  async forward(call: ChatCall): Promise<ForwardResult> {
    const initial = { route: parseChatRoute(call.params), body: checkBody(call.body) };
    const { route, body } = await this.preprocessor.process(initial, { account: call.account, headers: call.headers, requestContext: call.context });
    const projectId = this.projects.resolve(call.account, route.projectId);
    const model = body.model as string;
    const target = this.resolver.resolve(model, route.baseUrl);

    // A rollout route, a trail route, or neither (untracked).
    const insertionId = route.metadata || route.trailId !== undefined ? uuidv7() : undefined;
    const tracked: Tracked | undefined =
      insertionId === undefined
        ? undefined
        : { rollout: route.metadata ? { projectId, rolloutId: route.metadata.rolloutId } : { projectId, rolloutId: route.trailId!, trail: true }, insertionId };
    // A caller of forward() that passed none may run in a Nest route's context.
    const ctx = call.context ?? currentRequestContext();
    if (ctx) {
      ctx.rolloutId = route.metadata?.rolloutId;
      ctx.trailId = route.metadata ? undefined : route.trailId;
      ctx.projectId = projectId;
    }
    const clientTags = (body.metadata as { tags?: unknown } | undefined)?.tags;
    const ours = insertionId === undefined ? [] : route.metadata ? buildMetadataTags(route.metadata, insertionId) : buildTrailTags(route.trailId!, insertionId);
    const tags = mergeTags(clientTags, ours);

    const trace = this.tracer.start({
      projectId,
      tags,
      metadata: insertionId === undefined ? {} : route.metadata ? traceMetadata(route.metadata, insertionId) : { trail_id: route.trailId!, insertion_id: insertionId },
      request: body,
      requestBytes: this.bodyAsReceived ? jsonText(call.rawBody) : undefined,
      model,
      startTime: new Date(),
    });

    const headers = upstreamHeaders(call.headers, call.account.credentialHeaders);
    headers['content-type'] = 'application/json';
    let response: UpstreamResponse;
    try {
      response = await this.upstream.send({
        method: 'POST',
        url: `${target.baseUrl}/chat/completions`,
        headers,
        body: Buffer.from(JSON.stringify(this.outgoingBody(body, target, tags, tracked !== undefined, projectId))),
        guardPrivate: target.guardPrivate,
        name: target.name,
        client: call.client,
        context: ctx,
        get signal() {
          return call.client.signal;
        },
      });
    } catch (err) {
      await trace?.end({ statusCode: err instanceof GatewayError ? err.status : 502, error: (err as Error).message });
      throw err;
    }

    const answerHeaders = clientHeaders(response.headers);
    if (trace) answerHeaders['x-langfuse-trace-id'] = trace.traceId;

    const contentType = String(response.headers['content-type'] ?? '');
    if (response.status === 200 && contentType.startsWith('text/event-stream')) {
      // The stream's headers go out before it is recorded; a stream that is not recorded ends with an error event instead of [DONE].
      if (tracked) answerHeaders['x-insertion-id'] = tracked.insertionId;
      return { kind: 'stream', status: 200, headers: answerHeaders, chunks: this.relay(response.body, trace, tracked, ctx) };
    }
    let payload: Buffer;
    try {
      payload = await readAll(response.body, call.client);
    } catch (err) {
      await trace?.end({ statusCode: (err as GatewayError).status ?? 502, error: (err as Error).message });
      throw err;
    }
    if (await this.finishBuffered(response.status, payload, trace, tracked)) answerHeaders['x-insertion-id'] = tracked!.insertionId;
    return { kind: 'buffered', status: response.status, headers: answerHeaders, body: payload };
  }

  /** What the upstream receives: the client's body, our model name, tags where the upstream consumes them. */
  private outgoingBody(body: Record<string, unknown>, target: UpstreamTarget, tags: string[], tracked: boolean, projectId?: string) {
    const out: Record<string, unknown> = { ...body, model: target.model };
    if (tracked && this.policy.forwardTags(target.kind)) {
      out.metadata = { ...((body.metadata as object | undefined) ?? {}), tags };
    }
    if (target.trustedForLangfuseKeys) {
      const creds = this.vault.findCredentials(projectId);
      if (creds) {
        out.langfuse_public_key = creds.publicKey;
        out.langfuse_secret_key = creds.secretKey;
        out.langfuse_host = creds.host;
      }
    }
    return out;
  }

  /**
   * Records a tracked 200, then hands the trace over (marked failed if the
   * id could not be recorded, and then rethrows). True when the call was
   * recorded.
   */
  private async finishBuffered(status: number, payload: Buffer, trace: CompletionTrace | undefined, tracked?: Tracked): Promise<boolean> {
    if (status !== 200) {
      await trace?.end({ statusCode: status, error: `Upstream answered ${status}: ${payload.toString('utf8', 0, 500)}` });
      return false;
    }
    let outcome: CompletionOutcome = { statusCode: 200 };
    if (trace) {
      let parsed: Record<string, any> | undefined;
      try {
        parsed = JSON.parse(payload.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      outcome = { statusCode: 200, output: parsed?.choices?.[0]?.message ?? payload.toString('utf8', 0, 10_000), usage: parsed?.usage, model: parsed?.model };
    }
    await this.record(tracked, trace, outcome);
    return tracked !== undefined;
  }

  /** Registers the id (if tracked), then ends the trace; a registration failure marks the trace failed and is rethrown. */
  private async record(tracked: Tracked | undefined, trace: CompletionTrace | undefined, outcome: CompletionOutcome): Promise<void> {
    if (tracked) {
      try {
        await this.tracker.record(tracked.rollout, tracked.insertionId);
      } catch (err) {
        await trace?.end({ ...outcome, statusCode: (err as GatewayError).status ?? 503, error: `Not recorded for its rollout: ${(err as Error).message}` });
        throw err;
      }
    }
    await trace?.end(outcome);
  }

  /** Relays SSE chunks as they arrive; see the file comment for the `[DONE]` hold-back. */
  private async *relay(body: Readable, trace: CompletionTrace | undefined, tracked: Tracked | undefined, ctx: RequestContext | undefined): AsyncGenerator<Buffer, void, undefined> {
    const acc = new SseAccumulator();
    let firstChunkAt: Date | undefined;
    let finished = false;
    /** Records the finished completion; the SSE error event to send instead of [DONE] if it could not be recorded. */
    const finish = async (): Promise<Buffer | undefined> => {
      finished = true;
      try {
        await this.record(tracked, trace, { statusCode: 200, output: acc.output(), usage: acc.usage, model: acc.model, completionStartTime: firstChunkAt });
        return undefined;
      } catch (err) {
        return sseError(err as Error);
      }
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        firstChunkAt ??= new Date();
        acc.push(chunk);
        if (acc.sawDone && !finished && acc.endedNormally) {
          const failure = await finish();
          yield failure ?? chunk;
          if (failure) return;
          continue;
        }
        yield chunk;
      }
      if (!finished) {
        if (acc.endedNormally) {
          const failure = await finish();
          if (failure) yield failure;
        } else {
          finished = true;
          const error = acc.error ?? 'The upstream stream ended without [DONE] or a finish_reason.';
          await trace?.end({ statusCode: 200, output: acc.output(), usage: acc.usage, completionStartTime: firstChunkAt, error });
          // Never a clean end for a completion that did not finish: the client sees an error.
          if (!acc.error) yield sseEvent(error, 'upstream_error', GatewayErrorCode.UpstreamUnreachable);
        }
      }
    } finally {
      if (!finished) {
        if (acc.finishReason !== undefined && !acc.error) {
          // The generation finished (only [DONE] was pending) when the client left or the upstream broke: it happened.
          await finish();
        } else {
          // The client left (the upstream call is aborted) or the upstream broke mid-generation: nothing is recorded.
          await trace?.end({ statusCode: 499, output: acc.output(), completionStartTime: firstChunkAt, error: 'The stream was interrupted before it ended (client disconnected or upstream failed).' });
          if (tracked) withRequestContext(ctx, () => this.logger.warn(`Stream of insertion_id ${tracked.insertionId} interrupted: not recorded.`));
        }
      }
    }
  }
}

function checkBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError(GatewayErrorCode.BadRequest, 'The request body must be a JSON object (send Content-Type: application/json) with "model" and "messages".');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) {
    throw new GatewayError(GatewayErrorCode.BadRequest, 'The request body needs "model": a non-empty string such as "fireworks_ai/accounts/fireworks/models/llama-v3p3-70b-instruct".');
  }
  if (!Array.isArray(b.messages)) {
    throw new GatewayError(GatewayErrorCode.BadRequest, 'The request body needs "messages": an array of chat messages.');
  }
  return b;
}

/** The body's bytes as JSON text: a UTF-8 byte order mark (the parser of compressed bodies drops it before parsing) is not JSON. */
function jsonText(bytes: Buffer | undefined): Buffer | undefined {
  return bytes !== undefined && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}

function traceMetadata(m: RolloutMetadata, insertionId: string): Record<string, string> {
  return { rollout_id: m.rolloutId, insertion_id: insertionId, invocation_id: m.invocationId, experiment_id: m.experimentId, run_id: m.runId, row_id: m.rowId };
}

/** The whole (non-streamed) answer. Plain listeners: an async iterator costs a promise per chunk on every completion. */
function readAll(body: Readable, client: ClientPresence): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const fail = (err?: Error) =>
      reject(
        client.gone
          ? new GatewayError(GatewayErrorCode.ClientClosedRequest, 'The client disconnected while the upstream was answering.')
          : new GatewayError(GatewayErrorCode.UpstreamUnreachable, `The upstream connection broke while sending its answer${err ? `: ${err.message}` : ''}.`),
      );
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    body.once('error', fail);
    // A body cut short may only close, without 'end' or 'error' (the first settlement wins).
    body.once('close', () => {
      if (!body.readableEnded) fail();
    });
  });
}

function sseError(err: Error): Buffer {
  const message = err instanceof GatewayError ? err.message : `The completion could not be recorded: ${err.message}`;
  return sseEvent(message, 'tracking_error', GatewayErrorCode.TrackingUnavailable);
}

/** An SSE event the OpenAI SDKs raise as an APIError. */
function sseEvent(message: string, type: string, code: string): Buffer {
  return Buffer.from(`data: ${JSON.stringify({ error: { message, type, code } })}\n\n`);
}
