import { ConfigurableModuleBuilder, DynamicModule, FactoryProvider, Module } from '@nestjs/common';
import { SettingsModuleOptions, SettingsSource } from './settings-source';

const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN } = new ConfigurableModuleBuilder<SettingsModuleOptions>().setClassMethodName('forRoot').build();

/**
 * settings owns how the gateway is configured: each lib declares its settings
 * once, as a class (`@Settings`/`@Setting` + class-validator), and loads it
 * from the one SettingsSource of its gateway: code settings over the
 * environment. The docs are generated from the same classes
 * (settings-docs.ts). It must not know any lib's settings.
 *
 * SettingsModule.forRoot({ settings, env }) / forRootAsync({ useFactory, … })
 * is created once per gateway and imported by every lib module that reads
 * settings (no global module).
 */
@Module({
  providers: [{ provide: SettingsSource, inject: [MODULE_OPTIONS_TOKEN], useFactory: (options: SettingsModuleOptions) => new SettingsSource(options) }],
  exports: [SettingsSource],
})
export class SettingsModule extends ConfigurableModuleClass {}

/** The dynamic module SettingsModule.forRoot/forRootAsync returns; lib modules take it to import. */
export type SettingsModuleRef = DynamicModule;

/** A provider of one lib's validated settings, injectable by their class. */
export function settingsProvider<T extends object>(cls: new () => T): FactoryProvider<T> {
  return { provide: cls, inject: [SettingsSource], useFactory: (source: SettingsSource) => source.load(cls) };
}
