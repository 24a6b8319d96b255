import { test } from 'node:test';
import assert from 'node:assert/strict';
import { close } from '../support/close';
import {
  REWARDBENCH_CATEGORIES,
  REWARDBENCH_ROWS,
  REWARDBENCH_SUBSETS,
  REWARDBENCH_WEIGHTS,
  rewardBenchRollup,
  type SubsetResult,
} from '../../core/evaluation/rewardbench';



/**
 * A complete RewardBench result with chosen accuracies. By hand, with the official weights:
 * - Chat: 100*0.9 + 95*0.8 + 95*1 + 28*0.5 + 40*0.75 = 90 + 76 + 95 + 14 + 30 = 305 over 358 -> 305/358.
 * - Chat Hard: 37*1 + 100*0.5 + 134*0.5 + 92*0.25 + 47*0 + 46*0.5 = 37 + 50 + 67 + 23 + 0 + 23 = 200 over
 *   456 -> 25/57.
 * - Safety: 100*0.8 + 100*0.6 + 154*0.4 (should-refuse) + 250*0.5 (should-respond) + 136*0.25
 *   = 80 + 60 + 61.6 + 125 + 34 = 360.6 over 740 -> 360.6/740.
 * - Reasoning: 984*0.5 (math-prm) + 6*164*1 = 492 + 984 = 1476 over 1968 -> 0.75.
 * - Overall: (305/358 + 25/57 + 360.6/740 + 3/4) / 4.
 */
const COMPLETE: Record<string, number> = {
  'alpacaeval-easy': 0.9,
  'alpacaeval-length': 0.8,
  'alpacaeval-hard': 1,
  'mt-bench-easy': 0.5,
  'mt-bench-med': 0.75,
  'mt-bench-hard': 1,
  'llmbar-natural': 0.5,
  'llmbar-adver-neighbor': 0.5,
  'llmbar-adver-GPTInst': 0.25,
  'llmbar-adver-GPTOut': 0,
  'llmbar-adver-manual': 0.5,
  'refusals-dangerous': 0.8,
  'refusals-offensive': 0.6,
  'xstest-should-refuse': 0.4,
  'xstest-should-respond': 0.5,
  donotanswer: 0.25,
  'math-prm': 0.5,
  'hep-cpp': 1,
  'hep-go': 1,
  'hep-java': 1,
  'hep-js': 1,
  'hep-python': 1,
  'hep-rust': 1,
};
const EXPECTED = { Chat: 305 / 358, 'Chat Hard': 25 / 57, Safety: 360.6 / 740, Reasoning: 0.75 };
const EXPECTED_OVERALL = (305 / 358 + 25 / 57 + 360.6 / 740 + 0.75) / 4;

test('the mapping and weights are upstream constants.py: 23 subsets, each in one category', () => {
  const all = REWARDBENCH_CATEGORIES.flatMap((c) => REWARDBENCH_SUBSETS[c]);
  assert.equal(all.length, 23);
  assert.equal(new Set(all).size, 23);
  assert.deepEqual([...all].sort(), Object.keys(REWARDBENCH_WEIGHTS).sort());
  assert.deepEqual(Object.keys(COMPLETE).sort(), [...all].sort());
  // Category weights: Chat 358, Chat Hard 456, Safety 740, Reasoning 984 + 984.
  const total = (c: (typeof REWARDBENCH_CATEGORIES)[number]) => REWARDBENCH_SUBSETS[c].reduce((a, s) => a + REWARDBENCH_WEIGHTS[s], 0);
  assert.deepEqual(REWARDBENCH_CATEGORIES.map(total), [358, 456, 740, 1968]);
  // math-prm weighs as much as the six hep subsets together; the filtered split holds 2,985 rows.
  assert.equal(REWARDBENCH_WEIGHTS['math-prm'], 6 * 164);
  assert.equal(Object.values(REWARDBENCH_ROWS).reduce((a, b) => a + b, 0), 2985);
});

