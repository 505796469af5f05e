import 'reflect-metadata';
import { IsOptional, IsString } from 'class-validator';
import { formatIp, ipValue, IsAddressList, parseAddressList } from './address-list';
import { Setting, Settings } from './setting.decorator';
import { validateSettings } from './settings-source';

@Settings('Address list spec', 2)
class ListSettings {
  @Setting('Loose.')
  @IsOptional()
  @IsString()
  @IsAddressList()
  SPEC_LOOSE_LIST?: string;

  @Setting('Exact.')
  @IsOptional()
  @IsString()
  @IsAddressList({ exactRanges: true })
  SPEC_EXACT_LIST?: string;
}

describe('parseAddressList', () => {
  it('reads addresses and CIDR ranges of both families, with spaces and empty entries', () => {
    const { ranges, invalid } = parseAddressList(' 10.0.0.0/8, ,127.0.0.1,fd00::/8 ,::1');
    expect(invalid).toEqual([]);
    expect(ranges.map((r) => [r.family, r.address, r.prefix])).toEqual([
      [4, '10.0.0.0', 8],
      [4, '127.0.0.1', 32],
      [6, 'fd00::', 8],
      [6, '::1', 128],
    ]);
  });

  it.each(['10.0.0.0/33', 'fd00::/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/x', 'fe80::1%eth0', 'intranet', '10.0.0', '10.0.0.0/-1'])('%s is not an entry', (entry) => {
    expect(parseAddressList(`127.0.0.1,${entry}`).invalid).toEqual([entry]);
  });

  it('exactRanges refuses bits set past the prefix, with the two ranges that might have been meant', () => {
    expect(parseAddressList('10.1.2.3/8').invalid).toEqual([]);
    expect(parseAddressList('10.1.2.3/8', { exactRanges: true }).invalid).toEqual(['10.1.2.3/8 (bits set past /8: 10.0.0.0/8 or 10.1.2.3/32?)']);
    expect(parseAddressList('fd00::1/8', { exactRanges: true }).invalid).toEqual(['fd00::1/8 (bits set past /8: fd00::/8 or fd00::1/128?)']);
    expect(parseAddressList('10.0.0.0/8,0.0.0.0/0,::/0', { exactRanges: true }).invalid).toEqual([]);
  });
});

describe('ipValue and formatIp', () => {
  it.each([
    ['127.0.0.1', 0x7f000001n],
    ['::1', 1n],
    ['::ffff:127.0.0.1', 0xffff7f000001n],
    ['64:ff9b::7f00:1', 0x0064ff9b0000000000000000_7f000001n],
    ['fe80::1%eth0', 0xfe800000000000000000000000000001n],
  ])('%s', (ip, value) => {
    expect(ipValue(ip)).toBe(value);
  });

  it('is undefined for what is not an address', () => {
    expect(ipValue('localhost')).toBeUndefined();
  });

  it('formats both families back', () => {
    expect(formatIp(0x7f000001n, 4)).toBe('127.0.0.1');
    expect(formatIp(ipValue('fd00:0:0::1')!, 6)).toBe('fd00::1');
  });
});

describe('IsAddressList', () => {
  it('refuses a bad list at start-up, naming the setting and each bad entry', () => {
    expect(() => validateSettings(ListSettings, { SPEC_LOOSE_LIST: '10.0.0.0/8,10.0.0.0/33,prometheus.svc' })).toThrow(
      /SPEC_LOOSE_LIST must be IP addresses and CIDR ranges separated by commas.*\(not: 10\.0\.0\.0\/33, prometheus\.svc\)/,
    );
    expect(() => validateSettings(ListSettings, { SPEC_EXACT_LIST: '127.0.0.1/8' })).toThrow(/SPEC_EXACT_LIST must .*\(not: 127\.0\.0\.1\/8 \(bits set past \/8: 127\.0\.0\.0\/8 or 127\.0\.0\.1\/32\?\)\)/);
  });

  it('takes a good one', () => {
    expect(validateSettings(ListSettings, { SPEC_LOOSE_LIST: '10.1.2.3/8', SPEC_EXACT_LIST: '127.0.0.1/32,::1' })).toMatchObject({ SPEC_EXACT_LIST: '127.0.0.1/32,::1' });
  });
});
