import { GatewayError, GatewayErrorCode } from '@app/common';
import { AccountInfo } from './account-info';

/** 403 when the account's scope does not include the project. */
export function assertProjectAccess(account: AccountInfo, projectId: string | undefined): void {
  if (!account.projects || projectId === undefined) return;
  if (!account.projects.includes(projectId)) {
    throw new GatewayError(GatewayErrorCode.Forbidden, `This API key may not use project "${projectId}".`);
  }
}
