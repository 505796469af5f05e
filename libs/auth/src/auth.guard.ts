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
    const account = await this.provider.authenticate({ method: request.method, path: request.path, headers: request.headers });
    if (!account) {
      throw new GatewayError(
        GatewayErrorCode.Unauthenticated,
        'Missing or invalid gateway API key: send it as "X-Gateway-Key: <key>" or "Authorization: Bearer <key>".',
      );
    }
    (request as unknown as Record<string, unknown>)[ACCOUNT_KEY] = account;
    return true;
  }
}
