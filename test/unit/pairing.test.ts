import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../core/common/rng';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { strategiesForIteration, type IterationPairingStrategy } from '../../core/config/per-iteration';
import {
  CHARS_PER_TOKEN,
  balancePairs,
  buildGoldMarginPairs,
  buildMajorityVotePairs,
  buildMetaJudgePairs,
  charLength,
  combineNoPairReasons,
  curateInputPairs,
  normalizeWhitespace,
  parseConsistencyRow,
  parseMetaRatingRow,
  selectBalanced,
  truncateChars,
  truncationChars,
  type CurationGroup,
  type InputCurationOptions,
  type PairableJudgment,
  type JudgmentGroup,
} from '../../core/pairing/pairing';
import { curatePairs, pairStepInputs, type PairInput } from '../../activities/steps/pair';
import type { PreferencePair } from '../../core/data/records';
import type { CurationReport } from '../../core/pairing/curation';
import localConfig from '../../configs/local.json';
import { memoryStore, type MemoryStore } from '../support/memory-store';

/** Judgments from a compact list of scores (null = unparseable); text names the sample and its score. */
function judgments(scores: Array<number | null>): PairableJudgment[] {
  return scores.map((score, sampleIndex) => ({
    sampleIndex,
    text: score === null ? `sample ${sampleIndex}: garbled` : `sample ${sampleIndex} [RESULT] ${score}`,
    score,
    status: score === null ? 'unparseable' : 'ok',
  }));
}

function group(goldScore: number | null | undefined, scores: Array<number | null>): JudgmentGroup {
  return { exampleId: 'ex-1', goldScore, judgments: judgments(scores) };
}

/** Pairs as sorted "chosenIndex>rejectedIndex" strings, for order-free comparison. */
function pairKeys(result: { pairs: Array<{ chosen: PairableJudgment; rejected: PairableJudgment }> }): string[] {
  return result.pairs.map((p) => `${p.chosen.sampleIndex}>${p.rejected.sampleIndex}`).sort();
}

test('buildGoldMarginPairs: table of margins, caps and reasons', () => {
  const cases: Array<{
    name: string;
    group: JudgmentGroup;
    margin: number;
    cap: number;
    pairs?: string[];
    count?: number;
    reason?: string;
    candidates?: { correct: number; wrongByMargin: number };
  }> = [
    // Scores by sample index: 0:4 1:4 2:2 3:1 4:5 5:3 6:unparseable; gold 4.
    { name: 'margin 2, all pairs', group: group(4, [4, 4, 2, 1, 5, 3, null]), margin: 2, cap: 10, pairs: ['0>2', '0>3', '1>2', '1>3'], candidates: { correct: 2, wrongByMargin: 2 } },
    { name: 'margin 1 admits 5 and 3', group: group(4, [4, 4, 2, 1, 5, 3, null]), margin: 1, cap: 100, count: 8, candidates: { correct: 2, wrongByMargin: 4 } },
    { name: 'margin 3', group: group(4, [4, 4, 2, 1, 5, 3, null]), margin: 3, cap: 10, pairs: ['0>3', '1>3'] },
    { name: 'cap 1', group: group(4, [4, 4, 2, 1, 5, 3, null]), margin: 2, cap: 1, count: 1 },
    { name: 'cap 3', group: group(4, [4, 4, 2, 1, 5, 3, null]), margin: 2, cap: 3, count: 3 },
    { name: 'margin above the gold', group: group(1, [1, 3, 2, 5]), margin: 2, cap: 10, pairs: ['0>1', '0>3'] },
    { name: 'no gold (null)', group: group(null, [4, 2]), margin: 2, cap: 4, reason: 'no_gold', candidates: { correct: 0, wrongByMargin: 0 } },
    { name: 'no gold (absent)', group: group(undefined, [4, 2]), margin: 2, cap: 4, reason: 'no_gold' },
    { name: 'gold 0 is a gold', group: group(0, [0, 2]), margin: 2, cap: 4, pairs: ['0>1'] },
    { name: 'no judgments', group: group(4, []), margin: 2, cap: 4, reason: 'no_judgments' },
    { name: 'all unparseable', group: group(4, [null, null]), margin: 2, cap: 4, reason: 'all_unparseable' },
    { name: 'no correct', group: group(4, [3, 2, 1]), margin: 2, cap: 4, reason: 'no_correct', candidates: { correct: 0, wrongByMargin: 2 } },
    { name: 'no wrong by margin', group: group(4, [4, 3, 5, 4]), margin: 2, cap: 4, reason: 'no_wrong_by_margin', candidates: { correct: 2, wrongByMargin: 0 } },
    { name: 'all correct', group: group(4, [4, 4, 4]), margin: 1, cap: 4, reason: 'no_wrong_by_margin' },
    // Unparseable judgments are never rejected, even when nothing else is.
    { name: 'unparseable is not a rejected', group: group(4, [4, null, null]), margin: 1, cap: 4, reason: 'no_wrong_by_margin' },
  ];
  for (const c of cases) {
    const result = buildGoldMarginPairs(c.group, { margin: c.margin, maxPairsPerInput: c.cap, seed: 0 });
    if (c.pairs) assert.deepEqual(pairKeys(result), c.pairs, c.name);
    if (c.count !== undefined) assert.equal(result.pairs.length, c.count, c.name);
    assert.equal(result.reason, c.reason, c.name);
    assert.equal(result.pairs.length === 0, c.reason !== undefined, `${c.name}: reason iff no pairs`);
    if (c.candidates) assert.deepEqual(result.candidates, c.candidates, c.name);
    const gold = c.group.goldScore as number;
    for (const p of result.pairs) {
      assert.equal(p.exampleId, 'ex-1');
      assert.equal(p.chosen.status, 'ok', c.name);
      assert.equal(p.rejected.status, 'ok', c.name);
      assert.equal(p.chosen.score, gold, c.name);
      assert.ok(Math.abs((p.rejected.score as number) - gold) >= c.margin, c.name);
      assert.notEqual(p.chosen.text, p.rejected.text, c.name);
    }
    assert.equal(new Set(pairKeys(result)).size, result.pairs.length, `${c.name}: no repeated pair`);
  }
});

test('buildGoldMarginPairs: a cap below the pool sizes uses distinct judgments on both sides', () => {
  // 3 correct (0,1,2), 3 rejected (3,4,5); a cap of 3 must use each of them exactly once.
  const result = buildGoldMarginPairs(group(5, [5, 5, 5, 1, 2, 1]), { margin: 2, maxPairsPerInput: 3, seed: 11 });
  assert.deepEqual(result.pairs.map((p) => p.chosen.sampleIndex).sort(), [0, 1, 2]);
  assert.deepEqual(result.pairs.map((p) => p.rejected.sampleIndex).sort(), [3, 4, 5]);
});

