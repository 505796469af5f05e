import { Controller, Get } from '@nestjs/common';
import { Account, AccountInfo } from '@app/auth';

/** An extra route, behind the same global auth guard as the gateway's own. */
@Controller()
export class WhoAmIController {
  @Get('whoami')
  whoami(@Account() account: AccountInfo) {
    return { account_id: account.accountId, projects: account.projects ?? null };
  }
}
