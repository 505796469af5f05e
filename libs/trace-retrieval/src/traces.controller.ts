import { applyDecorators, Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Account, AccountInfo, ProjectResolver } from '@app/auth';
import { ApiGatewayErrors, clientPresence, GatewayErrorCode } from '@app/common';
import { ApiRouteParams } from '@app/routing-metadata';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TracesResponse } from './trace.model';
import { parseTracesQuery, TracesQueryDto } from './traces-query';
import { TracesRequestPreprocessor } from './traces-request.preprocessor';

const BASES = ['traces', 'v1/traces', 'project_id/:project_id/traces', 'v1/project_id/:project_id/traces'];
/** The trail routes: a trail's traces, with the same completeness rules as a rollout's. */
const TRAIL_BASES = ['trails/:trail_id/traces', 'v1/trails/:trail_id/traces', 'project_id/:project_id/trails/:trail_id/traces', 'v1/project_id/:project_id/trails/:trail_id/traces'];

/** What every /traces route documents: the query, the answer and the errors. */
function ApiTracesRead(summary: string, description: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({
      summary,
      description: `${description}\n\nUnknown query parameters (such as include_payloads) are ignored; a bad value is a 400 naming the parameter and what it takes.`,
    }),
    ApiQuery({ type: TracesQueryDto }),
    ApiOkResponse({ type: TracesResponse, description: 'The traces, newest first.' }),
    ApiGatewayErrors(
      GatewayErrorCode.InvalidQuery,
      GatewayErrorCode.MissingRolloutTag,
      GatewayErrorCode.Unauthenticated,
      GatewayErrorCode.Forbidden,
      GatewayErrorCode.UnknownProject,
      GatewayErrorCode.UnknownRollout,
      GatewayErrorCode.IncompleteTraces,
      GatewayErrorCode.LangfuseUnavailable,
      GatewayErrorCode.TrackingUnavailable,
      GatewayErrorCode.TracingNotConfigured,
    ),
  );
}

const FULL =
  'With `rollout_id:<id>` tags: every completion recorded for each rollout, read from Langfuse until all are visible (up to `max_retries` reads), or 404 `incomplete_traces` naming how many were found of how many expected; 404 `unknown_rollout` when nothing was recorded. Without one: a plain tag-filtered read.';
const POINTWISE = 'Only the newest recorded completion of the rollout (UUIDv7 order), read until it is visible.';

@ApiTags('traces')
@Controller()
export class TracesController {
  constructor(
    private readonly traces: TraceRetrievalService,
    private readonly preprocessor: TracesRequestPreprocessor,
    private readonly projects: ProjectResolver,
  ) {}

  @Get(BASES)
  @ApiTracesRead('A rollout’s traces, complete or 404', FULL)
  @ApiRouteParams('project_id')
  full(
    @Param('project_id') projectId: string | undefined,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, false);
  }

  @Get(BASES.map((b) => `${b}/pointwise`))
  @ApiTracesRead('The newest trace of a rollout', POINTWISE)
  @ApiRouteParams('project_id')
  pointwise(
    @Param('project_id') projectId: string | undefined,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, true);
  }

  @Get(TRAIL_BASES)
  @ApiTracesRead('A trail’s traces, complete or 404', 'Every completion recorded under the trail (trails/{trail_id}/chat/completions), with the same completeness rules as a rollout’s.')
  @ApiRouteParams('project_id', 'trail_id')
  trail(
    @Param('project_id') projectId: string | undefined,
    @Param('trail_id') trailId: string,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, false, trailId);
  }

  @Get(TRAIL_BASES.map((b) => `${b}/pointwise`))
  @ApiTracesRead('The newest trace of a trail', 'Only the newest completion recorded under the trail (UUIDv7 order), read until it is visible.')
  @ApiRouteParams('project_id', 'trail_id')
  trailPointwise(
    @Param('project_id') projectId: string | undefined,
    @Param('trail_id') trailId: string,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, true, trailId);
  }

  private async read(pathProject: string | undefined, raw: Record<string, unknown>, account: AccountInfo, res: Response, pointwise: boolean, trailId?: string): Promise<TracesResponse> {
    const validated = parseTracesQuery(raw);
    const preprocessed = await this.preprocessor.process(validated, { projectId: pathProject, account, pointwise, ...(trailId !== undefined ? { trailId } : {}) });
    const { query } = preprocessed;
    const projectId = this.projects.resolve(account, preprocessed.projectId);
    return this.traces.readTraces({ query, projectId, pointwise, trailId, signal: clientPresence(res).signal });
  }
}
