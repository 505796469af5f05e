import { Module, Type } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { CredentialVault } from '@app/credential-vault';
import { ApiKeyAuthProvider } from './api-key.auth-provider';
import { authConfig } from './auth.config';
import { AuthGuard } from './auth.guard';
import { AuthProvider } from './auth.provider';
import { NoAuthProvider } from './no-auth.provider';

export interface AuthModuleOptions {
  /** A custom provider class; when absent AUTH_PROVIDER picks a built-in one. */
  provider?: Type<AuthProvider>;
}

@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions = {}) {
    return {
      module: AuthModule,
      imports: [ConfigModule.forFeature(authConfig)],
      providers: [
        NoAuthProvider,
        ApiKeyAuthProvider,
        ...(options.provider ? [options.provider] : []),
        {
          provide: AuthProvider,
          // Inject the candidates (not moduleRef.get) so each is constructed before it is chosen.
          inject: [authConfig.KEY, CredentialVault, NoAuthProvider, ApiKeyAuthProvider, ...(options.provider ? [options.provider] : [])],
          useFactory: (config: ConfigType<typeof authConfig>, vault: CredentialVault, none: NoAuthProvider, apiKey: ApiKeyAuthProvider, custom?: AuthProvider) => {
            if (custom) return custom;
            if (config.AUTH_PROVIDER === 'api_key') {
              if (vault.apiKeys().length === 0) {
                throw new Error('AUTH_PROVIDER=api_key but the secrets file has no api_keys: add api_keys to SECRETS_PATH or set AUTH_PROVIDER=none.');
              }
              return apiKey;
            }
            return none;
          },
        },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [AuthProvider],
    };
  }
}
