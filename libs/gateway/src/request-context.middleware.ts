import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { attachRequestContext, RequestContext, runWithRequestContext, withRequestContext } from '@app/common';
import { GatewayMetrics } from './metrics';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** What the gateway's own middleware reads off a request; Express's request has it, the direct chat route sets it. */
export type GatewayRequest = IncomingMessage & { originalUrl?: string; route?: { path?: string } };

/**
 * Gives every request an id (the caller's X-Request-Id if sane), a metrics
 * sample labelled with the route pattern, and an access log line. Installed
 * first, as plain Express middleware (configureGatewayApp), so body errors
 * (413, bad JSON) carry the id too, and called by the direct chat route.
 * The access line of a success is a debug line: unless `logSuccesses`
 * (LOG_LEVEL debug or verbose) it is not even built.
 *
 * The request's context is attached to the response. With `propagate`
 * (Express and Nest routes) it also rides along every await of the request
 * (AsyncLocalStorage); the direct chat route passes it on explicitly
 * instead, which spares every promise of the process a hook (see
 * @app/common request-context.ts).
 */
export function requestContextMiddleware(
  metrics: GatewayMetrics,
  logSuccesses: boolean,
  propagate = true,
): (req: GatewayRequest, res: ServerResponse, next: () => void) => void {
  const logger = new Logger('HTTP');
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    const ctx: RequestContext = { requestId };
    attachRequestContext(res, ctx);
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = req.route?.path ?? 'unmatched';
      metrics.observe(String(route), req.method ?? '', res.statusCode, ms / 1000);
      const failed = res.statusCode >= 400;
      if (!failed && !logSuccesses) return;
      withRequestContext(ctx, () => {
        const line = `${req.method} ${(req.originalUrl ?? req.url ?? '').split('?')[0]} ${res.statusCode} ${ms.toFixed(1)}ms`;
        if (failed) logger.log(line);
        else logger.debug(line);
      });
    });
    if (propagate) runWithRequestContext(ctx, res, next);
    else next();
  };
}
