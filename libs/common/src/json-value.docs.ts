import type { SchemaObject } from '@nestjs/swagger';

/**
 * The OpenAPI schema of "any JSON value" (messages, metadata, details the
 * client chose), for @ApiProperty: OpenAPI 3.0 has no `any` type, and a bare
 * property would be documented as an object.
 */
export const JSON_VALUE: { anyOf: SchemaObject[] } = {
  anyOf: [{ type: 'object', additionalProperties: true, nullable: true }, { type: 'array', items: {} }, { type: 'string' }, { type: 'number' }, { type: 'boolean' }],
};
