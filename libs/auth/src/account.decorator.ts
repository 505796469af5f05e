import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ANONYMOUS_ACCOUNT, AccountInfo } from './account-info';

export const ACCOUNT_KEY = 'account';

export function accountOf(request: object): AccountInfo {
  return (request as Record<string, AccountInfo | undefined>)[ACCOUNT_KEY] ?? ANONYMOUS_ACCOUNT;
}

/** Injects the authenticated account into a handler parameter. */
export const Account = createParamDecorator((_: unknown, ctx: ExecutionContext): AccountInfo => accountOf(ctx.switchToHttp().getRequest()));
