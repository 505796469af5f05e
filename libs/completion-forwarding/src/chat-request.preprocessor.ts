import { Injectable } from '@nestjs/common';
import type { AccountInfo } from '@app/auth';
import type { RequestContext } from '@app/common';
import type { ChatRoute } from '@app/routing-metadata';

export interface ChatRequestContext {
  account: AccountInfo;
  /** Request headers, read-only (for custom routing decisions). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request's log context: write log lines inside withRequestContext(requestContext, …) (@app/common) so they carry the request id. */
  requestContext?: RequestContext;
}

export interface ChatRequest {
  route: ChatRoute;
  body: Record<string, unknown>;
}

/**
 * Runs before a chat call is tagged and forwarded; may rewrite the body and
 * the path metadata (project, rollout ids, base URL). Throw an
 * HttpException/GatewayError to answer with it instead.
 */
export abstract class ChatRequestPreprocessor {
  abstract process(request: ChatRequest, context: ChatRequestContext): Promise<ChatRequest>;
}

/** The default: the request as it came. */
@Injectable()
export class PassThroughChatRequestPreprocessor extends ChatRequestPreprocessor {
  async process(request: ChatRequest): Promise<ChatRequest> {
    return request;
  }
}
