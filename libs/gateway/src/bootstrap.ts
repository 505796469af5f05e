import { Logger, Scope } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import qs from 'qs';
import { RequestAuthenticator } from '@app/auth';
import { ChatCompletionsService } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { SettingsModuleOptions, SettingsSource } from '@app/settings';
import { AppSettings } from './app.settings';
import { DirectChatRoute } from './direct-chat-route';
import { GatewayExceptionFilter } from './gateway-exception.filter';
import { GatewayLogger } from './gateway.logger';
import { GatewayAppOptions, GatewaySettings } from './gateway.module';
import { jsonBodyParser } from './json-body';
import { GatewayMetrics } from './metrics';
import { createGatewayDocument, DOCS_PATH, OPENAPI_JSON_PATH } from './openapi.document';
import { requestContextMiddleware } from './request-context.middleware';
import { docsNotFoundMiddleware, docsPathsMiddleware, methodNotAllowedMiddleware, ReservedRoutes } from './reserved-routes';

/**
 * The logger to create the app with, from LOG_LEVEL / LOG_FORMAT as the
 * gateway will read them (pass the same settings as to GatewayModule).
 */
export function createGatewayLogger(options: Omit<SettingsModuleOptions, 'settings'> & { settings?: GatewaySettings } = {}): GatewayLogger {
  const settings = new SettingsSource(options).load(AppSettings);
  return new GatewayLogger(settings.LOG_LEVEL, settings.LOG_FORMAT);
}

/**
 * Everything an app does to the Nest application besides listening, shared
 * with the e2e tests so they run the same gateway. Create the app with
 * `{ bodyParser: false }`: the request context (request ids, metrics, access
 * log), the reserved paths (405 for a method a documented path does not
 * serve, the docs paths) and the JSON parser (with MAX_BODY_SIZE) are
 * installed here, then the error filter and the docs. Add your own
 * middleware after this.
 */
export function configureGatewayApp(app: NestExpressApplication): void {
  const settings = app.get(AppSettings);
  // Built whether or not it is served: the paths it names are the ones the catch-all must never take.
  const document = createGatewayDocument(app);
  // Request context first, so body errors (413, bad JSON) carry a request id and an access log line.
  app.use(requestContextMiddleware(app.get(GatewayMetrics), logsSuccesses(settings)));
  app.use(docsPathsMiddleware(settings.DOCS_ENABLED));
  app.use(methodNotAllowedMiddleware(ReservedRoutes.fromDocument(document)));
  app.use(jsonBodyParser(settings.MAX_BODY_SIZE));
  app.set('etag', false);
  app.set('x-powered-by', false);
  // Express 5's 'extended' parser is qs with allowPrototypes: true, which hands the handlers
  // keys named after Object.prototype members (`?tags[constructor][x]=1`); class-transformer
  // crashed on those (500). qs's own default drops such keys; nothing legitimate uses them.
  app.set('query parser', (query: string) => qs.parse(query, { allowPrototypes: false }));
  app.useGlobalFilters(new GatewayExceptionFilter());
  if (settings.DOCS_ENABLED) {
    // Registered here, before any controller route (the catch-all's included): the UI with /docs-json and /docs-yaml…
    SwaggerModule.setup(DOCS_PATH, app, document);
    // …and the document where the eval-protocol SDK's validation script looks for it.
    SwaggerModule.setup(OPENAPI_JSON_PATH, app, document, { ui: false, raw: ['json'], jsonDocumentUrl: OPENAPI_JSON_PATH });
    app.use(DOCS_PATH, docsNotFoundMiddleware());
  }
}

/** The listening gateway: its own HTTP server in front of the Nest app. */
export interface GatewayServer {
  app: NestExpressApplication;
  server: Server;
  /** `http://host:port` it listens on. */
  url: string;
  /**
   * Graceful stop: no new connections; requests already arriving on open
   * connections are answered with `Connection: close`, idle connections are
   * closed as they become idle, so the drain ends when the last in-flight
   * call ends (or after `timeoutMs`, cutting what is left). Then the app
   * closes: the retry queue drains (or spools) and trace export flushes.
   */
  shutdown(timeoutMs: number): Promise<void>;
  /** Stops at once (tests): every connection is closed, then the app. */
  close(): Promise<void>;
}

/** Connections the kernel queues for accept() while the event loop is busy. */
const LISTEN_BACKLOG = 4096;

/** How often a draining server closes the connections that became idle. */
const DRAIN_SWEEP_MS = 25;

