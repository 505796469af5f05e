import { Module } from '@nestjs/common';
import { GatewayModule } from '@app/gateway';

/** The deployable gateway: the library module with its defaults. */
@Module({ imports: [GatewayModule.forRoot({})] })
export class AppModule {}
