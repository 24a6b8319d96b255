import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  groupedPairwiseMetrics,
  groupedPointwiseMetrics,
  pairwiseGroupCounts,
  type GoldColumnMetrics,
  type GroupedPointwiseOptions,
  type PairwiseRow,
  type PointwiseRow,
} from '../../core/evaluation/grouped-metrics';
import { rewardBenchRollup } from '../../core/evaluation/rewardbench';

const EPS = 1e-12;

type Expected = Partial<GoldColumnMetrics>;

/** Numbers compared within EPS (null must be null), everything else deep-equal. */
function checkColumn(actual: GoldColumnMetrics | undefined, expected: Expected, where: string): void {
  assert.ok(actual, `${where}: column missing`);
  for (const [key, want] of Object.entries(expected)) {
    const got: unknown = (actual as unknown as Record<string, unknown>)[key];
    if (typeof want === 'number') {
      assert.ok(typeof got === 'number' && Math.abs(got - want) < EPS, `${where}.${key}: got ${got}, expected ${want}`);
    } else {
      assert.deepEqual(got, want, `${where}.${key}`);
    }
  }
}

const ZERO5 = [0, 0, 0, 0, 0];
const LEVELS = [1, 2, 3, 4, 5];
/** A 5x5 confusion matrix with the given (gold, score) cells set to counts. */
function matrix(cells: Array<[gold: number, score: number, count: number]>): number[][] {
  const m = LEVELS.map(() => [...ZERO5]);
  for (const [g, s, c] of cells) m[g - 1][s - 1] = c;
  return m;
}

/**
 * Seven rows, two groups and one ungrouped row; `human` on four rows, `gpt4` (with a non-integer mean) on
 * three. Expected values by hand (sums of products of deviations from the means):
 * - overall/gold: parsed pairs (judge, gold) (4,4) (2,3) (5,5) (1,3) (3,3) (4,5), the metrics.test table:
 *   pearson 37/sqrt(65*29), kendall C = 10, D = 0, n1 = 1, n2 = 4 -> 10/sqrt(14*11); agreement 3/7 (the
 *   unparseable row counts as a disagreement), MAE 4/6.
 * - overall/human: judge [4,2,1,4], human [5,2,1,4]: sxy = 8, sxx = 6.75, syy = 10 -> 8/sqrt(67.5); ranks
 *   [3.5,2,1,3.5] vs [4,2,1,3] -> 4.5/sqrt(4.5*5) = 3/sqrt(10); C = 5, D = 0, one pair tied in judge ->
 *   5/sqrt(5*6); agreement 3/4, MAE 1/4.
 * - overall/gpt4: (4,4) (null,4.5) (4,5): judge constant -> correlations null; agreement 1/3, MAE 1/2;
 *   4.5 is not on the scale -> no confusion matrix, but a score distribution.
 * - safety/gold: judge [5,1,3], gold [5,3,3]: sxy = 4, sxx = 8, syy = 8/3 -> sqrt(3)/2; ranks [3,1,2] vs
 *   [3,1.5,1.5] -> 1.5/sqrt(3) = sqrt(3)/2; C = 2, D = 0, one tie in gold -> 2/sqrt(6).
 */
const ROWS: PointwiseRow[] = [
  { score: 4, gold: 4, golds: { human: 5, gpt4: 4 }, group: 'reasoning' },
  { score: 2, gold: 3, golds: { human: 2 }, group: 'reasoning' },
  { score: null, gold: 5, golds: { gpt4: 4.5 }, group: 'reasoning' },
  { score: 5, gold: 5, golds: {}, group: 'safety' },
  { score: 1, gold: 3, golds: { human: 1 }, group: 'safety' },
  { score: 3, gold: 3, group: 'safety' },
  { score: 4, gold: 5, golds: { human: 4, gpt4: 5 } },
];

