import { INestApplication, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { Server } from 'node:http';
import { CredentialVault } from '@app/credential-vault';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { appConfig } from './app.config';
import { GatewayExceptionFilter } from './gateway-exception.filter';
import { GatewayLogger } from './gateway.logger';
import { DirectChatRouteParts, installDirectChatRoute, markGatewayMiddleware } from './direct-chat-route';
import { jsonBodyParser } from './json-body';
import { GatewayMetrics } from './metrics';
import { requestContextMiddleware } from './request-context.middleware';

export function createGatewayLogger(): GatewayLogger {
  const level = (process.env.LOG_LEVEL ?? 'info').toLowerCase();
  const format = (process.env.LOG_FORMAT ?? (process.env.NODE_ENV === 'production' ? 'json' : 'text')).toLowerCase() === 'json' ? 'json' : 'text';
  return new GatewayLogger(level, format);
}

/**
 * Everything main.ts does to the app besides listening, shared with the
 * e2e tests so they run the same gateway. Create the app with
 * `{ bodyParser: false }`: the request context and the JSON parser (with
 * MAX_BODY_SIZE) are installed here, then the direct chat route in front of
 * Express (direct-chat-route.ts), which checks at the first chat call that
 * nothing added after this applies to chat routes.
 */
export function configureGatewayApp(app: NestExpressApplication): void {
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  // Request context first, so body errors (413, bad JSON) carry a request id and an access log line.
  const context = markGatewayMiddleware(requestContextMiddleware(metricsOf(app)));
  const body = markGatewayMiddleware(jsonBodyParser(config.MAX_BODY_SIZE));
  app.use(context);
  app.use(body);
  installDirectChatRoute(app, { enabled: config.CHAT_DIRECT_ROUTE, context, body: body as DirectChatRouteParts['body'] });
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.set('query parser', 'extended');
  app.useGlobalFilters(new GatewayExceptionFilter());
  if (config.DOCS_ENABLED) {
    // Registered before the catch-all route, so /docs is not proxied upstream.
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Metadata Gateway')
        .setDescription('Tags OpenAI-compatible calls with rollout metadata, forwards them, and returns complete Langfuse traces per rollout.')
        .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Gateway-Key' }, 'gateway-key')
        .build(),
    );
    SwaggerModule.setup('docs', app, document);
  }
}

/** GatewayModule's metrics; an app assembled from the feature modules alone has none. */
function metricsOf(app: NestExpressApplication): GatewayMetrics | undefined {
  try {
    return app.get(GatewayMetrics, { strict: false });
  } catch {
    return undefined;
  }
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests and streams finish
 * (up to SHUTDOWN_TIMEOUT), then close modules — which drains the
 * registration retry queue and flushes trace export. SIGHUP reloads secrets.
 */
export function installSignalHandlers(app: INestApplication): void {
  const logger = new Logger('Shutdown');
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal}: draining in-flight requests (up to ${config.SHUTDOWN_TIMEOUT} s)`);
    const server = app.getHttpServer() as Server;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        logger.warn('Shutdown timeout: closing the remaining connections');
        server.closeAllConnections();
        resolve();
      }, config.SHUTDOWN_TIMEOUT * 1000);
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    await app.close();
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
