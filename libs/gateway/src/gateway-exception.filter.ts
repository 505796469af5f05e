import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { GatewayError, requestContextOf, withRequestContext } from '@app/common';

interface Described {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

const logger = new Logger('Errors');

/**
 * The one place errors become HTTP. Body: OpenAI-style `error` (what the
 * openai SDK reads) plus FastAPI-style `detail` (what the original's clients
 * read). Never writes after headers were sent: a broken stream is ended.
 * 5xx without a domain code are logged with an errorId returned to the caller;
 * a domain 5xx is logged with its logDetail, which the caller never sees.
 * Plain node response API, so the direct chat route writes errors the same way.
 */
export function sendGatewayError(res: ServerResponse, exception: unknown): void {
  withRequestContext(requestContextOf(res), () => writeError(res, exception));
}

function writeError(res: ServerResponse, exception: unknown): void {
  if (res.headersSent) {
    logger.warn(`Error after the response started: ${(exception as Error)?.message}${logDetailOf(exception)}`);
    if (!res.writableEnded) res.destroy();
    return;
  }
  const d = describe(exception);
  let errorId: string | undefined;
  if (d.status >= 500 && !(exception instanceof GatewayError)) {
    errorId = randomUUID();
    logger.error(`Unhandled error ${errorId}: ${(exception as Error)?.stack ?? String(exception)}`);
  } else if (d.status >= 500) {
    logger.warn(`${d.status} ${d.code}: ${d.message}${logDetailOf(exception)}`);
  }
  const body = JSON.stringify({
    error: { message: d.message, type: d.status >= 500 ? 'api_error' : 'invalid_request_error', code: d.code, ...(errorId ? { error_id: errorId } : {}), ...(d.details ?? {}) },
    detail: d.message,
  });
  res.writeHead(d.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    sendGatewayError(host.switchToHttp().getResponse<ServerResponse>(), exception);
  }
}

function describe(exception: unknown): Described {
  if (exception instanceof GatewayError) {
    return { status: exception.status, code: exception.code, message: exception.message, details: exception.details };
  }
  if (exception instanceof HttpException) {
    const response = exception.getResponse();
    const message = typeof response === 'string' ? response : Array.isArray((response as { message?: unknown }).message) ? ((response as { message: string[] }).message.join('; ')) : String((response as { message?: unknown }).message ?? exception.message);
    return { status: exception.getStatus(), code: httpCode(exception.getStatus()), message };
  }
  return { status: 500, code: 'internal_error', message: 'Internal error in the gateway; the error id is in its log.' };
}

function logDetailOf(exception: unknown): string {
  return exception instanceof GatewayError && exception.logDetail ? ` [${exception.logDetail}]` : '';
}

function httpCode(status: number): string {
  return ({ 400: 'bad_request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 429: 'rate_limited' } as Record<number, string>)[status] ?? `http_${status}`;
}