const CASES: Array<{
  name: string;
  rows: PointwiseRow[];
  options?: GroupedPointwiseOptions;
  goldColumns: string[];
  n: Record<string, number>;
  ungrouped: number;
  expect: Record<string, Record<string, Expected>>;
}> = [
  {
    name: 'groups and gold columns present on some rows',
    rows: ROWS,
    goldColumns: ['gold', 'gpt4', 'human'],
    n: { overall: 7, reasoning: 3, safety: 3 },
    ungrouped: 1,
    expect: {
      overall: {
        gold: {
          n: 7, parsed: 6, parseRate: 6 / 7, exactAgreement: 3 / 7, mae: 4 / 6,
          pearson: 37 / Math.sqrt(65 * 29), kendall: 10 / Math.sqrt(14 * 11),
          confusion: { levels: LEVELS, counts: matrix([[3, 1, 1], [3, 2, 1], [3, 3, 1], [4, 4, 1], [5, 4, 1], [5, 5, 1]]), unparseable: [0, 0, 0, 0, 1] },
          scoreDistribution: { levels: LEVELS, counts: [1, 1, 1, 2, 1], unparseable: 1 },
          notes: [],
        },
        human: {
          n: 4, parsed: 4, exactAgreement: 3 / 4, mae: 1 / 4,
          pearson: 8 / Math.sqrt(67.5), spearman: 3 / Math.sqrt(10), kendall: 5 / Math.sqrt(30),
          confusion: { levels: LEVELS, counts: matrix([[1, 1, 1], [2, 2, 1], [4, 4, 1], [5, 4, 1]]), unparseable: ZERO5 },
        },
        gpt4: {
          n: 3, parsed: 2, parseRate: 2 / 3, exactAgreement: 1 / 3, mae: 0.5, pearson: null, spearman: null, kendall: null,
          confusion: null,
          scoreDistribution: { levels: LEVELS, counts: [0, 0, 0, 2, 0], unparseable: 1 },
          notes: ['gold 4.5 is not an integer on the scale 1..5: no confusion matrix'],
        },
      },
      reasoning: {
        gold: { n: 3, parsed: 2, exactAgreement: 1 / 3, mae: 0.5, pearson: 1, spearman: 1, kendall: 1 },
        human: { n: 2, parsed: 2, exactAgreement: 0.5, mae: 0.5, pearson: 1, spearman: 1, kendall: 1 },
        // Two rows, one parsed: correlations over one item are undefined.
        gpt4: { n: 2, parsed: 1, exactAgreement: 0.5, mae: 0, pearson: null, spearman: null, kendall: null, confusion: null },
      },
      safety: {
        gold: { n: 3, parsed: 3, exactAgreement: 2 / 3, mae: 2 / 3, pearson: Math.sqrt(3) / 2, spearman: Math.sqrt(3) / 2, kendall: 2 / Math.sqrt(6) },
        human: { n: 1, parsed: 1, exactAgreement: 1, mae: 0, pearson: null, spearman: null, kendall: null },
        // No safety row has gpt4: every statistic undefined, counts zero.
        gpt4: {
          n: 0, parsed: 0, parseRate: null, exactAgreement: null, mae: null, pearson: null, spearman: null, kendall: null,
          confusion: { levels: LEVELS, counts: matrix([]), unparseable: ZERO5 },
          scoreDistribution: { levels: LEVELS, counts: ZERO5, unparseable: 0 },
        },
      },
    },
  },
  {
    name: 'constant judge scores: correlations null, agreement and MAE defined',
    rows: [
      { score: 3, gold: 1, group: 'a' },
      { score: 3, gold: 3, group: 'a' },
      { score: 3, gold: 5, group: 'b' },
      { score: 3, gold: 4, group: 'b' },
    ],
    goldColumns: ['gold'],
    n: { overall: 4, a: 2, b: 2 },
    ungrouped: 0,
    expect: {
      overall: { gold: { n: 4, parsed: 4, exactAgreement: 1 / 4, mae: (2 + 0 + 2 + 1) / 4, pearson: null, spearman: null, kendall: null, scoreDistribution: { levels: LEVELS, counts: [0, 0, 4, 0, 0], unparseable: 0 } } },
      a: { gold: { exactAgreement: 0.5, mae: 1, pearson: null, spearman: null, kendall: null } },
      b: { gold: { exactAgreement: 0, mae: 1.5, pearson: null, spearman: null, kendall: null } },
    },
  },
  {
    name: 'constant gold and an all-unparseable group',
    rows: [
      { score: 2, gold: 4, group: 'x' },
      { score: 4, gold: 4, group: 'x' },
      { score: null, gold: 2, group: 'y' },
      { score: null, gold: 3, group: 'y' },
    ],
    goldColumns: ['gold'],
    n: { overall: 4, x: 2, y: 2 },
    ungrouped: 0,
    expect: {
      // Parsed pairs (2,4) (4,4): gold constant -> null correlations.
      overall: { gold: { n: 4, parsed: 2, parseRate: 0.5, exactAgreement: 1 / 4, mae: 1, pearson: null, kendall: null } },
      x: { gold: { exactAgreement: 0.5, mae: 1, pearson: null } },
      y: { gold: { n: 2, parsed: 0, parseRate: 0, exactAgreement: 0, mae: null, pearson: null, confusion: { levels: LEVELS, counts: matrix([]), unparseable: [0, 1, 1, 0, 0] } } },
    },
  },
  {
    name: 'mean-of-N judge scores (not integers): correlations yes, confusion and distribution no',
    rows: [
      { score: 1.5, gold: 1 },
      { score: 2.25, gold: 2 },
      { score: 2, gold: 3 },
    ],
    goldColumns: ['gold'],
    n: { overall: 3 },
    ungrouped: 3,
    expect: {
      // Ranks agree except (2.25, 2) vs (2, 3): C = 2, D = 1 -> 1/3; judge mean 23/12.
      overall: {
        gold: {
          exactAgreement: 0, mae: (0.5 + 0.25 + 1) / 3, kendall: 1 / 3, spearman: 0.5,
          confusion: null, scoreDistribution: null,
          notes: ['judge score 1.5 is not an integer on the scale 1..5: no confusion matrix or score distribution'],
        },
      },
    },
  },
  {
    name: 'another scale and primary column name',
    rows: [
      { score: 0, gold: 0, golds: { human: 1 }, group: 'g' },
      { score: 10, gold: 7, group: 'g' },
    ],
    options: { scale: { min: 0, max: 10 }, primaryGold: 'gpt4' },
    goldColumns: ['gpt4', 'human'],
    n: { overall: 2, g: 2 },
    ungrouped: 0,
    expect: {
      g: {
        gpt4: { n: 2, exactAgreement: 0.5, mae: 1.5, pearson: 1, scoreDistribution: { levels: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], counts: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], unparseable: 0 } },
        human: { n: 1, exactAgreement: 0, mae: 1 },
      },
    },
  },
];

