import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../core/common/rng';
import {
  bootstrapCI,
  exactAgreementCI,
  maeCI,
  pairedBootstrapDiff,
  pairedPairwiseAccuracyDiff,
  pairedPointwiseMetricDiffs,
  pairwiseAccuracyCI,
  pointwiseMetricCIs,
  type BootstrapCI,
  type PointwiseCIMetric,
} from '../../core/evaluation/bootstrap';
import { pairwiseAccuracy, pearson, summarizePointwise, type PairwiseOutcome, type ScoredItem } from '../../core/evaluation/metrics';

const mean = (xs: readonly number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** A judge that hits the gold score with probability `hit`, otherwise is off by one; `unparseable` share null. */
function noisyJudge(n: number, seed: number, hit: number, unparseable = 0): ScoredItem[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const gold = 1 + rng.int(5);
    if (rng.next() < unparseable) return { score: null, gold };
    if (rng.next() < hit) return { score: gold, gold };
    return { score: gold === 5 ? 4 : gold === 1 ? 2 : gold + (rng.next() < 0.5 ? -1 : 1), gold };
  });
}

/** A second judge on the same items (same gold scores, aligned by index), drawn like `noisyJudge`. */
function rejudge(items: readonly ScoredItem[], seed: number, hit: number, unparseable = 0): ScoredItem[] {
  const rng = createRng(seed);
  return items.map(({ gold }) => {
    if (rng.next() < unparseable) return { score: null, gold };
    if (rng.next() < hit) return { score: gold, gold };
    return { score: gold === 5 ? 4 : gold === 1 ? 2 : gold + (rng.next() < 0.5 ? -1 : 1), gold };
  });
}

function assertContains(ci: BootstrapCI, value: number, message: string): void {
  assert.ok(ci.low !== null && ci.high !== null, `${message}: interval is null`);
  assert.ok(ci.low <= value && value <= ci.high, `${message}: ${value} not in [${ci.low}, ${ci.high}]`);
}

