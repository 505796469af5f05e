import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { configureGatewayApp, createGatewayLogger, installSignalHandlers, listenGateway } from '@app/gateway';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger: createGatewayLogger() });
  configureGatewayApp(app);
  const gateway = await listenGateway(app);
  installSignalHandlers(gateway);
  new Logger('Gateway').log(`Listening on ${gateway.url}`);
}

bootstrap().catch((err: Error) => {
  // Config and secrets errors already name the variable or file key.
  // eslint-disable-next-line no-console
  console.error(`Gateway failed to start: ${err.message}`);
  process.exit(1);
});
