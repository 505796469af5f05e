import { AccountInfo, AuthRequest } from './account-info';

/**
 * The port the gateway calls to authenticate a request (the global guard on
 * Nest routes, and the direct chat route). Return the account, or null for
 * "not authenticated" (→ 401). Throw a GatewayError/HttpException for
 * anything more specific. Pass your own to GatewayModule.forRoot({ authProvider }).
 *
 * A credential the provider consumed never leaves the gateway: the headers
 * it came from are removed from everything forwarded upstream. Say which
 * they were in the account you return (`credentialHeaders`); if you don't,
 * every header in this provider's `credentialHeaders` is removed.
 */
export abstract class AuthProvider {
  /** Every request header this provider may read a credential from (lower-case). */
  readonly credentialHeaders: readonly string[] = ['authorization', 'x-gateway-key'];

  abstract authenticate(request: AuthRequest): Promise<AccountInfo | null>;
}
