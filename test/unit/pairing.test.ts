import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../core/rng';
import { buildGoldMarginPairs, type PairableJudgment, type JudgmentGroup } from '../../core/pairing';

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
function pairKeys(result: ReturnType<typeof buildGoldMarginPairs>): string[] {
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
