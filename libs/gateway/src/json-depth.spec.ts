import { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth';

const exceeds = (text: string, max = 3) => exceedsJsonDepth(Buffer.from(text, 'utf8'), max);
const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const objects = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

describe('exceedsJsonDepth', () => {
  it('exactly at the limit passes; one more level does not (arrays, objects, mixed)', () => {
    expect(exceeds(arrays(3))).toBe(false);
    expect(exceeds(arrays(4))).toBe(true);
    expect(exceeds(objects(3))).toBe(false);
    expect(exceeds(objects(4))).toBe(true);
    expect(exceeds('{"a":[{"b":1}]}')).toBe(false);
    expect(exceeds('{"a":[{"b":[]}]}')).toBe(true);
  });

  it('counts nesting, not brackets: siblings at the same depth are fine', () => {
    expect(exceeds(`[${Array.from({ length: 500 }, () => '[[]]').join(',')}]`)).toBe(false);
    expect(exceeds('{"a":{"b":{}},"c":{"d":{}},"e":[[1],[2]]}')).toBe(false);
  });

  it('brackets inside strings do not count, short or long', () => {
    expect(exceeds(`["[[[[{{{{"]`)).toBe(false);
    expect(exceeds(`{"k{{{{":"${'['.repeat(1000)}"}`)).toBe(false);
    expect(exceeds(`["${'x'.repeat(100)}${'{'.repeat(10)}", ${arrays(2)}]`)).toBe(false);
  });

  it('an escaped quote does not end a string; an escaped backslash before a quote does not escape it', () => {
    // Short strings (read byte by byte) and long ones (indexOf jumps) alike.
    for (const pad of ['', 'x'.repeat(100)]) {
      expect(exceeds(`["${pad}\\"[[[[\\""]`)).toBe(false);
      expect(exceeds(`["${pad}\\\\",${arrays(3)}]`)).toBe(true);
      expect(exceeds(`["${pad}\\\\\\"[[[["]`)).toBe(false);
      expect(exceeds(`["${pad}\\\\\\\\",[[[]]]]`)).toBe(true);
    }
  });

  it('an escape that straddles the switch from byte reads to indexOf', () => {
    for (let at = 18; at < 30; at++) {
      expect(exceeds(`["${'x'.repeat(at)}\\"[[[[\\"${'y'.repeat(40)}"]`)).toBe(false);
      expect(exceeds(`["${'x'.repeat(at)}\\\\",${arrays(3)}]`)).toBe(true);
    }
  });

  it('multi-byte UTF-8 inside strings is skipped like any other content', () => {
    expect(exceeds(`["é漢字😀[[[[", {"ü": ["漢"]}]`)).toBe(false);
  });

  it('leaves invalid JSON to the parser: unterminated strings, stray closers, empty input', () => {
    expect(exceeds('["[[[[[[')).toBe(false);
    expect(exceeds(']]]]')).toBe(false);
    expect(exceeds('')).toBe(false);
    expect(exceeds('[[[[')).toBe(true);
  });

  it('defaults to MAX_JSON_DEPTH (128)', () => {
    expect(MAX_JSON_DEPTH).toBe(128);
    expect(exceedsJsonDepth(Buffer.from(arrays(128)))).toBe(false);
    expect(exceedsJsonDepth(Buffer.from(arrays(129)))).toBe(true);
    expect(exceedsJsonDepth(Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: '[{'.repeat(5000) }] })))).toBe(false);
  });
});
