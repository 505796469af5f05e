import { Body, Controller, HttpCode, Param, Post, RawBodyRequest, Req, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiHeader, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Account, AccountInfo } from '@app/auth';
import { ApiGatewayErrors, GatewayErrorCode } from '@app/common';
import { ApiRouteParams, CHAT_COMPLETION_PATHS, ChatRouteParams } from '@app/routing-metadata';
import { CHAT_RESPONSE_HEADERS, ChatCompletionRequest, ChatCompletionResponse, SSE_EXAMPLE } from './chat-completion.docs';
import { ChatCompletionsService } from './chat-completions.service';

@ApiTags('chat')
@Controller()
export class ChatCompletionsController {
  constructor(private readonly chat: ChatCompletionsService) {}

  @Post(CHAT_COMPLETION_PATHS)
  @HttpCode(200)
  @ApiOperation({
    summary: 'OpenAI chat completion, tagged with the path’s metadata and forwarded upstream',
    description: [
      'Point an OpenAI client’s base URL at the path up to `/chat/completions`.',
      '`rollout_id/…/row_id/{row_id}` paths are tracked: the call gets a UUIDv7 `insertion_id`, its Langfuse trace the tags `rollout_id`, `insertion_id`, `invocation_id`, `experiment_id`, `run_id`, `row_id` (appended to your `metadata.tags`), and the id is recorded for the rollout once the call succeeded (a stream: once it ended normally).',
      '`trails/{trail_id}` paths tag `trail_id` and `insertion_id` and record under the trail. `project_id/{project_id}` picks the Langfuse project; the plain paths are traced in the default project, untracked.',
      'Your `Authorization: Bearer` provider key is forwarded upstream and never stored; when the gateway’s own auth reads `Authorization`, send the provider key in `X-Provider-Authorization`.',
      'The upstream’s answer is relayed unchanged: its errors (400, 401, 429, …) come back with its status and body. The gateway’s own errors are below.',
    ].join('\n\n'),
  })
  @ApiRouteParams('project_id', 'rollout_id', 'invocation_id', 'experiment_id', 'run_id', 'row_id', 'encoded_base_url', 'trail_id')
  @ApiHeader({ name: 'X-Provider-Authorization', required: false, description: 'The provider key (`Bearer <key>`), sent upstream as `Authorization`, when `Authorization` carries the gateway credential.' })
  @ApiExtraModels(ChatCompletionRequest, ChatCompletionResponse)
  @ApiBody({
    description: 'An OpenAI chat completion request. The gateway reads `model`, `messages`, `stream` and `metadata.tags`; every other member (temperature, tools, …) goes upstream unchanged.',
    schema: { allOf: [{ $ref: getSchemaPath(ChatCompletionRequest) }], additionalProperties: true },
  })
  @ApiOkResponse({
    description: 'The upstream’s completion, unchanged: JSON, or with `stream: true` an SSE stream ending in `data: [DONE]`.',
    headers: CHAT_RESPONSE_HEADERS,
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionResponse) } },
      'text/event-stream': { schema: { type: 'string' }, example: SSE_EXAMPLE },
    },
  })
  @ApiGatewayErrors(
    GatewayErrorCode.BadRequest,
    GatewayErrorCode.InvalidJson,
    GatewayErrorCode.InvalidEncodedBaseUrl,
    GatewayErrorCode.Unauthenticated,
    GatewayErrorCode.Forbidden,
    GatewayErrorCode.ForbiddenUpstream,
    GatewayErrorCode.UnknownProject,
    GatewayErrorCode.BodyTooLarge,
    GatewayErrorCode.UpstreamUnreachable,
    GatewayErrorCode.TrackingUnavailable,
    GatewayErrorCode.UpstreamTimeout,
  )
  create(
    @Param() params: ChatRouteParams,
    @Body() body: unknown,
    @Account() account: AccountInfo,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.chat.serve(params, body, req.headers, account, res, (req as RawBodyRequest<Request>).rawBody);
  }
}
