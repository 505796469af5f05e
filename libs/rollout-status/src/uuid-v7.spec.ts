import { v4, v7 } from 'uuid';
import { newestUuidV7, uuidV7Time } from './uuid-v7';

describe('uuid v7 helpers', () => {
  it('decodes the creation time of a UUIDv7', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    expect(uuidV7Time(v7({ msecs: t }))).toBe(t);
    expect(uuidV7Time(v4())).toBeUndefined();
  });

  it('picks the newest id in UUIDv7 order', () => {
    const a = v7({ msecs: 1000 });
    const b = v7({ msecs: 2000 });
    const c = v7({ msecs: 2000, seq: 5 });
    expect(newestUuidV7([b, a, v4()])).toBe(b);
    expect(newestUuidV7([a, b.toUpperCase()])).toBe(b.toUpperCase());
    expect(newestUuidV7([])).toBeUndefined();
    expect(uuidV7Time(newestUuidV7([a, c])!)).toBe(2000);
  });
});
