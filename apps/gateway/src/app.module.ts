import { Module } from '@nestjs/common';
import { GatewayExtensions, GatewayModule } from '@app/gateway';

/**
 * What the deployable gateway adds to the library's defaults: the direct
 * chat route (CHAT_DIRECT_ROUTE=false turns it off). Settings come from the
 * environment.
 */
export const APP_GATEWAY_OPTIONS: GatewayExtensions = { directChatRoute: true };

@Module({ imports: [GatewayModule.forRoot(APP_GATEWAY_OPTIONS)] })
export class AppModule {}