test('buildGoldMarginPairs: spread property over pool sizes and caps', () => {
  for (let correct = 1; correct <= 5; correct++) {
    for (let wrong = 1; wrong <= 6; wrong++) {
      for (let cap = 1; cap <= correct * wrong + 1; cap++) {
        const scores = [...Array(correct).fill(3), ...Array(wrong).fill(1)];
        const result = buildGoldMarginPairs(group(3, scores), { margin: 2, maxPairsPerInput: cap, seed: correct * 100 + wrong });
        const label = `correct=${correct} wrong=${wrong} cap=${cap}`;
        assert.equal(result.pairs.length, Math.min(cap, correct * wrong), label);
        assert.equal(new Set(pairKeys(result)).size, result.pairs.length, `${label}: distinct pairs`);
        for (const side of ['chosen', 'rejected'] as const) {
          const uses = new Map<number, number>();
          for (const p of result.pairs) uses.set(p[side].sampleIndex, (uses.get(p[side].sampleIndex) ?? 0) + 1);
          const poolSize = side === 'chosen' ? correct : wrong;
          // Every judgment of a side is used before any is used twice: counts differ by at most one.
          const counts = [...uses.values()];
          const unused = poolSize - uses.size;
          const minUses = unused > 0 ? 0 : Math.min(...counts);
          assert.ok(Math.max(...counts) - minUses <= 1, `${label}: ${side} uses ${JSON.stringify([...uses])}`);
        }
      }
    }
  }
});

test('buildGoldMarginPairs: duplicate texts count once and never face each other', () => {
  const dup = (sampleIndex: number, text: string, score: number): PairableJudgment => ({ sampleIndex, text, score, status: 'ok' });
  const g: JudgmentGroup = {
    exampleId: 'dup',
    goldScore: 4,
    judgments: [dup(0, 'good [RESULT] 4', 4), dup(1, 'good [RESULT] 4', 4), dup(2, 'bad [RESULT] 1', 1), dup(3, 'bad [RESULT] 1', 1), dup(4, 'meh [RESULT] 2', 2)],
  };
  const result = buildGoldMarginPairs(g, { margin: 2, maxPairsPerInput: 10, seed: 3 });
  assert.deepEqual(result.candidates, { correct: 1, wrongByMargin: 2 });
  // The lowest sample index represents each duplicated text.
  assert.deepEqual(pairKeys(result), ['0>2', '0>4']);

  // Inconsistent records (same text, different scores) never become a pair with itself.
  const inconsistent: JudgmentGroup = { exampleId: 'odd', goldScore: 4, judgments: [dup(0, 'same', 4), dup(1, 'same', 1)] };
  const odd = buildGoldMarginPairs(inconsistent, { margin: 2, maxPairsPerInput: 4, seed: 0 });
  assert.deepEqual(odd.pairs, []);
  assert.equal(odd.reason, 'identical_texts');
});

test('buildGoldMarginPairs: an "ok" judgment without a score is treated as unparseable', () => {
  const g: JudgmentGroup = {
    exampleId: 'x',
    goldScore: 4,
    judgments: [
      { sampleIndex: 0, text: 'a', score: 4, status: 'ok' },
      { sampleIndex: 1, text: 'b', score: null, status: 'ok' },
      { sampleIndex: 2, text: 'c', score: 1, status: 'unparseable' },
    ],
  };
  const result = buildGoldMarginPairs(g, { margin: 1, maxPairsPerInput: 4, seed: 0 });
  assert.equal(result.reason, 'no_wrong_by_margin');
});

test('buildGoldMarginPairs: deterministic for a seed, independent of input order, varies with the seed', () => {
  const scores = [4, 4, 4, 4, 1, 2, 1, 2, 5, null];
  const options = { margin: 2, maxPairsPerInput: 3, seed: 42 };
  const base = buildGoldMarginPairs(group(4, scores), options);
  assert.deepEqual(buildGoldMarginPairs(group(4, scores), options), base);

  const rng = createRng(5);
  for (let k = 0; k < 20; k++) {
    const shuffled = group(4, scores);
    const order = shuffled.judgments.map((j) => ({ j, key: rng.next() })).sort((a, b) => a.key - b.key).map((x) => x.j);
    const result = buildGoldMarginPairs({ ...shuffled, judgments: order }, options);
    assert.deepEqual(pairKeys(result), pairKeys(base), 'input order must not matter');
  }

  const selections = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    selections.add(pairKeys(buildGoldMarginPairs(group(4, scores), { ...options, seed })).join(','));
  }
  assert.ok(selections.size > 1, 'different seeds select different pairs');

  // The example id is part of the derived seed: same judgments, other input, other selection (for some id).
  const byId = new Set<string>();
  for (let i = 0; i < 20; i++) byId.add(pairKeys(buildGoldMarginPairs({ ...group(4, scores), exampleId: `ex-${i}` }, options)).join(','));
  assert.ok(byId.size > 1);
});

test('buildGoldMarginPairs: returns the caller\'s judgment objects', () => {
  type Rich = PairableJudgment & { modelId: string };
  const rich: Rich[] = judgments([3, 1]).map((j) => ({ ...j, modelId: 'm0' }));
  const result = buildGoldMarginPairs({ exampleId: 'r', goldScore: 3, judgments: rich }, { margin: 2, maxPairsPerInput: 1, seed: 0 });
  assert.equal(result.pairs[0].chosen, rich[0]);
  assert.equal(result.pairs[0].rejected.modelId, 'm0');
});

