import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ANONYMOUS_ACCOUNT, AccountInfo } from './account-info';

/** Where the authenticated account travels on a request object (ours, not a framework field). */
const ACCOUNT = Symbol('gateway:account');

export function setAccount(request: object, account: AccountInfo): void {
  (request as Record<symbol, AccountInfo>)[ACCOUNT] = account;
}

/** The account the guard attached to the request; anonymous on public routes. */
export function accountOf(request: object): AccountInfo {
  return (request as Record<symbol, AccountInfo | undefined>)[ACCOUNT] ?? ANONYMOUS_ACCOUNT;
}

/** Injects the authenticated account into a handler parameter. */
export const Account = createParamDecorator((_: unknown, ctx: ExecutionContext): AccountInfo => accountOf(ctx.switchToHttp().getRequest()));
