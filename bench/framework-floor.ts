/**
 * The framework floor of the overhead benchmark: what a chat-completions
 * route costs before the gateway does anything of its own. One POST route
 * that parses the JSON body, forwards it re-serialised to UPSTREAM_URL over
 * a keep-alive agent, buffers the answer and sends it back — the minimum the
 * gateway must do for a tracked completion — built three ways:
 *
 *   FLOOR=node     http.createServer, JSON.parse by hand
 *   FLOOR=express  express + express.json()
 *   FLOOR=nest     NestJS (platform-express), @Body() + @Res()
 *
 *   UPSTREAM_URL=http://127.0.0.1:9100 PORT=9200 FLOOR=nest npx ts-node --transpile-only bench/framework-floor.ts
 */
import 'reflect-metadata';
import { Agent, createServer, IncomingHttpHeaders, request, ServerResponse } from 'node:http';

const upstream = new URL(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9100');
const agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo' });

/** Forwards a parsed body; answers with the upstream's status, content-type and bytes. */
function forward(body: unknown, headers: IncomingHttpHeaders, res: ServerResponse): void {
  const payload = Buffer.from(JSON.stringify(body));
  const out = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: 'POST',
      path: '/v1/chat/completions',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': payload.length,
        authorization: headers.authorization ?? '',
        'x-fake-latency-ms': headers['x-fake-latency-ms'] ?? '0',
      },
    },
    (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const data = Buffer.concat(chunks);
        res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'application/json', 'content-length': data.length });
        res.end(data);
      });
    },
  );
  out.once('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
  });
  out.end(payload);
}

async function listen(kind: string, port: number): Promise<void> {
  if (kind === 'node') {
    const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => forward(JSON.parse(Buffer.concat(chunks).toString('utf8')), req.headers, res));
    });
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return;
  }
  if (kind === 'express') {
    const express = (await import('express')).default;
    const app = express();
    app.use(express.json({ limit: '32mb' }));
    app.get('/v1/models', (_req, res) => void res.json({}));
    app.post('/v1/chat/completions', (req, res) => forward(req.body, req.headers, res));
    const server = app.listen(port, '127.0.0.1');
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.once('listening', resolve));
    return;
  }
  if (kind === 'nest') {
    const { Body, Controller, Get, Headers, Module, Post, Res } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    // Decorators applied by hand: this file is run transpiled, without decorator metadata.
    class FloorController {
      models() {
        return {};
      }
      create(body: unknown, headers: IncomingHttpHeaders, res: ServerResponse) {
        forward(body, headers, res);
      }
    }
    const proto = FloorController.prototype;
    const decorate = (name: keyof FloorController, decorators: Array<MethodDecorator | ParameterDecorator>, params: Array<[ParameterDecorator, number]> = []) => {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
      for (const [d, i] of params) d(proto, name, i);
      for (const d of decorators) (d as MethodDecorator)(proto, name, descriptor);
    };
    decorate('models', [Get('v1/models')]);
    decorate('create', [Post('v1/chat/completions')], [[Body(), 0], [Headers(), 1], [Res(), 2]]);
    Controller()(FloorController);
    class FloorModule {}
    Module({ controllers: [FloorController] })(FloorModule);
    const app = await NestFactory.create(FloorModule, { logger: ['error'], bodyParser: true });
    const server = await app.listen(port, '127.0.0.1');
    (server as { keepAliveTimeout: number }).keepAliveTimeout = 65_000;
    return;
  }
  throw new Error(`FLOOR must be node, express or nest (got ${kind})`);
}

const kind = process.env.FLOOR ?? 'nest';
const port = Number(process.env.PORT ?? 9200);
listen(kind, port).then(
  () => {
    process.stdout.write(`${kind} floor on http://127.0.0.1:${port} -> ${upstream.href}\n`);
    process.once('SIGTERM', () => process.exit(0));
    process.once('SIGINT', () => process.exit(0));
  },
  (err: Error) => {
    process.stderr.write(`${kind} floor failed to start: ${err.message}\n`);
    process.exit(1);
  },
);
