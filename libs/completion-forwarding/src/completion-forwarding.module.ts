import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { HttpUpstreamClient } from './http-upstream.client';
import { CatchAllController } from './catch-all.controller';
import { ChatCompletionsController } from './chat-completions.controller';
import { ChatCompletionsService } from './chat-completions.service';
import { ChatRequestPreprocessor, CUSTOM_CHAT_PREPROCESSOR, PassThroughChatRequestPreprocessor } from './chat-request.preprocessor';
import { CompletionTracer } from './completion.tracer';
import { forwardingConfig, tracingConfig } from './forwarding.config';
import { ForwardingPolicy } from './forwarding.policy';
import { LangfuseCompletionTracer } from './langfuse-completion.tracer';
import { UpstreamClient } from './upstream.client';
import { UpstreamTargetResolver } from './upstream-target.resolver';

/** The upstream connection pool and routing, shared by chat and catch-all. */
@Module({
  imports: [ConfigModule.forFeature(forwardingConfig)],
  providers: [{ provide: UpstreamClient, useClass: HttpUpstreamClient }, UpstreamTargetResolver, ForwardingPolicy],
  exports: [UpstreamClient, UpstreamTargetResolver, ForwardingPolicy],
})
export class UpstreamModule {}

/** Chat completions: the route, forwarding, tracing; the preprocessor is replaceable (CUSTOM_CHAT_PREPROCESSOR). */
@Module({
  imports: [UpstreamModule, ConfigModule.forFeature(tracingConfig)],
  controllers: [ChatCompletionsController],
  providers: [
    ChatCompletionsService,
    LangfuseCompletionTracer,
    { provide: CompletionTracer, useExisting: LangfuseCompletionTracer },
    PassThroughChatRequestPreprocessor,
    {
      provide: ChatRequestPreprocessor,
      inject: [PassThroughChatRequestPreprocessor, { token: CUSTOM_CHAT_PREPROCESSOR, optional: true }],
      useFactory: (passThrough: ChatRequestPreprocessor, custom?: ChatRequestPreprocessor) => custom ?? passThrough,
    },
  ],
  exports: [ChatCompletionsService, CompletionTracer, LangfuseCompletionTracer, ChatRequestPreprocessor, UpstreamModule],
})
export class CompletionForwardingModule {}

/** The catch-all route; import it after every other module so it matches last. */
@Module({
  imports: [UpstreamModule],
  controllers: [CatchAllController],
})
export class CatchAllProxyModule {}
