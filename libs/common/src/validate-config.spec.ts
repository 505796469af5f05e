import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsBoolean } from 'class-validator';
import { toBool, validateConfig } from './validate-config';

class Flags {
  @Transform(toBool)
  @IsBoolean()
  ON_BY_DEFAULT: boolean = true;

  @Transform(toBool)
  @IsBoolean()
  OFF_BY_DEFAULT: boolean = false;
}

describe('boolean settings (toBool)', () => {
  it.each(['false', 'FALSE', '0', 'no', 'off', ' false '])('%j turns a default-on flag off', (raw) => {
    expect(validateConfig(Flags, { ON_BY_DEFAULT: raw }).ON_BY_DEFAULT).toBe(false);
  });

  it.each(['true', '1', 'yes', 'on'])('%j turns a default-off flag on', (raw) => {
    expect(validateConfig(Flags, { OFF_BY_DEFAULT: raw }).OFF_BY_DEFAULT).toBe(true);
  });

  it('unset keeps the defaults', () => {
    expect(validateConfig(Flags, {})).toMatchObject({ ON_BY_DEFAULT: true, OFF_BY_DEFAULT: false });
  });

  it('anything else is refused, naming the variable', () => {
    expect(() => validateConfig(Flags, { OFF_BY_DEFAULT: 'maybe' })).toThrow(/OFF_BY_DEFAULT: .*boolean.*"maybe"/);
  });
});
