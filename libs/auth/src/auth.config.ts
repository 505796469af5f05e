import { registerAs } from '@nestjs/config';
import { IsIn } from 'class-validator';
import { validateConfig } from '@app/common';

export class AuthConfig {
  /** none: everyone is anonymous (the original's default); api_key: keys from the secrets file. */
  @IsIn(['none', 'api_key'])
  AUTH_PROVIDER: 'none' | 'api_key' = 'none';
}

export const authConfig = registerAs('auth', () => validateConfig(AuthConfig, { AUTH_PROVIDER: process.env.AUTH_PROVIDER }));
