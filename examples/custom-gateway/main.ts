/** Run: JWT_SECRET=… REDIS_URL=redis://127.0.0.1:6379 npx ts-node -r tsconfig-paths/register examples/custom-gateway/main.ts */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { configureGatewayApp, createGatewayLogger, installSignalHandlers, listenGateway } from '@app/gateway';
import { CustomGatewayModule } from './app.module';

async function main(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(CustomGatewayModule, { bodyParser: false, logger: createGatewayLogger() });
  configureGatewayApp(app);
  installSignalHandlers(await listenGateway(app));
}

void main();
