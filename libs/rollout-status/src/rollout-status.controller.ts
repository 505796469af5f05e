import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { Account, AccountInfo, ProjectResolver } from '@app/auth';
import { currentRequestContext, GatewayError, GatewayErrorCode } from '@app/common';
import { parseLogsQuery, parseRolloutIdParam } from './logs.query';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressService } from './rollout-progress.service';
import { RolloutStatusSettings } from './rollout-status.settings';

/** Each route with and without `/v1`, and under `project_id/{p}/`. */
function routes(path: string): string[] {
  return [path, `v1/${path}`, `project_id/:project_id/${path}`, `v1/project_id/:project_id/${path}`];
}

/**
 * The hosted original's rollout logs and status routes, which eval-protocol
 * already calls (each with and without `/v1`), plus our progress view.
 * Every route works in one project (ProjectResolver: `project_id/{p}/` in the
 * path or `?project_id=`, else the key's only project, else the default), so
 * a key scoped to one project never reads or writes another's rollouts.
 * Thin: parse, call, return.
 */
@Controller()
export class RolloutStatusController {
  constructor(
    private readonly logs: RolloutLogsService,
    private readonly progress: RolloutProgressService,
    private readonly projects: ProjectResolver,
    private readonly config: RolloutStatusSettings,
  ) {}

  @Post(routes('logs'))
  @HttpCode(HttpStatus.OK)
  postLog(@Body() body: unknown, @Param('project_id') pathProject: string | undefined, @Query('project_id') queryProject: unknown, @Account() account: AccountInfo) {
    return this.logs.post(body, this.project(account, pathProject, queryProject));
  }

  @Get(routes('logs'))
  getLogs(@Query() query: Record<string, unknown>, @Param('project_id') pathProject: string | undefined, @Account() account: AccountInfo) {
    const projectId = this.project(account, pathProject, query.project_id);
    const q = parseLogsQuery(query, this.config.ROLLOUT_LOGS_MAX_ENTRIES);
    tagRequest(q.rolloutId, projectId);
    return this.logs.query(q, projectId);
  }

  @Get(routes('status'))
  getStatus(@Query('rollout_id') rolloutId: unknown, @Param('project_id') pathProject: string | undefined, @Query('project_id') queryProject: unknown, @Account() account: AccountInfo) {
    const projectId = this.project(account, pathProject, queryProject);
    const id = parseRolloutIdParam(rolloutId);
    tagRequest(id, projectId);
    return this.logs.status({ projectId, rolloutId: id });
  }

  @Get(routes('rollouts/:rollout_id'))
  getRollout(
    @Param('rollout_id') rolloutId: string,
    @Param('project_id') pathProject: string | undefined,
    @Query('project_id') queryProject: unknown,
    @Query('check') check: unknown,
    @Account() account: AccountInfo,
  ) {
    const projectId = this.project(account, pathProject, queryProject);
    const id = parseRolloutIdParam(rolloutId);
    tagRequest(id, projectId);
    if (check !== undefined && check !== '' && check !== 'langfuse') throw invalidQuery('check may only be "langfuse".');
    return this.progress.progress({ projectId, rolloutId: id }, check === 'langfuse');
  }

  /** The project the request works in; scope is checked before anything is read. */
  private project(account: AccountInfo, pathProject: string | undefined, queryProject: unknown): string | undefined {
    const fromQuery = queryProject === undefined || queryProject === '' ? undefined : parseRolloutIdParam(queryProject, 'project_id');
    if (pathProject !== undefined && fromQuery !== undefined && pathProject !== fromQuery) {
      throw invalidQuery(`the path names project "${pathProject}" and project_id "${fromQuery}": name one.`);
    }
    return this.projects.resolve(account, pathProject ?? fromQuery);
  }
}

/** Puts the rollout and project on every log line of this request. */
function tagRequest(rolloutId: string, projectId: string | undefined): void {
  const ctx = currentRequestContext();
  if (ctx) {
    ctx.rolloutId = rolloutId;
    ctx.projectId = projectId;
  }
}

function invalidQuery(message: string): GatewayError {
  return new GatewayError(GatewayErrorCode.InvalidQuery, `Invalid query: ${message}`);
}
