export * from './trace-retrieval.module';
