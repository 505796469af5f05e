/**
 * spool owns the files where a stopping gateway leaves what it could not
 * store (registrations while Redis was down, traces Langfuse had not taken),
 * and how the next start takes them over. It must not know what the items are.
 */
import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModuleRef, settingsProvider } from '@app/settings';
import { Spool } from './spool';
import { SpoolSettings } from './spool.settings';

@Module({})
export class SpoolModule {
  static forRoot({ settings }: { settings: SettingsModuleRef }): DynamicModule {
    return {
      module: SpoolModule,
      imports: [settings],
      providers: [settingsProvider(SpoolSettings), { provide: Spool, inject: [SpoolSettings], useFactory: (s: SpoolSettings) => new Spool(s) }],
      exports: [Spool],
    };
  }
}
