/**
 * An evaluate-only run (`loop.iterations: 0`): the run workflow evaluates its starting judge on every suite
 * as iteration 0 and ends (its loop runs iterations 0..loop.iterations). Here: validation, `judgeloop
 * validate`, progress and the results text. The run itself is exercised on the real stack by
 * test/integration/seeds.test.ts (every seed run there is evaluate-only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { validateConfig } from '../../core/config/config';
import type { RunSummary } from '../../core/run/run-types';
import { renderRunReport } from '../../core/report/report-html';
import { describeConfig, loadConfigFile } from '../../cli/config-file';
import { formatProgressLine, formatResults, runFraction } from '../../cli/format';
import { changeLines, isEvaluateOnly } from '../../core/report/summary-tables';
import localConfig from '../../configs/local.json';

const ROOT = resolve(__dirname, '..', '..');

test('loop.iterations: 0 is valid (evaluate-only); negative, fractional and above 20 are not', () => {
  const cases: Array<[unknown, boolean]> = [
    [0, true],
    [1, true],
    [20, true],
    [-1, false],
    [21, false],
    [0.5, false],
  ];
  for (const [iterations, ok] of cases) {
    const r = validateConfig({ ...localConfig, loop: { ...localConfig.loop, iterations } });
    assert.equal(r.ok, ok, `iterations ${iterations}: ${JSON.stringify(!r.ok && r.problems)}`);
    if (!r.ok) assert.deepEqual(r.problems.map((p) => p.path), ['loop.iterations']);
  }
});

test('judgeloop validate says what an evaluate-only config does', async () => {
  const loaded = await loadConfigFile(resolve(ROOT, 'configs/local.json'));
  const r = validateConfig({ ...localConfig, loop: { ...localConfig.loop, iterations: 0 } });
  assert.ok(r.ok);
  const text = describeConfig({ ...loaded, config: r.config });
  assert.match(text, /loop: {5}0 iterations: evaluate-only \(the starting judge on every suite, as iteration 0\), seed 0/);
});

const rubricFree = { n: 20, parsed: 20, parseRate: 1, mae: 1.1, pearson: 0.31, spearman: 0.3, kendall: 0.25 };

const summary: RunSummary = {
  runId: 'eval-only',
  runName: 'local-demo',
  judgeName: 'tiny-judge',
  configHash: 'abc',
  runPrefixUri: 's3://judgeloop/runs/eval-only',
  datasets: [],
  iterations: [
    {
      iteration: 0,
      modelUri: 's3://judgeloop/runs/eval-only/data/seed-model',
      eval: {
        held: {
          kind: 'pointwise',
          exactAgreement: 0.25,
          ...rubricFree,
          ci: { resamples: 1000, confidence: 0.95, seed: 1, intervals: { exactAgreement: [0.1, 0.45], mae: [null, null], pearson: [null, null], spearman: [null, null], kendall: [null, null] } },
        },
        pairs: { kind: 'pairwise', n: 24, accuracy: 0.5625, ties: 3, unparseable: 0 },
      },
    },
  ],
  finalModelUri: 's3://judgeloop/runs/eval-only/data/seed-model',
};

test('the summary of an evaluate-only run: iteration 0\'s figures, no change lines, the usual sections', () => {
  assert.equal(isEvaluateOnly(summary), true);
  assert.equal(isEvaluateOnly({ iterations: [...summary.iterations, { ...summary.iterations[0], iteration: 1 }] }), false);
  assert.equal(isEvaluateOnly({ iterations: [] }), false);
  assert.deepEqual(changeLines(summary), ['held (pointwise) exact agreement: 25.0% [10.0, 45.0] (95% bootstrap interval)', 'pairs (pairwise) accuracy: 56.3%']);
  const text = formatResults(summary);
  assert.match(text, /the starting judge \(an evaluate-only run: loop\.iterations 0\):\n {2}held \(pointwise\) exact agreement: 25\.0%/);
  assert.doesNotMatch(text, /change vs iteration 0/);
  assert.match(text, /final model: s3:\/\/judgeloop\/runs\/eval-only\/data\/seed-model/);
  // The HTML report renders from the same summary.
  assert.match(renderRunReport(summary), /<html/i);
});

test('progress of an evaluate-only run: one step in all', () => {
  const progress = { runId: 'eval-only', iterations: 0, iteration: 0, step: 'evaluate' as const, childWorkflowId: null, completed: [] };
  assert.equal(runFraction(progress), 0);
  assert.equal(runFraction({ ...progress, completed: summary.iterations }), 1);
  assert.match(formatProgressLine(progress), /iteration 0\/0 \(seed judge\) · step evaluate/);
});
