import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { requestContext } from '@app/common';
import { GatewayMetrics } from './metrics';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Gives every request an id (the caller's X-Request-Id if sane) and an access log line. */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  private readonly logger = new Logger('HTTP');

  constructor(private readonly metrics: GatewayMetrics) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const started = process.hrtime.bigint();
    const ctx = { requestId };
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      this.metrics.observe(String(route), req.method, res.statusCode, ms / 1000);
      requestContext.run(ctx, () => {
        const line = `${req.method} ${req.originalUrl.split('?')[0]} ${res.statusCode} ${ms.toFixed(1)}ms`;
        if (res.statusCode >= 400) this.logger.log(line);
        else this.logger.debug(line);
      });
    });
    requestContext.run(ctx, next);
  }
}