test('buildGoldMarginPairs: invalid options throw', () => {
  const g = group(4, [4, 1]);
  assert.throws(() => buildGoldMarginPairs(g, { margin: 0, maxPairsPerInput: 1, seed: 0 }), RangeError);
  assert.throws(() => buildGoldMarginPairs(g, { margin: 1.5, maxPairsPerInput: 1, seed: 0 }), RangeError);
  assert.throws(() => buildGoldMarginPairs(g, { margin: 2, maxPairsPerInput: 0, seed: 0 }), RangeError);
  assert.throws(() => buildGoldMarginPairs(g, { margin: 2, maxPairsPerInput: 1, seed: 0.5 }), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// majority_vote

function majorityKeys(result: { pairs: Array<{ chosen: PairableJudgment; rejected: PairableJudgment }> }): string[] {
  return result.pairs.map((p) => `${p.chosen.sampleIndex}>${p.rejected.sampleIndex}`).sort();
}

test('buildMajorityVotePairs: table of majorities, shares, margins and reasons', () => {
  const cases: Array<{
    name: string;
    scores: Array<number | null>;
    gold?: number | null;
    margin?: number;
    share?: number;
    cap?: number;
    pairs?: string[];
    count?: number;
    reason?: string;
    majority?: number | null;
    majorityShare?: number | null;
  }> = [
    // 0:4 1:4 2:4 3:2 4:1 5:5 6:unparseable -> mode 4 with 3/6 of the parsed samples.
    { name: 'mode 4, margin 2', scores: [4, 4, 4, 2, 1, 5, null], pairs: ['0>3', '0>4', '1>3', '1>4', '2>3', '2>4'], cap: 10, majority: 4, majorityShare: 0.5 },
    { name: 'margin 3', scores: [4, 4, 4, 2, 1, 5, null], margin: 3, cap: 10, pairs: ['0>4', '1>4', '2>4'] },
    { name: 'margin 1 admits 5', scores: [4, 4, 4, 2, 1, 5, null], margin: 1, cap: 100, count: 9 },
    { name: 'cap', scores: [4, 4, 4, 2, 1, 5, null], cap: 2, count: 2 },
    { name: 'gold is ignored', scores: [2, 2, 5], gold: 5, cap: 10, pairs: ['0>2', '1>2'], majority: 2 },
    { name: 'share exactly at the threshold', scores: [3, 3, 1, 5], share: 0.5, cap: 10, pairs: ['0>2', '0>3', '1>2', '1>3'] },
    { name: 'weak majority', scores: [3, 3, 1, 5, 2], share: 0.5, reason: 'weak_majority', majority: 3, majorityShare: 0.4 },
    { name: 'tie between modes', scores: [5, 5, 1, 1], reason: 'tied_majority', majority: null, majorityShare: 0.5 },
    { name: 'unparseable samples do not vote', scores: [5, null, null, null, 1, 5], pairs: ['0>4', '5>4'], cap: 10, majority: 5, majorityShare: 2 / 3 },
    { name: 'unanimous', scores: [3, 3, 3], reason: 'no_wrong_by_margin', majority: 3, majorityShare: 1 },
    { name: 'nothing far enough', scores: [3, 3, 2, 4], reason: 'no_wrong_by_margin' },
    { name: 'all unparseable', scores: [null, null], reason: 'all_unparseable', majority: null, majorityShare: null },
    { name: 'no judgments', scores: [], reason: 'no_judgments' },
  ];
  for (const c of cases) {
    const g = group(c.gold, c.scores);
    const result = buildMajorityVotePairs(g, { margin: c.margin ?? 2, maxPairsPerInput: c.cap ?? 4, seed: 0, minMajorityShare: c.share ?? 0.5 });
    if (c.pairs) assert.deepEqual(majorityKeys(result), c.pairs, c.name);
    if (c.count !== undefined) assert.equal(result.pairs.length, c.count, c.name);
    assert.equal(result.reason, c.reason, c.name);
    assert.equal(result.pairs.length === 0, c.reason !== undefined, `${c.name}: reason iff no pairs`);
    if (c.majority !== undefined) assert.equal(result.majorityScore, c.majority, c.name);
    if (c.majorityShare !== undefined) assert.equal(result.majorityShare, c.majorityShare, c.name);
    for (const p of result.pairs) {
      assert.equal(p.chosen.score, result.majorityScore, c.name);
      assert.ok(Math.abs(p.rejected.score - (result.majorityScore as number)) >= (c.margin ?? 2), c.name);
    }
  }
});

test('buildMajorityVotePairs: identical texts, spread, determinism and option checks', () => {
  const j = (sampleIndex: number, text: string, score: number): PairableJudgment => ({ sampleIndex, text, score, status: 'ok' });
  // Same text with different scores (inconsistent records) never faces itself.
  const odd = buildMajorityVotePairs({ exampleId: 'odd', judgments: [j(0, 'same', 4), j(1, 'same', 4), j(2, 'same', 1)] }, { margin: 2, maxPairsPerInput: 4, seed: 0, minMajorityShare: 0.5 });
  assert.equal(odd.reason, 'identical_texts');

  // 3 majority texts, 3 far ones, cap 3: every judgment used once on its side.
  const spread = buildMajorityVotePairs(group(null, [5, 5, 5, 5, 1, 2, 1]), { margin: 2, maxPairsPerInput: 3, seed: 4, minMajorityShare: 0.5 });
  assert.equal(new Set(spread.pairs.map((p) => p.chosen.sampleIndex)).size, 3);
  assert.equal(new Set(spread.pairs.map((p) => p.rejected.sampleIndex)).size, 3);

  const scores = [4, 4, 4, 4, 4, 1, 2, 1, 2, null];
  const options = { margin: 2, maxPairsPerInput: 3, seed: 9, minMajorityShare: 0.5 };
  const base = majorityKeys(buildMajorityVotePairs(group(null, scores), options));
  const reversed = { ...group(null, scores), judgments: [...group(null, scores).judgments].reverse() };
  assert.deepEqual(majorityKeys(buildMajorityVotePairs(reversed, options)), base, 'input order must not matter');
  const seeds = new Set<string>();
  for (let seed = 0; seed < 20; seed++) seeds.add(majorityKeys(buildMajorityVotePairs(group(null, scores), { ...options, seed })).join(','));
  assert.ok(seeds.size > 1, 'the seed matters');

  assert.throws(() => buildMajorityVotePairs(group(null, [1]), { ...options, minMajorityShare: 0 }), RangeError);
  assert.throws(() => buildMajorityVotePairs(group(null, [1]), { ...options, minMajorityShare: 1.5 }), RangeError);
  assert.throws(() => buildMajorityVotePairs(group(null, [1]), { ...options, margin: 0 }), RangeError);
});

// ---------------------------------------------------------------------------------------------------------
// meta_judge

function ratings(values: Array<number | null | undefined>): Map<number, number | null> {
  const m = new Map<number, number | null>();
  values.forEach((v, i) => {
    if (v !== undefined) m.set(i, v);
  });
  return m;
}

test('buildMetaJudgePairs: table of ratings, margins and reasons', () => {
  const cases: Array<{
    name: string;
    scores: Array<number | null>;
    rated: Array<number | null | undefined>;
    margin?: number;
    cap?: number;
    pairs?: string[];
    count?: number;
    reason?: string;
    candidates?: { rated: number; pairsByMargin: number };
  }> = [
    // Ratings by sample: 0:9 1:7 2:3 3:null 4:(none) 5:8 (sample 5 is unparseable).
    { name: 'margin 2', scores: [4, 4, 2, 3, 1, null], rated: [9, 7, 3, null, undefined, 8], cap: 10, pairs: ['0>1', '0>2', '1>2'], candidates: { rated: 3, pairsByMargin: 3 } },
    { name: 'margin 5', scores: [4, 4, 2, 3, 1, null], rated: [9, 7, 3, null, undefined, 8], margin: 5, cap: 10, pairs: ['0>2'] },
    { name: 'same score, different rationale', scores: [3, 3], rated: [5, 1], cap: 10, pairs: ['0>1'] },
    { name: 'chosen may score anything', scores: [1, 5], rated: [5, 1], cap: 10, pairs: ['0>1'] },
    { name: 'cap 1', scores: [4, 4, 2], rated: [9, 7, 3], cap: 1, count: 1 },
    { name: 'no ratings', scores: [4, 2], rated: [null, undefined], reason: 'no_ratings', candidates: { rated: 0, pairsByMargin: 0 } },
    { name: 'unparseable judgments are not rated candidates', scores: [null, 3], rated: [9, undefined], reason: 'no_ratings' },
    { name: 'one rated', scores: [4, 2], rated: [5, null], reason: 'no_rated_margin' },
    { name: 'ratings too close', scores: [4, 2, 3], rated: [5, 4, 4], reason: 'no_rated_margin' },
    { name: 'all unparseable', scores: [null], rated: [5], reason: 'all_unparseable' },
    { name: 'no judgments', scores: [], rated: [], reason: 'no_judgments' },
  ];
  for (const c of cases) {
    const r = ratings(c.rated);
    const result = buildMetaJudgePairs(group(null, c.scores), r, { margin: c.margin ?? 2, maxPairsPerInput: c.cap ?? 4, seed: 0 });
    if (c.pairs) assert.deepEqual(pairKeys(result), c.pairs, c.name);
    if (c.count !== undefined) assert.equal(result.pairs.length, c.count, c.name);
    assert.equal(result.reason, c.reason, c.name);
    assert.equal(result.pairs.length === 0, c.reason !== undefined, `${c.name}: reason iff no pairs`);
    if (c.candidates) assert.deepEqual(result.candidates, c.candidates, c.name);
    for (const p of result.pairs) {
      assert.ok((r.get(p.chosen.sampleIndex) as number) - (r.get(p.rejected.sampleIndex) as number) >= (c.margin ?? 2), c.name);
      assert.equal(p.chosen.status, 'ok');
      assert.equal(p.rejected.status, 'ok');
    }
  }
  // Missing ratings map: no ratings.
  assert.equal(buildMetaJudgePairs(group(null, [4, 2]), undefined, { margin: 1, maxPairsPerInput: 1, seed: 0 }).reason, 'no_ratings');
});

test('buildMetaJudgePairs: spreads over judgments, seeded, order-free, duplicates count once', () => {
  // Two high (0, 1) and two low (2, 3): a cap of 2 must use four distinct judgments.
  for (let seed = 0; seed < 10; seed++) {
    const result = buildMetaJudgePairs(group(null, [3, 3, 3, 3]), ratings([9, 9, 1, 1]), { margin: 2, maxPairsPerInput: 2, seed });
    const used = result.pairs.flatMap((p) => [p.chosen.sampleIndex, p.rejected.sampleIndex]);
    assert.equal(new Set(used).size, 4, `seed ${seed}: ${used}`);
  }
  const scores = [3, 3, 3, 3, 3, 3];
  const r = ratings([9, 8, 7, 3, 2, 1]);
  const options = { margin: 2, maxPairsPerInput: 3, seed: 5 };
  const base = pairKeys(buildMetaJudgePairs(group(null, scores), r, options));
  const reversed = { ...group(null, scores), judgments: [...group(null, scores).judgments].reverse() };
  assert.deepEqual(pairKeys(buildMetaJudgePairs(reversed, r, options)), base);
  const seeds = new Set<string>();
  for (let seed = 0; seed < 20; seed++) seeds.add(pairKeys(buildMetaJudgePairs(group(null, scores), r, { ...options, seed })).join(','));
  assert.ok(seeds.size > 1);

  // Duplicated text: the lowest rated sample index stands for it.
  const dup = (sampleIndex: number, text: string): PairableJudgment => ({ sampleIndex, text, score: 3, status: 'ok' });
  const g: JudgmentGroup = { exampleId: 'd', judgments: [dup(0, 'same'), dup(1, 'same'), dup(2, 'other')] };
  const result = buildMetaJudgePairs(g, ratings([undefined, 9, 1]), { margin: 2, maxPairsPerInput: 4, seed: 0 });
  assert.deepEqual(pairKeys(result), ['1>2']);
  assert.deepEqual(result.candidates, { rated: 2, pairsByMargin: 1 });
});

// ---------------------------------------------------------------------------------------------------------
// Hygiene helpers, the per-input pipeline, balancing

test('hygiene helpers: whitespace, code-point lengths and truncation', () => {
  assert.equal(normalizeWhitespace('  a \n\t b  c '), 'a b c');
  // The fast path (an already normalised text comes back as it is) gives what the full replace gives.
  const cases = ['a b c', 'a', '', ' ', 'a  b', ' a', 'a ', 'a\tb', 'a\nb', 'a\u00a0b', 'a\u2028b', 'a \u3000b', '\ufeffa', 'a b\r', 'ab  '];
  for (const text of cases) assert.equal(normalizeWhitespace(text), text.replace(/\s+/g, ' ').trim(), JSON.stringify(text));
  const alphabet = ['a', 'b', ' ', ' ', '\t', '\n', '\u00a0', 'é'];
  let state = 12345;
  for (let n = 0; n < 2000; n++) {
    let text = '';
    for (let k = (n % 9); k > 0; k--) {
      state = (state * 1103515245 + 12345) % 2147483648;
      text += alphabet[state % alphabet.length];
    }
    assert.equal(normalizeWhitespace(text), text.replace(/\s+/g, ' ').trim(), JSON.stringify(text));
  }
  assert.equal(charLength('abc'), 3);
  assert.equal(charLength('a😀b'), 3, 'an astral character is one character');
  assert.equal(charLength(''), 0);
  assert.equal(charLength('é😀😀'), 3);
  assert.equal(charLength('a\uD800b'), 3, 'a lone surrogate counts as one, as Python counts it');
  assert.equal(charLength('\uDC00\uD800'), 2, 'a low surrogate before a high one is not a pair');
  assert.equal(truncateChars('a😀bcd', 2), 'a😀');
  assert.equal(truncateChars('abc', 5), 'abc');
  assert.equal(truncationChars(512), 512 * CHARS_PER_TOKEN);
  assert.equal(CHARS_PER_TOKEN, 4);
});

const GOLD: IterationPairingStrategy = { name: 'gold_margin', margin: 2, maxPairsPerInput: 4 };
const MAJORITY: IterationPairingStrategy = { name: 'majority_vote', margin: 2, maxPairsPerInput: 4, minMajorityShare: 0.5 };
const META: IterationPairingStrategy = { name: 'meta_judge', template: 'prompts/meta-judge-v1.txt', ratingSamples: 4, ratingTemperature: 1, margin: 2, maxPairsPerInput: 4 };

function curationOptions(over: Omit<Partial<InputCurationOptions>, 'hygiene'> & { hygiene?: Partial<InputCurationOptions['hygiene']> } = {}): InputCurationOptions {
  return {
    strategies: over.strategies ?? [GOLD],
    seed: over.seed ?? 0,
    consistencyFilter: over.consistencyFilter ?? false,
    hygiene: { dropIdenticalAfterTruncation: true, truncateChars: 1000, ...over.hygiene },
  };
}

/** A group from [text, score|null] entries. */
function textGroup(gold: number | null, entries: Array<[string, number | null]>, extra: Partial<CurationGroup> = {}): CurationGroup {
  return {
    exampleId: 'ex',
    goldScore: gold,
    judgments: entries.map(([text, score], sampleIndex) => ({ sampleIndex, text, score, status: score === null ? 'unparseable' : 'ok' })),
    ...extra,
  };
}

/** Every produced pair is kept or dropped under exactly one reason. */
function assertAccounted(result: ReturnType<typeof curateInputPairs>, label: string): void {
  const produced = result.strategies.reduce((n, s) => n + s.produced, 0);
  const dropped = Object.values(result.pairDrops).reduce((n, v) => n + (v ?? 0), 0);
  assert.equal(produced, result.pairs.length + dropped, `${label}: produced = kept + dropped`);
  assert.equal(result.pairs.length === 0, result.reason !== undefined, `${label}: reason iff no pairs`);
}

test('curateInputPairs: hygiene switches, each counted by reason', () => {
  const long = 'x'.repeat(50);
  const cases: Array<{
    name: string;
    group: CurationGroup;
    options: InputCurationOptions;
    kept: number;
    drops: Record<string, number>;
    reason?: string;
  }> = [
    { name: 'clean', group: textGroup(4, [['good [RESULT] 4', 4], ['bad [RESULT] 1', 1]]), options: curationOptions(), kept: 1, drops: {} },
    {
      name: 'identical after whitespace (inconsistent records)',
      group: textGroup(4, [['same  text', 4], ['same text', 1]]),
      options: curationOptions(),
      kept: 0,
      drops: { identical_after_whitespace: 1 },
      reason: 'dropped_by_hygiene',
    },
    {
      name: 'identical after truncation',
      group: textGroup(4, [[`${long} [RESULT] 4`, 4], [`${long} [RESULT] 1`, 1]]),
      options: curationOptions({ hygiene: { truncateChars: 50 } }),
      kept: 0,
      drops: { identical_after_truncation: 1 },
      reason: 'dropped_by_hygiene',
    },
    {
      name: 'truncation switch off',
      group: textGroup(4, [[`${long} [RESULT] 4`, 4], [`${long} [RESULT] 1`, 1]]),
      options: curationOptions({ hygiene: { truncateChars: 50, dropIdenticalAfterTruncation: false } }),
      kept: 1,
      drops: {},
    },
    {
      name: 'differs within the budget',
      group: textGroup(4, [[`${long} [RESULT] 4`, 4], [`${long} [RESULT] 1`, 1]]),
      // The texts differ at character 61 (the score).
      options: curationOptions({ hygiene: { truncateChars: 61 } }),
      kept: 1,
      drops: {},
    },
    {
      name: 'duplicate after whitespace',
      group: textGroup(4, [['good 4', 4], ['good  4', 4], ['bad 1', 1]]),
      options: curationOptions(),
      kept: 1,
      drops: { duplicate_after_whitespace: 1 },
    },
    {
      name: 'length difference over the cap',
      group: textGroup(4, [['short 4', 4], [`a much longer rationale ${long} 1`, 1], ['bad 1', 1]]),
      options: curationOptions({ hygiene: { maxLengthDifference: 5 } }),
      kept: 1,
      drops: { length_difference: 1 },
    },
    {
      name: 'length difference at the cap is kept',
      group: textGroup(4, [['aaaa 4', 4], ['bbbbbbbbb 1', 1]]),
      options: curationOptions({ hygiene: { maxLengthDifference: 5 } }),
      kept: 1,
      drops: {},
    },
  ];
  for (const c of cases) {
    const result = curateInputPairs(c.group, c.options);
    assert.equal(result.pairs.length, c.kept, c.name);
    assert.deepEqual(result.pairDrops, c.drops, c.name);
    assert.equal(result.reason, c.reason, c.name);
    assertAccounted(result, c.name);
  }
});

test('validation and pairing agree on margins: what the config accepts, the pair step runs; what pairing refuses, the config refuses', () => {
  const withStrategy = (strategy: Record<string, unknown>) =>
    validateConfig({ ...localConfig, loop: { ...localConfig.loop, pairing: { ...localConfig.loop.pairing, strategies: [strategy] } } });
  // Meta-judge ratings are means of several ratings: a fractional margin is valid, and pairs on it.
  const meta = withStrategy({ name: 'meta_judge', margin: 0.5 });
  assert.ok(meta.ok, JSON.stringify(!meta.ok && meta.problems));
  // The pair step resolves each margin for its iteration (a plain number stays itself).
  const [parsedMeta] = strategiesForIteration(meta.config.loop.pairing.strategies, 1);
  const g = textGroup(null, [['a 4', 4], ['b 3', 3], ['c 2', 2]], { metaScores: new Map([[0, 3.75], [1, 3.25], [2, 3]]) });
  const result = curateInputPairs(g, curationOptions({ strategies: [parsedMeta] }));
  assert.deepEqual(pairKeysOf(result.pairs), ['0>1', '0>2'], 'ratings 0.5 and 0.75 apart pair; 0.25 apart do not');
  // Scores are integers: a fractional score margin is refused by the config, as the pairing would refuse it.
  for (const name of ['gold_margin', 'majority_vote']) {
    const bad = withStrategy({ name, margin: 1.5 });
    assert.ok(!bad.ok, `${name} margin 1.5 must be refused by validation`);
    assert.ok(bad.problems.some((p) => p.path.endsWith('margin')), JSON.stringify(bad.problems));
    assert.throws(() => curateInputPairs(textGroup(4, [['a', 4], ['b', 1]]), curationOptions({ strategies: [{ ...(name === 'gold_margin' ? GOLD : MAJORITY), margin: 1.5 }] })), /margin must be an integer/);
  }
  for (const margin of [0, -1]) {
    assert.ok(!withStrategy({ name: 'meta_judge', margin }).ok, `meta_judge margin ${margin} is refused`);
    assert.throws(() => curateInputPairs(g, curationOptions({ strategies: [{ ...META, margin }] })), /margin must be a number > 0/);
  }
});

test('curateInputPairs: several strategies are pooled, cross-strategy duplicates kept once', () => {
  // Gold 4 is also the majority: gold_margin and majority_vote produce the same pairs.
  const g = textGroup(4, [['a 4', 4], ['b 4', 4], ['c 4', 4], ['d 1', 1], ['e 2', 2]], { metaScores: new Map([[0, 9], [3, 1]]) });
  const result = curateInputPairs(g, curationOptions({ strategies: [GOLD, MAJORITY, META] }));
  assert.deepEqual(
    result.strategies.map((s) => [s.strategy, s.produced]),
    [['gold_margin', 4], ['majority_vote', 4], ['meta_judge', 1]],
  );
  // majority_vote's 4 pairs are the gold_margin ones when both pick the same cells; count what overlaps.
  const goldKeys = new Set(result.pairs.filter((p) => p.strategy === 'gold_margin').map((p) => `${p.chosen.text}|${p.rejected.text}`));
  const majorityKept = result.pairs.filter((p) => p.strategy === 'majority_vote');
  for (const p of majorityKept) assert.ok(!goldKeys.has(`${p.chosen.text}|${p.rejected.text}`), 'a kept majority pair is new');
  // meta_judge's pair (a 4 > d 1) duplicates a gold_margin pair only if gold_margin selected it.
  const metaKept = result.pairs.filter((p) => p.strategy === 'meta_judge');
  assert.equal((result.pairDrops.cross_strategy_duplicate ?? 0) + majorityKept.length + metaKept.length, 5);
  assertAccounted(result, 'pooled');
  const triples = result.pairs.map((p) => `${p.chosen.text}|${p.rejected.text}`);
  assert.equal(new Set(triples).size, triples.length, 'no triple twice');
  for (const p of result.pairs) {
    assert.equal(p.level, 4, 'with gold, the level is the gold score');
    assert.equal(p.exampleId, 'ex');
  }

  // With a cap covering the grid, every majority pair duplicates a gold pair.
  const all = curateInputPairs(g, curationOptions({ strategies: [{ ...GOLD, maxPairsPerInput: 10 }, { ...MAJORITY, maxPairsPerInput: 10 }] }));
  assert.equal(all.pairDrops.cross_strategy_duplicate, 6);
  assert.ok(all.pairs.every((p) => p.strategy === 'gold_margin'));
  assert.equal(all.pairs.length, 6);
});

test('curateInputPairs: levels without gold, input-level reasons', () => {
  const noGold = curateInputPairs(textGroup(null, [['a 2', 2], ['b 2', 2], ['c 5', 5]]), curationOptions({ strategies: [GOLD, MAJORITY] }));
  assert.deepEqual(noGold.strategies, [{ strategy: 'gold_margin', produced: 0, reason: 'no_gold' }, { strategy: 'majority_vote', produced: 2 }]);
  assert.ok(noGold.pairs.every((p) => p.level === 2 && p.strategy === 'majority_vote'), 'level = chosen score without gold');

  const none = curateInputPairs(textGroup(null, [['a 2', 2], ['c 5', 5]]), curationOptions({ strategies: [GOLD, MAJORITY] }));
  assert.equal(none.reason, 'gold_margin:no_gold+majority_vote:tied_majority');
  const same = curateInputPairs(textGroup(3, [['a 3', 3]]), curationOptions({ strategies: [GOLD, MAJORITY] }));
  assert.equal(same.reason, 'no_wrong_by_margin');
  assert.equal(combineNoPairReasons([{ strategy: 'gold_margin', reason: 'no_gold' }]), 'no_gold');
  assert.throws(() => curateInputPairs(textGroup(3, []), curationOptions({ strategies: [] })), RangeError);
});

test('curateInputPairs: the consistency filter excludes inconsistent and unchecked samples', () => {
  const entries: Array<[string, number | null]> = [['a 4', 4], ['b 4', 4], ['c 1', 1], ['d 1', 1], ['garbled', null]];
  // Sample 0 inconsistent, 2 consistent, 3 missing a verdict, 1 consistent; 4 is unparseable (left alone).
  const consistency = new Map([[0, false], [1, true], [2, true], [4, false]]);
  const on = curateInputPairs(textGroup(4, entries, { consistency }), curationOptions({ consistencyFilter: true, strategies: [{ ...GOLD, maxPairsPerInput: 10 }] }));
  assert.deepEqual(on.sampleDrops, { inconsistent: 1, consistency_missing: 1 });
  assert.deepEqual(pairKeysOf(on.pairs), ['1>2']);

  const off = curateInputPairs(textGroup(4, entries, { consistency }), curationOptions({ strategies: [{ ...GOLD, maxPairsPerInput: 10 }] }));
  assert.deepEqual(off.sampleDrops, {});
  assert.equal(off.pairs.length, 4);

  const allOut = curateInputPairs(textGroup(4, [['a 4', 4], ['c 1', 1]], { consistency: new Map([[0, false], [1, false]]) }), curationOptions({ consistencyFilter: true, strategies: [GOLD, MAJORITY] }));
  assert.equal(allOut.reason, 'all_inconsistent');
  assert.deepEqual(allOut.sampleDrops, { inconsistent: 2 });
  // No verdicts at all with the filter on: every parsed sample is unchecked.
  const noTable = curateInputPairs(textGroup(4, [['a 4', 4], ['c 1', 1]]), curationOptions({ consistencyFilter: true }));
  assert.deepEqual(noTable.sampleDrops, { consistency_missing: 2 });
  assert.equal(noTable.reason, 'all_inconsistent');
  // Still a genuinely unparseable input stays all_unparseable.
  assert.equal(curateInputPairs(textGroup(4, [['x', null]]), curationOptions({ consistencyFilter: true })).reason, 'all_unparseable');
});

function pairKeysOf(pairs: Array<{ chosen: PairableJudgment; rejected: PairableJudgment }>): string[] {
  return pairs.map((p) => `${p.chosen.sampleIndex}>${p.rejected.sampleIndex}`).sort();
}

test('curateInputPairs: deterministic; balance keys independent of other inputs', () => {
  const g = textGroup(4, [['a 4', 4], ['b 4', 4], ['c 1', 1], ['d 2', 2]]);
  const a = curateInputPairs(g, curationOptions({ strategies: [GOLD, MAJORITY] }));
  const b = curateInputPairs(g, curationOptions({ strategies: [GOLD, MAJORITY] }));
  assert.deepEqual(a, b);
  assert.equal(new Set(a.pairs.map((p) => p.balanceKey)).size, a.pairs.length);
  const other = curateInputPairs({ ...g, exampleId: 'other' }, curationOptions({ strategies: [GOLD, MAJORITY] }));
  assert.notDeepEqual(other.pairs.map((p) => p.balanceKey), a.pairs.map((p) => p.balanceKey));
});

test('selectBalanced: every level keeps the smallest level\'s count, by seeded key, order-free', () => {
  const cases: Array<{ name: string; levels: number[]; quota: number; after: Record<string, number>; dropped: number }> = [
    { name: 'empty', levels: [], quota: 0, after: {}, dropped: 0 },
    { name: 'one level', levels: [3, 3, 3], quota: 3, after: { 3: 3 }, dropped: 0 },
    { name: 'uneven', levels: [5, 5, 5, 5, 1, 1, 3, 3, 3], quota: 2, after: { 1: 2, 3: 2, 5: 2 }, dropped: 3 },
    { name: 'a level of one', levels: [2, 4, 4, 4, 4], quota: 1, after: { 2: 1, 4: 1 }, dropped: 3 },
  ];
  for (const c of cases) {
    const entries = c.levels.map((level, i) => ({ level, key: (i * 2654435761) >>> 0 }));
    const sel = selectBalanced(entries);
    assert.equal(sel.quota, c.quota, c.name);
    assert.deepEqual(sel.after, c.after, c.name);
    assert.equal(sel.dropped, c.dropped, c.name);
    assert.equal(sel.keep.filter(Boolean).length, c.levels.length - c.dropped, c.name);
    // The kept ones of each level have the smallest keys.
    for (const level of new Set(c.levels)) {
      const keys = entries.filter((e) => e.level === level).map((e) => e.key).sort((x, y) => x - y);
      const kept = entries.filter((e, i) => e.level === level && sel.keep[i]).map((e) => e.key).sort((x, y) => x - y);
      assert.deepEqual(kept, keys.slice(0, c.quota), `${c.name}: level ${level}`);
    }
    // Reversing the entries keeps the same set.
    const rev = selectBalanced([...entries].reverse());
    const keptKeys = (s: typeof sel, es: typeof entries) => es.filter((_, i) => s.keep[i]).map((e) => e.key).sort((x, y) => x - y);
    assert.deepEqual(keptKeys(rev, [...entries].reverse()), keptKeys(sel, entries), `${c.name}: order-free`);
  }
  const pairs = [{ level: 1, balanceKey: 5, id: 'a' }, { level: 2, balanceKey: 9, id: 'b' }, { level: 2, balanceKey: 3, id: 'c' }];
  assert.deepEqual(balancePairs(pairs).map((p) => p.id), ['a', 'c']);
});

test('side-table rows: ratings and consistency rows are validated', () => {
  assert.deepEqual(parseMetaRatingRow({ request_id: 'r', sample_index: 0, meta_score: 4, meta_status: 'ok' }), {
    ok: true,
    row: { request_id: 'r', sample_index: 0, meta_score: 4, meta_status: 'ok' },
  });
  assert.deepEqual(parseMetaRatingRow({ request_id: 'r', sample_index: 1, meta_score: null, meta_status: 'unparseable', reason: 'no_marker' }), {
    ok: true,
    row: { request_id: 'r', sample_index: 1, meta_score: null, meta_status: 'unparseable', reason: 'no_marker' },
  });
  for (const bad of [
    null,
    [],
    { request_id: '', sample_index: 0, meta_score: 1, meta_status: 'ok' },
    { request_id: 'r', sample_index: -1, meta_score: 1, meta_status: 'ok' },
    { request_id: 'r', sample_index: 0.5, meta_score: 1, meta_status: 'ok' },
    { request_id: 'r', sample_index: 0, meta_score: null, meta_status: 'ok' },
    { request_id: 'r', sample_index: 0, meta_score: 3, meta_status: 'unparseable' },
    { request_id: 'r', sample_index: 0, meta_score: 3, meta_status: 'fine' },
    { request_id: 'r', sample_index: 0, meta_score: 3, meta_status: 'ok', reason: 7 },
  ]) {
    assert.equal(parseMetaRatingRow(bad).ok, false, JSON.stringify(bad));
  }
  assert.deepEqual(parseConsistencyRow({ request_id: 'r', sample_index: 2, rescore: null, consistent: false }), {
    ok: true,
    row: { request_id: 'r', sample_index: 2, rescore: null, consistent: false },
  });
  assert.equal(parseConsistencyRow({ request_id: 'r', sample_index: 2, rescore: 3 }).ok, false);
  assert.equal(parseConsistencyRow({ request_id: 'r', sample_index: 2, rescore: '3', consistent: true }).ok, false);
});

// ---------------------------------------------------------------------------------------------------------
// The pair step's work (activities/steps/pair.ts) on an in-memory store

/** The rows of an object the pair step must have written: a missing one fails here instead of reading as none. */
function writtenRows<T>(store: MemoryStore, uri: string): T[] {
  assert.ok(store.objects.has(uri), `no object ${uri}`);
  return store.rows<T>(uri);
}

/** An object the pair step must have written, as text. */
function writtenText(store: MemoryStore, uri: string): string {
  const body = store.objects.get(uri);
  assert.ok(body, `no object ${uri}`);
  return body.toString('utf8');
}

const baseConfig: RunConfig = (() => {
  const r = validateConfig(localConfig);
  if (!r.ok) throw new Error('configs/local.json must be valid');
  return r.config;
})();

function withPairing(pairing: Partial<RunConfig['loop']['pairing']>): RunConfig {
  return { ...baseConfig, loop: { ...baseConfig.loop, pairing: { ...baseConfig.loop.pairing, ...pairing } } };
}

/** Inputs: [gold, scores per sample]; texts are unique per sample. */
function fixture(store: MemoryStore, inputs: Array<[number | null, Array<number | null>]>): { requestsUri: string; judgmentsUri: string } {
  const requests = inputs.map(([gold], i) => ({
    request_id: `r${i}`,
    example_id: `e${i}`,
    messages: [{ role: 'user', content: `judge input ${i}` }],
    prompt_hash: 'h',
    ...(gold !== null ? { gold_score: gold } : {}),
  }));
  const judgments = inputs.flatMap(([gold, scores], i) =>
    scores.map((score, k) => ({
      request_id: `r${i}`,
      example_id: `e${i}`,
      sample_index: k,
      model_id: 'm',
      prompt_hash: 'h',
      seed: 0,
      ...(gold !== null ? { gold_score: gold } : {}),
      ...(score === null
        ? { text: `input ${i} sample ${k} garbled`, status: 'unparseable', reason: 'no_marker' }
        : { text: `input ${i} sample ${k} [RESULT] ${score}`, status: 'ok', rationale: `input ${i} sample ${k}`, score }),
    })),
  );
  store.seedRows('s3://b/run/iter-1/sample/requests.jsonl', requests);
  store.seedRows('s3://b/run/iter-1/score/data/judgments.jsonl', judgments);
  return { requestsUri: 's3://b/run/iter-1/sample/requests.jsonl', judgmentsUri: 's3://b/run/iter-1/score/data/judgments.jsonl' };
}

const INPUTS: Array<[number | null, Array<number | null>]> = [
  [5, [5, 5, 1, 2, 5, null]],
  [5, [5, 1, 1, 4]],
  [1, [1, 4, 5, 1]],
  [3, [3, 3, 3, 3]],
  [null, [2, 2, 2, 5]],
  [2, [null, null]],
];

test('curatePairs: gold_margin only writes pairs, curation.json and the summary', async () => {
  const store = memoryStore();
  const uris = fixture(store, INPUTS);
  const input: PairInput = { config: baseConfig, runPrefixUri: 's3://b/run', iteration: 1, ...uris };
  const { objects, summary } = await curatePairs(store, input);
  const pairs = writtenRows<PreferencePair>(store, 's3://b/run/iter-1/pair/data/pairs.jsonl');
  assert.equal(summary.pairs, pairs.length);
  assert.equal(summary.uri, 's3://b/run/iter-1/pair/data/pairs.jsonl');
  assert.deepEqual(objects.map((o) => o.uri), ['s3://b/run/iter-1/pair/data/pairs.jsonl', 's3://b/run/iter-1/pair/curation.json']);
  assert.equal(summary.inputsWithPair, 3);
  assert.equal(summary.inputsWithoutPair, 3);
  for (const p of pairs) {
    assert.equal(p.strategy, 'gold_margin');
    assert.deepEqual(p.prompt, [{ role: 'user', content: `judge input ${p.example_id.slice(1)}` }]);
  }
  const report = JSON.parse(writtenText(store, 's3://b/run/iter-1/pair/curation.json')) as CurationReport & { iteration: number };
  assert.equal(report.iteration, 1);
  assert.equal(report.judgments.samples, 24);
  assert.equal(report.judgments.unparseable, 3);
  assert.deepEqual(report.inputs.withoutPairByReason, { all_unparseable: 1, no_gold: 1, no_wrong_by_margin: 1 });
  assert.equal(report.pairs.total, pairs.length);
  assert.deepEqual(summary.curation?.pairsByStrategy, { gold_margin: pairs.length });
  assert.equal(summary.curation?.uri, 's3://b/run/iter-1/pair/curation.json');
  assert.equal(summary.curation?.parseFailureRate, 3 / 24);
  assert.deepEqual(summary.curation?.withoutPairByReason, report.inputs.withoutPairByReason);

  // Deterministic: a second run writes the same pairs.
  const again = memoryStore();
  fixture(again, INPUTS);
  await curatePairs(again, input);
  assert.equal(writtenText(again, 's3://b/run/iter-1/pair/data/pairs.jsonl'), writtenText(store, 's3://b/run/iter-1/pair/data/pairs.jsonl'));
});

test('curatePairs: all strategies, the consistency filter and balancing together', async () => {
  const store = memoryStore();
  const uris = fixture(store, INPUTS);
  const metaRatingsUri = 's3://b/run/iter-1/meta-judge/ratings.jsonl';
  const consistencyUri = 's3://b/run/iter-1/consistency/rescores.jsonl';
  // Ratings: high for the sample scoring the gold (or the first sample), low for the others; one unparseable.
  store.seedRows(
    metaRatingsUri,
    INPUTS.flatMap(([gold, scores], i) =>
      scores.map((s, k) =>
        i === 0 && k === 3
          ? { request_id: `r${i}`, sample_index: k, meta_score: null, meta_status: 'unparseable', reason: 'no_marker' }
          : { request_id: `r${i}`, sample_index: k, meta_score: s !== null && s === (gold ?? scores[0]) ? 9 : 2, meta_status: 'ok' },
      ),
    ),
  );
  // Every parsed sample checked; input 1's sample 1 is inconsistent.
  store.seedRows(
    consistencyUri,
    INPUTS.flatMap(([, scores], i) =>
      scores.flatMap((s, k) => (s === null ? [] : [{ request_id: `r${i}`, sample_index: k, rescore: s, consistent: !(i === 1 && k === 1) }])),
    ),
  );
  const config = withPairing({
    strategies: [GOLD, MAJORITY, META],
    hygiene: { dropIdenticalAfterTruncation: true, balanceGoldLevels: true },
    consistencyFilter: true,
  });
  const input: PairInput = { config, runPrefixUri: 's3://b/run', iteration: 1, ...uris, metaRatingsUri, consistencyUri };
  const { objects, summary } = await curatePairs(store, input);
  const candidates = writtenRows<PreferencePair>(store, 's3://b/run/iter-1/pair/data/candidates.jsonl');
  const pairs = writtenRows<PreferencePair>(store, 's3://b/run/iter-1/pair/data/pairs.jsonl');
  assert.deepEqual(objects.map((o) => o.uri.split('/pair/')[1]), ['data/pairs.jsonl', 'data/candidates.jsonl', 'curation.json']);
  const report = JSON.parse(writtenText(store, 's3://b/run/iter-1/pair/curation.json')) as CurationReport;

  assert.deepEqual(report.dropped.samples, { inconsistent: 1 });
  assert.ok(pairs.length <= candidates.length);
  assert.equal(report.dropped.pairs.balance ?? 0, candidates.length - pairs.length);
  // Balanced: every level has the same number of pairs.
  const levels = Object.values(report.balance.byLevel);
  assert.ok(levels.length > 1 && levels.every((n) => n === levels[0]), JSON.stringify(report.balance));
  // Pairs by strategy add up, and so do the inputs.
  assert.equal(Object.values(report.pairs.byStrategy).reduce((a, b) => a + b, 0), pairs.length);
  assert.equal(report.inputs.withPair + report.inputs.withoutPair, INPUTS.length);
  assert.equal(summary.inputsWithPair + summary.inputsWithoutPair, INPUTS.length);
  for (const s of ['gold_margin', 'majority_vote', 'meta_judge']) assert.ok(s in report.strategies, s);
  assert.ok(report.strategies.meta_judge.pairsProduced > 0);
  // Every produced pair is kept or dropped under one reason.
  const produced = Object.values(report.strategies).reduce((n, s) => n + s.pairsProduced, 0);
  const dropped = Object.values(report.dropped.pairs).reduce((a, b) => a + b, 0);
  assert.equal(produced, pairs.length + dropped);
  const triples = pairs.map((p) => `${p.example_id}|${p.chosen}|${p.rejected}`);
  assert.equal(new Set(triples).size, triples.length, 'no (prompt, chosen, rejected) twice');
  assert.deepEqual(summary.curation?.droppedByReason, { ...report.dropped.samples, ...report.dropped.pairs });
  // Input 1's inconsistent sample 1 never appears.
  assert.ok(!pairs.some((p) => p.chosen.includes('input 1 sample 1 ') || p.rejected.includes('input 1 sample 1 ')));
});

test('curatePairs: missing side tables and bad rows fail with a clear message', async () => {
  const store = memoryStore();
  const uris = fixture(store, INPUTS);
  const meta = withPairing({ strategies: [META] });
  await assert.rejects(curatePairs(store, { config: meta, runPrefixUri: 's3://b/run', iteration: 1, ...uris }), /metaRatingsUri/);
  const filter = withPairing({ consistencyFilter: true });
  await assert.rejects(curatePairs(store, { config: filter, runPrefixUri: 's3://b/run', iteration: 1, ...uris }), /consistencyUri/);
  store.seedRows('s3://b/bad.jsonl', [{ request_id: 'r0', sample_index: 0, meta_score: 3, meta_status: 'ok' }, { request_id: 'r0', sample_index: 0, meta_score: 3, meta_status: 'ok' }]);
  await assert.rejects(
    curatePairs(store, { config: meta, runPrefixUri: 's3://b/run', iteration: 1, ...uris, metaRatingsUri: 's3://b/bad.jsonl' }),
    /line 2 .*second row/,
  );
  store.seedRows('s3://b/bad2.jsonl', [{ request_id: 'r0', sample_index: 0, rescore: 3 }]);
  await assert.rejects(
    curatePairs(store, { config: filter, runPrefixUri: 's3://b/run', iteration: 1, ...uris, consistencyUri: 's3://b/bad2.jsonl' }),
    /line 1 .*consistent/,
  );
});

test('pairStepInputs: strategies, hygiene, side tables and the truncation budget change the hash inputs', () => {
  const input: PairInput = { config: baseConfig, runPrefixUri: 's3://b/run', iteration: 1, requestsUri: 's3://r', judgmentsUri: 's3://j' };
  const base = JSON.stringify(pairStepInputs(input));
  assert.notEqual(JSON.stringify(pairStepInputs({ ...input, metaRatingsUri: 's3://m' })), base);
  assert.notEqual(JSON.stringify(pairStepInputs({ ...input, consistencyUri: 's3://c' })), base);
  assert.notEqual(JSON.stringify(pairStepInputs({ ...input, config: withPairing({ strategies: [GOLD, MAJORITY] }) })), base);
  assert.notEqual(JSON.stringify(pairStepInputs({ ...input, config: withPairing({ hygiene: { dropIdenticalAfterTruncation: true, balanceGoldLevels: true } }) })), base);
  assert.notEqual(JSON.stringify(pairStepInputs({ ...input, config: { ...baseConfig, training: { ...baseConfig.training, maxLength: 64 } } })), base);
  assert.equal(JSON.stringify(pairStepInputs({ ...input })), base);
});

test('a per-iteration margin: each iteration pairs with its own margin; a plain margin leaves the hash inputs as they were', async () => {
  // Gold 5, samples 5 and 4: 1 away, a pair with margin 1 but none with margin 2.
  const inputs: Array<[number | null, Array<number | null>]> = [[5, [5, 4]]];
  const scheduled = withPairing({ strategies: [{ name: 'gold_margin', margin: [2, 1], maxPairsPerInput: 4 }] });
  const cases: Array<[number, number, number]> = [
    // iteration, margin used, pairs
    [1, 2, 0],
    [2, 1, 1],
    [3, 1, 1],
  ];
  for (const [iteration, margin, pairs] of cases) {
    const store = memoryStore();
    const uris = fixture(store, inputs);
    const { summary } = await curatePairs(store, { config: scheduled, runPrefixUri: 's3://b/run', iteration, ...uris });
    assert.equal(summary.pairs, pairs, `iteration ${iteration}`);
    const report = JSON.parse(writtenText(store, `s3://b/run/iter-${iteration}/pair/curation.json`)) as { settings: { strategies: Array<{ margin: number }> } };
    assert.equal(report.settings.strategies[0].margin, margin, `iteration ${iteration} records the margin it used`);
  }
  const input: PairInput = { config: scheduled, runPrefixUri: 's3://b/run', iteration: 1, requestsUri: 's3://r', judgmentsUri: 's3://j' };
  const hashed = (iteration: number) => JSON.stringify(pairStepInputs({ ...input, iteration }).pairing);
  assert.notEqual(hashed(1), hashed(2), 'the margin each iteration uses is in its hash inputs');
  assert.equal(hashed(2), hashed(3));
  // A plain margin: the hash inputs hold the config's pairing section unchanged (same step hashes as before).
  const plain: PairInput = { ...input, config: baseConfig };
  assert.deepEqual(pairStepInputs(plain).pairing, baseConfig.loop.pairing);
  assert.equal((pairStepInputs({ ...plain, iteration: 2 }).pairing as RunConfig['loop']['pairing']).strategies[0], baseConfig.loop.pairing.strategies[0], 'the same object');
});
