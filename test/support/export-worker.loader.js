/**
 * The Langfuse export worker, loaded from its TypeScript source for tests
 * that run from sources (the build ships libs/langfuse-export/src/export.worker.js).
 * Passed as `exportWorkerScript` / `workerScript`; never used in production.
 */
'use strict';
require('ts-node').register({ transpileOnly: true, project: require('node:path').join(__dirname, '../../tsconfig.json') });
require('../../libs/langfuse-export/src/export.worker.ts');
