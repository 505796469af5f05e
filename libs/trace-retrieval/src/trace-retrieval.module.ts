/**
 * trace-retrieval owns reading traces back from the Langfuse public API (v2
 * observations or the legacy trace endpoints, picked per project), the full
 * and pointwise completeness algorithms over the ids completeness-tracking
 * recorded, the /traces routes, and serialising traces to the one response
 * shape. It must not call the LLM upstream, write to Langfuse, or record
 * completions; Langfuse keys never leave its clients.
 */
import { DynamicModule, Module, ModuleMetadata, Type } from '@nestjs/common';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { AutoLangfuseReader } from './auto-langfuse.reader';
import { LangfuseConnections } from './langfuse-connections';
import { LangfuseReader } from './langfuse.reader';
import { LegacyLangfuseReader } from './legacy-langfuse.reader';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TraceRetrievalSettings } from './trace-retrieval.settings';
import { TracesController } from './traces.controller';
import { PassThroughTracesRequestPreprocessor, TracesRequestPreprocessor } from './traces-request.preprocessor';
import { V2LangfuseReader } from './v2-langfuse.reader';

export interface TraceRetrievalModuleOptions {
  settings: SettingsModuleRef;
  /** CredentialVaultModule.forRoot(…): projects and their Langfuse keys. */
  vault: DynamicModule;
  /** AuthModule.forRoot(…): the project a read works in (ProjectResolver). */
  auth: DynamicModule;
  /** CompletenessTrackingModule.forRoot(…): the ids each rollout expects. */
  tracking: DynamicModule;
  /** Your own LangfuseReader instead of the auto-detecting v2/legacy one. */
  reader?: Type<LangfuseReader>;
  /** Rewrites a /traces query (e.g. pins the project from the account) before it runs. */
  preprocessor?: Type<TracesRequestPreprocessor>;
  /** Modules your adapters may inject from. */
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class TraceRetrievalModule {
  static forRoot({ settings, vault, auth, tracking, reader, preprocessor, imports = [] }: TraceRetrievalModuleOptions): DynamicModule {
    return {
      module: TraceRetrievalModule,
      imports: [settings, vault, auth, tracking, ...imports],
      controllers: [TracesController],
      providers: [
        settingsProvider(TraceRetrievalSettings),
        LangfuseConnections,
        ...(reader ? [{ provide: LangfuseReader, useClass: reader }] : [V2LangfuseReader, LegacyLangfuseReader, { provide: LangfuseReader, useClass: AutoLangfuseReader }]),
        { provide: TracesRequestPreprocessor, useClass: preprocessor ?? PassThroughTracesRequestPreprocessor },
        TraceRetrievalService,
      ],
      exports: [TraceRetrievalService],
    };
  }
}
