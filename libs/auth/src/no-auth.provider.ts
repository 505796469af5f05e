import { Injectable } from '@nestjs/common';
import { ANONYMOUS_ACCOUNT, AccountInfo } from './account-info';
import { AuthProvider } from './auth.provider';

/** Default, as in the original: every caller is the anonymous account with access to every project; no header is a credential. */
@Injectable()
export class NoAuthProvider extends AuthProvider {
  readonly credentialHeaders: readonly string[] = [];

  async authenticate(): Promise<AccountInfo> {
    return ANONYMOUS_ACCOUNT;
  }
}