test('complete set: exact category scores and overall', () => {
  const r = rewardBenchRollup(COMPLETE);
  for (const c of REWARDBENCH_CATEGORIES) {
    close(r.categories[c].score, EXPECTED[c], c);
    close(r.categories[c].scoreOverPresent, EXPECTED[c], `${c} over present`);
    assert.deepEqual(r.categories[c].missing, []);
    assert.deepEqual(r.categories[c].present, REWARDBENCH_SUBSETS[c]);
  }
  close(r.overall, EXPECTED_OVERALL, 'overall');
  assert.equal(r.complete, true);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.unknown, []);
  assert.deepEqual(r.rowCountMismatches, []);
  assert.deepEqual(r.subsets['math-prm'], { accuracy: 0.5, n: null, category: 'Reasoning', weight: 984 });
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'JSON-safe');
});

test('Reasoning weights math-prm as 984: math and code count equally', () => {
  // math-prm 0.2; hep 0.9, 0.8, 0.7, 0.6, 0.5, 0.4 (sum 3.9, mean 0.65).
  // (984*0.2 + 164*3.9) / 1968 = (196.8 + 639.6) / 1968 = 0.425 = (0.2 + 0.65) / 2.
  const hep = { 'hep-cpp': 0.9, 'hep-go': 0.8, 'hep-java': 0.7, 'hep-js': 0.6, 'hep-python': 0.5, 'hep-rust': 0.4 };
  const r = rewardBenchRollup({ ...COMPLETE, 'math-prm': 0.2, ...hep });
  close(r.categories.Reasoning.score, 0.425, 'Reasoning');
  // With math-prm's 447 rows as its weight it would be (447*0.2 + 639.6) / 1431 = 729/1431 ~ 0.509: not this.
  assert.ok(Math.abs(r.categories.Reasoning.score! - 729 / 1431) > 0.08);
  close(r.overall, (305 / 358 + 25 / 57 + 360.6 / 740 + 0.425) / 4, 'overall');
  // Given as counts over its real 447 rows, math-prm is still weighted 984 and is no row-count mismatch.
  const counts = rewardBenchRollup({ ...COMPLETE, 'math-prm': { correct: 89.5, n: 447 }, ...hep });
  close(counts.categories.Reasoning.score, (984 * (89.5 / 447) + 639.6) / 1968, 'Reasoning from counts');
  assert.deepEqual(counts.rowCountMismatches, []);
});

test('missing subsets: their categories are null and listed, never a silently re-weighted score', () => {
  const partial: Record<string, number> = { ...COMPLETE };
  delete partial['mt-bench-hard'];
  delete partial['hep-go'];
  const r = rewardBenchRollup(partial);
  close(r.categories.Chat.score, EXPECTED.Chat, 'Chat unaffected');
  close(r.categories.Safety.score, EXPECTED.Safety, 'Safety unaffected');
  assert.equal(r.categories['Chat Hard'].score, null);
  assert.equal(r.categories.Reasoning.score, null);
  assert.equal(r.overall, null);
  assert.equal(r.complete, false);
  assert.deepEqual(r.missing, ['mt-bench-hard', 'hep-go']);
  assert.deepEqual(r.categories['Chat Hard'].missing, ['mt-bench-hard']);
  assert.deepEqual(r.categories.Reasoning.missing, ['hep-go']);
  // What upstream would print instead, labelled as such: Chat Hard (200 - 37) / (456 - 37) = 163/419;
  // Reasoning (492 + 5*164) / (1968 - 164) = 1312/1804.
  close(r.categories['Chat Hard'].scoreOverPresent, 163 / 419, 'Chat Hard over present');
  close(r.categories.Reasoning.scoreOverPresent, 1312 / 1804, 'Reasoning over present');

  // LLMBar alone (this repository's shared data): only Chat Hard's five llmbar subsets.
  const llmbar = rewardBenchRollup({ 'llmbar-natural': 0.5, 'llmbar-adver-neighbor': 0.5, 'llmbar-adver-GPTInst': 0.25, 'llmbar-adver-GPTOut': 0, 'llmbar-adver-manual': 0.5 });
  for (const c of REWARDBENCH_CATEGORIES) assert.equal(llmbar.categories[c].score, null, c);
  assert.equal(llmbar.categories.Chat.scoreOverPresent, null);
  close(llmbar.categories['Chat Hard'].scoreOverPresent, 163 / 419, 'llmbar only');
  assert.equal(llmbar.missing.length, 18);

  const none = rewardBenchRollup({});
  assert.equal(none.overall, null);
  assert.equal(none.missing.length, 23);
});

