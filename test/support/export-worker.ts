import { join } from 'node:path';

/** test/support/export-worker.loader.js: the export worker from TypeScript sources, for gateways started by tests. */
export const TEST_EXPORT_WORKER_SCRIPT = join(__dirname, 'export-worker.loader.js');
