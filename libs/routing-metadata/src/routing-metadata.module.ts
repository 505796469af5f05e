import { Module } from '@nestjs/common';

/** Pure parsing helpers; the module exists so the lib composes like the others. */
@Module({})
export class RoutingMetadataModule {}
