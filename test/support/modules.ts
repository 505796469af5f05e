/**
 * The shared lib modules one gateway is built from (settings, Redis, vault,
 * completeness tracking), for specs that assemble a few feature modules
 * themselves instead of the whole GatewayModule. Settings are code settings
 * over an empty environment.
 */
import { DynamicModule } from '@nestjs/common';
import { CompletenessTrackingModule } from '@app/completeness-tracking';
import { CredentialVaultModule } from '@app/credential-vault';
import { RedisModule } from '@app/redis';
import { SettingsModule } from '@app/settings';

export interface SharedModules {
  settings: DynamicModule;
  redis: DynamicModule;
  vault: DynamicModule;
  tracking: DynamicModule;
}

export function sharedModules(settings: Record<string, string | number | boolean | undefined>): SharedModules {
  const config = SettingsModule.forRoot({ settings, env: {} });
  const redis = RedisModule.forRoot({ settings: config });
  return {
    settings: config,
    redis,
    vault: CredentialVaultModule.forRoot({ settings: config }),
    tracking: CompletenessTrackingModule.forRoot({ settings: config, redis }),
  };
}
