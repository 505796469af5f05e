/**
 * The export worker thread: runs LangfuseSpanExport off the main thread, so
 * span building, OTLP serialisation and the export requests do not hold up
 * requests. Started and spoken to by LangfuseExportThread: messages are
 * handled in order; records handled are counted in shared memory, flush and
 * shutdown are answered, and log lines go back to the main thread's logger.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LangfuseCredentials } from '../../credential-vault/src/langfuse-credentials';
import { LangfuseSpanExport, reportExportFailures } from './langfuse-span-export';
import type { ThreadReply, ThreadRequest, WorkerOptions } from './langfuse-export.thread';

const port = parentPort;
if (!port) throw new Error('langfuse-export.worker must run as a worker thread (started by LangfuseExportThread).');

const log = (level: 'error' | 'warn', message: string) => port.postMessage({ type: 'log', level, message } satisfies ThreadReply);
reportExportFailures(log);
const { handled, ...options } = workerData as WorkerOptions;
const spans = new LangfuseSpanExport(options, log);
const credentials = new Map<string, LangfuseCredentials>();

port.on('message', (message: ThreadRequest) => {
  switch (message.type) {
    case 'project': {
      const c = message.credentials;
      credentials.set(c.projectId, new LangfuseCredentials(c.projectId, c.publicKey, c.secretKey, c.host));
      return;
    }
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
