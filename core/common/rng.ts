/**
 * Seeded, deterministic randomness for the pipeline.
 *
 * Pure: no `node:` imports, no `Math.random()`, no clocks, so workflow code may import it and a replayed
 * workflow draws exactly the same numbers. Every random choice in the project (which inputs an iteration
 * samples, A/B swaps, synthetic data) goes through a generator created here from a recorded seed.
 *
 * - `createRng(seed)`: mulberry32, a small 32-bit-state generator (period 2^32), plenty for sampling and
 *   shuffling; not for cryptography.
 * - `hashString32(s)`: 32-bit FNV-1a over the UTF-8 bytes of `s`.
 * - `deriveSeed(seed, ...parts)`: an independent sub-seed per (seed, purpose, index...), so streams for
 *   different purposes never depend on the order in which they are consumed.
 */

/** A seeded generator. All methods advance the same 32-bit state. */
export interface Rng {
  /** Next unsigned 32-bit integer in [0, 2^32). */
  nextUint32(): number;
  /** Next float in [0, 1) (32 bits of randomness). */
  next(): number;
  /** Unbiased integer in [0, n) for an integer 1 <= n <= 2^32. */
  int(n: number): number;
  /** The current state; `createRng(rng.state())` continues the same stream. */
  state(): number;
}

const UINT32 = 4294967296; // 2^32

/** Normalises a seed to an unsigned 32-bit integer (integers are taken modulo 2^32). */
export function toSeed32(seed: number): number {
  if (!Number.isInteger(seed)) {
    throw new RangeError(`seed must be an integer, got ${String(seed)}`);
  }
  // ToUint32 is exact modulo 2^32 for integers up to Number.MAX_SAFE_INTEGER.
  return seed >>> 0;
}

/** mulberry32 seeded with a 32-bit integer. */
export function createRng(seed: number): Rng {
  let a = toSeed32(seed);
  const nextUint32 = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    nextUint32,
    next: () => nextUint32() / UINT32,
    int: (n: number) => {
      if (!Number.isInteger(n) || n < 1 || n > UINT32) {
        throw new RangeError(`int(n) needs an integer 1 <= n <= 2^32, got ${String(n)}`);
      }
      // Rejection sampling: discard the top partial block so every residue is equally likely.
      const limit = UINT32 - (UINT32 % n);
      for (;;) {
        const x = nextUint32();
        if (x < limit) return x % n;
      }
    },
    state: () => a >>> 0,
  };
}

/** UTF-8 bytes of a string, without TextEncoder (kept dependency-free for the workflow sandbox). */
function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate: encode U+FFFD, as TextEncoder does
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of the UTF-8 encoding of `s` (unsigned). */
export function hashString32(s: string): number {
  let h = FNV_OFFSET;
  for (const b of utf8Bytes(s)) {
    h ^= b;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The murmur3 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A sub-seed for one purpose, e.g. `deriveSeed(runSeed, 'iter', 2, 'sample-inputs')`.
 * Parts are typed (`"1"` and `1` differ) and delimited, so `('ab','c')` and `('a','bc')` differ.
 */
export function deriveSeed(seed: number, ...parts: Array<string | number>): number {
  const encoded = parts
    .map((p) => {
      if (typeof p === 'number') {
        if (!Number.isFinite(p)) throw new RangeError(`deriveSeed part must be finite, got ${String(p)}`);
        return `n${String(p)}`;
      }
      return `s${p.length}:${p}`;
    })
    .join('|');
  return fmix32(hashString32(`${toSeed32(seed)}|${encoded}`));
}

/** A shuffled copy of `arr` (Fisher-Yates); the input is not modified. */
export function shuffle<T>(rng: Rng, arr: readonly T[]): T[] {
  const out = arr.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/**
 * `k` distinct elements of `arr` (by position), in the order they were drawn. `k` larger than the array
 * returns every element in random order; `k` must be a non-negative integer. The input is not modified.
 */
export function sampleWithoutReplacement<T>(rng: Rng, arr: readonly T[], k: number): T[] {
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`sampleWithoutReplacement: k must be a non-negative integer, got ${String(k)}`);
  }
  const n = arr.length;
  const take = Math.min(k, n);
  const out = arr.slice();
  // Partial Fisher-Yates from the front: position i receives a uniform pick from the remaining ones.
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(n - i);
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out.slice(0, take);
}

/** One uniformly chosen element; throws on an empty array. */
export function pick<T>(rng: Rng, arr: readonly T[]): T {
  if (arr.length === 0) throw new RangeError('pick: empty array');
  return arr[rng.int(arr.length)];
}
