/**
 * A platform team's own gateway: the library module plus a custom auth
 * provider (keys in a Redis hash), a chat preprocessor, a traces
 * preprocessor and an extra route — no fork of the gateway's source.
 */
import { Module } from '@nestjs/common';
import { GatewayModule } from '@app/gateway';
import { AccountProjectTracesPreprocessor } from './account-project.traces-preprocessor';
import { AccountTagChatPreprocessor } from './account-tag.chat-preprocessor';
import { RedisApiKeyAuthProvider } from './redis-api-key.auth-provider';
import { WhoAmIController } from './whoami.controller';

@Module({
  imports: [
    GatewayModule.forRootAsync({
      useFactory: async () => ({}),
      authProvider: RedisApiKeyAuthProvider,
      chatPreprocessor: AccountTagChatPreprocessor,
      tracesPreprocessor: AccountProjectTracesPreprocessor,
      controllers: [WhoAmIController],
    }),
  ],
})
export class CustomGatewayModule {}
