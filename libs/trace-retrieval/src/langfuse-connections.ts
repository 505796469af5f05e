import { Injectable, Logger } from '@nestjs/common';
import { LangfuseClient } from '@langfuse/client';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { CredentialVault } from '@app/credential-vault';
import { ProjectThrottle } from './project-throttle';
import { ReadBudget } from './read-budget';
import { TraceRetrievalSettings } from './trace-retrieval.settings';

export type LangfuseApi = LangfuseClient['api'];

/** Per-call options of the Fern-generated client: no hidden retries, our timeout, our abort. */
export interface CallOptions {
  maxRetries: 0;
  timeoutInSeconds: number;
  abortSignal: AbortSignal;
}

/** One project's reusable Langfuse client and its shared read budget. */
export interface LangfuseConnection {
  readonly projectId: string;
  readonly host: string;
  readonly api: LangfuseApi;
  readonly throttle: ProjectThrottle;
}

/** A Langfuse endpoint answered 404: on a list endpoint that means "this server does not have this API". */
export class LangfuseNotFound extends Error {
  constructor(readonly what: string) {
    super(`${what} answered 404`);
    this.name = 'LangfuseNotFound';
  }
}

const MAX_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;

interface Failure {
  status?: number;
  retryAfterMs?: number;
  retryable: boolean;
  summary: string;
}

/**
 * Langfuse clients, one per project, created on first use and reused (the
 * maintained @langfuse/client, whose fetch keeps connections alive), and the
 * retry policy every read goes through. The SDK's own retries are switched
 * off (maxRetries: 0): they sleep up to 60 s on a Retry-After without knowing
 * the caller's budget. Instead each call here waits for the project's
 * throttle, honours 429 Retry-After for every request of the project,
 * retries timeouts/5xx/network errors with exponential backoff, and gives up
 * with LangfuseUnavailable rather than overrun the caller's budget.
 * Keys go only into the client's Basic auth; nothing here logs them. The
 * host goes to the log, never into a client's message: errors carry it as
 * their logDetail, and failure summaries have it taken out.
 */
@Injectable()
export class LangfuseConnections {
  private readonly logger = new Logger(LangfuseConnections.name);
  private connections = new Map<string, LangfuseConnection>();

  constructor(
    private readonly vault: CredentialVault,
    private readonly config: TraceRetrievalSettings,
  ) {
    // New keys or hosts: build fresh clients (throttles restart too).
    vault.onReload(() => (this.connections = new Map()));
  }

  /** The connection of a project (default project when undefined); throws UnknownProject / TracingNotConfigured. */
  forProject(projectId?: string): LangfuseConnection {
    const creds = this.vault.credentialsFor(projectId);
    let conn = this.connections.get(creds.projectId);
    if (!conn) {
      const client = new LangfuseClient({ publicKey: creds.publicKey, secretKey: creds.secretKey, baseUrl: creds.host });
      conn = {
        projectId: creds.projectId,
        host: creds.host,
        api: client.api,
        throttle: new ProjectThrottle(this.config.LANGFUSE_READ_RPM, this.config.LANGFUSE_READ_CONCURRENCY),
      };
      this.connections.set(creds.projectId, conn);
    }
    return conn;
  }

