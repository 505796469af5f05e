/**
 * The direct chat route: `POST …/chat/completions` served by a request
 * listener in front of Express, running the same steps in the same order as
 * the framework path — request context → JSON body → route params →
 * AuthProvider → serveChatCompletion, errors through sendGatewayError.
 *
 * Why: Express + Nest cost about 200 µs of CPU per request on the bench VM
 * (`npm run bench -- breakdown`: bare node 120, express 262, Nest 302–334 ms
 * per 1k requests), a quarter of what a tracked completion cost in total, on
 * the one route that carries the load. Every other route stays on Express/Nest.
 *
 * It is a shortcut only while it is equivalent. At the first chat request it
 * inspects the assembled app and stands aside — chat goes through Express and
 * Nest as before — when anything else would run on a chat route: a global
 * guard other than AuthGuard, a global interceptor or pipe, a global filter
 * other than GatewayExceptionFilter, Express middleware other than the
 * gateway's own that matches a chat path (app.use, enableCors, a module's
 * configure()), a route registered before a chat route that matches its path,
 * app.param handlers, X-Powered-By, chat routes away from their standard
 * paths (global prefix, versioning), or a request-scoped dependency behind
 * the chat controller. Path matching uses the chat routes' own Express layers,
 * so case, trailing slash and %-decoding are Express's. CHAT_DIRECT_ROUTE=false
 * turns it off. The decision and its reasons are logged once.
 */
import { Logger } from '@nestjs/common';
import { ApplicationConfig, NestContainer } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { authenticate, AuthGuard, AuthProvider } from '@app/auth';
import { ChatCompletionsController, ChatCompletionsService, serveChatCompletion } from '@app/completion-forwarding';
import { CHAT_COMPLETION_PATHS, ChatRouteParams } from '@app/routing-metadata';
import { GatewayExceptionFilter, sendGatewayError } from './gateway-exception.filter';
import { GatewayRequest } from './request-context.middleware';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The parts of an Express 5 router layer this file reads. */
interface RouterLayer {
  name: string;
  handle: { length: number };
  route?: { path: string; _handlesMethod(method: string): boolean };
  match(path: string): { params: Record<string, string> } | false;
}

/** The gateway's own Express middleware: the direct route runs these itself. */
const ownMiddleware = new WeakSet<object>();

export function markGatewayMiddleware<T extends object>(fn: T): T {
  ownMiddleware.add(fn);
  return fn;
}

export interface DirectChatRouteParts {
  /** CHAT_DIRECT_ROUTE: false keeps chat on Express and Nest. */
  enabled: boolean;
  context: Middleware;
  body: Middleware;
}

/**
 * Puts the direct chat route in front of the app's request listener. Call
 * before listen(); the route decides at the first chat request whether it
 * may serve, when the app (global enhancers, middleware, routes) is complete.
 */
export function installDirectChatRoute(app: NestExpressApplication, parts: DirectChatRouteParts): void {
  const server = app.getHttpServer() as Server;
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length !== 1) return; // someone else manages the listener: leave it alone
  const framework = listeners[0];
  let direct: DirectChatRoute | null | undefined;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (direct !== null && req.method === 'POST' && req.url !== undefined && req.url.includes('/chat/completions')) {
      direct ??= DirectChatRoute.create(app, parts);
      if (direct?.handle(req as GatewayRequest, res)) return;
    }
    framework(req, res);
  });
}

class DirectChatRoute {
  private static readonly logger = new Logger('DirectChatRoute');

  private constructor(
    private readonly layers: RouterLayer[],
    private readonly parts: DirectChatRouteParts,
    private readonly provider: AuthProvider,
    private readonly chat: ChatCompletionsService,
  ) {}

  /** The route, or null (logged with the reasons) when it must stand aside. */
  static create(app: NestExpressApplication, parts: DirectChatRouteParts): DirectChatRoute | null {
    const blockers: string[] = [];
    let route: DirectChatRoute | null = null;
    try {
      route = DirectChatRoute.inspect(app, parts, blockers);
    } catch (err) {
      blockers.push(`the app could not be inspected (${(err as Error).message})`);
    }
    if (route && blockers.length === 0) {
      DirectChatRoute.logger.log('Chat completions take the direct route (nothing but the gateway’s own middleware, guard and filter applies to them).');
      return route;
    }
    DirectChatRoute.logger.log(`Chat completions go through Express and Nest: ${blockers.join('; ')}.`);
    return null;
  }

