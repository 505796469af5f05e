import { All, Controller, RawBodyRequest, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { accountOf } from '@app/auth';
import { clientPresence } from '@app/common';
import type { Request, Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { clientHeaders, upstreamHeaders } from './forwarded-headers';
import { UpstreamClient } from './upstream.client';
import { UpstreamTargetResolver } from './upstream-target.resolver';

/**
 * Any path no other route claims goes to the default upstream (LITELLM_URL,
 * else DEFAULT_UPSTREAM_URL) with the client's key: /v1/models, embeddings,
 * files… A `/v1` prefix is not doubled when the base already ends in `/v1`.
 * Registered last (its module is imported last). Not in the OpenAPI document
 * (its description says what it does); a path the document names never
 * reaches it (the gateway answers a method it does not serve there with 405).
 */
@ApiExcludeController()
@Controller()
export class CatchAllController {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly resolver: UpstreamTargetResolver,
  ) {}

  @All('*path')
  async proxy(@Req() req: RawBodyRequest<Request>, @Res() res: Response): Promise<void> {
    // A JSON body the gateway's parser consumed (it keeps the bytes as rawBody, Nest's
    // RawBodyRequest convention) goes out as those bytes, inflated; anything else streams through.
    const rawBody = req.rawBody;
    const headers = upstreamHeaders(req.headers, accountOf(req).credentialHeaders);
    if (rawBody !== undefined) delete headers['content-encoding'];
    const client = clientPresence(res);
    const response = await this.upstream.send({
      method: req.method,
      url: joinUrl(this.resolver.defaultBase(), req.originalUrl),
      headers,
      body: rawBody ?? (['GET', 'HEAD'].includes(req.method) ? undefined : (req as Readable)),
      guardPrivate: false,
      name: this.resolver.defaultName(),
      client,
      get signal() {
        return client.signal;
      },
    });
    res.status(response.status);
    for (const [name, value] of Object.entries(clientHeaders(response.headers))) res.setHeader(name, value);
    try {
      await pipeline(response.body, res);
    } catch {
      if (!res.destroyed) res.destroy();
    }
  }
}

export function joinUrl(base: string, originalUrl: string): string {
  const b = new URL(base);
  const basePath = b.pathname.replace(/\/+$/, '');
  let path = originalUrl;
  if (basePath.endsWith('/v1') && (path === '/v1' || path.startsWith('/v1/') || path.startsWith('/v1?'))) path = path.slice(3);
  return `${b.origin}${basePath}${path}`;
}
