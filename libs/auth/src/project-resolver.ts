import { Injectable } from '@nestjs/common';
import { CredentialVault } from '@app/credential-vault';
import { AccountInfo } from './account-info';
import { assertProjectAccess } from './project-access';

/**
 * The project a request works in, the same way on every route: the one it
 * names (path or query), else the account's only project, else the default
 * project. Unknown → 404, outside the account's scope → 403. Rollouts, their
 * ids, logs and status are kept per project, so this is also what keeps
 * tenants apart.
 */
@Injectable()
export class ProjectResolver {
  constructor(private readonly vault: CredentialVault) {}

  resolve(account: AccountInfo, explicit?: string): string | undefined {
    const projectId =
      explicit !== undefined ? this.vault.resolveProjectId(explicit) : account.projects?.length === 1 ? this.vault.resolveProjectId(account.projects[0]) : this.vault.defaultProjectId;
    assertProjectAccess(account, projectId);
    return projectId;
  }
}
