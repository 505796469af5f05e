import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Min, MinLength } from 'class-validator';
import { toBool } from './parse';
import { Setting, Settings, settingsOf } from './setting.decorator';
import { ConfigError, SettingsSource, validateSettings } from './settings-source';

@Settings('Spec', 1)
class SpecSettings {
  @Setting('A number.')
  @IsInt()
  @Min(1)
  SPEC_COUNT: number = 5;

  @Setting('On by default.')
  @Transform(toBool)
  @IsBoolean()
  SPEC_ON: boolean = true;

  @Setting('Off by default.')
  @Transform(toBool)
  @IsBoolean()
  SPEC_OFF: boolean = false;

  @Setting('A password.', { sensitive: true })
  @IsOptional()
  @IsString()
  @MinLength(12)
  SPEC_PASSWORD?: string;
}

describe('SettingsSource', () => {
  it('declares each setting once, with its doc', () => {
    expect(settingsOf(SpecSettings).map((s) => s.name)).toEqual(['SPEC_COUNT', 'SPEC_ON', 'SPEC_OFF', 'SPEC_PASSWORD']);
  });

  it('reads the environment, keeps the defaults for what is unset or empty', () => {
    expect(new SettingsSource({ env: { SPEC_COUNT: '7', SPEC_ON: '' } }).load(SpecSettings)).toMatchObject({ SPEC_COUNT: 7, SPEC_ON: true, SPEC_OFF: false });
  });

  it('code settings win over the environment', () => {
    const source = new SettingsSource({ settings: { SPEC_COUNT: 9, SPEC_OFF: true }, env: { SPEC_COUNT: '7', SPEC_OFF: 'false' } });
    expect(source.load(SpecSettings)).toMatchObject({ SPEC_COUNT: 9, SPEC_OFF: true });
  });

  it('two sources in one process keep their own values (nothing global)', () => {
    const a = new SettingsSource({ settings: { SPEC_COUNT: 2 }, env: {} });
    const b = new SettingsSource({ settings: { SPEC_COUNT: 3 }, env: {} });
    expect([a.load(SpecSettings).SPEC_COUNT, b.load(SpecSettings).SPEC_COUNT]).toEqual([2, 3]);
  });

  it('refuses a code setting that does not exist, naming it', () => {
    expect(() => new SettingsSource({ settings: { SPEC_CUONT: 2 } })).toThrow(/SPEC_CUONT: not a setting of the gateway/);
  });

  it('refuses a bad value, naming the variable, and never echoes a sensitive one', () => {
    expect(() => new SettingsSource({ env: { SPEC_COUNT: '0' } }).load(SpecSettings)).toThrow(/SPEC_COUNT: .*less than 1 \(got "0"\)/);
    let err: Error | undefined;
    try {
      validateSettings(SpecSettings, { SPEC_PASSWORD: 'hunter2' });
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('SPEC_PASSWORD:');
    expect(err!.message).not.toContain('hunter2');
  });
});

describe('boolean settings (toBool)', () => {
  it.each(['false', 'FALSE', '0', 'no', 'off', ' false '])('%j turns a default-on flag off', (raw) => {
    expect(validateSettings(SpecSettings, { SPEC_ON: raw }).SPEC_ON).toBe(false);
  });

  it.each(['true', '1', 'yes', 'on'])('%j turns a default-off flag on', (raw) => {
    expect(validateSettings(SpecSettings, { SPEC_OFF: raw }).SPEC_OFF).toBe(true);
  });

  it('anything else is refused, naming the variable', () => {
    expect(() => validateSettings(SpecSettings, { SPEC_OFF: 'maybe' })).toThrow(/SPEC_OFF: .*boolean.*"maybe"/);
  });
});
