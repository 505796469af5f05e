import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { GatewayError, GatewayErrorCode, withRequestContext } from '@app/common';
import { ForwardingSettings } from './forwarding.settings';
import { RefusedAddressError, UpstreamAddressPolicy } from './ssrf-guard';
import { UpstreamClient, UpstreamRequest, UpstreamResponse } from './upstream.client';

/**
 * Node's own http(s).request over keep-alive agents shared by every request.
 * Client-chosen upstreams use a second pair of agents whose DNS lookup
 * applies the SSRF guard (UpstreamAddressPolicy). Bodies stream both ways.
 * Errors name the upstream as the request says (UpstreamRequest.name); its
 * host goes only to the log line, as an operator-configured host may be
 * internal.
 *
 * Why not axios: on the hot path its config merging, header objects and
 * per-request socket set-up cost about a third of the gateway's CPU per
 * completion (bench/, `npm run bench -- overhead`).
 */
@Injectable()
export class HttpUpstreamClient extends UpstreamClient implements OnModuleDestroy {
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly guardedAgents: { http: http.Agent; https: https.Agent };
  private readonly timeoutMs: number;
  private readonly logger = new Logger(HttpUpstreamClient.name);

  constructor(
    config: ForwardingSettings,
    private readonly addressPolicy: UpstreamAddressPolicy,
  ) {
    super();
    const common = { keepAlive: true, maxFreeSockets: config.UPSTREAM_MAX_FREE_SOCKETS, scheduling: 'lifo' as const };
    this.agents = { http: new http.Agent(common), https: new https.Agent(common) };
    this.guardedAgents = {
      http: new http.Agent({ ...common, lookup: addressPolicy.lookup as never }),
      https: new https.Agent({ ...common, lookup: addressPolicy.lookup as never }),
    };
    this.timeoutMs = config.REQUEST_TIMEOUT * 1000;
  }

  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const url = new URL(request.url);
    const refused = request.guardPrivate ? this.addressPolicy.refusedHost(url.hostname) : undefined;
    if (refused) return Promise.reject(this.forbidden(new RefusedAddressError(url.hostname, refused, true), url, request));
    const secure = url.protocol === 'https:';
    const agents = request.guardPrivate ? this.guardedAgents : this.agents;
    const headers: Record<string, string | number> = { ...request.headers, 'accept-encoding': 'gzip, deflate, br' };
    if (Buffer.isBuffer(request.body)) headers['content-length'] = request.body.length;

    const { client } = request;
    if (client.gone) return Promise.reject(this.translate(Object.assign(new Error('aborted'), { name: 'AbortError' }), url, request));

    return new Promise<UpstreamResponse>((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method: request.method,
        headers,
        agent: secure ? agents.https : agents.http,
      });
      // One 'close' listener on the client's response, not an AbortSignal
      // (http.request's `signal` option and its bookkeeping cost more than
      // the rest of the call).
      const stop = client.onGone(() => req.destroy(Object.assign(new Error('The client disconnected'), { name: 'AbortError' })));
      req.once('close', stop);
      let answered = false;
      // Inactivity timeout: fires while waiting for headers and between body chunks.
      req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' })));
      req.once('error', (err) => {
        if (!answered) reject(this.translate(err as NodeJS.ErrnoException, url, request));
      });
      req.once('response', (res) => {
        answered = true;
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: decoded(res) });
      });
      if (request.body === undefined) req.end();
      else if (Buffer.isBuffer(request.body)) req.end(request.body);
      else pipeline(request.body as Readable, req).catch((err) => req.destroy(err as Error));
    });
  }

  private translate(err: NodeJS.ErrnoException, url: URL, request: UpstreamRequest): Error {
    const name = request.name ?? 'the upstream';
    const logDetail = `upstream ${url.host}`;
    if (request.client.gone || err.name === 'AbortError') {
      return new GatewayError(GatewayErrorCode.ClientClosedRequest, `The client disconnected before ${name} answered.`, undefined, { logDetail });
    }
    if (err instanceof RefusedAddressError) return this.forbidden(err, url, request);
    if (err.code === 'ETIMEDOUT') {
      return new GatewayError(GatewayErrorCode.UpstreamTimeout, `${capitalize(name)} did not answer within REQUEST_TIMEOUT (${this.timeoutMs / 1000} s).`, undefined, { logDetail });
    }
    // err.code only: a message such as "connect ECONNREFUSED 10.0.0.5:4000" names the address.
    return new GatewayError(GatewayErrorCode.UpstreamUnreachable, `Could not reach ${name}: ${err.code ?? 'connection failed'}.`, undefined, {
      logDetail: `${logDetail}: ${err.message}`,
    });
  }

  /** 403 with the guard's message; the log line says which address and what refused it (a deny-list refusal does not tell the client). */
  private forbidden(err: RefusedAddressError, url: URL, request: UpstreamRequest): GatewayError {
    const { address, embeddedIn, reason, setting } = err.refusal;
    const at = embeddedIn ? `${embeddedIn} (${address})` : address;
    const why = setting === 'UPSTREAM_DENY_CIDRS' ? 'listed in UPSTREAM_DENY_CIDRS' : `${reason}, not in UPSTREAM_ALLOW_CIDRS`;
    withRequestContext(request.context, () => this.logger.warn(`Refused the encoded_base_url upstream ${url.host} at ${at}: ${why}.`));
    return new GatewayError(GatewayErrorCode.ForbiddenUpstream, err.message);
  }

  onModuleDestroy(): void {
    for (const a of [this.agents.http, this.agents.https, this.guardedAgents.http, this.guardedAgents.https]) a.destroy();
  }
}

/** The body as plain bytes: compressed answers are inflated (clientHeaders drops content-encoding). */
function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').toLowerCase();
  const inflate = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : undefined;
  if (!inflate) return res;
  res.once('error', (err) => inflate.destroy(err));
  return res.pipe(inflate);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
