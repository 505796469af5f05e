/**
 * The whole gateway as one importable Nest module. apps/gateway uses it with
 * the defaults and the direct chat route; a platform team imports it into
 * its own app with its own adapters, auth provider, preprocessors and extra
 * modules (README "Extending"), and settings from code.
 *
 * It only composes: each lib module is created once per gateway with the
 * modules it depends on (settings, redis, vault, tracking, …) passed in and
 * imported, so the module graph says who depends on what; nothing is global.
 * Every port option is bound inside the lib that uses it, so the routes, the
 * tracker and /ready all see the same adapter.
 */
import { DynamicModule, Module, ModuleMetadata, Type } from '@nestjs/common';
import { AuthModule, AuthProvider, AuthSettings } from '@app/auth';
import { CompletenessStore, CompletenessTrackingModule, TrackingSettings } from '@app/completeness-tracking';
import { CatchAllProxyModule, ChatRequestPreprocessor, CompletionForwardingModule, CompletionTracer, ForwardingSettings, UpstreamClient } from '@app/completion-forwarding';
import { CredentialVaultModule, VaultSettings } from '@app/credential-vault';
import { LangfuseExportModule, LangfuseExportSettings } from '@app/langfuse-export';
import { RedisModule, RedisSettings } from '@app/redis';
import { RolloutLogStore, RolloutStatusModule, RolloutStatusSettings } from '@app/rollout-status';
import { SettingsModule, SettingsModuleOptions, settingsProvider } from '@app/settings';
import { SpoolModule, SpoolSettings } from '@app/spool';
import { LangfuseReader, TraceRetrievalSettings, TracesRequestPreprocessor } from '@app/trace-retrieval';
import { TraceRetrievalModule } from '@app/trace-retrieval';
import { AppSettings } from './app.settings';
import { HealthController } from './health.controller';
import { GatewayMetrics, MetricsController } from './metrics';

/** Every setting of the gateway, typed, by its environment variable name. */
export type GatewaySettings = Partial<
  AppSettings & VaultSettings & LangfuseExportSettings & RedisSettings & SpoolSettings & TrackingSettings & ForwardingSettings & AuthSettings & RolloutStatusSettings & TraceRetrievalSettings
>;

/** What shapes the gateway: adapters, extension points, extra modules. */
export interface GatewayExtensions {
  /** Who may call: replaces AUTH_PROVIDER's built-in choice. */
  authProvider?: Type<AuthProvider>;
  /** Where each rollout's recorded completions live. */
  completenessStore?: Type<CompletenessStore>;
  /** How completions reach the LLM provider. */
  upstreamClient?: Type<UpstreamClient>;
  /** What records each completion (default: Langfuse export). */
  completionTracer?: Type<CompletionTracer>;
  /** How traces are read back for /traces. */
  langfuseReader?: Type<LangfuseReader>;
  /** Where rollout logs and statuses live. */
  rolloutLogStore?: Type<RolloutLogStore>;
  /** Rewrites a chat call's body and path metadata before it is tagged and forwarded. */
  chatPreprocessor?: Type<ChatRequestPreprocessor>;
  /** Rewrites a /traces query (e.g. pins the project from the account) before it runs. */
  tracesPreprocessor?: Type<TracesRequestPreprocessor>;
  /**
   * Your modules: extra routes, guards (APP_GUARD), interceptors… imported
   * before the catch-all route. Your adapters (and forRootAsync's factory)
   * may inject what they export, besides RedisConnection, CredentialVault and
   * SettingsSource.
   */
  imports?: ModuleMetadata['imports'];
  /** Extra controllers mounted in the gateway module itself. */
  controllers?: Type<unknown>[];
  /** Serve the catch-all proxy for unknown paths (default true). */
  catchAll?: boolean;
  /**
   * Serve POST …/chat/completions in front of Express and Nest (about 90 µs
   * of CPU less per completion). Default false: chat goes through the
   * framework and every guard, interceptor, pipe, filter and middleware you
   * add runs on it. With true, chat calls get the gateway's own request
   * context, body parser, AuthProvider and error body, and nothing else;
   * CHAT_DIRECT_ROUTE=false still turns it off.
   */
  directChatRoute?: boolean;
  /** The built export worker script (tests running from TypeScript point it at a loader). */
  exportWorkerScript?: string;
}

export interface GatewayModuleOptions extends GatewayExtensions, Omit<SettingsModuleOptions, 'settings'> {
  /** Settings from code; they win over the environment (`env`, default process.env). */
  settings?: GatewaySettings;
}

export interface GatewayModuleAsyncOptions extends GatewayExtensions {
  /** Computes the settings (and their environment) at start-up, injecting `inject` from `imports`. */
  useFactory: (...args: any[]) => Promise<Omit<GatewayModuleOptions, keyof GatewayExtensions>> | Omit<GatewayModuleOptions, keyof GatewayExtensions>;
  inject?: any[];
}

/** The app-level choices configureGatewayApp and listenGateway read (injectable by class). */
export class GatewayAppOptions {
  constructor(readonly directChatRoute: boolean) {}
}

@Module({})
export class GatewayModule {
  static forRoot(options: GatewayModuleOptions = {}): DynamicModule {
    const { settings, env, ...extensions } = options;
    return compose(SettingsModule.forRoot({ settings, env }), extensions);
  }

  static forRootAsync(options: GatewayModuleAsyncOptions): DynamicModule {
    const { useFactory, inject, ...extensions } = options;
    return compose(SettingsModule.forRootAsync({ imports: extensions.imports, inject, useFactory }), extensions);
  }
}

function compose(settings: DynamicModule, ext: GatewayExtensions): DynamicModule {
  const user = ext.imports ?? [];
  const redis = RedisModule.forRoot({ settings });
  const vault = CredentialVaultModule.forRoot({ settings });
  const spool = SpoolModule.forRoot({ settings });
  // What a custom adapter may inject, wherever it is bound.
  const adapterImports = [redis, vault, ...user];
  const tracking = CompletenessTrackingModule.forRoot({ settings, redis, spool, store: ext.completenessStore, imports: adapterImports });
  const auth = AuthModule.forRoot({ settings, vault, provider: ext.authProvider, imports: adapterImports });
  const tracer = ext.completionTracer ?? LangfuseExportModule.forRoot({ settings, vault, redis, spool, workerScript: ext.exportWorkerScript });
  const forwarding = CompletionForwardingModule.forRoot({
    settings,
    vault,
    auth,
    tracking,
    tracer,
    upstreamClient: ext.upstreamClient,
    chatPreprocessor: ext.chatPreprocessor,
    imports: adapterImports,
  });
  const retrieval = TraceRetrievalModule.forRoot({ settings, vault, auth, tracking, reader: ext.langfuseReader, preprocessor: ext.tracesPreprocessor, imports: adapterImports });
  const status = RolloutStatusModule.forRoot({ settings, redis, vault, auth, tracking, retrieval, store: ext.rolloutLogStore, imports: adapterImports });
  return {
    module: GatewayModule,
    imports: [settings, redis, vault, spool, tracking, auth, forwarding, retrieval, status, ...user, ...(ext.catchAll === false ? [] : [CatchAllProxyModule.forRoot({ forwarding })])],
    controllers: [HealthController, MetricsController, ...(ext.controllers ?? [])],
    providers: [settingsProvider(AppSettings), GatewayMetrics, { provide: GatewayAppOptions, useValue: new GatewayAppOptions(ext.directChatRoute === true) }],
    exports: [AppSettings, GatewayMetrics, GatewayAppOptions],
  };
}
