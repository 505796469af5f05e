/**
 * langfuse-export is the default adapter behind completion-forwarding's
 * CompletionTracer port: one Langfuse trace per completion, written over
 * OTLP with the SDK's LangfuseSpanProcessor and delivered durably (kept in
 * the Redis trace stream, or memory, and retried until Langfuse takes it),
 * from a worker thread or the main thread. It owns its settings and sets
 * nothing process-wide (no environment variables, no OpenTelemetry
 * globals). It must not read traces back (trace-retrieval does) or know how
 * completions are forwarded.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CompletionTracer } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { RedisConnection } from '@app/redis';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { Spool } from '@app/spool';
import { LangfuseCompletionTracer } from './langfuse-completion.tracer';
import { LangfuseExportSettings } from './langfuse-export.settings';

export interface LangfuseExportModuleOptions {
  settings: SettingsModuleRef;
  /** CredentialVaultModule.forRoot(…): each project's Langfuse keys. */
  vault: DynamicModule;
  /** RedisModule.forRoot(…): the trace stream, when Redis is configured. */
  redis: DynamicModule;
  /** SpoolModule.forRoot(…): what a stopping gateway could not deliver. */
  spool: DynamicModule;
  /**
   * The export worker's entry script. Default: export.worker.js next to this
   * module in the build. From TypeScript sources (tests) there is none; point
   * it at a script that loads export.worker.ts, or set LANGFUSE_EXPORT_WORKER=false.
   */
  workerScript?: string;
}

/** The built worker next to this file, if there is one. */
export function builtWorkerScript(): string | undefined {
  const path = join(__dirname, 'export.worker.js');
  return existsSync(path) ? path : undefined;
}

@Module({})
export class LangfuseExportModule {
  static forRoot({ settings, vault, redis, spool, workerScript }: LangfuseExportModuleOptions): DynamicModule {
    return {
      module: LangfuseExportModule,
      imports: [settings, vault, redis, spool],
      providers: [
        settingsProvider(LangfuseExportSettings),
        {
          provide: LangfuseCompletionTracer,
          inject: [CredentialVault, LangfuseExportSettings, RedisConnection, Spool],
          useFactory: (vaultService: CredentialVault, s: LangfuseExportSettings, connection: RedisConnection, spoolService: Spool) =>
            new LangfuseCompletionTracer(vaultService, s, connection, spoolService, { workerScript: workerScript ?? builtWorkerScript() }),
        },
        { provide: CompletionTracer, useExisting: LangfuseCompletionTracer },
      ],
      exports: [CompletionTracer, LangfuseCompletionTracer],
    };
  }
}
