/**
 * The baseline of the overhead benchmark: a feature-less HTTP pass-through
 * proxy in plain node (http.createServer + one keep-alive http.Agent). It
 * forwards method, path, headers and body to UPSTREAM_URL and streams the
 * answer back unchanged — no parsing, no tags, no tracking, no tracing. Any
 * cost the gateway adds on top of this is the gateway's own.
 *
 *   UPSTREAM_URL=http://127.0.0.1:9100 PORT=9200 npx ts-node --transpile-only bench/passthrough-proxy.ts
 */
import { Agent, createServer, IncomingHttpHeaders, OutgoingHttpHeaders, request } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out;
}

export function startPassthroughProxy(upstreamUrl: string, port: number, host = '127.0.0.1'): Promise<() => Promise<void>> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo' });
  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: forwardable(req.headers),
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        answer.pipe(res);
      },
    );
    out.setNoDelay(true);
    out.once('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.once('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve(
        () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            agent.destroy();
          }),
      ),
    );
  });
}

if (require.main === module) {
  const upstream = process.env.UPSTREAM_URL;
  if (!upstream) {
    process.stderr.write('UPSTREAM_URL is required\n');
    process.exit(1);
  }
  const port = Number(process.env.PORT ?? 9200);
  startPassthroughProxy(upstream, port).then(
    (stop) => {
      process.stdout.write(`pass-through proxy on http://127.0.0.1:${port} -> ${upstream}\n`);
      const shutdown = (): void => void stop().then(() => process.exit(0));
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err: Error) => {
      process.stderr.write(`pass-through proxy failed to start: ${err.message}\n`);
      process.exit(1);
    },
  );
}
