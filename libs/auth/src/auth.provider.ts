import { AccountInfo, AuthRequest } from './account-info';

/**
 * The port the global guard calls. Return the account, or null for "not
 * authenticated" (→ 401). Throw a GatewayError/HttpException for anything
 * more specific. Bind your own with `{ provide: AuthProvider, useClass: … }`.
 */
export abstract class AuthProvider {
  abstract authenticate(request: AuthRequest): Promise<AccountInfo | null>;
}
