import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { LANGFUSE_SDK_VERSION } from '@langfuse/core';
import http from 'node:http';
import https from 'node:https';
import type { ExportCredentials } from './delivery';

/** What came of sending one batch. */
export type SendResult =
  | { ok: true }
  | {
      ok: false;
      /** Worth sending again later (5xx, 429, 408, timeout, connection failure, rejected keys). */
      retryable: boolean;
      status?: number;
      /** Retry-After, when Langfuse sent one. */
      retryAfterMs?: number;
      /** For the log: status and the start of Langfuse's answer, or the network error. Never a key. */
      reason: string;
    };

/**
 * One project's OTLP/HTTP JSON client for Langfuse's ingestion endpoint
 * (`POST {host}/api/public/otel/v1/traces`, Basic auth, the headers the SDK's
 * own exporter sends), serialised with OpenTelemetry's JsonTraceSerializer.
 *
 * Why not OTLPTraceExporter: it retries within one 5 s deadline and then
 * reports a bare failure, without the status or Retry-After; durable delivery
 * (delivery.ts) needs both to decide when to try again, for as long as
 * Langfuse stays away.
 */
export class OtlpClient {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly agent: http.Agent;

  constructor(
    credentials: ExportCredentials,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(`${credentials.host}/api/public/otel/v1/traces`);
    this.headers = {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from(`${credentials.publicKey}:${credentials.secretKey}`).toString('base64')}`,
      'x-langfuse-sdk-name': 'javascript',
      'x-langfuse-sdk-version': LANGFUSE_SDK_VERSION,
      'x-langfuse-public-key': credentials.publicKey,
    };
    const secure = this.url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  send(spans: ReadableSpan[]): Promise<SendResult> {
    const body = JsonTraceSerializer.serializeRequest(spans);
    if (!body) return Promise.resolve({ ok: false, retryable: false, reason: 'the spans could not be serialised' });
    return new Promise((resolve) => {
      const request = (this.url.protocol === 'https:' ? https : http).request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-length': String(body.byteLength) },
      });
      let settled = false;
      const settle = (result: SendResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      request.setTimeout(this.timeoutMs, () => request.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms (LANGFUSE_EXPORT_TIMEOUT_MS)`), { code: 'ETIMEDOUT' })));
      request.once('error', (err: NodeJS.ErrnoException) => settle({ ok: false, retryable: true, reason: err.code === 'ETIMEDOUT' ? err.message : `${err.code ?? 'network error'}: ${err.message}` }));
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < 1024) chunks.push(chunk);
          size += chunk.length;
        });
        response.once('error', (err) => settle({ ok: false, retryable: true, reason: `the answer broke off: ${err.message}` }));
        response.once('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return settle({ ok: true });
          const answer = Buffer.concat(chunks).toString('utf8').slice(0, 300);
          settle({
            ok: false,
            status,
            retryable: status === 408 || status === 429 || status >= 500 || status === 401 || status === 403,
            retryAfterMs: parseRetryAfter(response.headers['retry-after']),
            reason: `HTTP ${status}${answer ? `: ${answer}` : ''}`,
          });
        });
      });
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const seconds = Number(v.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
