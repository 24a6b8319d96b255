import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairwiseReport, pointwiseReport, type PairItem, type PointwiseItem } from '../../core/evaluation/suite-report';
import type { BaselineScores } from '../../core/evaluation/baselines';

const bootstrap = { resamples: 200, confidence: 0.9, seed: 7 };
const scale = { min: 1, max: 5 };
const b = (one: number | null, sc: number | null, mean: number | null, best: number | null): BaselineScores => ({
  one_sample: one,
  self_consistency: sc,
  mean_of_n: mean,
  best_of_n: best,
});

/**
 * Four items: greedy scores 3, 4, null, 2 against gold 3, 5, 1, 2 → exact agreement 2/4, parsed 3,
 * MAE (0 + 1 + 0) / 3. Groups: a = {i1, i2}, b = {i3}; i4 has none.
 */
const items: PointwiseItem[] = [
  { key: 'i1', score: 3, gold: 3, group: 'a', golds: { human: 4 }, baselines: b(2, 3, 3.5, 3) },
  { key: 'i2', score: 4, gold: 5, group: 'a', golds: { human: 5 }, baselines: b(5, 5, 4.5, 4) },
  { key: 'i3', score: null, gold: 1, group: 'b', baselines: b(null, 1, 1.25, null) },
  { key: 'i4', score: 2, gold: 2, baselines: b(2, 2, 2.4, 2) },
];

test('pointwiseReport: headline, groups, gold columns, matrices (hand-computed)', () => {
  const { metrics, detail } = pointwiseReport(items, { scale, groupBy: 'meta.capability', bootstrap: undefined });
  assert.equal(metrics.n, 4);
  assert.equal(metrics.parsed, 3);
  assert.equal(metrics.exactAgreement, 0.5);
  assert.ok(Math.abs(metrics.mae! - 1 / 3) < 1e-12);
  assert.equal(metrics.ci, undefined, 'no intervals when bootstrap is off');
  assert.deepEqual(Object.keys(metrics.groups!.metrics), ['a', 'b']);
  assert.equal(metrics.groups!.by, 'meta.capability');
  assert.equal(metrics.groups!.ungrouped, 1);
  assert.deepEqual(
    { n: metrics.groups!.metrics.a.n, agree: metrics.groups!.metrics.a.exactAgreement, mae: metrics.groups!.metrics.a.mae },
    { n: 2, agree: 0.5, mae: 0.5 },
  );
  assert.deepEqual({ n: metrics.groups!.metrics.b.n, parsed: metrics.groups!.metrics.b.parsed, pearson: metrics.groups!.metrics.b.pearson }, { n: 1, parsed: 0, pearson: null });
  // human: i1 (3 vs 4), i2 (4 vs 5): agreement 0, MAE 1, Pearson of (3,4) vs (4,5) = 1.
  assert.deepEqual(
    { n: metrics.goldColumns!.human.n, agree: metrics.goldColumns!.human.exactAgreement, mae: metrics.goldColumns!.human.mae, r: metrics.goldColumns!.human.pearson },
    { n: 2, agree: 0, mae: 1, r: 1 },
  );
  // Confusion (gold rows x score columns): (3,3), (5,4), (2,2); gold 1 unparseable.
  assert.deepEqual(metrics.confusion!.counts[2], [0, 0, 1, 0, 0]);
  assert.deepEqual(metrics.confusion!.counts[4], [0, 0, 0, 1, 0]);
  assert.deepEqual(metrics.confusion!.unparseable, [1, 0, 0, 0, 0]);
  assert.deepEqual(metrics.scoreDistribution, { levels: [1, 2, 3, 4, 5], counts: [0, 1, 1, 1, 0], unparseable: 1 });
  assert.deepEqual(detail.goldColumns, ['gold', 'human']);
  assert.equal(metrics.baselines, undefined, 'baselines only when asked for');
});

test('pointwiseReport: baselines beside greedy (hand-computed)', () => {
  const { metrics } = pointwiseReport(items, { scale, groupBy: 'meta.capability', bootstrap, baselines: { samples: 4, temperature: 1 } });
  const m = metrics.baselines!.metrics;
  assert.deepEqual(Object.keys(m), ['greedy', 'one_sample', 'self_consistency', 'mean_of_n', 'best_of_n']);
  assert.equal(metrics.baselines!.samples, 4);
  assert.equal(m.greedy.exactAgreement, metrics.exactAgreement);
  // one_sample 2,5,null,2 vs 3,5,1,2: agree 2/4, MAE (1+0+0)/3.
  assert.equal(m.one_sample.exactAgreement, 0.5);
  assert.ok(Math.abs(m.one_sample.mae! - 1 / 3) < 1e-12);
  // self_consistency 3,5,1,2: all agree.
  assert.equal(m.self_consistency.exactAgreement, 1);
  assert.equal(m.self_consistency.mae, 0);
  // mean_of_n 3.5,4.5,1.25,2.4 → rounded 4,5,1,2: agree 3/4; MAE on the raw means (0.5+0.5+0.25+0.4)/4.
  assert.equal(m.mean_of_n.exactAgreement, 0.75);
  assert.ok(Math.abs(m.mean_of_n.mae! - 1.65 / 4) < 1e-12);
  // best_of_n 3,4,null,2: agree 2/4.
  assert.equal(m.best_of_n.exactAgreement, 0.5);
  assert.equal(m.best_of_n.parsed, 3);
  for (const [name, f] of Object.entries(m)) {
    assert.ok(f.ci, `${name} has intervals`);
    const [low, high] = f.ci.intervals.exactAgreement;
    assert.ok(low !== null && high !== null && low <= f.exactAgreement + 1e-12 && f.exactAgreement <= high + 1e-12, `${name}: ${low} <= ${f.exactAgreement} <= ${high}`);
  }
});

