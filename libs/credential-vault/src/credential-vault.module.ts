import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { CredentialVault } from './credential-vault.service';
import { VaultSettings } from './vault.settings';

export interface CredentialVaultModuleDeps {
  settings: SettingsModuleRef;
}

@Module({})
export class CredentialVaultModule {
  static forRoot({ settings }: CredentialVaultModuleDeps): DynamicModule {
    return {
      module: CredentialVaultModule,
      imports: [settings],
      providers: [settingsProvider(VaultSettings), CredentialVault],
      exports: [CredentialVault],
    };
  }
}
