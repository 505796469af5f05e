export { Setting, Settings, settingsGroups, settingsOf } from './setting.decorator';
export type { SettingInfo, SettingsGroupInfo } from './setting.decorator';
export { ConfigError, SettingsSource, validateSettings } from './settings-source';
export type { SettingsModuleOptions, SettingValue } from './settings-source';
export { SettingsModule, settingsProvider } from './settings.module';
export type { SettingsModuleRef } from './settings.module';
export { parseByteSize, toBool, toLowerCase } from './parse';
export { renderEnvExample, renderSettingsTables, withSettingsTables } from './settings-docs';
