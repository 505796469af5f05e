import { Injectable } from '@nestjs/common';
import { ChatRequest, ChatRequestContext, ChatRequestPreprocessor } from '@app/completion-forwarding';
import { GatewayError, GatewayErrorCode } from '@app/common';

/**
 * Tags every completion with the caller's account and pins calls without a
 * project to the account's first project; refuses models on a deny list.
 */
@Injectable()
export class AccountTagChatPreprocessor extends ChatRequestPreprocessor {
  async process(request: ChatRequest, { account }: ChatRequestContext): Promise<ChatRequest> {
    if (String(request.body.model).includes('forbidden-model')) {
      throw new GatewayError(GatewayErrorCode.Forbidden, 'This account may not use that model.');
    }
    const metadata = (request.body.metadata as { tags?: string[] } | undefined) ?? {};
    const tags = [...(metadata.tags ?? []), `account_id:${account.accountId}`];
    const projectId = request.route.projectId ?? account.projects?.[0];
    return { route: { ...request.route, projectId }, body: { ...request.body, metadata: { ...metadata, tags } } };
  }
}
