import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Account, AccountInfo, ProjectResolver } from '@app/auth';
import { ApiGatewayErrors, currentRequestContext, GatewayError, GatewayErrorCode } from '@app/common';
import { ApiRouteParams } from '@app/routing-metadata';
import { MAX_ROLLOUT_ID_LENGTH, PostLogBody } from './log-entry.parser';
import { DEFAULT_LOGS_LIMIT, MAX_HOURS_BACK, MAX_LOGS_LIMIT, parseLogsQuery, parseRolloutIdParam } from './logs.query';
import { RolloutLogsService } from './rollout-logs.service';
import { RolloutProgressService } from './rollout-progress.service';
import { LogListView, PostedLogView, RolloutProgressView, StatusView } from './rollout-status.model';
import { RolloutStatusSettings } from './rollout-status.settings';

/** Each route with and without `/v1`, and under `project_id/{p}/`. */
function routes(path: string): string[] {
  return [path, `v1/${path}`, `project_id/:project_id/${path}`, `v1/project_id/:project_id/${path}`];
}

/** `?project_id=`, the alternative to the `project_id/{project_id}/` path prefix. */
const ApiProjectQuery = () =>
  ApiQuery({ name: 'project_id', required: false, description: 'The project, when the path does not name it (naming two different ones is a 400).', schema: { type: 'string', maxLength: MAX_ROLLOUT_ID_LENGTH } });

/** The errors every rollout route can answer: who may call, in which project, and the store. */
const ROLLOUT_ERRORS = [GatewayErrorCode.InvalidQuery, GatewayErrorCode.Unauthenticated, GatewayErrorCode.Forbidden, GatewayErrorCode.UnknownProject, GatewayErrorCode.TrackingUnavailable];

/**
 * The hosted original's rollout logs and status routes, which eval-protocol
 * already calls (each with and without `/v1`), plus our progress view.
 * Every route works in one project (ProjectResolver: `project_id/{p}/` in the
 * path or `?project_id=`, else the key's only project, else the default), so
 * a key scoped to one project never reads or writes another's rollouts.
 * Thin: parse, call, return.
 */
@ApiTags('rollouts')
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
  @ApiOperation({
    summary: 'Post a rollout log entry (and its status)',
    description: 'What eval-protocol’s tracing handler sends. The entry is stored under every rollout its `rollout_id:` tags name; a status in it becomes the rollout’s newest status. Unknown members are ignored.',
  })
  @ApiRouteParams('project_id')
  @ApiProjectQuery()
  @ApiBody({ type: PostLogBody })
  @ApiOkResponse({ type: PostedLogView })
  @ApiGatewayErrors(GatewayErrorCode.BadRequest, GatewayErrorCode.InvalidJson, GatewayErrorCode.MissingRolloutTag, ...ROLLOUT_ERRORS, GatewayErrorCode.BodyTooLarge)
  postLog(@Body() body: unknown, @Param('project_id') pathProject: string | undefined, @Query('project_id') queryProject: unknown, @Account() account: AccountInfo) {
    return this.logs.post(body, this.project(account, pathProject, queryProject));
  }

  @Get(routes('logs'))
  @ApiOperation({ summary: 'A rollout’s log entries, newest first', description: 'Entries of the rollout named by the first `rollout_id:` tag that carry every tag given.' })
  @ApiRouteParams('project_id')
  @ApiQuery({
    name: 'tags',
    required: true,
    description: 'Repeat for several (`?tags=a&tags=b`); an entry must carry all. One must be `rollout_id:<id>`: logs are read per rollout.',
    schema: { type: 'array', items: { type: 'string' } },
    style: 'form',
    explode: true,
    example: ['rollout_id:r-42'],
  })
  @ApiQuery({ name: 'limit', required: false, description: 'At most this many entries (a rollout keeps at most ROLLOUT_LOGS_MAX_ENTRIES).', schema: { type: 'integer', minimum: 1, maximum: MAX_LOGS_LIMIT, default: DEFAULT_LOGS_LIMIT } })
  @ApiQuery({ name: 'hours_back', required: false, description: 'Only entries of the last this many hours.', schema: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: MAX_HOURS_BACK } })
  @ApiQuery({ name: 'program', required: false, description: 'Only entries of this program.', schema: { type: 'string' } })
  @ApiProjectQuery()
  @ApiOkResponse({ type: LogListView })
  @ApiGatewayErrors(GatewayErrorCode.MissingRolloutTag, ...ROLLOUT_ERRORS)
  getLogs(@Query() query: Record<string, unknown>, @Param('project_id') pathProject: string | undefined, @Account() account: AccountInfo) {
    const projectId = this.project(account, pathProject, query.project_id);
    const q = parseLogsQuery(query, this.config.ROLLOUT_LOGS_MAX_ENTRIES);
    tagRequest(q.rolloutId, projectId);
    return this.logs.query(q, projectId);
  }

  @Get(routes('status'))
  @ApiOperation({ summary: 'A rollout’s newest status', description: 'What eval-protocol polls: code 101 = still running; anything else is final. `status: null` until one was posted.' })
  @ApiRouteParams('project_id')
  @ApiQuery({ name: 'rollout_id', required: true, description: 'The rollout.', schema: { type: 'string', minLength: 1, maxLength: MAX_ROLLOUT_ID_LENGTH } })
  @ApiProjectQuery()
  @ApiOkResponse({ type: StatusView })
  @ApiGatewayErrors(...ROLLOUT_ERRORS)
  getStatus(@Query('rollout_id') rolloutId: unknown, @Param('project_id') pathProject: string | undefined, @Query('project_id') queryProject: unknown, @Account() account: AccountInfo) {
    const projectId = this.project(account, pathProject, queryProject);
    const id = parseRolloutIdParam(rolloutId);
    tagRequest(id, projectId);
    return this.logs.status({ projectId, rolloutId: id });
  }

  @Get(routes('rollouts/:rollout_id'))
  @ApiOperation({ summary: 'A rollout’s progress', description: 'What the gateway recorded for the rollout, its newest status and how many log entries it has; with `?check=langfuse`, also how many recorded completions Langfuse shows.' })
  @ApiRouteParams('project_id', 'rollout_id')
  @ApiQuery({ name: 'check', required: false, description: '`langfuse`: also count what Langfuse shows (reads Langfuse).', schema: { type: 'string', enum: ['langfuse'] } })
  @ApiProjectQuery()
  @ApiOkResponse({ type: RolloutProgressView })
  @ApiGatewayErrors(...ROLLOUT_ERRORS, GatewayErrorCode.LangfuseUnavailable, GatewayErrorCode.TracingNotConfigured)
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
