import type { Response } from 'express';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ForwardResult } from './chat-completions.service';

/**
 * Writes a forward result to Express. Streams go through pipeline(): chunks
 * are flushed as they come (no buffering), backpressure is honoured, and a
 * client that disconnects stops the generator, which aborts the upstream.
 */
export async function writeForwardResult(res: Response, result: ForwardResult): Promise<void> {
  if (result.kind === 'buffered') {
    // writeHead merges headers set earlier (x-request-id) with these in one call.
    result.headers['content-length'] = String(result.body.length);
    res.writeHead(result.status, result.headers);
    res.end(result.body);
    return;
  }
  res.status(result.status);
  for (const [name, value] of Object.entries(result.headers)) res.setHeader(name, value);
  res.setHeader('cache-control', 'no-cache');
  res.setHeader('x-accel-buffering', 'no');
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  try {
    await pipeline(Readable.from(result.chunks, { objectMode: false }), res);
  } catch {
    // The client left or the upstream broke mid-stream: the generator has
    // already traced it and recorded nothing; the socket is closed.
    if (!res.destroyed) res.destroy();
  }
}
