import { DynamicModule, Module, Type } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { HttpUpstreamClient } from './http-upstream.client';
import { CatchAllController } from './catch-all.controller';
import { ChatCompletionsController } from './chat-completions.controller';
import { ChatCompletionsService } from './chat-completions.service';
import { ChatRequestPreprocessor, PassThroughChatRequestPreprocessor } from './chat-request.preprocessor';
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

export interface CompletionForwardingOptions {
  /** Replaces the pass-through chat preprocessor. */
  chatPreprocessor?: Type<ChatRequestPreprocessor>;
}

@Module({})
export class CompletionForwardingModule {
  static forRoot(options: CompletionForwardingOptions = {}): DynamicModule {
    return {
      module: CompletionForwardingModule,
      imports: [UpstreamModule, ConfigModule.forFeature(tracingConfig)],
      controllers: [ChatCompletionsController],
      providers: [
        ChatCompletionsService,
        LangfuseCompletionTracer,
        { provide: CompletionTracer, useExisting: LangfuseCompletionTracer },
        { provide: ChatRequestPreprocessor, useClass: options.chatPreprocessor ?? PassThroughChatRequestPreprocessor },
      ],
      exports: [ChatCompletionsService, CompletionTracer, LangfuseCompletionTracer, ChatRequestPreprocessor, UpstreamModule],
    };
  }
}

/** The catch-all route; import it after every other module so it matches last. */
@Module({
  imports: [UpstreamModule],
  controllers: [CatchAllController],
})
export class CatchAllProxyModule {}
