import { Injectable } from '@nestjs/common';
import { ANONYMOUS_ACCOUNT, AccountInfo } from './account-info';
import { AuthProvider } from './auth.provider';

/** Default, as in the original: every caller is the anonymous account with access to every project. */
@Injectable()
export class NoAuthProvider extends AuthProvider {
  async authenticate(): Promise<AccountInfo> {
    return ANONYMOUS_ACCOUNT;
  }
}
