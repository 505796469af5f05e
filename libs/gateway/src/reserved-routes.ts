import type { OpenAPIObject } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { sendGatewayError } from './gateway-exception.filter';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Node {
  literals: Map<string, Node>;
  /** Segments with a parameter (`{id}`, `{name}.json`): matched by pattern. */
  patterns: Array<{ regex: RegExp; node: Node }>;
  methods?: Set<string>;
}

const newNode = (): Node => ({ literals: new Map(), patterns: [] });

/**
 * The paths the gateway serves itself, with their methods, read from its
 * OpenAPI document: a route added to a controller is reserved as soon as it
 * is documented, with no list to keep. Matched as Express matches them: a
 * `{param}` is one non-empty segment, literals are case-insensitive, one
 * trailing slash is ignored; no %-decoding (Express matches the raw path too).
 */
export class ReservedRoutes {
  private readonly root = newNode();

  static fromDocument(document: OpenAPIObject): ReservedRoutes {
    const routes = new ReservedRoutes();
    for (const [path, item] of Object.entries(document.paths)) {
      routes.add(
        path,
        HTTP_METHODS.filter((m) => item[m] !== undefined),
      );
    }
    return routes;
  }

  /** Reserves a path template (OpenAPI style, `/a/{id}/b`) for these methods. */
  add(template: string, methods: readonly string[]): this {
    let node = this.root;
    for (const segment of segmentsOf(template)) {
      if (segment.includes('{')) {
        const source = segment.split(/(\{[^}]*\})/).map((part) => (part.startsWith('{') ? '[^/]+' : escape(part))).join('');
        let entry = node.patterns.find((p) => p.regex.source === `^${source}$`);
        if (!entry) node.patterns.push((entry = { regex: new RegExp(`^${source}$`, 'i'), node: newNode() }));
        node = entry.node;
      } else {
        const key = segment.toLowerCase();
        let next = node.literals.get(key);
        if (!next) node.literals.set(key, (next = newNode()));
        node = next;
      }
    }
    node.methods ??= new Set();
    for (const m of methods) node.methods.add(m.toUpperCase());
    return this;
  }

  /** The methods served at a request path (without its query), upper-case; undefined when the gateway does not serve the path. */
  methodsAt(path: string): ReadonlySet<string> | undefined {
    const found = new Set<string>();
    let matched = false;
    const walk = (node: Node, segments: string[], i: number) => {
      if (i === segments.length) {
        if (node.methods) {
          matched = true;
          for (const m of node.methods) found.add(m);
        }
        return;
      }
      const segment = segments[i];
      const literal = node.literals.get(segment.toLowerCase());
      if (literal) walk(literal, segments, i + 1);
      for (const { regex, node: next } of node.patterns) if (segment !== '' && regex.test(segment)) walk(next, segments, i + 1);
    };
    walk(this.root, segmentsOf(path), 0);
    return matched ? found : undefined;
  }
}

/** `/a/b/` → ['a', 'b']: the leading slash and one trailing slash do not count. */
function segmentsOf(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.replace(/^\//, '').split('/');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `GET, HEAD, POST`: what an Allow header lists (HEAD wherever GET is). */
export function allowedMethods(methods: ReadonlySet<string>): string[] {
  const all = new Set(methods);
  if (all.has('GET')) all.add('HEAD');
  return [...all].sort();
}

type Middleware = (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: () => void) => void;

/**
 * Answers a request on a path the gateway serves, with a method it does not
 * serve there, with 405 (`Allow` and the gateway's error body) instead of
 * letting the catch-all proxy forward it upstream. Everything else passes.
 */
export function methodNotAllowedMiddleware(routes: ReservedRoutes): Middleware {
  return (req, res, next) => {
    const path = pathOf(req);
    const methods = routes.methodsAt(path);
    const method = req.method ?? 'GET';
    if (!methods || methods.has(method) || (method === 'HEAD' && methods.has('GET'))) return next();
    refuseMethod(req, res, path, allowedMethods(methods));
  };
}

/**
 * The docs paths: /docs and below, /docs-json, /docs-yaml, /openapi.json.
 * Answered by the gateway whatever happens: GET and HEAD go to the docs when
 * they are on, other methods get 405; with the docs off, everything there is
 * a 404 that says why. Never the catch-all's.
 */
export function docsPathsMiddleware(enabled: boolean): Middleware {
  return (req, res, next) => {
    const path = pathOf(req);
    if (!isDocsPath(path)) return next();
    if (!enabled) {
      return sendGatewayError(res, new GatewayError(GatewayErrorCode.NotFound, `${shown(path)} is not served: the API docs are turned off on this gateway (DOCS_ENABLED=false).`));
    }
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return next();
    refuseMethod(req, res, path, ['GET', 'HEAD']);
  };
}

/** Behind the docs' own handlers: a docs path they did not serve (a missing UI asset). */
export function docsNotFoundMiddleware(): Middleware {
  return (req, res) => sendGatewayError(res, new GatewayError(GatewayErrorCode.NotFound, `${shown(pathOf(req))} is not part of the API docs: the UI is at /docs, the document at /openapi.json.`));
}

const DOCS_FILES = new Set(['openapi.json', 'docs-json', 'docs-yaml']);

export function isDocsPath(path: string): boolean {
  const lower = path.toLowerCase();
  if (!lower.startsWith('/docs') && !lower.startsWith('/openapi.json')) return false;
  const segments = segmentsOf(lower);
  return (segments.length === 1 && DOCS_FILES.has(segments[0])) || segments[0] === 'docs';
}

function refuseMethod(req: IncomingMessage, res: ServerResponse, path: string, allow: string[]): void {
  res.setHeader('allow', allow.join(', '));
  const use = allow.filter((m) => m !== 'HEAD');
  const message = `${req.method} ${shown(path)} is not a route of this gateway: use ${use.length === 1 ? use[0] : `${use.slice(0, -1).join(', ')} or ${use[use.length - 1]}`}.`;
  sendGatewayError(res, new GatewayError(GatewayErrorCode.MethodNotAllowed, message));
}

function pathOf(req: IncomingMessage & { originalUrl?: string }): string {
  const url = req.originalUrl ?? req.url ?? '/';
  if (!url.startsWith('/')) {
    // Absolute form (`GET http://host/path`): Express routes it by its path, so do we.
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** A path as an error message quotes it: paths carry ids, not secrets, but may be long. */
function shown(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}
