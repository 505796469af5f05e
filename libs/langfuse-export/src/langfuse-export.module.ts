/**
 * langfuse-export is the default adapter behind completion-forwarding's
 * CompletionTracer port: one Langfuse trace per completion, written over
 * OTLP with the SDK's LangfuseSpanProcessor, from a worker thread or the
 * main thread. It owns its settings and sets nothing process-wide (no
 * environment variables, no OpenTelemetry globals). It must not read traces
 * back (trace-retrieval does) or know how completions are forwarded.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CompletionTracer } from '@app/completion-forwarding';
import { CredentialVault } from '@app/credential-vault';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { LangfuseCompletionTracer } from './langfuse-completion.tracer';
import { LangfuseExportSettings } from './langfuse-export.settings';

export interface LangfuseExportModuleOptions {
  settings: SettingsModuleRef;
  /** CredentialVaultModule.forRoot(…): each project's Langfuse keys. */
  vault: DynamicModule;
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
  static forRoot({ settings, vault, workerScript }: LangfuseExportModuleOptions): DynamicModule {
    return {
      module: LangfuseExportModule,
      imports: [settings, vault],
      providers: [
        settingsProvider(LangfuseExportSettings),
        {
          provide: LangfuseCompletionTracer,
          inject: [CredentialVault, LangfuseExportSettings],
          useFactory: (vaultService: CredentialVault, s: LangfuseExportSettings) => new LangfuseCompletionTracer(vaultService, s, { workerScript: workerScript ?? builtWorkerScript() }),
        },
        { provide: CompletionTracer, useExisting: LangfuseCompletionTracer },
      ],
      exports: [CompletionTracer, LangfuseCompletionTracer],
    };
  }
}
