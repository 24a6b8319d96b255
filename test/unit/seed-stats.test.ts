/** Spread across seeds (core/evaluation/seed-stats.ts): t quantiles, mean / sd / t-interval, and the per-iteration aggregation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  T_975,
  aggregateSeedRuns,
  headlineValue,
  spreadOf,
  tQuantile975,
  testSuiteNames,
  type SeedRun,
} from '../../core/evaluation/seed-stats';
import type { IterationSummary, PairwiseMetrics, PointwiseMetrics } from '../../core/run/run-types';

/** P(0 < T < q) for Student's t with `df` degrees of freedom, by Simpson's rule on the density. */
function tMassFromZero(q: number, df: number, steps = 20_000): number {
  const lgamma = (x: number): number => {
    // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.5.
    const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
    const y = x - 1;
    let a = c[0];
    for (let i = 1; i < 9; i++) a += c[i] / (y + i);
    const t = y + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
  };
  const k = Math.exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / Math.sqrt(df * Math.PI);
  const f = (t: number) => k * (1 + (t * t) / df) ** (-(df + 1) / 2);
  const h = q / steps;
  let s = f(0) + f(q);
  for (let i = 1; i < steps; i++) s += (i % 2 ? 4 : 2) * f(i * h);
  return (s * h) / 3;
}

test('t(0.975, df): the table matches published values and the t density; above 30 the expansion is within 1e-6', () => {
  // Values printed in standard t tables (two-sided 95%).
  const published: Array<[number, number]> = [
    [1, 12.706205],
    [2, 4.302653],
    [3, 3.182446],
    [4, 2.776445],
    [5, 2.570582],
    [9, 2.262157],
    [10, 2.228139],
    [19, 2.093024],
    [29, 2.04523],
    [30, 2.042272],
    [40, 2.021075],
    [60, 2.000298],
    [120, 1.97993],
  ];
  for (const [df, want] of published) assert.ok(Math.abs(tQuantile975(df) - want) < 1e-6, `df ${df}: ${tQuantile975(df)} vs ${want}`);
  assert.equal(T_975.length, 30);
  // Every table entry leaves 2.5% in the upper tail: the density integrates to 0.475 between 0 and it.
  for (let df = 3; df <= 30; df++) {
    const mass = tMassFromZero(tQuantile975(df), df);
    assert.ok(Math.abs(mass - 0.475) < 2e-7, `df ${df}: P(0 < T < q) = ${mass}`);
  }
  // Decreasing towards the normal quantile.
  for (let df = 2; df <= 200; df++) assert.ok(tQuantile975(df) < tQuantile975(df - 1), `df ${df}`);
  assert.ok(Math.abs(tQuantile975(1_000_000) - 1.959964) < 1e-5);
  for (const bad of [0, -1, 2.5, Number.NaN]) assert.throws(() => tQuantile975(bad), RangeError);
});

test('spreadOf: mean, sample sd and the 95% t-interval, table-driven', () => {
  const cases: Array<[Array<number | null>, { n: number; mean: number | null; sd: number | null; low: number | null; high: number | null }]> = [
    [[], { n: 0, mean: null, sd: null, low: null, high: null }],
    [[0.4], { n: 1, mean: 0.4, sd: null, low: null, high: null }],
    // sd = 1, half-width = t(2) / sqrt(3) = 4.302653 / 1.732051
    [[1, 2, 3], { n: 3, mean: 2, sd: 1, low: 2 - 2.484138, high: 2 + 2.484138 }],
    // sd = 0.141421, half-width = t(1) * sd / sqrt(2) = 12.706205 * 0.1
    [[0.2, 0.4], { n: 2, mean: 0.3, sd: Math.SQRT2 / 10, low: 0.3 - 1.2706205, high: 0.3 + 1.2706205 }],
    [[3, 3, 3], { n: 3, mean: 3, sd: 0, low: 3, high: 3 }],
    // Nulls (an undefined figure) and NaN are left out: n counts what entered.
    [[0.5, null, 0.7, Number.NaN], { n: 2, mean: 0.6, sd: Math.SQRT2 / 10, low: 0.6 - 1.2706205, high: 0.6 + 1.2706205 }],
    // Five seeds: mean 0.32, sd sqrt(0.0034 / 4) = 0.0291548, half-width = 2.776445 * 0.0291548 / sqrt(5) = 0.0362004
    [[0.3, 0.35, 0.28, 0.33, 0.34], { n: 5, mean: 0.32, sd: 0.0291548, low: 0.32 - 0.0362004, high: 0.32 + 0.0362004 }],
  ];
  for (const [values, want] of cases) {
    const got = spreadOf(values);
    assert.equal(got.n, want.n, JSON.stringify(values));
    for (const key of ['mean', 'sd', 'low', 'high'] as const) {
      if (want[key] === null) assert.equal(got[key], null, `${key} of ${JSON.stringify(values)}`);
      else assert.ok(got[key] !== null && Math.abs(got[key] - want[key]) < 1e-6, `${key} of ${JSON.stringify(values)}: ${got[key]} vs ${want[key]}`);
    }
  }
});

