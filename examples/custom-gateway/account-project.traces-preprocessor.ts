import { Injectable } from '@nestjs/common';
import { GatewayError, GatewayErrorCode } from '@app/common';
import { PreprocessedTracesRequest, TracesQuery, TracesRequestContext, TracesRequestPreprocessor } from '@app/trace-retrieval';

/**
 * Pins /traces to the caller's own project: an account scoped to one
 * project reads that project whatever the path says, and may only ask for
 * its own account's tag space.
 */
@Injectable()
export class AccountProjectTracesPreprocessor extends TracesRequestPreprocessor {
  async process(query: TracesQuery, { account, projectId }: TracesRequestContext): Promise<PreprocessedTracesRequest> {
    const own = account.projects?.[0];
    if (own && projectId && projectId !== own) {
      throw new GatewayError(GatewayErrorCode.Forbidden, `Account ${account.accountId} reads traces of project ${own} only.`);
    }
    return { query, projectId: own ?? projectId };
  }
}
