export { CredentialVaultModule } from './credential-vault.module';
export type { CredentialVaultModuleDeps } from './credential-vault.module';
export { CredentialVault } from './credential-vault.service';
export { LangfuseCredentials } from './langfuse-credentials';
export { VaultSettings } from './vault.settings';
export type { ApiKeyEntry } from './secrets-file';
export { SecretsFileError } from './secrets-file';