test('groupedPointwiseMetrics: table of hand-computed cases', () => {
  for (const c of CASES) {
    const m = groupedPointwiseMetrics(c.rows, c.options);
    assert.equal(m.kind, 'pointwise');
    assert.deepEqual(m.goldColumns, c.goldColumns, `${c.name}: gold columns`);
    assert.equal(m.ungrouped, c.ungrouped, `${c.name}: ungrouped`);
    assert.deepEqual(Object.keys(m.groups), Object.keys(c.n).filter((k) => k !== 'overall').sort(), `${c.name}: groups`);
    for (const [where, n] of Object.entries(c.n)) {
      const group = where === 'overall' ? m.overall : m.groups[where];
      assert.equal(group.n, n, `${c.name}: ${where}.n`);
      assert.deepEqual(Object.keys(group.golds), c.goldColumns, `${c.name}: ${where} columns in order`);
    }
    for (const [where, columns] of Object.entries(c.expect)) {
      const group = where === 'overall' ? m.overall : m.groups[where];
      for (const [col, expected] of Object.entries(columns)) checkColumn(group.golds[col], expected, `${c.name}: ${where}.${col}`);
    }
    // Never NaN anywhere, and JSON-safe.
    assert.ok(!JSON.stringify(m).includes('NaN'));
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m, `${c.name}: JSON-safe`);
  }
});

test('groupedPointwiseMetrics: the result does not depend on row order', () => {
  const reversed = groupedPointwiseMetrics([...ROWS].reverse());
  assert.equal(JSON.stringify(reversed), JSON.stringify(groupedPointwiseMetrics(ROWS)));
});