  private static inspect(app: NestExpressApplication, parts: DirectChatRouteParts, blockers: string[]): DirectChatRoute | null {
    if (!parts.enabled) {
      blockers.push('CHAT_DIRECT_ROUTE=false');
      return null;
    }
    const config = (app as unknown as { config: ApplicationConfig }).config;
    const guards = config.getGlobalGuards();
    if (guards.length !== 1 || !(guards[0] instanceof AuthGuard) || config.getGlobalRequestGuards().length > 0) blockers.push('a global guard besides AuthGuard (or a request-scoped one)');
    if (config.getGlobalInterceptors().length + config.getGlobalRequestInterceptors().length > 0) blockers.push('a global interceptor');
    if (config.getGlobalPipes().length + config.getGlobalRequestPipes().length > 0) blockers.push('a global pipe');
    const filters = config.getGlobalFilters();
    if (!filters.every((f) => f instanceof GatewayExceptionFilter) || config.getGlobalRequestFilters().length > 0) blockers.push('a global exception filter besides GatewayExceptionFilter');

    const expressApp = app.getHttpAdapter().getInstance() as unknown as { router: { stack: RouterLayer[]; params: object }; enabled(setting: string): boolean };
    if (expressApp.enabled('x-powered-by')) blockers.push('X-Powered-By is enabled');
    if (Object.keys(expressApp.router.params).length > 0) blockers.push('app.param() handlers');
    const stack = expressApp.router.stack;
    const chatLayers = stack.filter((l) => l.route && CHAT_COMPLETION_PATHS.includes(l.route.path) && l.route._handlesMethod('post'));
    if (chatLayers.length !== CHAT_COMPLETION_PATHS.length) {
      blockers.push('the chat routes are not at their standard paths (global prefix or versioning)');
      return null;
    }
    const samples = CHAT_COMPLETION_PATHS.map((p) => p.replace(/:\w+/g, 'x'));
    const lastChat = stack.indexOf(chatLayers[chatLayers.length - 1]);
    // The Nest Express adapter puts one layer first that only runs its request/response hooks (unset unless an integration sets them).
    const adapter = app.getHttpAdapter() as unknown as { onRequestHook?: unknown; onResponseHook?: unknown };
    const hookLayer = (l: RouterLayer) => stack.indexOf(l) === 0 && !l.route && String(l.handle).includes('onRequestHook');
    if (adapter.onRequestHook || adapter.onResponseHook) blockers.push('Nest request/response hooks are set');
    for (const layer of stack.slice(0, lastChat)) {
      if (chatLayers.includes(layer) || ownMiddleware.has(layer.handle) || hookLayer(layer) || (!layer.route && layer.handle.length === 4)) continue;
      if (layer.route && !layer.route._handlesMethod('post')) continue;
      if (samples.some((s) => layer.match(s))) blockers.push(layer.route ? `the route ${layer.route.path} matches chat paths first` : `Express middleware "${layer.name}" applies to chat paths`);
    }

    const container = (app as unknown as { container: NestContainer }).container;
    const controller = [...container.getModules().values()]
      .flatMap((m) => [...m.controllers.values()])
      .find((w) => w.metatype === ChatCompletionsController);
    if (!controller || !controller.isDependencyTreeStatic()) {
      blockers.push('the chat controller depends on a request-scoped or transient provider');
      return null;
    }
    if (blockers.length > 0) return null;
    return new DirectChatRoute(chatLayers, parts, app.get(AuthProvider), app.get(ChatCompletionsService));
  }

  /** Takes the request if it is on a chat route; false leaves it to Express (same object, untouched). */
  handle(req: GatewayRequest, res: ServerResponse): boolean {
    const url = req.url as string;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let params: Record<string, string> | undefined;
    let routePath = '';
    try {
      for (const layer of this.layers) {
        const m = layer.match(path);
        if (m) {
          params = m.params;
          routePath = layer.route!.path;
          break;
        }
      }
    } catch {
      return false; // malformed %-encoding: Express answers it
    }
    if (!params) return false;
    const matched = params;
    req.originalUrl = url;
    this.parts.context(req, res, () =>
      this.parts.body(req, res, (err) => {
        if (err) return sendGatewayError(res, err);
        req.route = { path: routePath };
        this.serve(req, res, path, matched).catch((e: unknown) => sendGatewayError(res, e));
      }),
    );
    return true;
  }

  private async serve(req: GatewayRequest, res: ServerResponse, path: string, params: ChatRouteParams): Promise<void> {
    const account = await authenticate(this.provider, { method: 'POST', path, headers: req.headers });
    await serveChatCompletion(this.chat, params, (req as { body?: unknown }).body, req.headers, account, res);
  }
}
