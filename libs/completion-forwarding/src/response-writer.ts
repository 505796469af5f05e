import type { ServerResponse } from 'node:http';
import { ForwardResult } from './chat-completions.service';

/**
 * Writes a forward result to the client (a plain node response: the Nest
 * controller and the direct chat route both use it). Stream chunks are
 * written to the socket as the relay yields them (no buffering, no
 * intermediate stream), waiting for 'drain' when the client reads slowly. A
 * client that leaves ends the loop, which closes the relay (it traces the
 * interruption and records nothing); clientPresence has already cut the
 * upstream call.
 */
export async function writeForwardResult(res: ServerResponse, result: ForwardResult): Promise<void> {
  if (result.kind === 'buffered') {
    // writeHead merges headers set earlier (x-request-id) with these in one call (streams too).
    result.headers['content-length'] = String(result.body.length);
    res.writeHead(result.status, result.headers);
    res.end(result.body);
    return;
  }
  res.writeHead(result.status, { ...result.headers, 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  try {
    for await (const chunk of result.chunks) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await drained(res);
    }
    if (!res.destroyed) res.end();
  } catch {
    // The upstream broke mid-stream (or the client left while we waited for
    // it): the relay has traced it and recorded nothing; close the socket.
    if (!res.destroyed) res.destroy();
  }
}

/** Resolves when the client has taken the buffered data, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
