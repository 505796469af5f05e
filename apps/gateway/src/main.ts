import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { appConfig, configureGatewayApp, createGatewayLogger, installSignalHandlers } from '@app/gateway';
import { AppModule } from './app.module';

async function bootstrap(): Promise<void> {
  const logger = createGatewayLogger();
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger });
  configureGatewayApp(app);
  installSignalHandlers(app);
  const config = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  await app.listen(config.PORT, config.HOST);
  new Logger('Gateway').log(`Listening on http://${config.HOST}:${config.PORT}`);
}

bootstrap().catch((err: Error) => {
  // Config and secrets errors already name the variable or file key.
  // eslint-disable-next-line no-console
  console.error(`Gateway failed to start: ${err.message}`);
  process.exit(1);
});
