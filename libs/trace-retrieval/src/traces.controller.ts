import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Account, AccountInfo, ProjectResolver } from '@app/auth';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TracesResponse } from './trace.model';
import { parseTracesQuery } from './traces-query';
import { TracesRequestPreprocessor } from './traces-request.preprocessor';

const BASES = ['traces', 'v1/traces', 'project_id/:project_id/traces', 'v1/project_id/:project_id/traces'];
/** The trail routes: a trail's traces, with the same completeness rules as a rollout's. */
const TRAIL_BASES = ['trails/:trail_id/traces', 'v1/trails/:trail_id/traces', 'project_id/:project_id/trails/:trail_id/traces', 'v1/project_id/:project_id/trails/:trail_id/traces'];

@Controller()
export class TracesController {
  constructor(
    private readonly traces: TraceRetrievalService,
    private readonly preprocessor: TracesRequestPreprocessor,
    private readonly projects: ProjectResolver,
  ) {}

  @Get(BASES)
  full(
    @Param('project_id') projectId: string | undefined,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, false);
  }

  @Get(BASES.map((b) => `${b}/pointwise`))
  pointwise(
    @Param('project_id') projectId: string | undefined,
    @Query() raw: Record<string, unknown>,
    @Account() account: AccountInfo,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TracesResponse> {
    return this.read(projectId, raw, account, res, true);
  }

  @Get(TRAIL_BASES)
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
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort(new Error('client went away'));
    };
    res.once('close', onClose);
    try {
      return await this.traces.readTraces({ query, projectId, pointwise, trailId, signal: abort.signal });
    } finally {
      res.off('close', onClose);
    }
  }
}
