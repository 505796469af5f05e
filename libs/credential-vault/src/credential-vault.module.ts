import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { vaultConfig } from './vault.config';
import { CredentialVault } from './credential-vault.service';

@Global()
@Module({
  imports: [ConfigModule.forFeature(vaultConfig)],
  providers: [CredentialVault],
  exports: [CredentialVault],
})
export class CredentialVaultModule {}
