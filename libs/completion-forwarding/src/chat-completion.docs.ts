/**
 * The chat routes' wire shapes for the OpenAPI document: an OpenAI chat
 * completion request (what the gateway reads of it; the rest goes upstream
 * unchanged) and the upstream's answer, relayed as it came. Documentation
 * only: the body is checked by ChatCompletionsService (model, messages).
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

const TAGS_SCHEMA = { type: 'array', items: { type: 'string' }, example: ['team:a'] } as const;

export class ChatMessage {
  @ApiProperty({ description: 'system, developer, user, assistant or tool.', example: 'user' })
  role: string;

  @ApiPropertyOptional({
    description: 'Text, or an array of content parts (text, image_url, …) as the OpenAI API takes them; null on an assistant message with tool calls.',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', additionalProperties: true } }],
    nullable: true,
    example: 'Say hello.',
  })
  content?: string | Array<Record<string, unknown>> | null;

  @ApiPropertyOptional()
  name?: string;

  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true }, description: 'An assistant message’s tool calls.' })
  tool_calls?: Array<Record<string, unknown>>;

  @ApiPropertyOptional({ description: 'On a tool message: the call it answers.' })
  tool_call_id?: string;
}

export class ChatCompletionRequest {
  @ApiProperty({
    description:
      'The model. Without LITELLM_URL its `provider/` prefix (fireworks_ai, openai, together_ai, …) picks the upstream and is stripped; with LITELLM_URL it is sent unchanged.',
    example: 'fireworks_ai/accounts/fireworks/models/llama-v3p1-8b-instruct',
  })
  model: string;

  @ApiProperty({ type: [ChatMessage] })
  messages: ChatMessage[];

  @ApiPropertyOptional({ description: 'true: the answer is an SSE stream (text/event-stream) ending in `data: [DONE]`.', default: false })
  stream?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    properties: { tags: { ...TAGS_SCHEMA, description: 'Your tags; a tracked call appends rollout_id, insertion_id, invocation_id, experiment_id, run_id and row_id (a trail call trail_id and insertion_id).' } },
    additionalProperties: true,
    description: 'Forwarded upstream; the tags also go on the Langfuse trace.',
  })
  metadata?: { tags?: string[]; [key: string]: unknown };
}

export class ChatCompletionMessage {
  @ApiProperty({ example: 'assistant' })
  role: string;

  @ApiProperty({ nullable: true, type: String, example: 'Hello!' })
  content: string | null;
}

export class ChatCompletionChoice {
  @ApiProperty({ example: 0 })
  index: number;

  @ApiProperty({ type: () => ChatCompletionMessage })
  message: ChatCompletionMessage;

  @ApiProperty({ nullable: true, type: String, example: 'stop' })
  finish_reason: string | null;
}

export class ChatCompletionUsage {
  @ApiProperty({ example: 12 })
  prompt_tokens: number;

  @ApiProperty({ example: 3 })
  completion_tokens: number;

  @ApiProperty({ example: 15 })
  total_tokens: number;
}

/** The upstream's answer, relayed unchanged (status, body, content headers). */
export class ChatCompletionResponse {
  @ApiProperty({ example: 'chatcmpl-123' })
  id: string;

  @ApiProperty({ example: 'chat.completion' })
  object: string;

  @ApiProperty({ description: 'Unix seconds.', example: 1767225600 })
  created: number;

  @ApiProperty({ example: 'accounts/fireworks/models/llama-v3p1-8b-instruct' })
  model: string;

  @ApiProperty({ type: [ChatCompletionChoice] })
  choices: ChatCompletionChoice[];

  @ApiPropertyOptional({ type: () => ChatCompletionUsage })
  usage?: ChatCompletionUsage;
}

/** The response headers of a chat call. */
export const CHAT_RESPONSE_HEADERS = {
  'x-insertion-id': {
    description:
      'Tracked and trail routes: the UUIDv7 `insertion_id` the call was recorded under (its trace carries `insertion_id:<id>`). Only on a call that was recorded: absent when the upstream failed.',
    schema: { type: 'string', format: 'uuid' },
  },
  'x-langfuse-trace-id': { description: 'The Langfuse trace of the call, when tracing is on for the project.', schema: { type: 'string' } },
  'x-request-id': { description: 'Your X-Request-Id if you sent a sane one, else a new id; on every log line of the call.', schema: { type: 'string' } },
  'x-upstream-request-id': { description: 'The upstream’s own request id (its `x-request-id`, e.g. OpenAI’s), when it sent one.', schema: { type: 'string' } },
};

export const SSE_EXAMPLE =
  'data: {"id":"chatcmpl-123","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\ndata: [DONE]\n\n';
