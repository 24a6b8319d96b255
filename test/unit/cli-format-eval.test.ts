import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baselinesTable, diffPoints, evaluationSections, groupsTable, numCI, pctCI, rewardBenchTable, suiteDetailTable } from '../../core/report/evaluation-tables';
import { pairwiseReport, pointwiseReport, type PairItem, type PointwiseItem } from '../../core/evaluation/suite-report';
import type { RunSummary, SuiteMetrics } from '../../core/run/run-types';

test('interval and difference cells', () => {
  const cases: Array<[string, string]> = [
    [pctCI(0.375, [0.281, 0.47]), '37.5 [28.1, 47.0]'],
    [pctCI(0.375, undefined), '37.5'],
    [pctCI(0.375, [null, 0.4]), '37.5'],
    [pctCI(null, [0.1, 0.2]), '—'],
    [numCI(0.4123, [0.2, 0.58]), '0.412 [0.200, 0.580]'],
    [diffPoints({ diff: 0.12, low: 0.04, high: 0.2, pValue: 0.004 }), '+12.0 [+4.0, +20.0] p=0.004'],
    [diffPoints({ diff: -0.05, low: null, high: null, pValue: null }), '-5.0'],
    [diffPoints({ diff: null, low: null, high: null, pValue: null }), '—'],
    [diffPoints(undefined), '—'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

const bootstrap = { resamples: 100, confidence: 0.95, seed: 1 };
const b = (x: number | null) => ({ one_sample: x, self_consistency: x, mean_of_n: x, best_of_n: x });

function summary(): RunSummary {
  const before: PointwiseItem[] = [
    { key: 'a', score: 1, gold: 3, group: 'x', baselines: b(1) },
    { key: 'b', score: 2, gold: 2, group: 'y', baselines: b(2) },
    { key: 'c', score: 4, gold: 5, group: 'y', baselines: b(5) },
  ];
  const after: PointwiseItem[] = before.map((i) => ({ ...i, score: i.gold }));
  const pairs: PairItem[] = [{ key: 'p', chosen: 3, rejected: 1, group: 'alpacaeval-easy' }];
  const opts = { scale: { min: 1, max: 5 }, groupBy: 'meta.capability', bootstrap, baselines: { samples: 4, temperature: 1 } };
  const pw = (items: PairItem[], i0?: PairItem[]): SuiteMetrics => {
    const r = pairwiseReport(items, { groupBy: 'subset', bootstrap, rewardbench: true, ...(i0 ? { iteration0: i0 } : {}) });
    const { figures, ...extras } = r;
    return { kind: 'pairwise', ...figures, ...extras };
  };
  return {
    runId: 'r',
    runName: 'n',
    judgeName: 'j',
    configHash: 'h',
    runPrefixUri: 's3://b/r',
    datasets: [],
    finalModelUri: 's3://b/m',
    iterations: [
      { iteration: 0, modelUri: 'm0', eval: { held: pointwiseReport(before, opts).metrics, rb: pw(pairs) } },
      { iteration: 1, modelUri: 'm1', eval: { held: pointwiseReport(after, { ...opts, iteration0: before }).metrics, rb: pw(pairs, pairs) } },
    ],
  };
}

test('suite detail table: a row per iteration with n, intervals and the paired change vs iteration 0', () => {
  const t = suiteDetailTable(summary(), 'held', 'pointwise');
  assert.equal(t.rows.length, 3, 'two iterations, then chance');
  assert.deepEqual(t.rows.slice(0, 2).map((r) => r.slice(0, 3)), [['0', '3', '3'], ['1', '3', '3']]);
  // Chance: gold 3, 2, 5 has no most common level, so the lowest, 2: one in three right, MAE (1 + 0 + 3) / 3.
  assert.deepEqual(t.rows[2], ['chance (always 2)', '—', '—', '33.3', '—', '—', '—', '1.333', '—', '—']);
  assert.match(t.rows[0][3], /^33\.3 \[/);
  assert.equal(t.rows[0][8], '—', 'iteration 0 has no change vs itself');
  assert.match(t.rows[1][8], /^\+66\.7 \[.*\] p=/);
  const p = suiteDetailTable(summary(), 'rb', 'pairwise');
  assert.deepEqual(p.rows[1].slice(0, 2), ['1', '1']);
  assert.match(p.rows[1][7], /^\+0\.0/);
  assert.deepEqual(p.rows[p.rows.length - 1].slice(0, 3), ['chance (all ties)', '—', '50.0']);
});

test('baselines, groups and RewardBench tables', () => {
  const s = summary();
  const bl = baselinesTable(s, 'held')!;
  assert.equal(bl.samples, 4);
  assert.deepEqual(bl.table.rows.map((r) => r[0]), ['greedy (the judge)', 'one sample', 'self-consistency (mode of N)', 'mean of N', 'best-of-N (logprob)']);
  assert.match(bl.table.rows[1][1], /^66\.7 \[/, 'one sample at iteration 0: 1, 2, 5 against gold 3, 2, 5');
  assert.equal(baselinesTable(s, 'rb'), null, 'no baselines on that suite');
  const g = groupsTable(s, 'held')!;
  assert.equal(g.by, 'meta.capability');
  assert.deepEqual(g.table.rows.map((r) => [r[0], r[1]]), [['x', '1'], ['y', '2']]);
  const rb = rewardBenchTable(s, 'rb')!;
  assert.deepEqual(rb.rows[0], ['0', '100.0*', '—', '—', '—', '—', 'no (22 subsets missing)']);
  const text = evaluationSections(s).join('\n');
  assert.match(text, /held \(pointwise\) — 95% bootstrap intervals/);
  assert.match(text, /inference-time baselines \(N = 4 samples at temperature 1\)/);
  assert.match(text, /per group \(meta\.capability\)/);
  assert.match(text, /RewardBench roll-up/);
});
