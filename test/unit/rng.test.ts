import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRng,
  deriveSeed,
  hashString32,
  pick,
  sampleWithoutReplacement,
  shuffle,
  toSeed32,
} from '../../core/common/rng';

/** The published mulberry32 reference, used to cross-check ours. */
function referenceMulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** FNV-1a over Buffer bytes, as an independent check of our UTF-8 encoder. */
function referenceFnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

test('createRng: fixed outputs for fixed seeds', () => {
  const cases: Array<{ seed: number; first: number[] }> = [
    { seed: 1234, first: [314799534, 3021131492, 3877737075, 4168477787, 175938938] },
    { seed: 0, first: [1144304738, 1416247, 958946056] },
  ];
  for (const { seed, first } of cases) {
    const rng = createRng(seed);
    assert.deepEqual(
      first.map(() => rng.nextUint32()),
      first,
      `seed ${seed}`,
    );
  }
  const r42 = createRng(42);
  assert.deepEqual([r42.next(), r42.next(), r42.next()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
});

test('createRng matches the reference mulberry32 over many draws and seeds', () => {
  for (const seed of [0, 1, 7, 1234, 2 ** 31, 2 ** 32 - 1]) {
    const ours = createRng(seed);
    const ref = referenceMulberry32(seed);
    for (let i = 0; i < 1000; i++) assert.equal(ours.nextUint32(), ref(), `seed ${seed} draw ${i}`);
  }
});

test('createRng: state() resumes the same stream; seeds are taken modulo 2^32', () => {
  const a = createRng(99);
  a.nextUint32();
  a.nextUint32();
  const b = createRng(a.state());
  for (let i = 0; i < 20; i++) assert.equal(b.nextUint32(), a.nextUint32());
  assert.equal(toSeed32(2 ** 32 + 5), 5);
  assert.equal(toSeed32(-1), 2 ** 32 - 1);
  assert.equal(createRng(2 ** 32 + 5).nextUint32(), createRng(5).nextUint32());
  assert.throws(() => createRng(1.5), /seed must be an integer/);
  assert.throws(() => createRng(Number.NaN), /seed must be an integer/);
});

test('rng.int: fixed outputs, range and argument checks', () => {
  const r = createRng(7);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => r.int(6)), [4, 2, 2, 2, 3]);
  const s = createRng(3);
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++) counts[s.int(3)]++;
  for (const c of counts) assert.ok(c > 900 && c < 1100, `roughly uniform: ${counts.join(',')}`);
  for (const bad of [0, -1, 2.5, 2 ** 32 + 1]) assert.throws(() => s.int(bad), RangeError, String(bad));
  assert.equal(s.int(1), 0);
});

test('hashString32: FNV-1a test vectors', () => {
  const cases: Array<[string, number]> = [
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
    ['héllo', 0x4aa48540],
    ['日本', 0x9f26ee51],
    ['😀', 0x33a29608],
  ];
  for (const [s, h] of cases) assert.equal(hashString32(s), h, JSON.stringify(s));
});

test('hashString32 agrees with FNV-1a over Buffer UTF-8 bytes (incl. lone surrogates)', () => {
  const rng = createRng(5);
  const samples = ['\ud800', 'x\udc00y', 'mixed ascii ü € 𝄞 \u0000'];
  for (let i = 0; i < 200; i++) {
    let s = '';
    const len = rng.int(12);
    for (let j = 0; j < len; j++) s += String.fromCharCode(rng.int(0x10000));
    samples.push(s);
  }
  for (const s of samples) assert.equal(hashString32(s), referenceFnv1a(s), JSON.stringify(s));
});

test('deriveSeed: fixed values, typed and delimited parts', () => {
  const cases: Array<[number, Array<string | number>, number]> = [
    [1234, [], 2176443666],
    [1234, ['train'], 2511785571],
    [1234, ['heldout'], 274699003],
    [0, ['iter', 1], 175474082],
  ];
  for (const [seed, parts, want] of cases) assert.equal(deriveSeed(seed, ...parts), want, `${seed} ${parts.join(',')}`);
  assert.equal(deriveSeed(2 ** 32 + 5, 'x'), deriveSeed(5, 'x'));
  assert.notEqual(deriveSeed(1, 'ab', 'c'), deriveSeed(1, 'a', 'bc'));
  assert.notEqual(deriveSeed(1, '1'), deriveSeed(1, 1));
  assert.notEqual(deriveSeed(1, 'x'), deriveSeed(2, 'x'));
  assert.throws(() => deriveSeed(1, Number.POSITIVE_INFINITY), RangeError);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(deriveSeed(42, 'shard', i));
  assert.equal(seen.size, 1000);
});

test('shuffle: fixed permutation, copy not mutation, a permutation always', () => {
  const input = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const frozen = Object.freeze(input.slice());
  assert.deepEqual(shuffle(createRng(7), frozen), [0, 4, 8, 1, 7, 3, 5, 6, 9, 2]);
  assert.deepEqual(frozen, input);
  assert.deepEqual(shuffle(createRng(1), []), []);
  assert.deepEqual(shuffle(createRng(1), ['a']), ['a']);
  for (let seed = 0; seed < 50; seed++) {
    assert.deepEqual(shuffle(createRng(seed), input).sort((a, b) => a - b), input);
  }
});

test('sampleWithoutReplacement: fixed sample, distinct, clamped, checked', () => {
  const input = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.deepEqual(sampleWithoutReplacement(createRng(7), input, 4), [2, 3, 8, 0]);
  assert.deepEqual(sampleWithoutReplacement(createRng(7), input, 0), []);
  const all = sampleWithoutReplacement(createRng(7), input, 25);
  assert.equal(all.length, 10);
  assert.deepEqual(all.slice().sort((a, b) => a - b), input);
  for (let seed = 0; seed < 50; seed++) {
    const s = sampleWithoutReplacement(createRng(seed), input, 5);
    assert.equal(new Set(s).size, 5);
  }
  assert.deepEqual(input, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => sampleWithoutReplacement(createRng(1), input, bad), /k must be a non-negative integer/);
  }
  // The same seed gives the same sample.
  assert.deepEqual(
    sampleWithoutReplacement(createRng(11), input, 3),
    sampleWithoutReplacement(createRng(11), input, 3),
  );
});

test('pick', () => {
  const r = createRng(2);
  for (let i = 0; i < 20; i++) assert.ok(['a', 'b', 'c'].includes(pick(r, ['a', 'b', 'c'])));
  assert.throws(() => pick(r, []), /empty/);
});

test('core/common/rng.ts stays pure (no node: imports, Math.random, Date)', async () => {
  const { readFileSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const src = readFileSync(resolve(__dirname, '../../core/common/rng.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  assert.doesNotMatch(src, /from ['"]node:|require\(|Math\.random|Date\.now|new Date/);
});
