import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Never forwarded upstream: hop-by-hop, recomputed, or the gateway's own credentials. */
const DROP_REQUEST = new Set([
  'host', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'accept-encoding', 'cookie', 'x-gateway-key', 'expect', 'x-request-id',
]);

/** Never relayed back: hop-by-hop, or invalid once the upstream client inflated and we re-framed the body. */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'set-cookie']);

/**
 * Client headers for the upstream. The client's provider key
 * (Authorization) is forwarded as is — unless it is one of the gateway's own
 * API keys, which never leave the gateway.
 */
export function upstreamHeaders(incoming: IncomingHttpHeaders, gatewayKeyDigests: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || DROP_REQUEST.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const auth = out.authorization;
  if (auth && gatewayKeyDigests.size > 0) {
    const token = auth.replace(/^bearer\s+/i, '').trim();
    if (gatewayKeyDigests.has(createHash('sha256').update(token).digest('hex'))) delete out.authorization;
  }
  return out;
}

export function clientHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || DROP_RESPONSE.has(name)) continue;
    out[name] = value;
  }
  return out;
}
