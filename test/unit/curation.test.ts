import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CurationAccumulator, curationDigest, quantileOfCounts, type CurationJudgment, type CurationPair } from '../../core/pairing/curation';

const SCALE = { min: 1, max: 5 };

/** Judgments from scores (null = unparseable, with a reason). */
function js(scores: Array<number | null>, reason = 'no_marker'): CurationJudgment[] {
  return scores.map((score) => (score === null ? { status: 'unparseable', reason } : { status: 'ok', score }));
}

function pair(strategy: string, chosenLength: number, rejectedLength: number, chosenScore = 4, rejectedScore = 1, level = chosenScore): CurationPair {
  return { strategy, chosen: 'c'.repeat(chosenLength), rejected: 'r'.repeat(rejectedLength), chosenScore, rejectedScore, level };
}

/** Reference quantile on a plain array (numpy's linear interpolation). */
function refQuantile(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

test('an empty report has zero counts and null statistics, never NaN', () => {
  const report = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin'] }).report();
  assert.equal(report.judgments.samples, 0);
  assert.equal(report.judgments.parseFailureRate, null);
  assert.deepEqual(report.scores.histogram, { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 });
  assert.equal(report.scores.exactAgreementWithGold, null);
  assert.deepEqual(report.agreement, { inputs: 0, meanModalShare: null, unanimousInputs: 0, unanimousFraction: null });
  assert.deepEqual(report.strategies, { gold_margin: { inputsWithPair: 0, pairsProduced: 0, pairsKept: 0, noPairReasons: {} } });
  assert.deepEqual(report.pairs, { total: 0, byStrategy: { gold_margin: 0 } });
  assert.deepEqual(report.length, {
    pairs: 0,
    meanChosen: null,
    meanRejected: null,
    meanDifference: null,
    medianDifference: null,
    p90Difference: null,
    meanAbsDifference: null,
  });
  assert.ok(!JSON.stringify(report).includes('NaN'));
  assert.throws(() => new CurationAccumulator({ scale: { min: 5, max: 1 }, strategies: [] }), RangeError);
});

test('judgments: parse failures by reason, histogram, gold x score matrix, agreement with gold', () => {
  const acc = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin'] });
  acc.addInput({ goldScore: 4, judgments: [...js([4, 4, 2, null]), { status: 'unparseable', reason: 'no_score' }] });
  acc.addInput({ goldScore: 2, judgments: js([2, 5, null], 'no_marker') });
  acc.addInput({ goldScore: null, judgments: js([3, 3]) });
  acc.addInput({ judgments: [{ status: 'unparseable' }] });
  // An "ok" judgment without a score counts as unparseable.
  acc.addInput({ goldScore: 4, judgments: [{ status: 'ok', score: null, reason: undefined }] });
  const r = acc.report();
  assert.deepEqual(r.judgments, {
    inputs: 5,
    samples: 12,
    parsed: 7,
    unparseable: 5,
    parseFailureRate: 5 / 12,
    unparseableByReason: { no_marker: 2, no_score: 1, unknown: 2 },
  });
  assert.deepEqual(r.scores.histogram, { 1: 0, 2: 2, 3: 2, 4: 2, 5: 1 });
  assert.equal(r.scores.inputsWithGold, 3);
  assert.equal(r.scores.samplesWithGold, 9);
  assert.deepEqual(r.scores.goldByScore, {
    2: { 1: 0, 2: 1, 3: 0, 4: 0, 5: 1, unparseable: 1 },
    4: { 1: 0, 2: 1, 3: 0, 4: 2, 5: 0, unparseable: 3 },
  });
  // Parsed with gold: 4,4,2 (gold 4) and 2,5 (gold 2): 3 of 5 agree.
  assert.equal(r.scores.exactAgreementWithGold, 3 / 5);
  assert.deepEqual(Object.keys(r.scores.goldByScore), ['2', '4'], 'gold levels in numeric order');
});

test('agreement among the samples: mean modal share and unanimity, table-driven', () => {
  const cases: Array<{ name: string; inputs: Array<Array<number | null>>; inputsCounted: number; share: number | null; unanimous: number; fraction: number | null }> = [
    { name: 'unanimous', inputs: [[3, 3, 3]], inputsCounted: 1, share: 1, unanimous: 1, fraction: 1 },
    { name: 'split', inputs: [[1, 1, 2, 5]], inputsCounted: 1, share: 0.5, unanimous: 0, fraction: 0 },
    { name: 'unparseable samples are left out', inputs: [[4, null, 4]], inputsCounted: 1, share: 1, unanimous: 1, fraction: 1 },
    { name: 'inputs without a parsed sample are left out', inputs: [[null, null], [2, 3]], inputsCounted: 1, share: 0.5, unanimous: 0, fraction: 0 },
    { name: 'mean over inputs', inputs: [[5, 5, 5, 5], [1, 2, 3, 4], [2, 2, 2, 1]], inputsCounted: 3, share: (1 + 0.25 + 0.75) / 3, unanimous: 1, fraction: 1 / 3 },
    { name: 'nothing parsed', inputs: [[null]], inputsCounted: 0, share: null, unanimous: 0, fraction: null },
  ];
  for (const c of cases) {
    const acc = new CurationAccumulator({ scale: SCALE, strategies: [] });
    for (const scores of c.inputs) acc.addInput({ judgments: js(scores) });
    const a = acc.report().agreement;
    assert.equal(a.inputs, c.inputsCounted, c.name);
    if (c.share === null) assert.equal(a.meanModalShare, null, c.name);
    else assert.ok(Math.abs((a.meanModalShare as number) - c.share) < 1e-12, `${c.name}: ${a.meanModalShare}`);
    assert.equal(a.unanimousInputs, c.unanimous, c.name);
    assert.equal(a.unanimousFraction, c.fraction, c.name);
  }
});

test('strategies, drops and inputs without a pair are counted by reason', () => {
  const acc = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin', 'majority_vote'] });
  acc.addStrategyOutcome('gold_margin', 3);
  acc.addStrategyOutcome('gold_margin', 0, 'no_correct');
  acc.addStrategyOutcome('gold_margin', 0, 'no_correct');
  acc.addStrategyOutcome('majority_vote', 0, 'tied_majority');
  acc.addStrategyOutcome('majority_vote', 2);
  acc.addStrategyOutcome('meta_judge', 0); // not listed, still reported; no reason given
  acc.addSampleDrops('inconsistent', 2);
  acc.addSampleDrops('consistency_missing', 0);
  acc.addPairDrops('cross_strategy_duplicate');
  acc.addPairDrops('length_difference', 3);
  acc.addPairDrops('cross_strategy_duplicate', 2);
  acc.addInputOutcome();
  acc.addInputOutcome('no_correct');
  acc.addInputOutcome('dropped_by_balance');
  acc.addInputOutcome('no_correct');
  acc.addPair(pair('gold_margin', 10, 10));
  acc.addPair(pair('majority_vote', 10, 10));
  acc.addPair(pair('gold_margin', 10, 10));
  const r = acc.report();
  assert.deepEqual(r.strategies, {
    gold_margin: { inputsWithPair: 1, pairsProduced: 3, pairsKept: 2, noPairReasons: { no_correct: 2 } },
    majority_vote: { inputsWithPair: 1, pairsProduced: 2, pairsKept: 1, noPairReasons: { tied_majority: 1 } },
    meta_judge: { inputsWithPair: 0, pairsProduced: 0, pairsKept: 0, noPairReasons: { unknown: 1 } },
  });
  assert.deepEqual(r.pairs, { total: 3, byStrategy: { gold_margin: 2, majority_vote: 1 } });
  assert.deepEqual(r.dropped, { samples: { inconsistent: 2 }, pairs: { cross_strategy_duplicate: 3, length_difference: 3 } });
  assert.deepEqual(r.inputs, { total: 0, withPair: 1, withoutPair: 3, withoutPairByReason: { dropped_by_balance: 1, no_correct: 2 } });
});

test('length statistics: mean, median and p90 of chosen - rejected, table-driven against a reference', () => {
  const cases: Array<{ name: string; lengths: Array<[number, number]>; median?: number; p90?: number; mean?: number }> = [
    { name: 'one pair', lengths: [[10, 4]], median: 6, p90: 6, mean: 6 },
    { name: 'even count interpolates', lengths: [[10, 10], [12, 10]], median: 1, mean: 1 },
    { name: 'signed', lengths: [[5, 10], [10, 5], [8, 8]], median: 0, mean: 0 },
    { name: 'p90 interpolates', lengths: Array.from({ length: 10 }, (_, i): [number, number] => [i + 1, 0]), median: 5.5, p90: 9.1 },
    { name: 'repeated differences', lengths: [[3, 1], [3, 1], [3, 1], [9, 1], [1, 3]] },
    { name: 'many', lengths: Array.from({ length: 101 }, (_, i): [number, number] => [(i * 37) % 53, (i * 11) % 29]) },
  ];
  for (const c of cases) {
    const acc = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin'] });
    for (const [cl, rl] of c.lengths) acc.addPair(pair('gold_margin', cl, rl));
    const l = acc.report().length;
    const diffs = c.lengths.map(([a, b]) => a - b);
    const close = (x: number | null, y: number | null, what: string) =>
      assert.ok(x !== null && y !== null && Math.abs(x - y) < 1e-9, `${c.name}: ${what} ${x} vs ${y}`);
    assert.equal(l.pairs, c.lengths.length, c.name);
    close(l.meanChosen, c.lengths.reduce((s, [a]) => s + a, 0) / c.lengths.length, 'meanChosen');
    close(l.meanRejected, c.lengths.reduce((s, [, b]) => s + b, 0) / c.lengths.length, 'meanRejected');
    close(l.meanDifference, diffs.reduce((s, d) => s + d, 0) / diffs.length, 'meanDifference');
    close(l.meanAbsDifference, diffs.reduce((s, d) => s + Math.abs(d), 0) / diffs.length, 'meanAbsDifference');
    close(l.medianDifference, refQuantile(diffs, 0.5), 'median');
    close(l.p90Difference, refQuantile(diffs, 0.9), 'p90');
    if (c.median !== undefined) close(l.medianDifference, c.median, 'median (expected)');
    if (c.p90 !== undefined) close(l.p90Difference, c.p90, 'p90 (expected)');
    if (c.mean !== undefined) close(l.meanDifference, c.mean, 'mean (expected)');
  }
  // Characters are code points.
  const acc = new CurationAccumulator({ scale: SCALE, strategies: [] });
  acc.addPair({ strategy: 's', chosen: '😀😀', rejected: 'a', chosenScore: 4, rejectedScore: 1, level: 4 });
  assert.equal(acc.report().length.meanDifference, 1);
});

test('quantileOfCounts matches the array reference on random multisets', () => {
  let state = 7;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + (next() % 30);
    const xs = Array.from({ length: n }, () => (next() % 21) - 10);
    const counts = new Map<number, number>();
    for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
    for (const q of [0, 0.1, 0.5, 0.9, 1]) {
      const got = quantileOfCounts(counts, q) as number;
      assert.ok(Math.abs(got - (refQuantile(xs, q) as number)) < 1e-9, `trial ${trial} q ${q}`);
    }
  }
  assert.equal(quantileOfCounts(new Map(), 0.5), null);
});

