import { test } from 'node:test';
import assert from 'node:assert/strict';
import { close } from '../support/close';
import { createRng } from '../../core/common/rng';
import {
  averageRanks,
  confusionMatrix,
  constantScoreBaseline,
  exactAgreement,
  kendallTauB,
  meanAbsoluteError,
  pairwiseAccuracy,
  pearson,
  spearman,
  summarizePointwise,
} from '../../core/evaluation/metrics';



/**
 * Reference values computed independently of this code:
 * - "scipy ..." rows: the examples in scipy's documentation (scipy.stats.pearsonr, spearmanr, kendalltau)
 *   with the statistic printed there;
 * - "Wikipedia" row: the worked example (IQ vs hours of TV) in Wikipedia's "Spearman's rank correlation
 *   coefficient" article, rho = -29/165;
 * - other values: by hand from the definitions, as exact fractions (checked with an exact-arithmetic
 *   brute-force script over all pairs), noted next to each.
 */
const TABLES: Array<{
  name: string;
  xs: number[];
  ys: number[];
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
}> = [
  {
    name: 'scipy pearsonr example',
    xs: [1, 2, 3, 4, 5],
    ys: [10, 9, 2.5, 6, 4],
    pearson: -0.7426106572325057, // scipy docs; = -15 / sqrt(10 * 40.8)
    spearman: -0.7, // ranks of ys [5,4,1,3,2]: 1 - 6*34/120
    kendall: -0.6, // C = 2, D = 8, no ties: -6/10
  },
  {
    name: 'scipy spearmanr example (ties in y)',
    xs: [1, 2, 3, 4, 5],
    ys: [5, 6, 7, 8, 7],
    pearson: 0.8320502943378437, // 3 / sqrt(13)
    spearman: 0.8207826816681233, // scipy docs; = 8 / sqrt(95)
    kendall: 0.7378647873726218, // C = 8, D = 1, one tie in y: 7 / sqrt(10 * 9)
  },
  {
    name: 'scipy kendalltau example (ties in both)',
    xs: [12, 2, 1, 12, 2],
    ys: [1, 4, 7, 1, 0],
    pearson: -0.5566399985665696,
    spearman: -0.5407380704358752,
    kendall: -0.47140452079103173, // scipy docs; C = 2, D = 6, n1 = 2, n2 = 1: -4 / sqrt(8 * 9)
  },
  {
    name: 'Wikipedia Spearman example',
    xs: [106, 86, 100, 101, 99, 103, 97, 113, 112, 110],
    ys: [7, 0, 27, 50, 28, 29, 20, 12, 6, 17],
    pearson: -0.037601473846875934,
    spearman: -29 / 165, // Wikipedia
    kendall: -1 / 9, // C = 20, D = 25, no ties: -5/45
  },
  {
    name: 'Likert scores with ties on both sides',
    xs: [1, 2, 2, 3, 4, 4, 5, 5],
    ys: [1, 3, 2, 2, 5, 4, 4, 5],
    pearson: 27 / 31,
    spearman: 137 / 162,
    kendall: 18 / 25, // C = 20, D = 2, n1 = n2 = 3: 18 / sqrt(25 * 25)
  },
  { name: 'perfect agreement', xs: [1, 2, 3], ys: [2, 4, 6], pearson: 1, spearman: 1, kendall: 1 },
  { name: 'perfect disagreement', xs: [1, 2, 3, 4], ys: [4, 3, 2, 1], pearson: -1, spearman: -1, kendall: -1 },
  { name: 'two items', xs: [1, 5], ys: [3, 2], pearson: -1, spearman: -1, kendall: -1 },
  // Monotone but not linear: rank correlations are 1, Pearson is not.
  { name: 'monotone', xs: [1, 2, 3, 4], ys: [1, 2, 3, 100], pearson: 149 / Math.sqrt(5 * 7205), spearman: 1, kendall: 1 },
  // Degenerate inputs: undefined, hence null (never NaN).
  { name: 'empty', xs: [], ys: [], pearson: null, spearman: null, kendall: null },
  { name: 'one item', xs: [3], ys: [4], pearson: null, spearman: null, kendall: null },
  { name: 'constant x', xs: [3, 3, 3], ys: [1, 2, 3], pearson: null, spearman: null, kendall: null },
  { name: 'constant y', xs: [1, 2, 3], ys: [4, 4, 4], pearson: null, spearman: null, kendall: null },
  { name: 'constant decimals', xs: [0.1, 0.1, 0.1], ys: [1, 2, 3], pearson: null, spearman: null, kendall: null },
  // Ties everywhere but not constant: correlations are defined.
  { name: 'two levels each', xs: [1, 1, 2, 2], ys: [1, 2, 1, 2], pearson: 0, spearman: 0, kendall: 0 },
];

