/**
 * trace-retrieval owns reading traces back from the Langfuse public API (v2
 * observations or the legacy trace endpoints, picked per project), the full
 * and pointwise completeness algorithms over the ids completeness-tracking
 * recorded, the /traces routes, and serialising traces to the one response
 * shape. It must not call the LLM upstream, write to Langfuse, or record
 * completions; Langfuse keys never leave its clients.
 */
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AutoLangfuseReader } from './auto-langfuse.reader';
import { LegacyLangfuseReader } from './legacy-langfuse.reader';
import { LangfuseConnections } from './langfuse-connections';
import { LangfuseReader } from './langfuse.reader';
import { traceRetrievalConfig } from './trace-retrieval.config';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TracesController } from './traces.controller';
import { CUSTOM_TRACES_PREPROCESSOR, PassThroughTracesRequestPreprocessor, TracesRequestPreprocessor } from './traces-request.preprocessor';
import { V2LangfuseReader } from './v2-langfuse.reader';

@Module({
  imports: [ConfigModule.forFeature(traceRetrievalConfig)],
  controllers: [TracesController],
  providers: [
    LangfuseConnections,
    V2LangfuseReader,
    LegacyLangfuseReader,
    AutoLangfuseReader,
    { provide: LangfuseReader, useExisting: AutoLangfuseReader },
    PassThroughTracesRequestPreprocessor,
    {
      provide: TracesRequestPreprocessor,
      inject: [PassThroughTracesRequestPreprocessor, { token: CUSTOM_TRACES_PREPROCESSOR, optional: true }],
      useFactory: (passThrough: TracesRequestPreprocessor, custom?: TracesRequestPreprocessor) => custom ?? passThrough,
    },
    TraceRetrievalService,
  ],
  exports: [TraceRetrievalService, LangfuseReader, TracesRequestPreprocessor],
})
export class TraceRetrievalModule {}
