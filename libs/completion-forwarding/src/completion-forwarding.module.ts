/**
 * completion-forwarding owns calling the upstream: provider routing, the
 * non-streaming and SSE paths, timeouts, the catch-all proxy, and handing
 * each completion to the CompletionTracer port. It records successes through
 * RolloutTracker and must not know how tracking is stored or how traces are
 * exported (the tracer is an adapter the composer binds, e.g. @app/langfuse-export).
 */
import { DynamicModule, Logger, Module, ModuleMetadata, Type } from '@nestjs/common';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { CatchAllController } from './catch-all.controller';
import { ChatCompletionsController } from './chat-completions.controller';
import { ChatCompletionsService } from './chat-completions.service';
import { ChatRequestPreprocessor, PassThroughChatRequestPreprocessor } from './chat-request.preprocessor';
import { CompletionTracer } from './completion.tracer';
import { ForwardingPolicy } from './forwarding.policy';
import { ForwardingSettings } from './forwarding.settings';
import { HttpUpstreamClient } from './http-upstream.client';
import { UpstreamAddressPolicy } from './ssrf-guard';
import { UpstreamClient } from './upstream.client';
import { UpstreamTargetResolver } from './upstream-target.resolver';

export interface CompletionForwardingModuleOptions {
  settings: SettingsModuleRef;
  /** CredentialVaultModule.forRoot(…): projects, and Langfuse keys for a trusted LiteLLM. */
  vault: DynamicModule;
  /** AuthModule.forRoot(…): the project a call works in (ProjectResolver). */
  auth: DynamicModule;
  /** CompletenessTrackingModule.forRoot(…): where successful completions are recorded. */
  tracking: DynamicModule;
  /** The CompletionTracer: a module that exports it (LangfuseExportModule.forRoot(…)), or your own class. */
  tracer: DynamicModule | Type<CompletionTracer>;
  /** Your own UpstreamClient instead of the node:http one. */
  upstreamClient?: Type<UpstreamClient>;
  /** Rewrites a chat call's body and path metadata before it is tagged and forwarded. */
  chatPreprocessor?: Type<ChatRequestPreprocessor>;
  /** Modules your adapters may inject from. */
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class CompletionForwardingModule {
  static forRoot(options: CompletionForwardingModuleOptions): DynamicModule {
    const { settings, vault, auth, tracking, tracer, upstreamClient, chatPreprocessor, imports = [] } = options;
    const tracerModule = isDynamicModule(tracer) ? tracer : undefined;
    return {
      module: CompletionForwardingModule,
      imports: [settings, vault, auth, tracking, ...(tracerModule ? [tracerModule] : []), ...imports],
      controllers: [ChatCompletionsController],
      providers: [
        settingsProvider(ForwardingSettings),
        { provide: UpstreamAddressPolicy, inject: [ForwardingSettings], useFactory: upstreamAddressPolicy },
        { provide: UpstreamClient, useClass: upstreamClient ?? HttpUpstreamClient },
        UpstreamTargetResolver,
        ForwardingPolicy,
        ChatCompletionsService,
        ...(tracerModule ? [] : [{ provide: CompletionTracer, useClass: tracer as Type<CompletionTracer> }]),
        { provide: ChatRequestPreprocessor, useClass: chatPreprocessor ?? PassThroughChatRequestPreprocessor },
      ],
      // The tracer goes out too (its module, or the bound class), for /ready and /metrics.
      exports: [ChatCompletionsService, UpstreamClient, UpstreamTargetResolver, UpstreamAddressPolicy, ForwardingSettings, tracerModule ?? CompletionTracer],
    };
  }
}

/** The catch-all route: import it after every other module, so it matches last. */
@Module({})
export class CatchAllProxyModule {
  static forRoot({ forwarding }: { forwarding: DynamicModule }): DynamicModule {
    return { module: CatchAllProxyModule, imports: [forwarding], controllers: [CatchAllController] };
  }
}

function upstreamAddressPolicy(settings: ForwardingSettings): UpstreamAddressPolicy {
  if (settings.ALLOW_PRIVATE_UPSTREAMS) {
    new Logger('UpstreamAddressPolicy').warn(
      'ALLOW_PRIVATE_UPSTREAMS=true: an encoded_base_url may reach any address, loopback and cloud metadata included. Private ranges are allowed without it; UPSTREAM_ALLOW_CIDRS opens single addresses.',
    );
  }
  return UpstreamAddressPolicy.fromSettings(settings);
}

function isDynamicModule(value: DynamicModule | Type<unknown>): value is DynamicModule {
  return typeof value === 'object' && value !== null && 'module' in value;
}