test('pearson, spearman, kendallTauB against independently computed values', () => {
  for (const t of TABLES) {
    close(pearson(t.xs, t.ys), t.pearson, `${t.name}: pearson`);
    close(spearman(t.xs, t.ys), t.spearman, `${t.name}: spearman`);
    close(kendallTauB(t.xs, t.ys), t.kendall, `${t.name}: kendall`);
    // Every correlation is symmetric in its arguments.
    close(pearson(t.ys, t.xs), t.pearson, `${t.name}: pearson swapped`);
    close(kendallTauB(t.ys, t.xs), t.kendall, `${t.name}: kendall swapped`);
  }
});

test('averageRanks: ties share the average rank', () => {
  assert.deepEqual(averageRanks([1, 2, 2, 3, 4, 4, 5, 5]), [1, 2.5, 2.5, 4, 5.5, 5.5, 7.5, 7.5]);
  assert.deepEqual(averageRanks([30, 10, 20, 10]), [4, 1.5, 3, 1.5]);
  assert.deepEqual(averageRanks([7, 7, 7]), [2, 2, 2]);
  assert.deepEqual(averageRanks([]), []);
});

/** Tau-b straight from its definition, over all pairs: an independent check of the O(n log n) version. */
function bruteForceTauB(xs: number[], ys: number[]): number | null {
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const dx = Math.sign(xs[i] - xs[j]);
      const dy = Math.sign(ys[i] - ys[j]);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx * dy > 0) concordant++;
      if (dx * dy < 0) discordant++;
    }
  }
  const n0 = (xs.length * (xs.length - 1)) / 2;
  const denominator = Math.sqrt((n0 - tiedX) * (n0 - tiedY));
  return denominator === 0 ? null : (concordant - discordant) / denominator;
}

test('property: kendallTauB equals the brute-force definition on random Likert data', () => {
  const rng = createRng(2410);
  for (let k = 0; k < 500; k++) {
    const n = rng.int(40);
    const levels = 1 + rng.int(7);
    const xs = Array.from({ length: n }, () => rng.int(levels));
    const ys = Array.from({ length: n }, () => rng.int(levels));
    const expected = bruteForceTauB(xs, ys);
    const got = kendallTauB(xs, ys);
    if (expected === null) assert.equal(got, null, JSON.stringify({ xs, ys }));
    else close(got, expected, JSON.stringify({ xs, ys }));
    for (const r of [got, pearson(xs, ys), spearman(xs, ys)]) {
      assert.ok(r === null || (r >= -1 && r <= 1 && !Number.isNaN(r)));
    }
  }
});

test('kendallTauB handles a large input quickly', () => {
  const rng = createRng(1);
  const xs = Array.from({ length: 200_000 }, () => 1 + rng.int(5));
  const ys = xs.map((x) => (rng.int(4) === 0 ? 1 + rng.int(5) : x));
  const tau = kendallTauB(xs, ys);
  assert.ok(tau !== null && tau > 0.5 && tau < 1);
});

test('paired metrics reject mismatched lengths and non-finite values', () => {
  for (const f of [pearson, spearman, kendallTauB, meanAbsoluteError, exactAgreement]) {
    assert.throws(() => f([1, 2], [1]), RangeError, f.name);
    assert.throws(() => f([1, NaN], [1, 2]), RangeError, f.name);
    assert.throws(() => f([1, 2], [1, Infinity]), RangeError, f.name);
  }
});

test('meanAbsoluteError and exactAgreement', () => {
  close(meanAbsoluteError([1, 2, 3, 4], [1, 3, 1, 4]), 0.75, 'mae: (0 + 1 + 2 + 0) / 4');
  close(meanAbsoluteError([5], [1]), 4, 'mae single');
  assert.equal(meanAbsoluteError([], []), null);
  close(exactAgreement([1, 2, 3, 4], [1, 3, 1, 4]), 0.5, 'agreement 2/4');
  close(exactAgreement([2, 2, 2], [1, 1, 1]), 0, 'agreement none');
  assert.equal(exactAgreement([], []), null);
});

test('pairwiseAccuracy: ties and unparseable count one half', () => {
  const cases: Array<{ outcomes: Array<'correct' | 'wrong' | 'tie' | 'unparseable'>; expected: number | null }> = [
    { outcomes: [], expected: null },
    { outcomes: ['correct'], expected: 1 },
    { outcomes: ['wrong'], expected: 0 },
    { outcomes: ['tie'], expected: 0.5 },
    { outcomes: ['unparseable'], expected: 0.5 },
    { outcomes: ['correct', 'correct', 'wrong', 'tie'], expected: 2.5 / 4 },
    { outcomes: ['correct', 'unparseable', 'unparseable', 'wrong', 'wrong'], expected: 2 / 5 },
  ];
  for (const c of cases) close(pairwiseAccuracy(c.outcomes), c.expected, JSON.stringify(c.outcomes));
  assert.throws(() => pairwiseAccuracy(['correct', 'maybe' as never]), /unknown outcome/);
});

