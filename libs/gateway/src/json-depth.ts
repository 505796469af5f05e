/**
 * How deep a raw JSON body nests objects and arrays, checked on its bytes
 * before JSON.parse. It only counts: invalid JSON is left to the parser.
 */

/**
 * Deepest nesting of objects and arrays a JSON request body may have. Real
 * bodies stay far below it (a chat body with tool JSON schemas is about 20
 * deep). Far above it, the gateway's own recursion over a parsed body
 * overflows the stack and answered 500: JSON.stringify when forwarding (about
 * 4,500 levels on Node 20's default stack), class-transformer (about 1,500).
 * 128 keeps a wide margin on both sides.
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Bytes of a string read one by one before jumping with indexOf: keys and
 * short values end sooner than a native call pays off; long contents (the
 * bulk of a chat body) are then skipped at memchr speed.
 */
const INLINE_STRING_BYTES = 24;

/**
 * True when `buf` nests objects and arrays more than `max` deep. Brackets
 * inside strings do not count; `\"` does not end a string. One pass, no
 * allocation. None of the bytes it looks for occurs inside a multi-byte UTF-8
 * character, so it reads UTF-8 as bytes safely.
 */
export function exceedsJsonDepth(buf: Buffer, max: number = MAX_JSON_DEPTH): boolean {
  const n = buf.length;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    if (c === QUOTE) i = closingQuote(buf, i + 1);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** Index of the quote that ends the string whose contents start at `start` (buf.length if none does). */
function closingQuote(buf: Buffer, start: number): number {
  const n = buf.length;
  const inlineEnd = Math.min(n, start + INLINE_STRING_BYTES);
  let i = start;
  for (; i < inlineEnd; i++) {
    const c = buf[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  // `i` is past any escape the inline loop saw; from here a quote is escaped
  // when an odd run of backslashes stands right before it.
  while (i < n) {
    const q = buf.indexOf(QUOTE, i);
    if (q === -1) return n;
    let backslashes = 0;
    for (let j = q - 1; j >= start && buf[j] === BACKSLASH; j--) backslashes++;
    if ((backslashes & 1) === 0) return q;
    i = q + 1;
  }
  return n;
}
