import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiSecurity } from '@nestjs/swagger';

export const IS_PUBLIC = 'gateway:isPublic';

/**
 * Marks a route (or controller) that the auth guard lets through
 * unauthenticated; the OpenAPI document shows it as needing no credential
 * (an empty security requirement).
 */
export const Public = (): MethodDecorator & ClassDecorator => applyDecorators(SetMetadata(IS_PUBLIC, true), ApiSecurity({}));
