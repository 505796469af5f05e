import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import axios, { AxiosError, AxiosInstance } from 'axios';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { forwardingConfig } from './forwarding.config';
import { guardedLookup, isPrivateAddress } from './ssrf-guard';
import { UpstreamClient, UpstreamRequest, UpstreamResponse } from './upstream.client';

/**
 * axios over keep-alive agents shared by every request. Client-chosen
 * upstreams use a second pair of agents whose DNS lookup refuses private
 * addresses. Bodies are streamed both ways (responseType: stream).
 */
@Injectable()
export class AxiosUpstreamClient extends UpstreamClient implements OnModuleDestroy {
  private readonly http: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly guardedAgents: { http: http.Agent; https: https.Agent };
  private readonly timeoutMs: number;

  constructor(@Inject(forwardingConfig.KEY) config: ConfigType<typeof forwardingConfig>) {
    super();
    const common = { keepAlive: true, maxFreeSockets: config.UPSTREAM_MAX_FREE_SOCKETS, scheduling: 'lifo' as const };
    this.agents = { http: new http.Agent(common), https: new https.Agent(common) };
    this.guardedAgents = {
      http: new http.Agent({ ...common, lookup: guardedLookup as never }),
      https: new https.Agent({ ...common, lookup: guardedLookup as never }),
    };
    this.timeoutMs = config.REQUEST_TIMEOUT * 1000;
    this.http = axios.create({
      responseType: 'stream',
      validateStatus: () => true,
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      decompress: true,
      timeout: this.timeoutMs,
      transformRequest: [(data: unknown) => data],
      transitional: { clarifyTimeoutError: true },
      proxy: false,
    });
  }

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const url = new URL(request.url);
    if (request.guardPrivate) {
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if ((isIP(host) && isPrivateAddress(host)) || host === 'localhost') throw forbidden(url.host);
    }
    const agents = request.guardPrivate ? this.guardedAgents : this.agents;
    try {
      const res = await this.http.request<Readable>({
        url: request.url,
        method: request.method,
        headers: request.headers,
        data: request.body,
        signal: request.signal,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      });
      return { status: res.status, headers: res.headers as UpstreamResponse['headers'], body: res.data };
    } catch (err) {
      throw this.translate(err as AxiosError, url);
    }
  }

  private translate(err: AxiosError, url: URL): Error {
    const code = err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ERR_CANCELED') {
      return new GatewayError(GatewayErrorCode.ClientClosedRequest, `The client disconnected before ${url.host} answered.`);
    }
    if (code === 'EPRIVATEADDR' || (err.cause as { code?: string } | undefined)?.code === 'EPRIVATEADDR') return forbidden(url.host);
    if (code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
      return new GatewayError(
        GatewayErrorCode.UpstreamTimeout,
        `The upstream ${url.host} did not answer within REQUEST_TIMEOUT (${this.timeoutMs / 1000} s).`,
      );
    }
    return new GatewayError(
      GatewayErrorCode.UpstreamUnreachable,
      `Could not reach the upstream ${url.host}: ${code ?? err.message}.`,
    );
  }

  onModuleDestroy(): void {
    for (const a of [this.agents.http, this.agents.https, this.guardedAgents.http, this.guardedAgents.https]) a.destroy();
  }
}

function forbidden(host: string): GatewayError {
  return new GatewayError(
    GatewayErrorCode.ForbiddenUpstream,
    `encoded_base_url points at ${host}, a loopback or private address; set ALLOW_PRIVATE_UPSTREAMS=true to allow it.`,
  );
}
