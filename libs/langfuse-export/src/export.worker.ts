/**
 * The export worker thread: runs LangfuseSpanExport off the main thread, so
 * span building, OTLP serialisation and the export requests do not hold up
 * requests. Started and spoken to by LangfuseExportThread (export-thread.ts):
 * messages are handled in order; records handled are counted in shared
 * memory, flush and shutdown are answered, and log lines go back to the
 * main thread's logger. Runs as plain JavaScript (the build's
 * export.worker.js): nothing here or in what it imports may need the
 * `@app/*` aliases at run time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ThreadReply, ThreadRequest, WorkerOptions } from './export-thread';
import { ExportCredentials, LangfuseSpanExport } from './span-export';

const port = parentPort;
if (!port) throw new Error('export.worker must run as a worker thread (started by LangfuseExportThread).');

const log = (level: 'error' | 'warn', message: string) => port.postMessage({ type: 'log', level, message } satisfies ThreadReply);
const { handled, ...options } = workerData as WorkerOptions;
const spans = new LangfuseSpanExport(options, log);
const credentials = new Map<string, ExportCredentials>();

port.on('message', (message: ThreadRequest) => {
  switch (message.type) {
    case 'project':
      credentials.set(message.credentials.projectId, message.credentials);
      return;
    case 'records': {
      for (const record of message.records) {
        const c = credentials.get(record.projectId);
        try {
          if (!c) throw new Error('no credentials were handed to the export thread');
          spans.export(c, record);
        } catch (err) {
          log('error', `The trace of a completion of project ${record.projectId} could not be exported: ${(err as Error).message}`);
        }
      }
      Atomics.add(handled, 0, message.records.length);
      return;
    }
    case 'reset':
      credentials.clear();
      void spans.shutdown();
      return;
    case 'flush':
      spans
        .flush()
        .catch((err: Error) => log('error', `Flushing Langfuse traces failed: ${err.message}`))
        .finally(() => port.postMessage({ type: 'flushed', id: message.id } satisfies ThreadReply));
      return;
    case 'shutdown':
      void spans.shutdown().finally(() => port.postMessage({ type: 'flushed', id: message.id } satisfies ThreadReply));
      return;
  }
});
