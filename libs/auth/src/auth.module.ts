/**
 * auth owns who may call the gateway: the AuthProvider port, the global
 * guard, the RequestAuthenticator both the guard and the direct chat route
 * use, and the built-in providers. Other modules only read the account
 * (`@Account()` / accountOf) and check scopes with assertProjectAccess; none
 * hard-codes a provider.
 */
import { DynamicModule, Module, ModuleMetadata, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CredentialVault } from '@app/credential-vault';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { ApiKeyAuthProvider } from './api-key.auth-provider';
import { AuthGuard } from './auth.guard';
import { AuthProvider } from './auth.provider';
import { AuthSettings } from './auth.settings';
import { NoAuthProvider } from './no-auth.provider';
import { ProjectResolver } from './project-resolver';
import { RequestAuthenticator } from './request-authenticator';

export interface AuthModuleOptions {
  settings: SettingsModuleRef;
  /** CredentialVaultModule.forRoot(…): the api_key provider reads its keys. */
  vault: DynamicModule;
  /** A custom provider class; when absent AUTH_PROVIDER picks a built-in one. */
  provider?: Type<AuthProvider>;
  /** Modules the custom provider may inject from. */
  imports?: ModuleMetadata['imports'];
}

@Module({})
export class AuthModule {
  static forRoot({ settings, vault, provider, imports = [] }: AuthModuleOptions): DynamicModule {
    return {
      module: AuthModule,
      imports: [settings, vault, ...imports],
      providers: [
        settingsProvider(AuthSettings),
        ...(provider
          ? [{ provide: AuthProvider, useClass: provider }]
          : [
              {
                provide: AuthProvider,
                inject: [AuthSettings, CredentialVault],
                useFactory: (s: AuthSettings, vaultService: CredentialVault) => {
                  if (s.AUTH_PROVIDER === 'none') return new NoAuthProvider();
                  if (vaultService.apiKeys().length === 0) {
                    throw new Error('AUTH_PROVIDER=api_key but the secrets file has no api_keys: add api_keys to SECRETS_PATH or set AUTH_PROVIDER=none.');
                  }
                  return new ApiKeyAuthProvider(vaultService);
                },
              },
            ]),
        RequestAuthenticator,
        ProjectResolver,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
      exports: [AuthProvider, RequestAuthenticator, ProjectResolver],
    };
  }
}
