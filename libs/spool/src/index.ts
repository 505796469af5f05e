export { SpoolModule } from './spool.module';
export { Spool } from './spool';
export type { SpooledBatch } from './spool';
export { SpoolSettings } from './spool.settings';
