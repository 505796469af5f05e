import { Injectable } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { AccountInfo, AuthRequest } from './account-info';
import { AuthProvider } from './auth.provider';

/**
 * Runs the bound AuthProvider for one request: the account, with the
 * headers its credential came from resolved (account first, else the
 * provider's list), or the 401. The guard and the gateway's direct chat
 * route both call it, so both authenticate alike.
 */
@Injectable()
export class RequestAuthenticator {
  private readonly defaultHeaders: readonly string[];

  constructor(private readonly provider: AuthProvider) {
    this.defaultHeaders = Object.freeze(provider.credentialHeaders.map((h) => h.toLowerCase()));
  }

  async authenticate(request: AuthRequest): Promise<AccountInfo> {
    const account = await this.provider.authenticate(request);
    if (!account) {
      throw new GatewayError(
        GatewayErrorCode.Unauthenticated,
        'Missing or invalid gateway API key: send it as "X-Gateway-Key: <key>" or "Authorization: Bearer <key>".',
      );
    }
    if (account.credentialHeaders) return account;
    return { ...account, credentialHeaders: this.defaultHeaders };
  }
}