test('unknown subset names are reported and count nowhere', () => {
  const r = rewardBenchRollup({ ...COMPLETE, anthropic_helpful: 0.1, 'Alpacaeval-Easy': 0 });
  assert.deepEqual(r.unknown, ['Alpacaeval-Easy', 'anthropic_helpful']);
  assert.equal(r.complete, true);
  close(r.overall, EXPECTED_OVERALL, 'overall unchanged');
  assert.deepEqual(r.subsets.anthropic_helpful, { accuracy: 0.1, n: null, category: null, weight: null });
});

test('counts and fractions agree; counts may carry half credit; row-count mismatches are flagged', () => {
  // n = 20 everywhere: correct = 20 x accuracy (0.9 -> 18, 0.75 -> 15, 0.25 -> 5 ...).
  const counts: Record<string, SubsetResult> = {};
  for (const [s, a] of Object.entries(COMPLETE)) counts[s] = { correct: 20 * a, n: 20 };
  const fromCounts = rewardBenchRollup(counts);
  const fromFractions = rewardBenchRollup(COMPLETE);
  for (const c of REWARDBENCH_CATEGORIES) close(fromCounts.categories[c].score, fromFractions.categories[c].score, c);
  close(fromCounts.overall, fromFractions.overall, 'overall');
  assert.equal(fromCounts.subsets['alpacaeval-easy'].n, 20);
  assert.equal(fromCounts.rowCountMismatches.length, 23, 'n = 20 is no subset row count');
  assert.deepEqual(fromCounts.rowCountMismatches[0], { subset: 'alpacaeval-easy', n: 20, expected: 100 });

  // Mixed forms, and a tie-bearing count: 2.5 of 5 is 0.5.
  const mixed = rewardBenchRollup({ ...COMPLETE, 'mt-bench-easy': { correct: 2.5, n: 5 }, 'alpacaeval-easy': { correct: 90, n: 100 } });
  close(mixed.categories.Chat.score, EXPECTED.Chat, 'mixed Chat');
  assert.deepEqual(mixed.rowCountMismatches, [{ subset: 'mt-bench-easy', n: 5, expected: 28 }]);
  // XSTest rows are 154 to refuse and 250 to answer.
  assert.deepEqual(rewardBenchRollup({ ...COMPLETE, 'xstest-should-refuse': { correct: 77, n: 154 } }).rowCountMismatches, []);
});

test('XSTest weights follow upstream since September 2024: should-refuse 154, should-respond 250', () => {
  assert.equal(REWARDBENCH_WEIGHTS['xstest-should-refuse'], 154);
  assert.equal(REWARDBENCH_WEIGHTS['xstest-should-respond'], 250);
  // A judge that refuses well but over-refuses: the pre-2024-09 table (250 refuse, 154 respond) would give
  // Safety (100 + 100 + 250 + 0 + 136) / 740 = 586/740; the current one (100 + 100 + 154 + 0 + 136) / 740.
  const overRefusing = {
    'refusals-dangerous': 1,
    'refusals-offensive': 1,
    'xstest-should-refuse': 1,
    'xstest-should-respond': 0,
    donotanswer: 1,
  };
  close(rewardBenchRollup(overRefusing).categories.Safety.score, 490 / 740, 'Safety');
});

test('invalid results throw', () => {
  const bad: Array<[SubsetResult, RegExp]> = [
    [1.5, /accuracy must be a number in \[0, 1\]/],
    [-0.1, /accuracy/],
    [NaN, /accuracy/],
    [{ correct: 3, n: 0 }, /n must be a positive integer/],
    [{ correct: 1, n: 2.5 }, /n must be a positive integer/],
    [{ correct: 6, n: 5 }, /correct must be/],
    [{ correct: 1.25, n: 5 }, /correct must be a multiple of 0.5/],
    [null as never, /expected an accuracy or \{correct, n\}/],
  ];
  for (const [value, re] of bad) assert.throws(() => rewardBenchRollup({ 'hep-go': value }), (e: unknown) => e instanceof RangeError && re.test(e.message) && /hep-go/.test(e.message));
});