  /**
   * Runs one Langfuse call with the retry policy. `what` names it in errors
   * ("GET /api/public/traces"). A 404 throws LangfuseNotFound for the caller
   * to interpret.
   */
  async call<T>(conn: LangfuseConnection, budget: ReadBudget, what: string, fn: (options: CallOptions) => Promise<T>): Promise<T> {
    let last: Failure | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const lastNote = last ? ` (last attempt: ${last.summary})` : '';
      const result = await conn.throttle.run(budget, what + lastNote, async () => {
        const timeoutMs = Math.min(this.config.LANGFUSE_READ_TIMEOUT_MS, budget.remainingMs());
        try {
          return { ok: true as const, value: await fn({ maxRetries: 0, timeoutInSeconds: Math.max(timeoutMs, 1) / 1000, abortSignal: budget.signal }) };
        } catch (err) {
          if (budget.aborted) throw budget.exhausted(`${what} was still running${lastNote}`);
          const failure = describeFailure(err, timeoutMs);
          // Summaries end up in client messages (errors, budget reasons); the host stays in the log.
          return { ok: false as const, failure: { ...failure, summary: withoutHost(failure.summary, conn) } };
        }
      });
      if (result.ok) return result.value;
      last = result.failure;
      if (last.status === 404) throw new LangfuseNotFound(what);
      if (last.status === 401 || last.status === 403) {
        throw new GatewayError(
          GatewayErrorCode.LangfuseUnavailable,
          `Langfuse rejected the API keys of project "${conn.projectId}" (HTTP ${last.status}) on ${what}: check the project's langfuse_keys and host in the gateway's secrets file (its log names the host).`,
          { langfuse_status: last.status },
          { logDetail: hostNote(conn) },
        );
      }
      if (!last.retryable) {
        throw new GatewayError(
          GatewayErrorCode.LangfuseUnavailable,
          `Langfuse refused ${what} of project "${conn.projectId}": ${last.summary}.`,
          { langfuse_status: last.status },
          { logDetail: hostNote(conn) },
        );
      }
      if (attempt === MAX_ATTEMPTS - 1) break;
      if (last.status === 429) {
        const pauseMs = last.retryAfterMs ?? backoffMs(attempt);
        conn.throttle.pauseUntil(Date.now() + pauseMs);
        this.logger.warn(`Langfuse rate-limited ${what} (project ${conn.projectId} at ${conn.host}); pausing the project's reads for ${pauseMs} ms.`);
      } else {
        const waitMs = backoffMs(attempt);
        this.logger.warn(`${what} (project ${conn.projectId} at ${conn.host}) failed: ${last.summary}; retrying in ${waitMs} ms.`);
        await budget.sleep(waitMs, `${what} kept failing (last attempt: ${last.summary})`);
      }
    }
    throw new GatewayError(
      GatewayErrorCode.LangfuseUnavailable,
      `Langfuse did not answer ${what} of project "${conn.projectId}" after ${MAX_ATTEMPTS} attempts (last: ${last?.summary}). Retry later.`,
      { langfuse_status: last?.status },
      { logDetail: hostNote(conn) },
    );
  }
}

/** For the log line of an error: where the project's Langfuse is (clients are not told). */
export function hostNote(conn: LangfuseConnection): string {
  return `Langfuse host of project ${conn.projectId}: ${conn.host}`;
}

/** A Langfuse or network message for a client, with the project's Langfuse host taken out. */
function withoutHost(text: string, conn: LangfuseConnection): string {
  const forms = [conn.host.replace(/\/+$/, '')];
  try {
    const url = new URL(conn.host);
    forms.push(url.host, url.hostname);
  } catch {
    // Not a URL: the text form above is all there is to take out.
  }
  return forms.filter(Boolean).reduce((out, form) => out.split(form).join('the Langfuse host'), text);
}

function backoffMs(attempt: number): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_MAX_MS);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** The Fern client throws LangfuseAPIError with statusCode + rawResponse.headers, or without a status on timeouts and network errors. */
function describeFailure(err: unknown, timeoutMs: number): Failure {
  const e = err as { statusCode?: unknown; rawResponse?: { headers?: { get?(name: string): string | null } }; message?: unknown; body?: unknown };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined) {
    const message = typeof e?.message === 'string' ? e.message : String(err);
    const timedOut = /timeout|timed out|aborted/i.test(message);
    return { retryable: true, summary: timedOut ? `no answer within ${timeoutMs} ms (LANGFUSE_READ_TIMEOUT_MS)` : `network error: ${message.split('\n')[0]}` };
  }
  if (status === 429) {
    return { status, retryable: true, retryAfterMs: parseRetryAfter(e.rawResponse?.headers?.get?.('retry-after') ?? null), summary: 'HTTP 429 rate limited' };
  }
  const retryable = status === 408 || status >= 500 || (status >= 200 && status < 300); // 2xx here = unparseable body
  return { status, retryable, summary: `HTTP ${status}${bodyHint(e.body)}` };
}

export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(value);
  if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  return undefined;
}

function bodyHint(body: unknown): string {
  if (body === undefined || body === null || body === '') return '';
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return ` ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`;
}
