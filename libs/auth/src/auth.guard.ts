/**
 * auth owns who may call the gateway: the AuthProvider port, this global
 * guard and the built-in providers. Other modules only read the account
 * (`@Account()` / accountOf) and check scopes with assertProjectAccess; none
 * hard-codes a provider.
 */
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { AccountInfo, AuthRequest } from './account-info';
import { ACCOUNT_KEY } from './account.decorator';
import { AuthProvider } from './auth.provider';
import { IS_PUBLIC } from './public.decorator';

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly provider: AuthProvider,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<Request>();
    (request as unknown as Record<string, unknown>)[ACCOUNT_KEY] = await authenticate(this.provider, { method: request.method, path: request.path, headers: request.headers });
    return true;
  }
}

/** The account behind a request, or the 401 (the gateway's direct chat route calls this too). */
export async function authenticate(provider: AuthProvider, request: AuthRequest): Promise<AccountInfo> {
  const account = await provider.authenticate(request);
  if (!account) {
    throw new GatewayError(
      GatewayErrorCode.Unauthenticated,
      'Missing or invalid gateway API key: send it as "X-Gateway-Key: <key>" or "Authorization: Bearer <key>".',
    );
  }
  return account;
}