test('summarizePointwise: hand-computed table', () => {
  // Judge vs gold; two unparseable. Parsed pairs: (4,4) (2,3) (5,5) (1,3) (3,3) (4,5).
  const items = [
    { score: 4, gold: 4 },
    { score: 2, gold: 3 },
    { score: null, gold: 5 },
    { score: 5, gold: 5 },
    { score: 1, gold: 3 },
    { score: 3, gold: 3 },
    { score: null, gold: 1 },
    { score: 4, gold: 5 },
  ];
  const judge = [4, 2, 5, 1, 3, 4];
  const gold = [4, 3, 5, 3, 3, 5];
  const m = summarizePointwise(items);
  assert.equal(m.kind, 'pointwise');
  assert.equal(m.n, 8);
  assert.equal(m.parsed, 6);
  close(m.parseRate, 6 / 8, 'parseRate');
  close(m.exactAgreement, 3 / 8, 'exact agreement over all n: 3 matches, unparseable count as wrong');
  close(m.mae, (0 + 1 + 0 + 2 + 0 + 1) / 6, 'mae over parsed');
  // Correlations over the parsed items only, equal to the functions applied to them.
  close(m.pearson, pearson(judge, gold), 'pearson');
  close(m.spearman, spearman(judge, gold), 'spearman');
  close(m.kendall, kendallTauB(judge, gold), 'kendall');
  // By hand for this table: judge mean 19/6, gold mean 23/6, sxy = 37/6, sxx = 65/6, syy = 29/6.
  close(m.pearson, 37 / Math.sqrt(65 * 29), 'pearson by hand');
  // C = 10, D = 0, one pair tied in judge, four tied in gold, n0 = 15.
  close(m.kendall, 10 / Math.sqrt(14 * 11), 'kendall by hand');
  assert.deepEqual(JSON.parse(JSON.stringify(m)), m, 'JSON-safe');
});

test('summarizePointwise: degenerate suites', () => {
  assert.deepEqual(summarizePointwise([]), {
    kind: 'pointwise', n: 0, parsed: 0, parseRate: 0, exactAgreement: 0, mae: null, pearson: null, spearman: null, kendall: null,
  });
  assert.deepEqual(summarizePointwise([{ score: null, gold: 3 }, { score: null, gold: 4 }]), {
    kind: 'pointwise', n: 2, parsed: 0, parseRate: 0, exactAgreement: 0, mae: null, pearson: null, spearman: null, kendall: null,
  });
  // A judge that always says 3: agreement and MAE defined, correlations undefined.
  assert.deepEqual(summarizePointwise([{ score: 3, gold: 3 }, { score: 3, gold: 5 }]), {
    kind: 'pointwise', n: 2, parsed: 2, parseRate: 1, exactAgreement: 0.5, mae: 1, pearson: null, spearman: null, kendall: null,
  });
  assert.throws(() => summarizePointwise([{ score: 1, gold: NaN }]), RangeError);
});

test('confusionMatrix: rows are gold, columns judge, unparseable per gold row', () => {
  const result = confusionMatrix(
    [
      { score: 1, gold: 1 },
      { score: 3, gold: 1 },
      { score: 3, gold: 3 },
      { score: null, gold: 3 },
      { score: 2, gold: 2 },
      { score: 2, gold: 2 },
    ],
    { min: 1, max: 3 },
  );
  assert.deepEqual(result, {
    levels: [1, 2, 3],
    counts: [
      [1, 0, 1],
      [0, 2, 0],
      [0, 0, 1],
    ],
    unparseable: [0, 0, 1],
  });
  assert.throws(() => confusionMatrix([{ score: 6, gold: 1 }], { min: 1, max: 5 }), /judge score 6 is off the scale/);
  assert.throws(() => confusionMatrix([{ score: 1, gold: 3.5 }], { min: 1, max: 5 }), /gold score 3.5/);
});

test('constantScoreBaseline: the most common gold score (lower on a tie), its agreement and MAE', () => {
  const cases: Array<[number[], ReturnType<typeof constantScoreBaseline>]> = [
    [[], null],
    [[3], { score: 3, exactAgreement: 1, mae: 0 }],
    [[1, 2, 2, 5], { score: 2, exactAgreement: 0.5, mae: 1 }],
    [[4, 4, 2, 2, 5], { score: 2, exactAgreement: 0.4, mae: 1.4 }], // 2 and 4 tie: the lower
    [[1, 2, 3, 4, 5], { score: 1, exactAgreement: 0.2, mae: 2 }],
  ];
  for (const [golds, want] of cases) {
    const got = constantScoreBaseline(golds);
    if (want === null) assert.equal(got, null);
    else {
      assert.equal(got?.score, want.score, JSON.stringify(golds));
      close(got!.exactAgreement, want.exactAgreement, `agreement of ${JSON.stringify(golds)}`);
      close(got!.mae, want.mae, `mae of ${JSON.stringify(golds)}`);
    }
  }
});
