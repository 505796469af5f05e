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
 * compared by sha256 digest in constant time; plaintext is never kept.
 */
@Injectable()
export class ApiKeyAuthProvider extends AuthProvider {
  constructor(private readonly vault: CredentialVault) {
    super();
  }

  async authenticate(request: AuthRequest): Promise<AccountInfo | null> {
    const presented = presentedKeys(request);
    if (presented.length === 0) return null;
    for (const key of presented) {
      const digest = createHash('sha256').update(key).digest();
      for (const entry of this.vault.apiKeys()) {
        if (timingSafeEqual(digest, Buffer.from(entry.keySha256, 'hex'))) {
          return { accountId: entry.accountId, projects: entry.projects };
        }
      }
    }
    return null;
  }
}

export function presentedKeys(request: AuthRequest): string[] {
  const keys: string[] = [];
  const header = request.headers[GATEWAY_KEY_HEADER];
  if (typeof header === 'string' && header) keys.push(header.trim());
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) keys.push(auth.replace(/^bearer\s+/i, '').trim());
  return keys;
}
