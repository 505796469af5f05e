/**
 * A platform team's own gateway: the library module plus a JWT auth
 * provider, a completeness store of its own, chat and traces preprocessors
 * and an extra route — no fork of the gateway's source.
 */
import { Module } from '@nestjs/common';
import { GatewayExtensions, GatewayModule } from '@app/gateway';
import { AccountProjectTracesPreprocessor } from './account-project.traces-preprocessor';
import { AccountTagChatPreprocessor } from './account-tag.chat-preprocessor';
import { JwtAuthProvider } from './jwt.auth-provider';
import { SortedSetCompletenessStore } from './sorted-set.completeness-store';
import { WhoAmIController } from './whoami.controller';

export const CUSTOM_GATEWAY: GatewayExtensions = {
  authProvider: JwtAuthProvider,
  completenessStore: SortedSetCompletenessStore,
  chatPreprocessor: AccountTagChatPreprocessor,
  tracesPreprocessor: AccountProjectTracesPreprocessor,
  controllers: [WhoAmIController],
};

@Module({ imports: [GatewayModule.forRoot(CUSTOM_GATEWAY)] })
export class CustomGatewayModule {}
