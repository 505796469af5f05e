import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Account, AccountInfo, assertProjectAccess } from '@app/auth';
import { CredentialVault } from '@app/credential-vault';
import { TraceRetrievalService } from './trace-retrieval.service';
import { TracesResponse } from './trace.model';
import { parseTracesQuery } from './traces-query';
import { TracesRequestPreprocessor } from './traces-request.preprocessor';

const BASES = ['traces', 'v1/traces', 'project_id/:project_id/traces', 'v1/project_id/:project_id/traces'];

@Controller()
export class TracesController {
  constructor(
    private readonly traces: TraceRetrievalService,
    private readonly preprocessor: TracesRequestPreprocessor,
    private readonly vault: CredentialVault,
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

  private async read(pathProject: string | undefined, raw: Record<string, unknown>, account: AccountInfo, res: Response, pointwise: boolean): Promise<TracesResponse> {
    const validated = parseTracesQuery(raw);
    const { query, projectId } = await this.preprocessor.process(validated, { projectId: pathProject, account, pointwise });
    assertProjectAccess(account, this.vault.resolveProjectId(projectId));
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort(new Error('client went away'));
    };
    res.once('close', onClose);
    try {
      return await this.traces.readTraces({ query, projectId, pointwise, signal: abort.signal });
    } finally {
      res.off('close', onClose);
    }
  }
}
