/**
 * Masks secrets before anything is logged. Keys are replaced by a short
 * fingerprint-free marker: no prefix or suffix of a secret ever leaves.
 */
const SECRET_KEYS = /^(authorization|x-gateway-key|x-api-key|api[-_]?key|secret[-_]?key|public[-_]?key|langfuse_secret_key|langfuse_public_key|password|cookie|set-cookie)$/i;

export function redact<T>(value: T, depth = 0): T {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out as T;
}
