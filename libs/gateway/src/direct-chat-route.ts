/**
 * The direct chat route: `POST …/chat/completions` served by the gateway's
 * HTTP server in front of Express, running the same steps in the same order
 * as the framework path — request context → JSON body → route params from
 * routing-metadata's route table → RequestAuthenticator →
 * ChatCompletionsService.serve, errors through sendGatewayError.
 *
 * Why: Express + Nest cost about 90 µs of CPU per request on the bench VM
 * (bench/README.md), on the one route that carries the load.
 *
 * It is opt-in, and the contract is plain: an app that sets
 * GatewayModule.forRoot({ directChatRoute: true }) (the shipped app does)
 * gets exactly these steps on chat calls and nothing it added to the
 * framework (middleware, guards, interceptors, pipes, filters, a global
 * prefix); without it, chat goes through Express and Nest like every other
 * route. It reads no framework internals: the app's providers through
 * app.get, the route table from @app/routing-metadata.
 *
 * The request context is attached to the response and passed on
 * explicitly, not kept in AsyncLocalStorage across awaits (its hook costs
 * every promise; @app/common request-context.ts): a log line written on
 * this path carries it inside withRequestContext.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestAuthenticator } from '@app/auth';
import type { ChatCompletionsService } from '@app/completion-forwarding';
import { ChatRouteParams, matchChatRoute } from '@app/routing-metadata';
import { sendGatewayError } from './gateway-exception.filter';
import { JsonRequest } from './json-body';
import { GatewayRequest } from './request-context.middleware';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

export interface DirectChatRouteParts {
  /** The request context middleware (request id, metrics, access log). */
  context: Middleware;
  /** The JSON body parser. */
  body: Middleware;
  authenticator: RequestAuthenticator;
  chat: ChatCompletionsService;
}

export class DirectChatRoute {
  constructor(private readonly parts: DirectChatRouteParts) {}

  /** Takes the request if it is a POST on a chat route; false leaves it, untouched, to Express. */
  handle(req: GatewayRequest, res: ServerResponse): boolean {
    const url = req.url;
    if (req.method !== 'POST' || url === undefined || !url.includes('/chat/completions')) return false;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const matched = matchChatRoute(path);
    if (!matched) return false;
    req.originalUrl = url;
    this.parts.context(req, res, () =>
      this.parts.body(req, res, (err) => {
        if (err) return sendGatewayError(res, err);
        req.route = { path: matched.route };
        this.serve(req, res, path, matched.params).catch((e: unknown) => sendGatewayError(res, e));
      }),
    );
    return true;
  }

  private async serve(req: GatewayRequest, res: ServerResponse, path: string, params: ChatRouteParams): Promise<void> {
    const account = await this.parts.authenticator.authenticate({ method: 'POST', path, headers: req.headers });
    const { body, rawBody } = req as JsonRequest;
    await this.parts.chat.serve(params, body, req.headers, account, res, rawBody);
  }
}
