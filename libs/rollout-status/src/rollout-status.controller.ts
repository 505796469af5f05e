import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { Account, AccountInfo } from '@app/auth';
import { currentRequestContext, GatewayError, GatewayErrorCode } from '@app/common';
import { parseLogsQuery, parseRolloutIdParam } from './logs.query';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressService } from './rollout-progress.service';
import { RolloutStatusSettings } from './rollout-status.settings';

/**
 * The hosted original's rollout logs and status routes, which eval-protocol
 * already calls (each with and without `/v1`), plus our progress view.
 * Thin: parse, call, return.
 */
@Controller()
export class RolloutStatusController {
  constructor(
    private readonly logs: RolloutLogsService,
    private readonly progress: RolloutProgressService,
    private readonly config: RolloutStatusSettings,
  ) {}

  @Post(['logs', 'v1/logs'])
  @HttpCode(HttpStatus.OK)
  postLog(@Body() body: unknown) {
    return this.logs.post(body);
  }

  @Get(['logs', 'v1/logs'])
  getLogs(@Query() query: Record<string, unknown>) {
    const q = parseLogsQuery(query, this.config.ROLLOUT_LOGS_MAX_ENTRIES);
    tagRequest(q.rolloutId);
    return this.logs.query(q);
  }

  @Get(['status', 'v1/status'])
  getStatus(@Query('rollout_id') rolloutId: unknown) {
    const id = parseRolloutIdParam(rolloutId);
    tagRequest(id);
    return this.logs.status(id);
  }

  @Get(['rollouts/:rollout_id', 'v1/rollouts/:rollout_id'])
  getRollout(
    @Param('rollout_id') rolloutId: string,
    @Query('check') check: unknown,
    @Query('project_id') projectId: unknown,
    @Account() account: AccountInfo,
  ) {
    const id = parseRolloutIdParam(rolloutId);
    tagRequest(id);
    if (check === undefined || check === '') {
      if (projectId !== undefined) throw invalidQuery('project_id only applies with check=langfuse.');
      return this.progress.progress(id, account);
    }
    if (check !== 'langfuse') throw invalidQuery('check may only be "langfuse".');
    const project = projectId === undefined || projectId === '' ? undefined : parseRolloutIdParam(projectId, 'project_id');
    return this.progress.progress(id, account, { projectId: project });
  }
}

/** Puts the rollout id on every log line of this request. */
function tagRequest(rolloutId: string): void {
  const ctx = currentRequestContext();
  if (ctx) ctx.rolloutId = rolloutId;
}

function invalidQuery(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query: ${message}`);
}
