import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { GatewayErrorCode, statusOfCode } from './gateway.error';

/** The `error` member of an error answer: what the openai SDK reads. */
export class GatewayErrorDetail {
  @ApiProperty({ description: 'What went wrong and what to fix, naming the field, parameter or setting.', example: 'Invalid query parameter: limit: expected an integer between 1 and 1000000 (default 100) (got "0").' })
  message: string;

  @ApiProperty({ enum: ['invalid_request_error', 'api_error'], description: '`api_error` for a 5xx, else `invalid_request_error`.' })
  type: string;

  @ApiProperty({
    description: 'Stable code (README "Errors"); `internal_error` for a 5xx the gateway did not expect.',
    enum: [...Object.values(GatewayErrorCode), 'internal_error'],
    example: GatewayErrorCode.InvalidQuery,
  })
  code: string;

  @ApiPropertyOptional({ description: 'On a 5xx the gateway did not expect: the id of its log line.', format: 'uuid' })
  error_id?: string;

  @ApiPropertyOptional({
    description: 'The query parameter(s) at fault (400 `invalid_query`, `missing_rollout_tag`). Other errors may add members that give context.',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  })
  param?: string | string[];
}

/**
 * Every error the gateway itself answers: OpenAI-style `error` plus
 * FastAPI-style `detail` (what the original's clients read). The wire shape
 * sendGatewayError writes.
 */
export class GatewayErrorBody {
  @ApiProperty({ type: () => GatewayErrorDetail })
  error: GatewayErrorDetail;

  @ApiProperty({ description: '`error.message` again, where FastAPI clients read it.' })
  detail: string;
}

/**
 * Documents the error answers of a route: one response per status, naming
 * the codes it can carry, grouped by the status table of GatewayErrorCode
 * (so the document cannot disagree with the filter about a code's status).
 */
export function ApiGatewayErrors(...codes: GatewayErrorCode[]): MethodDecorator & ClassDecorator {
  const byStatus = new Map<number, GatewayErrorCode[]>();
  for (const code of codes) byStatus.set(statusOfCode(code), [...(byStatus.get(statusOfCode(code)) ?? []), code]);
  return applyDecorators(
    ...[...byStatus.entries()].map(([status, list]) =>
      ApiResponse({
        status,
        description: `The gateway's error body; \`error.code\`: ${list.map((c) => `\`${c}\``).join(', ')}.`,
        type: GatewayErrorBody,
      }),
    ),
  );
}
