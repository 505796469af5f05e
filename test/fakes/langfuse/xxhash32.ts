/**
 * XXH32 (seed 0) of a UTF-8 string, as ClickHouse's `xxHash32(String)`.
 * Langfuse orders v2 observations by (start_time DESC, xxHash32(trace_id) DESC, span_id DESC),
 * so the fake uses the same key to produce the same page order and cursor semantics.
 * Written from the public XXH32 specification.
 */
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
const round = (acc: number, lane: number) => mul(rotl((acc + mul(lane, P2)) >>> 0, 13), P1);

export function xxHash32(input: string, seed = 0): number {
  const buf = Buffer.from(input, 'utf8');
  const len = buf.length;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    for (; i + 16 <= len; i += 16) {
      v1 = round(v1, buf.readUInt32LE(i));
      v2 = round(v2, buf.readUInt32LE(i + 4));
      v3 = round(v3, buf.readUInt32LE(i + 8));
      v4 = round(v4, buf.readUInt32LE(i + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  for (; i + 4 <= len; i += 4) {
    h = mul(rotl((h + mul(buf.readUInt32LE(i), P3)) >>> 0, 17), P4);
  }
  for (; i < len; i++) {
    h = mul(rotl((h + mul(buf[i], P5)) >>> 0, 11), P1);
  }
  h ^= h >>> 15;
  h = mul(h, P2);
  h ^= h >>> 13;
  h = mul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}