test('pointwiseReport: paired comparison with iteration 0 on the items both judged', () => {
  const before: PointwiseItem[] = [
    { key: 'i1', score: 1, gold: 3 },
    { key: 'i2', score: 5, gold: 5 },
    { key: 'i4', score: 1, gold: 2 },
    { key: 'gone', score: 1, gold: 1 },
  ];
  const { metrics } = pointwiseReport(items, { scale, groupBy: 'meta.capability', bootstrap, iteration0: before });
  const cmp = metrics.vsIteration0!;
  assert.equal(cmp.n, 3, 'i1, i2, i4 are in both');
  assert.equal(cmp.baseline, 0);
  // Agreement on i1, i2, i4: before 1/3, now 2/3.
  assert.ok(Math.abs(cmp.diffs.exactAgreement.diff! - 1 / 3) < 1e-12);
  const { low, high } = cmp.diffs.exactAgreement;
  assert.ok(low !== null && high !== null && low <= high);
  assert.ok(cmp.diffs.exactAgreement.pValue !== null && cmp.diffs.exactAgreement.pValue >= 0 && cmp.diffs.exactAgreement.pValue <= 1);
  assert.deepEqual(pointwiseReport(items, { scale, groupBy: 'x', bootstrap, iteration0: before }).metrics.vsIteration0, cmp, 'seeded: deterministic');
});

test('pairwiseReport: accuracy per group, baselines, RewardBench roll-up and paired comparison (hand-computed)', () => {
  const none = b(null, null, null, null);
  const pairs: PairItem[] = [
    { key: 'p1', chosen: 5, rejected: 2, group: 'alpacaeval-easy', baselines: { chosen: b(4, 4, 4.5, 4), rejected: b(4, 2, 2.5, 1) } },
    { key: 'p2', chosen: 3, rejected: 3, group: 'alpacaeval-easy', baselines: { chosen: b(1, 3, 3, 3), rejected: b(2, 3, 3, 2) } },
    { key: 'p3', chosen: 1, rejected: 4, group: 'mt-bench-hard', baselines: { chosen: none, rejected: b(1, 1, 1, 1) } },
    { key: 'p4', chosen: null, rejected: 2, group: 'mt-bench-hard', baselines: { chosen: b(5, 5, 5, 5), rejected: b(1, 1, 1, 1) } },
  ];
  const report = pairwiseReport(pairs, {
    groupBy: 'subset',
    bootstrap,
    rewardbench: true,
    baselines: { samples: 8, temperature: 1 },
    iteration0: [
      { key: 'p1', chosen: 1, rejected: 2 },
      { key: 'p2', chosen: 4, rejected: 3 },
    ],
  });
  // correct, tie, wrong, unparseable → (1 + 0.5 + 0 + 0.5) / 4.
  assert.equal(report.figures.accuracy, 0.5);
  assert.equal(report.figures.ties, 1);
  assert.equal(report.figures.unparseable, 1);
  assert.equal(report.groups!.metrics['alpacaeval-easy'].accuracy, 0.75);
  assert.equal(report.groups!.metrics['mt-bench-hard'].accuracy, 0.25);
  // One subset per category present: each present category's score over present is that subset's accuracy.
  const rb = report.rewardbench!;
  assert.equal(rb.complete, false);
  assert.equal(rb.overall, null, 'an incomplete file has no overall score');
  assert.equal(rb.categories.Chat.score, null);
  assert.equal(rb.categories.Chat.scoreOverPresent, 0.75);
  assert.equal(rb.categories['Chat Hard'].scoreOverPresent, 0.25);
  assert.equal(rb.categories.Safety.scoreOverPresent, null);
  // Baselines: one_sample tie, wrong, unparseable, correct → 0.5; self_consistency correct, tie, unparseable, correct → 0.75.
  assert.equal(report.baselines!.metrics.one_sample.accuracy, 0.5);
  assert.equal(report.baselines!.metrics.self_consistency.accuracy, 0.75);
  // mean_of_n: correct, tie, unparseable, correct → 0.75; best_of_n: correct, correct (3 > 2), unparseable, correct → 0.875.
  assert.equal(report.baselines!.metrics.mean_of_n.accuracy, 0.75);
  assert.equal(report.baselines!.metrics.best_of_n.accuracy, 0.875);
  // vs iteration 0 on p1, p2: before wrong + correct = 0.5, now correct + tie = 0.75.
  assert.equal(report.vsIteration0!.n, 2);
  assert.equal(report.vsIteration0!.diffs.accuracy.diff, 0.25);
});

test('pairwiseReport: no group field anywhere → no groups and no roll-up', () => {
  const report = pairwiseReport([{ key: 'p', chosen: 2, rejected: 1 }], { groupBy: 'subset', bootstrap: undefined, rewardbench: true });
  assert.equal(report.groups, undefined);
  assert.equal(report.rewardbench, undefined);
  assert.equal(report.figures.accuracy, 1);
});