test('groupedPointwiseMetrics: an off-scale integer judge score leaves the correlations and drops the matrix', () => {
  const m = groupedPointwiseMetrics([{ score: 7, gold: 5 }, { score: 1, gold: 1 }]);
  checkColumn(m.overall.golds.gold, { pearson: 1, confusion: null, scoreDistribution: null }, 'off-scale');
  assert.match(m.overall.golds.gold.notes[0], /judge score 7 is not an integer on the scale 1\.\.5/);
});

test('groupedPointwiseMetrics: caller bugs throw', () => {
  const bad: Array<[PointwiseRow[], GroupedPointwiseOptions | undefined, RegExp]> = [
    [[{ score: 1, gold: NaN }], undefined, /row 0: non-finite gold/],
    [[{ score: Infinity, gold: 1 }], undefined, /row 0: non-finite score/],
    [[{ score: 1, gold: 1, golds: { human: NaN } }], undefined, /non-finite golds\.human/],
    [[{ score: 1, gold: 1, golds: { gold: 2 } }], undefined, /golds\.gold has the primary column's name/],
    [[{ score: 1, gold: 1, group: '' }], undefined, /group must be a non-empty string/],
    [[], { scale: { min: 5, max: 1 } }, /invalid scale/],
  ];
  for (const [rows, options, re] of bad) assert.throws(() => groupedPointwiseMetrics(rows, options), (e: unknown) => e instanceof RangeError && re.test(e.message));
  // Empty input: defined, all null.
  const empty = groupedPointwiseMetrics([]);
  checkColumn(empty.overall.golds.gold, { n: 0, exactAgreement: null, mae: null, pearson: null }, 'empty');
  assert.deepEqual(empty.groups, {});
});

test('groupedPairwiseMetrics: accuracy per group, ties and unparseable count 0.5', () => {
  const rows: PairwiseRow[] = [
    { outcome: 'correct', group: 'llmbar-natural' },
    { outcome: 'correct', group: 'llmbar-natural' },
    { outcome: 'tie', group: 'llmbar-natural' },
    { outcome: 'wrong', group: 'llmbar-natural' },
    { outcome: 'unparseable', group: 'hep-go' },
    { outcome: 'wrong', group: 'hep-go' },
    { outcome: 'correct' },
  ];
  const m = groupedPairwiseMetrics(rows);
  const cases: Array<[string, object]> = [
    // 2 + 0.5 = 2.5 of 4.
    ['llmbar-natural', { n: 4, correct: 2, wrong: 1, tie: 1, unparseable: 0, credit: 2.5, accuracy: 2.5 / 4 }],
    // 0.5 of 2.
    ['hep-go', { n: 2, correct: 0, wrong: 1, tie: 0, unparseable: 1, credit: 0.5, accuracy: 0.25 }],
    // All seven: 3 + 0.5 + 0.5 = 4 of 7.
    ['overall', { n: 7, correct: 3, wrong: 2, tie: 1, unparseable: 1, credit: 4, accuracy: 4 / 7 }],
  ];
  for (const [where, expected] of cases) assert.deepEqual(where === 'overall' ? m.overall : m.groups[where], expected, where);
  assert.deepEqual(Object.keys(m.groups), ['hep-go', 'llmbar-natural']);
  assert.equal(m.ungrouped, 1);
  assert.deepEqual(groupedPairwiseMetrics([]).overall.accuracy, null);
  assert.throws(() => groupedPairwiseMetrics([{ outcome: 'maybe' as never, group: 'a' }]), /unknown outcome/);

  // Into the RewardBench roll-up: credit counts per subset.
  const counts = pairwiseGroupCounts(m);
  assert.deepEqual(counts, { 'hep-go': { correct: 0.5, n: 2 }, 'llmbar-natural': { correct: 2.5, n: 4 } });
  const rollup = rewardBenchRollup(counts);
  assert.equal(rollup.subsets['llmbar-natural'].accuracy, 0.625);
  assert.equal(rollup.overall, null);
  assert.equal(rollup.missing.length, 21);
});
