import { INestApplication, Scope, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AuthProvider, GATEWAY_KEY_HEADER } from '@app/auth';

/** The security schemes the document declares when the AuthProvider reads their header. */
export const GATEWAY_KEY_SCHEME = 'gateway-key';
export const BEARER_SCHEME = 'bearer';

/** Where the document is served (besides /docs-json), and where the UI is. */
export const OPENAPI_JSON_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

const DESCRIPTION = `Tags OpenAI-compatible chat calls with rollout metadata taken from the path, forwards them upstream, records each completion, and returns a rollout's Langfuse traces only when every recorded completion is in them.

**Everything else is proxied.** A path this document does not name goes to the default upstream (LITELLM_URL, else DEFAULT_UPSTREAM_URL) with the caller's key and body, unchanged: \`/v1/models\`, \`/v1/embeddings\`, files… A path it names is always answered by the gateway: with a method it does not list there, by **405** with an \`Allow\` header and the error body below (code \`method_not_allowed\`), never by the upstream. \`HEAD\` works wherever \`GET\` does.

**Errors** the gateway answers itself carry \`{"error": {"message", "type", "code"}, "detail"}\`: \`error\` is what the openai SDK reads, \`detail\` what FastAPI clients read; \`error.code\` is stable. Every response carries \`x-request-id\`.

**This document** is served at \`/openapi.json\` (and \`/docs-json\`, \`/docs-yaml\`), the UI at \`/docs\`; with DOCS_ENABLED=false they answer 404.`;

/**
 * The gateway's OpenAPI document, from the routes' decorators. Security
 * follows the AuthProvider in use: a scheme for each credential header it
 * reads (`X-Gateway-Key`, `Authorization: Bearer` for AUTH_PROVIDER=api_key;
 * none for AUTH_PROVIDER=none). Routes serving several path aliases keep, on
 * each path, only the path parameters that path has.
 */
export function createGatewayDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Metadata Gateway')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .addTag('chat', 'OpenAI chat completions, tagged with the path’s rollout metadata (each route also under /v1, /project_id/{project_id}, and with /encoded_base_url/{encoded_base_url}).')
    .addTag('traces', 'A rollout’s or trail’s Langfuse traces: complete, or the call fails.')
    .addTag('rollouts', 'Rollout logs and status (what eval-protocol posts and polls), and the gateway’s progress view.')
    .addTag('operations', 'Liveness, readiness, Prometheus metrics.');
  const headers = credentialHeaders(app);
  if (headers.includes(GATEWAY_KEY_HEADER)) {
    builder
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Gateway-Key', description: 'A gateway key (with auth on). Use it on chat calls, so `Authorization` keeps carrying the provider key.' }, GATEWAY_KEY_SCHEME)
      .addSecurityRequirements(GATEWAY_KEY_SCHEME);
  }
  if (headers.includes('authorization')) {
    builder
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'The gateway credential as `Authorization: Bearer` (what eval-protocol sends to /traces). A chat call that does this sends its provider key in `X-Provider-Authorization`.' },
        BEARER_SCHEME,
      )
      .addSecurityRequirements(BEARER_SCHEME);
  }
  return fitDocument(SwaggerModule.createDocument(app, builder.build()));
}

/** The credential headers of the AuthProvider in use (lower-case). */
function credentialHeaders(app: INestApplication): readonly string[] {
  // A request-scoped provider has no instance to ask: assume the built-in headers.
  if (app.get(ModuleRef).introspect(AuthProvider as Type<AuthProvider>).scope !== Scope.DEFAULT) return ['authorization', GATEWAY_KEY_HEADER];
  return app.get(AuthProvider).credentialHeaders.map((h) => h.toLowerCase());
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Makes the generated document say what each path is:
 * - a handler serving several path aliases documents every parameter any
 *   alias has; each path keeps the path parameters it has, and gets one for
 *   any `{name}` of its template that was not described;
 * - a security requirement naming a scheme the document does not declare
 *   (auth off) is dropped; so is an operation's lone "no credential"
 *   requirement when nothing needs one.
 */
export function fitDocument(document: OpenAPIObject): OpenAPIObject {
  const schemes = new Set(Object.keys(document.components?.securitySchemes ?? {}));
  for (const [path, item] of Object.entries(document.paths)) {
    const names = pathParamNames(path);
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const params = (op.parameters ?? []).filter((p) => !('in' in p) || p.in !== 'path' || names.includes(p.name));
      for (const name of names) {
        if (!params.some((p) => 'in' in p && p.in === 'path' && p.name === name)) params.push({ name, in: 'path', required: true, schema: { type: 'string' } });
      }
      op.parameters = params;
      if (op.security) {
        const kept = op.security.filter((req) => Object.keys(req).every((s) => schemes.has(s)));
        if (schemes.size === 0 && kept.every((req) => Object.keys(req).length === 0)) delete op.security;
        else op.security = kept;
      }
    }
  }
  return document;
}

function pathParamNames(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
}
