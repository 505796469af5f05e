import type { IncomingHttpHeaders } from 'node:http';

/** Never forwarded upstream: hop-by-hop, recomputed, or the gateway's own. */
const DROP_REQUEST = new Set([
  'host', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'accept-encoding', 'cookie', 'x-gateway-key', 'expect', 'x-request-id',
]);

/**
 * The provider key, when `Authorization` carries the gateway credential (a
 * JWT, say): sent upstream as `Authorization`, never as itself.
 */
export const PROVIDER_AUTHORIZATION_HEADER = 'x-provider-authorization';

/** Never relayed back: hop-by-hop, or invalid once the upstream client inflated and we re-framed the body. */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'set-cookie']);

/**
 * Client headers for the upstream. `credentialHeaders` are the headers the
 * caller's gateway credential came from (AccountInfo.credentialHeaders):
 * whatever the AuthProvider consumed never leaves the gateway. The provider
 * key is then `X-Provider-Authorization` if sent, else the client's
 * `Authorization` unless the gateway consumed it.
 */
export function upstreamHeaders(incoming: IncomingHttpHeaders, credentialHeaders: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || DROP_REQUEST.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  for (const name of credentialHeaders) delete out[name];
  const provider = out[PROVIDER_AUTHORIZATION_HEADER];
  if (provider !== undefined) {
    delete out[PROVIDER_AUTHORIZATION_HEADER];
    out.authorization = provider;
  }
  return out;
}

/** The upstream's own request id (OpenAI sends one) is relayed under this name: `x-request-id` is the gateway's, on its log lines. */
export const UPSTREAM_REQUEST_ID_HEADER = 'x-upstream-request-id';

export function clientHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || DROP_RESPONSE.has(name)) continue;
    out[name === 'x-request-id' ? UPSTREAM_REQUEST_ID_HEADER : name] = value;
  }
  return out;
}