const pointwise = (exactAgreement: number, pearson: number | null): PointwiseMetrics => ({
  kind: 'pointwise',
  n: 20,
  parsed: 20,
  parseRate: 1,
  exactAgreement,
  mae: 1,
  pearson,
  spearman: null,
  kendall: null,
});
const pairwise = (accuracy: number): PairwiseMetrics => ({ kind: 'pairwise', n: 24, accuracy, ties: 0, unparseable: 0 });
const it = (iteration: number, evalMetrics: IterationSummary['eval']): IterationSummary => ({ iteration, modelUri: `s3://m/${iteration}`, eval: evalMetrics });

test('aggregateSeedRuns: per iteration, per test suite and headline metric, across runs in order', () => {
  const runs: SeedRun[] = [
    { runId: 'r-seed-0', seed: 0, summary: { iterations: [it(0, { held: pointwise(0.2, 0.1), val: pointwise(0.9, 0.9), pairs: pairwise(0.5) }), it(1, { held: pointwise(0.3, 0.4), val: pointwise(0.9, 0.9), pairs: pairwise(0.6) })] } },
    { runId: 'r-seed-1', seed: 1, summary: { iterations: [it(0, { held: pointwise(0.2, 0.1), val: pointwise(0.9, 0.9), pairs: pairwise(0.5) }), it(1, { held: pointwise(0.4, null), val: pointwise(0.9, 0.9), pairs: pairwise(0.7) })] } },
    // A run that stopped after iteration 0 counts only there.
    { runId: 'r-seed-2', seed: 2, summary: { iterations: [it(0, { held: pointwise(0.2, 0.1), val: pointwise(0.9, 0.9), pairs: pairwise(0.5) })] } },
  ];
  const agg = aggregateSeedRuns(runs, ['held', 'pairs']);
  assert.equal(agg.confidence, 0.95);
  assert.deepEqual(agg.runs, [
    { runId: 'r-seed-0', seed: 0 },
    { runId: 'r-seed-1', seed: 1 },
    { runId: 'r-seed-2', seed: 2 },
  ]);
  const table = agg.rows.map((r) => [r.iteration, r.suite, r.metric, r.n, r.mean === null ? null : Number(r.mean.toFixed(4)), r.sd === null ? null : Number(r.sd.toFixed(4)), r.values]);
  assert.deepEqual(table, [
    [0, 'held', 'exactAgreement', 3, 0.2, 0, [0.2, 0.2, 0.2]],
    [0, 'held', 'pearson', 3, 0.1, 0, [0.1, 0.1, 0.1]],
    [0, 'pairs', 'accuracy', 3, 0.5, 0, [0.5, 0.5, 0.5]],
    [1, 'held', 'exactAgreement', 2, 0.35, 0.0707, [0.3, 0.4, null]],
    [1, 'held', 'pearson', 1, 0.4, null, [0.4, null, null]],
    [1, 'pairs', 'accuracy', 2, 0.65, 0.0707, [0.6, 0.7, null]],
  ]);
  const iter1 = agg.rows.find((r) => r.iteration === 1 && r.metric === 'accuracy')!;
  assert.ok(Math.abs(iter1.low! - (0.65 - 12.706205 * 0.05)) < 1e-6);
  // Without a suite list: every suite, in order of first appearance.
  assert.deepEqual([...new Set(aggregateSeedRuns(runs).rows.map((r) => r.suite))], ['held', 'val', 'pairs']);
  // A listed suite that no run has is skipped; no runs, no rows.
  assert.deepEqual(aggregateSeedRuns(runs, ['nope']).rows, []);
  assert.deepEqual(aggregateSeedRuns([]).rows, []);
});

test('headline values and the test suites of a config', () => {
  assert.equal(headlineValue(pointwise(0.25, 0.5), 'exactAgreement'), 0.25);
  assert.equal(headlineValue(pointwise(0.25, null), 'pearson'), null);
  assert.equal(headlineValue(pointwise(0.25, 0.5), 'accuracy'), null);
  assert.equal(headlineValue(pairwise(0.75), 'accuracy'), 0.75);
  assert.equal(headlineValue(pairwise(0.75), 'pearson'), null);
  assert.equal(headlineValue(undefined, 'accuracy'), null);
  assert.equal(headlineValue({ ...pairwise(Number.NaN) }, 'accuracy'), null);
  assert.deepEqual(
    testSuiteNames({ data: { evalSuites: [{ name: 'val', role: 'validation' }, { name: 'a', role: 'test' }, { name: 'b' }] } }),
    ['a', 'b'],
  );
});
