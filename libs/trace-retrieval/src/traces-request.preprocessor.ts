import { Injectable } from '@nestjs/common';
import type { AccountInfo } from '@app/auth';
import { TracesQuery } from './traces-query';

export interface TracesRequestContext {
  /** The path's project_id, if the route has one (the default project applies otherwise). */
  projectId?: string;
  account: AccountInfo;
  pointwise: boolean;
  /** The trail routes' trail (its traces are read instead of the query's rollouts). */
  trailId?: string;
}

export interface PreprocessedTracesRequest {
  query: TracesQuery;
  projectId?: string;
}

/**
 * Runs first on every /traces call, with the validated query: may rewrite
 * the query (e.g. add the rollout_id tag from a header) and the project.
 * Throw an HttpException/GatewayError to answer with it instead. Pass your
 * own to GatewayModule.forRoot({ tracesPreprocessor }).
 */
export abstract class TracesRequestPreprocessor {
  abstract process(query: TracesQuery, context: TracesRequestContext): Promise<PreprocessedTracesRequest>;
}

/** The default: the query and project as they came. */
@Injectable()
export class PassThroughTracesRequestPreprocessor extends TracesRequestPreprocessor {
  async process(query: TracesQuery, context: TracesRequestContext): Promise<PreprocessedTracesRequest> {
    return { query, projectId: context.projectId };
  }
}