function assertNoNaN(value: unknown, message: string): void {
  assert.ok(!JSON.stringify(value, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN!' : v)).includes('NaN!'), message);
}

const items200 = noisyJudge(200, 11, 0.6, 0.05);
const outcomes200: PairwiseOutcome[] = (() => {
  const rng = createRng(5);
  const kinds: PairwiseOutcome[] = ['correct', 'correct', 'wrong', 'tie', 'unparseable'];
  return Array.from({ length: 200 }, () => kinds[rng.int(kinds.length)]);
})();

const WRAPPERS: Array<{ name: string; run: (seed: number) => unknown }> = [
  { name: 'bootstrapCI (mean)', run: (seed) => bootstrapCI([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], mean, { seed, resamples: 200 }) },
  { name: 'pointwiseMetricCIs', run: (seed) => pointwiseMetricCIs(items200, { seed, resamples: 200 }) },
  { name: 'exactAgreementCI', run: (seed) => exactAgreementCI(items200, { seed, resamples: 200 }) },
  { name: 'maeCI', run: (seed) => maeCI(items200, { seed, resamples: 200 }) },
  { name: 'pairwiseAccuracyCI', run: (seed) => pairwiseAccuracyCI(outcomes200, { seed, resamples: 200 }) },
  {
    name: 'pairedPointwiseMetricDiffs',
    run: (seed) => pairedPointwiseMetricDiffs(items200, rejudge(items200, 12, 0.8, 0.05), { seed, resamples: 200 }),
  },
];

for (const w of WRAPPERS) {
  test(`${w.name}: deterministic per seed, different across seeds`, () => {
    const a = w.run(42);
    assert.deepEqual(w.run(42), a);
    assert.notDeepEqual(w.run(43), a);
    assertNoNaN(a, `${w.name} returned NaN`);
  });
}

test('resample r draws n indices with createRng(seed).int(n), in order (the documented draw)', () => {
  const items = [10, 20, 30, 40, 50, 60, 70];
  const seen: number[][] = [];
  bootstrapCI(items, (s) => (seen.push([...s]), 0), { seed: 9, resamples: 5 });
  const rng = createRng(9);
  const expected = [items, ...Array.from({ length: 5 }, () => items.map(() => items[rng.int(items.length)]))];
  assert.deepEqual(seen, expected);
});

test('a typical sample: the CI contains the estimate and narrows as n grows', () => {
  const widths: number[] = [];
  for (const n of [50, 500, 5000]) {
    const items = noisyJudge(n, 3, 0.6);
    const ci = exactAgreementCI(items, { seed: 1 });
    assert.equal(ci.estimate, summarizePointwise(items).exactAgreement);
    assertContains(ci, ci.estimate as number, `n=${n}`);
    const all = pointwiseMetricCIs(items.slice(0, 500), { seed: 1, resamples: 200 });
    for (const [metric, c] of Object.entries(all)) assertContains(c, c.estimate as number, `${metric} n=${n}`);
    widths.push((ci.high as number) - (ci.low as number));
  }
  assert.ok(widths[0] > widths[1] && widths[1] > widths[2], `widths should shrink: ${widths.join(', ')}`);
  // Roughly 1/sqrt(n): 100x the items, about a tenth of the width.
  assert.ok(widths[2] < widths[0] / 5, `widths: ${widths.join(', ')}`);
});

test('hand-checkable cases', async (t) => {
  await t.test('all ones: estimate 1, CI [1, 1]', () => {
    const ci = bootstrapCI([1, 1, 1, 1, 1], mean, { seed: 0, resamples: 50 });
    assert.deepEqual(ci, { estimate: 1, low: 1, high: 1, resamples: 50, seed: 0, confidence: 0.95, undefinedResamples: 0 });
    const perfect = exactAgreementCI([{ score: 3, gold: 3 }, { score: 1, gold: 1 }], { seed: 0 });
    assert.deepEqual([perfect.estimate, perfect.low, perfect.high], [1, 1, 1]);
  });
  await t.test('percentiles by linear interpolation (type 7)', () => {
    // A statistic that returns 0 on the full sample and 1, 2, ..., 11 on the 11 resamples.
    let calls = 0;
    const ci = bootstrapCI(['x'], () => calls++, { seed: 0, resamples: 11, confidence: 0.9 });
    // Sorted 1..11; p = 0.05: h = 10 * 0.05 = 0.5 -> 1.5; p = 0.95: h = 9.5 -> 10.5.
    assert.deepEqual([ci.estimate, ci.low, ci.high], [0, 1.5, 10.5]);
    calls = 0;
    const one = bootstrapCI(['x'], () => calls++, { seed: 0, resamples: 1 });
    assert.deepEqual([one.low, one.high], [1, 1]);
  });
  await t.test('paired p-value and probabilityBetter from known resampled differences', () => {
    // A's statistic is always 0; B's is taken from a list: the full sample first, then the 11 resamples.
    const cases: Array<{ b: Array<number | null>; estimate: number; p: number; better: number; undefinedResamples: number }> = [
      // diffs 1,2,-1,0,3,1,1,2,1,1 (+ one null): <= 0 twice of 10 -> p = 2 * 2/10; > 0 eight times.
      { b: [1, 1, 2, -1, 0, 3, 1, 1, 2, 1, 1, null], estimate: 1, p: 0.4, better: 0.8, undefinedResamples: 1 },
      // Negative estimate: >= 0 nine times of 10 -> 1.8, capped at 1.
      { b: [-1, 1, 2, -1, 0, 3, 1, 1, 2, 1, 1, null], estimate: -1, p: 1, better: 0.8, undefinedResamples: 1 },
      // Zero estimate: p = 1 by definition.
      { b: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], estimate: 0, p: 1, better: 1, undefinedResamples: 0 },
    ];
    for (const c of cases) {
      let k = 0;
      const stat = (s: readonly { judge: string }[]): number | null => (s[0].judge === 'A' ? 0 : c.b[k++]);
      const d = pairedBootstrapDiff([{ judge: 'A' }], [{ judge: 'B' }], stat, { seed: 0, resamples: 11 });
      assert.equal(d.estimate, c.estimate);
      assert.equal(d.pValueTwoSided, c.p);
      assert.equal(d.probabilityBetter, c.better);
      assert.equal(d.undefinedResamples, c.undefinedResamples);
      assert.deepEqual([d.estimateA, d.estimateB], [0, c.estimate]);
    }
  });
});

test('undefined statistics: null, never NaN', async (t) => {
  await t.test('constant judge scores: pearson CI null, every resample counted as undefined', () => {
    const items: ScoredItem[] = [1, 2, 3, 4, 5, 3, 2].map((gold) => ({ score: 3, gold }));
    const all = pointwiseMetricCIs(items, { seed: 1, resamples: 100 });
    for (const m of ['pearson', 'spearman', 'kendall'] as const) {
      assert.deepEqual([all[m].estimate, all[m].low, all[m].high, all[m].undefinedResamples], [null, null, null, 100], m);
    }
    assert.equal(all.exactAgreement.estimate, 2 / 7);
    assert.equal(all.exactAgreement.undefinedResamples, 0);
    assertNoNaN(all, 'NaN in constant-score CIs');
  });
  await t.test('some resamples constant: counted and left out, interval still defined', () => {
    const xs = [1, 2, 3, 4];
    const ys = [1, 3, 2, 4];
    const idx = [0, 1, 2, 3];
    const ci = bootstrapCI(idx, (s) => pearson(s.map((i) => xs[i]), s.map((i) => ys[i])), { seed: 2, resamples: 500 });
    assert.ok(ci.undefinedResamples > 0 && ci.undefinedResamples < 500, `undefined: ${ci.undefinedResamples}`);
    assert.ok(ci.low !== null && ci.high !== null && ci.low <= ci.high);
  });
  await t.test('full-sample statistic null: low and high null even if resamples are defined', () => {
    let first = true;
    const ci = bootstrapCI([1, 2, 3], (s) => (first ? ((first = false), null) : s.length), { seed: 0, resamples: 10 });
    assert.deepEqual([ci.estimate, ci.low, ci.high, ci.undefinedResamples], [null, null, null, 0]);
  });
  await t.test('no items: every estimate null', () => {
    const all = pointwiseMetricCIs([], { seed: 0, resamples: 5 });
    for (const c of Object.values(all)) assert.deepEqual([c.estimate, c.low, c.high, c.undefinedResamples], [null, null, null, 5]);
    const acc = pairwiseAccuracyCI([], { seed: 0, resamples: 5 });
    assert.deepEqual([acc.estimate, acc.low, acc.high], [null, null, null]);
  });
  await t.test('only unparseable judgments: agreement 0, MAE and correlations null', () => {
    const all = pointwiseMetricCIs([{ score: null, gold: 2 }, { score: null, gold: 4 }], { seed: 0, resamples: 20 });
    assert.deepEqual([all.exactAgreement.estimate, all.exactAgreement.low, all.exactAgreement.high], [0, 0, 0]);
    assert.deepEqual([all.mae.estimate, all.mae.low, all.mae.undefinedResamples], [null, null, 20]);
  });
  await t.test('a statistic returning NaN is a caller bug', () => {
    assert.throws(() => bootstrapCI([1, 2], () => NaN, { seed: 0 }), { name: 'RangeError', message: /returned NaN.*return null/ });
  });
});

test('the wrappers give the same intervals as bootstrapCI over the core/evaluation/metrics.ts statistic', () => {
  const options = { seed: 17, resamples: 150 };
  const all = pointwiseMetricCIs(items200, options);
  const metrics: PointwiseCIMetric[] = ['exactAgreement', 'mae', 'pearson', 'spearman', 'kendall'];
  for (const m of metrics) {
    const generic = bootstrapCI(items200, (s) => summarizePointwise(s)[m], options);
    assert.deepEqual(all[m], generic, m);
  }
  assert.deepEqual(exactAgreementCI(items200, options), all.exactAgreement);
  assert.deepEqual(maeCI(items200, options), all.mae);
  assert.deepEqual(pairwiseAccuracyCI(outcomes200, options), bootstrapCI(outcomes200, pairwiseAccuracy, options));
  const b = rejudge(items200, 13, 0.9, 0.02);
  const diffs = pairedPointwiseMetricDiffs(items200, b, options);
  for (const m of metrics) {
    assert.deepEqual(diffs[m], pairedBootstrapDiff(items200, b, (s) => summarizePointwise(s)[m], options), m);
  }
});

test('paired difference of identical judges: estimate 0, CI [0, 0], p-value 1', () => {
  const outcomes = outcomes200;
  const d = pairedPairwiseAccuracyDiff(outcomes, outcomes, { seed: 3 });
  assert.deepEqual(
    [d.estimate, d.low, d.high, d.pValueTwoSided, d.probabilityBetter, d.undefinedResamples],
    [0, 0, 0, 1, 0, 0],
  );
  const diffs = pairedPointwiseMetricDiffs(items200, items200, { seed: 3, resamples: 200 });
  for (const [m, c] of Object.entries(diffs)) {
    assert.equal(c.estimate, 0, m);
    assertContains(c, 0, m);
    assert.equal(c.pValueTwoSided, 1, m);
  }
});

test('a clearly better judge: difference CI excludes 0 on the right side, p small', () => {
  const n = 300;
  const rng = createRng(8);
  const a: PairwiseOutcome[] = Array.from({ length: n }, () => (rng.next() < 0.6 ? 'correct' : 'wrong'));
  const b: PairwiseOutcome[] = a.map((o) => (o === 'correct' || rng.next() < 0.5 ? 'correct' : 'tie'));
  const d = pairedPairwiseAccuracyDiff(a, b, { seed: 1 });
  assert.ok(d.estimate !== null && d.estimate > 0.1, `estimate ${d.estimate}`);
  assert.ok(d.low !== null && d.low > 0, `low ${d.low}`);
  assert.ok(d.pValueTwoSided !== null && d.pValueTwoSided < 0.01, `p ${d.pValueTwoSided}`);
  assert.equal(d.probabilityBetter, 1);
  // The reverse comparison mirrors it.
  const r = pairedPairwiseAccuracyDiff(b, a, { seed: 1 });
  assert.ok(r.high !== null && r.high < 0 && r.probabilityBetter === 0 && r.pValueTwoSided === d.pValueTwoSided);

  const worse = noisyJudge(400, 21, 0.4);
  const better = noisyJudge(400, 21, 0.4).map((it, i) => (i % 3 === 0 ? it : { ...it, score: it.gold }));
  const diffs = pairedPointwiseMetricDiffs(worse, better, { seed: 2, resamples: 300 });
  assert.ok((diffs.exactAgreement.low as number) > 0 && (diffs.exactAgreement.pValueTwoSided as number) < 0.01);
  assert.ok((diffs.mae.high as number) < 0, 'lower MAE: B - A below 0');
  assert.ok((diffs.pearson.low as number) > 0);
});

test('misaligned inputs throw a RangeError naming both lengths', () => {
  const cases: Array<{ name: string; run: () => unknown; message: RegExp }> = [
    { name: 'generic', run: () => pairedBootstrapDiff([1, 2, 3], [1, 2], (s) => s.length, { seed: 0 }), message: /pairedBootstrapDiff: .*3 items for A and 2 for B/ },
    { name: 'pairwise', run: () => pairedPairwiseAccuracyDiff(['correct'], [], { seed: 0 }), message: /pairedPairwiseAccuracyDiff: .*1 items for A and 0 for B/ },
    { name: 'pointwise', run: () => pairedPointwiseMetricDiffs(items200, items200.slice(1), { seed: 0 }), message: /200 items for A and 199 for B/ },
    {
      name: 'pointwise gold differs',
      run: () => pairedPointwiseMetricDiffs([{ score: 1, gold: 1 }], [{ score: 1, gold: 2 }], { seed: 0 }),
      message: /item 0 has gold 1 for A but 2 for B/,
    },
  ];
  for (const c of cases) assert.throws(c.run, { name: 'RangeError', message: c.message }, c.name);
});

test('options are validated', () => {
  const bad: Array<{ options: { seed: number; resamples?: number; confidence?: number }; message: RegExp }> = [
    { options: { seed: 0, resamples: 0 }, message: /resamples must be an integer >= 1, got 0/ },
    { options: { seed: 0, resamples: -5 }, message: /resamples/ },
    { options: { seed: 0, resamples: 2.5 }, message: /resamples/ },
    { options: { seed: 0, resamples: NaN }, message: /resamples/ },
    { options: { seed: 0, confidence: 0 }, message: /confidence must be strictly between 0 and 1, got 0/ },
    { options: { seed: 0, confidence: 1 }, message: /confidence/ },
    { options: { seed: 0, confidence: -0.5 }, message: /confidence/ },
    { options: { seed: 0, confidence: 95 }, message: /confidence/ },
    { options: { seed: 0, confidence: NaN }, message: /confidence/ },
    { options: { seed: 1.5 }, message: /seed must be an integer/ },
  ];
  for (const { options, message } of bad) {
    for (const run of [() => bootstrapCI([1, 2], mean, options), () => pointwiseMetricCIs(items200, options), () => pairwiseAccuracyCI(['tie'], options)]) {
      assert.throws(run, { name: 'RangeError', message }, JSON.stringify(options));
    }
  }
  const ok = bootstrapCI([1, 2], mean, { seed: 0 });
  assert.deepEqual([ok.resamples, ok.confidence], [1000, 0.95]);
  assert.throws(() => pairwiseAccuracyCI(['maybe' as PairwiseOutcome], { seed: 0 }), { name: 'RangeError', message: /unknown outcome/ });
});
