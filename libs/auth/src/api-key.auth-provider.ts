import { Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { CredentialVault } from '@app/credential-vault';
import { AccountInfo, AuthRequest } from './account-info';
import { AuthProvider } from './auth.provider';

export const GATEWAY_KEY_HEADER = 'x-gateway-key';

/**
 * Static API keys from the secrets file (`api_keys`), each with its project
 * scope. The key is read from `X-Gateway-Key`, else from
 * `Authorization: Bearer` (what eval-protocol sends to /traces). Keys are
 * compared by sha256 digest in constant time; plaintext is never kept. The
 * account names the header the key came in, so a provider key in
 * Authorization next to an X-Gateway-Key still goes upstream.
 */
@Injectable()
export class ApiKeyAuthProvider extends AuthProvider {
  constructor(private readonly vault: CredentialVault) {
    super();
  }

  async authenticate(request: AuthRequest): Promise<AccountInfo | null> {
    for (const { header, key } of presentedCredentials(request)) {
      const digest = createHash('sha256').update(key).digest();
      for (const entry of this.vault.apiKeys()) {
        if (timingSafeEqual(digest, Buffer.from(entry.keySha256, 'hex'))) {
          return { accountId: entry.accountId, projects: entry.projects, credentialHeaders: [header] };
        }
      }
    }
    return null;
  }
}

/** The keys a request presents, with the header each came in: `X-Gateway-Key`, then `Authorization: Bearer`. */
export function presentedCredentials(request: AuthRequest): Array<{ header: string; key: string }> {
  const found: Array<{ header: string; key: string }> = [];
  const gatewayKey = request.headers[GATEWAY_KEY_HEADER];
  if (typeof gatewayKey === 'string' && gatewayKey.trim()) found.push({ header: GATEWAY_KEY_HEADER, key: gatewayKey.trim() });
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+\S/i.test(auth)) found.push({ header: 'authorization', key: auth.replace(/^bearer\s+/i, '').trim() });
  return found;
}
