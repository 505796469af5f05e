/**
 * The whole gateway as one importable Nest module. apps/gateway uses it with
 * the defaults; a platform team imports it into its own app with its own
 * auth provider, request preprocessors and extra modules (see README
 * "Extending"). Extension classes are static "extras" so they work with both
 * forRoot and forRootAsync.
 */
import { ConfigurableModuleBuilder, DynamicModule, Module, ModuleMetadata, Type } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuthModule, AuthProvider } from '@app/auth';
import { CompletenessTrackingModule } from '@app/completeness-tracking';
import { CatchAllProxyModule, ChatRequestPreprocessor, CompletionForwardingModule, CUSTOM_CHAT_PREPROCESSOR } from '@app/completion-forwarding';
import { CredentialVaultModule } from '@app/credential-vault';
import { RolloutStatusModule } from '@app/rollout-status';
import { CUSTOM_TRACES_PREPROCESSOR, TraceRetrievalModule, TracesRequestPreprocessor } from '@app/trace-retrieval';
import { appConfig } from './app.config';
import { HealthController } from './health.controller';
import { GatewayMetrics, MetricsController } from './metrics';

/** Runtime options (forRootAsync may compute them). */
export interface GatewayModuleOptions {
  /** Reserved for values a factory computes; the extension points are extras. */
  [key: string]: unknown;
}

export interface GatewayModuleExtras {
  /** Who may call: replaces AUTH_PROVIDER's built-in choice. */
  authProvider?: Type<AuthProvider>;
  /** Rewrites a chat call's body and path metadata before it is tagged and forwarded. */
  chatPreprocessor?: Type<ChatRequestPreprocessor>;
  /** Rewrites a /traces query (e.g. pins the project from the account) before it runs. */
  tracesPreprocessor?: Type<TracesRequestPreprocessor>;
  /** More Nest modules: extra routes, guards (APP_GUARD), interceptors… Imported before the catch-all. */
  imports?: ModuleMetadata['imports'];
  /** Extra controllers mounted in the gateway module itself. */
  controllers?: Type<unknown>[];
  /** Serve the catch-all proxy for unknown paths (default true). */
  catchAll?: boolean;
}

const builder = new ConfigurableModuleBuilder<GatewayModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<GatewayModuleExtras>({ catchAll: true }, (definition: DynamicModule, extras: GatewayModuleExtras) => {
    // Global (this module is), so the one instance of each feature module picks them up.
    const customPreprocessors = [
      ...(extras.chatPreprocessor ? [{ provide: CUSTOM_CHAT_PREPROCESSOR, useClass: extras.chatPreprocessor }] : []),
      ...(extras.tracesPreprocessor ? [{ provide: CUSTOM_TRACES_PREPROCESSOR, useClass: extras.tracesPreprocessor }] : []),
    ];
    return {
      ...definition,
      global: true,
      imports: [
        ...(definition.imports ?? []),
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig] }),
        CredentialVaultModule,
        CompletenessTrackingModule,
        AuthModule.forRoot({ provider: extras.authProvider }),
        CompletionForwardingModule,
        TraceRetrievalModule,
        RolloutStatusModule,
        ...(extras.imports ?? []),
        ...(extras.catchAll === false ? [] : [CatchAllProxyModule]),
      ],
      providers: [
        ...(definition.providers ?? []),
        GatewayMetrics,
        ...customPreprocessors,
      ],
      controllers: [HealthController, MetricsController, ...(definition.controllers ?? []), ...(extras.controllers ?? [])],
      exports: [...(definition.exports ?? []), ...customPreprocessors.map((p) => p.provide)],
    };
  })
  .build();

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: GATEWAY_MODULE_OPTIONS } = builder;

/** Request ids, access logs and the JSON body parser are Express middleware installed by configureGatewayApp. */
@Module({})
export class GatewayModule extends ConfigurableModuleClass {}
