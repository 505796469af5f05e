export * from './credential-vault.module';
export * from './credential-vault.service';
export * from './langfuse-credentials';
export type { ApiKeyEntry } from './secrets-file';
export { SecretsFileError } from './secrets-file';
export * from './vault.config';