test('score balance and the digest', () => {
  const acc = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin', 'majority_vote'] });
  acc.addInput({ goldScore: 5, judgments: js([5, 1, null]) });
  acc.addPair(pair('gold_margin', 12, 10, 5, 1, 5));
  acc.addPair(pair('gold_margin', 8, 10, 5, 2, 5));
  acc.addPair(pair('majority_vote', 10, 10, 2, 5, 2));
  acc.addSampleDrops('inconsistent', 1);
  acc.addPairDrops('balance', 4);
  acc.addInputOutcome();
  const r = acc.report();
  assert.deepEqual(r.balance, { byLevel: { 2: 1, 5: 2 }, byChosenScore: { 2: 1, 5: 2 }, byRejectedScore: { 1: 1, 2: 1, 5: 1 } });
  assert.deepEqual(curationDigest(r), {
    pairsByStrategy: { gold_margin: 2, majority_vote: 1 },
    droppedByReason: { balance: 4, inconsistent: 1 },
    withoutPairByReason: {},
    parseFailureRate: 1 / 3,
    sampleAgreement: { meanModalShare: 0.5, unanimousFraction: 0 },
    meanLengthDifference: 0,
  });
  // The report is plain JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('the accumulator keeps counts, not items: a large stream stays small', () => {
  const acc = new CurationAccumulator({ scale: SCALE, strategies: ['gold_margin'] });
  for (let i = 0; i < 20000; i++) {
    acc.addInput({ goldScore: (i % 5) + 1, judgments: js([(i % 5) + 1, ((i + 1) % 5) + 1, null]) });
    acc.addPair(pair('gold_margin', 100 + (i % 7), 100, (i % 5) + 1, ((i + 2) % 5) + 1, (i % 5) + 1));
    acc.addInputOutcome();
  }
  const r = acc.report();
  assert.equal(r.judgments.samples, 60000);
  assert.equal(r.pairs.total, 20000);
  assert.equal(r.length.medianDifference, 3);
  assert.ok(JSON.stringify(r).length < 5000, 'the report size does not grow with the stream');
});
