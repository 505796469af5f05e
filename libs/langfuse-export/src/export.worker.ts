/**
 * The export worker thread: runs the ExportEngine off the main thread, so
 * span building, OTLP serialisation, the export requests and their retries
 * do not hold up requests. Started and spoken to by WorkerExport
 * (export-thread.ts): messages are handled in order; records taken and the
 * engine's counters are published in shared memory, flush and close are
 * answered, and log lines go back to the main thread's logger. Runs as plain
 * JavaScript (the build's export.worker.js): nothing here or in what it
 * imports may need the `@app/*` aliases at run time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ExportEngine } from './export-engine';
import { COUNTER, ThreadReply, ThreadRequest, WorkerOptions } from './export-thread';

const port = parentPort;
if (!port) throw new Error('export.worker must run as a worker thread (started by WorkerExport).');

const { counters, ...options } = workerData as WorkerOptions;
const engine = new ExportEngine(options, (level, message) => port.postMessage({ type: 'log', level, message } satisfies ThreadReply));

function publish(): void {
  const stats = engine.stats();
  counters[COUNTER.exported] = stats.exported;
  counters[COUNTER.dropped] = stats.dropped;
  counters[COUNTER.retriedBatches] = stats.retriedBatches;
  counters[COUNTER.held] = stats.held;
  counters[COUNTER.failingProjects] = stats.failingProjects;
}
const publisher = setInterval(publish, 100);

port.on('message', (message: ThreadRequest) => {
  switch (message.type) {
    case 'credentials':
      engine.setCredentials(message.credentials);
      return;
    case 'start':
      engine.start();
      return;
    case 'records':
      engine.add(message.records);
      counters[COUNTER.taken] += message.records.length;
      publish();
      return;
    case 'flush':
      void engine.flush(message.timeoutMs).finally(() => {
        publish();
        port.postMessage({ type: 'flushed', id: message.id } satisfies ThreadReply);
      });
      return;
    case 'close':
      void engine.close(message.timeoutMs).then((records) => {
        publish();
        clearInterval(publisher);
        port.postMessage({ type: 'closed', id: message.id, records } satisfies ThreadReply);
      });
      return;
  }
});