/**
 * Starts the gateway's HTTP server (PORT/HOST unless given). The server is
 * ours, not Nest's, the way Nest documents serving an initialised app from
 * your own `http.createServer`: every request goes to the Express app, except
 * POST …/chat/completions when the app opted in to the direct chat route
 * (GatewayModule.forRoot({ directChatRoute: true }) and CHAT_DIRECT_ROUTE).
 */
export async function listenGateway(app: NestExpressApplication, where: { port?: number; host?: string } = {}): Promise<GatewayServer> {
  await app.init();
  const settings = app.get(AppSettings);
  const logger = new Logger('Gateway');
  const framework = app.getHttpAdapter().getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
  const direct = directChatRoute(app, settings, logger);
  let draining = false;
  const server = createServer((req, res) => {
    // Draining: this answer is the connection's last.
    if (draining) res.setHeader('connection', 'close');
    if (!direct?.handle(req, res)) framework(req, res);
  });
  const port = where.port ?? settings.PORT;
  const host = where.host ?? settings.HOST;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deeper accept queue than Node's 511: thousands of streams opening while the event loop is
    // busy for a second can overflow it, and the kernel then drops or resets connections (it caps
    // the queue at net.core.somaxconn).
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs: number) =>
    (stopping ??= (async () => {
      draining = true;
      await new Promise<void>((resolve) => {
        const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
        const timer = setTimeout(() => {
          logger.warn('Shutdown timeout: closing the remaining connections');
          server.closeAllConnections();
        }, timeoutMs);
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
        if (timeoutMs === 0) server.closeAllConnections();
      });
      await app.close();
    })());
  return { app, server, url, shutdown: stop, close: () => stop(0) };
}

function directChatRoute(app: NestExpressApplication, settings: AppSettings, logger: Logger): DirectChatRoute | undefined {
  if (!app.get(GatewayAppOptions).directChatRoute) {
    logger.log('Chat completions go through Express and Nest (the app did not opt in to the direct chat route).');
    return undefined;
  }
  if (!settings.CHAT_DIRECT_ROUTE) {
    logger.log('Chat completions go through Express and Nest (CHAT_DIRECT_ROUTE=false).');
    return undefined;
  }
  const refs = app.get(ModuleRef);
  const scoped = [
    ...(refs.introspect(RequestAuthenticator).scope === Scope.DEFAULT ? [] : ['RequestAuthenticator']),
    ...(refs.introspect(ChatCompletionsService).scope === Scope.DEFAULT ? [] : ['ChatCompletionsService']),
  ];
  if (scoped.length > 0) {
    throw new Error(
      `The direct chat route serves every chat call with one instance of ${scoped.join(' and ')}, but a request-scoped or transient provider sits behind it ` +
        '(a chat preprocessor or auth provider, say): make that provider a singleton, or use directChatRoute: false.',
    );
  }
  const authenticator = app.get(RequestAuthenticator);
  const chat = app.get(ChatCompletionsService);
  logger.log(
    'Chat completions take the direct route (opted in with directChatRoute: true): POST …/chat/completions runs the gateway’s request context, body parser, AuthProvider, chat preprocessor and error body, and no other middleware, guard, interceptor, pipe or filter.',
  );
  return new DirectChatRoute({ context: requestContextMiddleware(app.get(GatewayMetrics), logsSuccesses(settings), false), body: jsonBodyParser(settings.MAX_BODY_SIZE), authenticator, chat });
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests and streams finish
 * (up to SHUTDOWN_TIMEOUT), then close modules — which drains the
 * registration retry queue and flushes trace export. SIGHUP reloads secrets.
 */
export function installSignalHandlers(gateway: GatewayServer): void {
  const { app } = gateway;
  const logger = new Logger('Shutdown');
  const settings = app.get(AppSettings);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal}: draining in-flight requests (up to ${settings.SHUTDOWN_TIMEOUT} s)`);
    await gateway.shutdown(settings.SHUTDOWN_TIMEOUT * 1000);
    logger.log('Stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    try {
      app.get(CredentialVault).reload();
    } catch (err) {
      logger.error(`Secrets reload failed, keeping the previous ones: ${(err as Error).message}`);
    }
  });
}

/** Whether access lines of successful requests are logged (they are debug lines). */
function logsSuccesses(settings: AppSettings): boolean {
  return settings.LOG_LEVEL === 'debug' || settings.LOG_LEVEL === 'verbose';
}
