export { LangfuseExportModule } from './langfuse-export.module';
export type { LangfuseExportModuleOptions } from './langfuse-export.module';
export { LangfuseCompletionTracer } from './langfuse-completion.tracer';
export { LangfuseExportSettings } from './langfuse-export.settings';
