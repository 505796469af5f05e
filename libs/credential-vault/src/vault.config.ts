import { registerAs } from '@nestjs/config';
import { IsOptional, IsString, IsUrl } from 'class-validator';
import { validateConfig } from '@app/common';

export class VaultConfig {
  /** YAML with `langfuse_keys`, `default_project_id`, `api_keys`. */
  @IsOptional()
  @IsString()
  SECRETS_PATH?: string;

  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  LANGFUSE_HOST: string = 'https://cloud.langfuse.com';
}

export const vaultConfig = registerAs('vault', () => validateConfig(VaultConfig, {
  SECRETS_PATH: process.env.SECRETS_PATH,
  LANGFUSE_HOST: process.env.LANGFUSE_HOST,
}));
