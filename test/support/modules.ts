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
import { SpoolModule } from '@app/spool';
import { AuthModule } from '@app/auth';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SharedModules {
  settings: DynamicModule;
  redis: DynamicModule;
  vault: DynamicModule;
  tracking: DynamicModule;
  auth: DynamicModule;
}

export function sharedModules(settings: Record<string, string | number | boolean | undefined>): SharedModules {
  const config = SettingsModule.forRoot({ settings: { SPOOL_DIR: mkdtempSync(join(tmpdir(), 'gw-spool-')), ...settings }, env: {} });
  const redis = RedisModule.forRoot({ settings: config });
  const vault = CredentialVaultModule.forRoot({ settings: config });
  return {
    settings: config,
    redis,
    vault,
    tracking: CompletenessTrackingModule.forRoot({ settings: config, redis, spool: SpoolModule.forRoot({ settings: config }) }),
    auth: AuthModule.forRoot({ settings: config, vault }),
  };
}
