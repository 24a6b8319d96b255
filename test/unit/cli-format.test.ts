import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { IterationSummary, PointwiseMetrics, RunProgress, RunSummary } from '../../core/run/run-types';
import { ProgressRenderer } from '../../cli/follow';
import { formatFailureChain, formatIterationDone, formatProgressLine, progressBar, runFraction, formatResults, formatRetrying, retryingActivities } from '../../cli/format';
import { NONE, changeLines, formatDuration, pct, points, renderTable, resultsTable, sampleParseCell, warmStartLine, suitesOf, curationTable } from '../../core/report/summary-tables';

function iteration(i: number, overrides: Partial<IterationSummary> = {}): IterationSummary {
  return {
    iteration: i,
    modelUri: `s3://judgeloop/runs/r1/iter-${i}/train/model`,
    eval: {},
    ...overrides,
  };
}

const summary: RunSummary = {
  runId: 'judgeloop-local-20250101-000000',
  runName: 'local',
  judgeName: 'tiny-judge',
  configHash: 'abc123',
  runPrefixUri: 's3://judgeloop/runs/judgeloop-local-20250101-000000',
  datasets: [
    { name: 'train', uri: 's3://judgeloop/x/train', rows: 400, quarantined: 0, quarantineUri: 's3://q/train' },
    { name: 'synthetic', uri: 's3://judgeloop/x/syn', rows: 98, quarantined: 2, quarantineUri: 's3://q/syn' },
  ],
  iterations: [
    // deliberately out of order: the table sorts by iteration
    iteration(1, {
      sample: { inputs: 64, judgments: 256, parsed: 250, parseRate: 250 / 256, agreementWithGold: 0.2, uri: 's3://s/1' },
      pairs: { pairs: 812, inputsWithPair: 60, inputsWithoutPair: 4, uri: 's3://p/1' },
      train: {
        modelUri: 's3://m/1',
        steps: 100,
        finalLoss: 0.68123,
        finalRewardAccuracy: 0.7,
        finalRewardMargin: 0.1,
        metricsUri: 's3://m/1/metrics.jsonl',
        adopted: false,
      },
      eval: {
        synthetic: {
          kind: 'pointwise',
          n: 100,
          parsed: 100,
          parseRate: 1,
          exactAgreement: 0.29,
          mae: 0.91,
          pearson: 0.4123,
          spearman: 0.39876,
          kendall: 0.3,
        },
        llmbar: { kind: 'pairwise', n: 40, accuracy: 0.55, ties: 2, unparseable: 0 },
      },
    }),
    iteration(0, {
      eval: {
        synthetic: {
          kind: 'pointwise',
          n: 100,
          parsed: 97,
          parseRate: 0.97,
          exactAgreement: 0.13,
          mae: 1.4,
          pearson: null,
          spearman: -0.00001,
          kendall: null,
        },
        llmbar: { kind: 'pairwise', n: 40, accuracy: 0.5, ties: 10, unparseable: 3 },
      },
    }),
    iteration(2, {
      sample: { inputs: 64, judgments: 256, parsed: 256, parseRate: 1, agreementWithGold: 0.3, uri: 's3://s/2' },
      pairs: { pairs: 97, inputsWithPair: 30, inputsWithoutPair: 34, uri: 's3://p/2' },
      train: {
        modelUri: 's3://m/2',
        steps: 10,
        finalLoss: null,
        finalRewardAccuracy: null,
        finalRewardMargin: null,
        metricsUri: 's3://m/2/metrics.jsonl',
        adopted: true,
      },
      eval: {
        synthetic: {
          kind: 'pointwise',
          n: 100,
          parsed: 100,
          parseRate: 1,
          exactAgreement: 0.375,
          mae: 0.7,
          pearson: 0.61,
          spearman: 0.6,
          kendall: 0.5,
        },
        llmbar: { kind: 'pairwise', n: 40, accuracy: 0.475, ties: 1, unparseable: 0 },
      },
    }),
  ],
  finalModelUri: 's3://judgeloop/runs/judgeloop-local-20250101-000000/iter-2/train/model',
};

test('suites are listed in order of first appearance, with their kind', () => {
  assert.deepEqual(suitesOf(summary), [
    { name: 'synthetic', kind: 'pointwise' },
    { name: 'llmbar', kind: 'pairwise' },
  ]);
});

test('results table: header and exact cells, one row per iteration sorted, null as —', () => {
  const t = resultsTable(summary);
  assert.deepEqual(t.header, [
    'iteration',
    'pairs',
    'sample parse %',
    'train loss',
    'exact %',
    'pearson',
    'spearman',
    'kendall',
    'MAE',
    'n',
    'accuracy %',
    'n',
  ]);
  assert.deepEqual(t.groups, [
    { label: '', span: 4 },
    { label: 'synthetic (pointwise)', span: 6 },
    { label: 'llmbar (pairwise)', span: 2 },
  ]);
  assert.deepEqual(t.rows, [
    ['0', NONE, NONE, NONE, '13.0', NONE, '0.000', NONE, '1.400', '100', '50.0', '40'],
    ['1', '812', '97.7', '0.6812', '29.0', '0.412', '0.399', '0.300', '0.910', '100', '55.0', '40'],
    ['2', '97', '100.0', NONE, '37.5', '0.610', '0.600', '0.500', '0.700', '100', '47.5', '40'],
  ]);
});

test('a suite missing from an iteration shows — in all its cells', () => {
  const s: RunSummary = {
    ...summary,
    iterations: [
      iteration(0, { eval: { llmbar: { kind: 'pairwise', n: 4, accuracy: 0.25, ties: 0, unparseable: 0 } } }),
      iteration(1, { eval: {} }),
    ],
  };
  assert.deepEqual(resultsTable(s).rows, [
    ['0', NONE, NONE, NONE, '25.0', '4'],
    ['1', NONE, NONE, NONE, NONE, NONE],
  ]);
  assert.deepEqual(changeLines(s), ['llmbar (pairwise) accuracy: — (no later iteration)']);
});

test('rendered table: aligned columns, group labels over their columns', () => {
  const text = renderTable(resultsTable(summary));
  assert.equal(
    text,
    [
      '                                              synthetic (pointwise)                            llmbar (pairwise)',
      'iteration  pairs  sample parse %  train loss  exact %  pearson  spearman  kendall    MAE    n  accuracy %      n',
      '---------  -----  --------------  ----------  -------  -------  --------  -------  -----  ---  ----------  -----',
      '        0      —               —           —     13.0        —     0.000        —  1.400  100        50.0     40',
      '        1    812            97.7      0.6812     29.0    0.412     0.399    0.300  0.910  100        55.0     40',
      '        2     97           100.0           —     37.5    0.610     0.600    0.500  0.700  100        47.5     40',
    ].join('\n'),
  );
});

test('renderTable left alignment and no groups', () => {
  assert.equal(
    renderTable({ header: ['a', 'bb'], rows: [['xyz', '1']], align: ['left', 'right'] }),
    ['a    bb', '---  --', 'xyz   1'].join('\n'),
  );
});

test('change vs iteration 0: main metric per suite, in points, against the last iteration', () => {
  assert.deepEqual(changeLines(summary), [
    'synthetic (pointwise) exact agreement: 13.0% → 37.5% (+24.5 points, iteration 0 → 2)',
    'llmbar (pairwise) accuracy: 50.0% → 47.5% (-2.5 points, iteration 0 → 2)',
  ]);
});

test('formatResults: header line, table, change lines, final model, quarantine note', () => {
  const text = formatResults(summary);
  const lines = text.split('\n');
  assert.equal(lines[0], 'run judgeloop-local-20250101-000000 · local · judge tiny-judge');
  assert.ok(text.includes(renderTable(resultsTable(summary))));
  assert.ok(lines.includes('change vs iteration 0:'));
  assert.ok(lines.includes('  synthetic (pointwise) exact agreement: 13.0% → 37.5% (+24.5 points, iteration 0 → 2)'));
  assert.ok(lines.includes('final model: s3://judgeloop/runs/judgeloop-local-20250101-000000/iter-2/train/model'));
  assert.ok(lines.includes('quarantined rows: synthetic 2/100 (s3://q/syn)'));
});

test('number helpers: percentages, signed points, no negative zero, non-finite as —', () => {
  assert.equal(pct(0.125), '12.5');
  assert.equal(pct(null), NONE);
  assert.equal(pct(Number.NaN), NONE);
  assert.equal(pct(-0.0001), '0.0');
  assert.equal(points(24.5), '+24.5');
  assert.equal(points(-2.5), '-2.5');
  assert.equal(points(-0.01), '+0.0');
  assert.equal(points(0), '+0.0');
});

test('progress line: seed iteration, child step detail, completed count', () => {
  const p: RunProgress = {
    runId: 'r',
    iterations: 2,
    iteration: 0,
    step: 'evaluate',
    childWorkflowId: null,
    completed: [],
  };
  assert.equal(formatProgressLine(p), '[░░░░░░░░░░░░░░░░░░░░]   0% · iteration 0/2 (seed judge) · step evaluate · 0 iterations finished');

  const p1: RunProgress = { ...p, iteration: 1, step: 'sample', childWorkflowId: 'r-iter-1', completed: [iteration(0)] };
  assert.equal(
    formatProgressLine(p1, { iteration: 1, step: 'train', stepsDone: ['sample', 'score', 'pair'] }),
    '[███████░░░░░░░░░░░░░]  36% · iteration 1/2 · step train · done: sample, score, pair · 1 iteration finished',
  );
  // A child reporting another iteration (stale) is ignored.
  assert.equal(
    formatProgressLine(p1, { iteration: 0, step: 'done', stepsDone: ['evaluate'] }),
    '[██░░░░░░░░░░░░░░░░░░]   9% · iteration 1/2 · step sample · 1 iteration finished',
  );
  assert.equal(formatProgressLine(p1, null), '[██░░░░░░░░░░░░░░░░░░]   9% · iteration 1/2 · step sample · 1 iteration finished');
  // The bar: 1 step for iteration 0, 5 per later iteration; done is full.
  assert.equal(runFraction({ ...p1, completed: [iteration(0), iteration(1)], iteration: 2 }, { iteration: 2, step: 'evaluate', stepsDone: ['sample', 'score', 'meta-judge', 'pair', 'train'] }), 10 / 11);
  assert.equal(runFraction({ ...p, step: 'done' }), 1);
  assert.equal(progressBar(0.5, 10), '[█████░░░░░]  50%');
  assert.equal(progressBar(Number.NaN, 4), '[░░░░]   0%');
});

test('iteration-done line', () => {
  const [one] = summary.iterations;
  assert.equal(
    formatIterationDone(one),
    'iteration 1 done: 812 pairs · train loss 0.6812 · synthetic 29.0% exact · llmbar 55.0% acc',
  );
  assert.equal(formatIterationDone(iteration(0)), 'iteration 0 (seed judge) done');
  const usage = { jobs: 1, seconds: 60, billableSeconds: 60, usd: 0, unpricedJobs: 1, byStep: {} };
  const reusing = (reused: string[], reusedSteps: string[]) => formatIterationDone({ ...iteration(0), usage: { ...usage, reused, reusedSteps } });
  assert.match(reusing(['a', 'b'], ['iter-0/evaluate/requests']), / · 2 jobs and 1 data step reused from an earlier run$/);
  assert.match(reusing(['a'], []), / · 1 job reused from an earlier run$/);
  assert.match(reusing([], ['x', 'y']), / · 2 data steps reused from an earlier run$/);
  assert.doesNotMatch(reusing([], []), /reused/);
});

test('durations', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(45_900), '45s');
  assert.equal(formatDuration(192_000), '3m12s');
  assert.equal(formatDuration(3_720_000), '1h02m');
  assert.equal(formatDuration(-5), '0s');
});

test('failure chain: cause of causes, outermost first, with types and multi-line messages', () => {
  const app = ApplicationFailure.create({
    message: 'train_dpo exited with code 1\nTraceback tail: CUDA out of memory',
    type: 'JobFailed',
    nonRetryable: true,
  });
  const activity = new ActivityFailure('Activity task failed', 'trainDpo', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', app);
  const child = new ChildWorkflowFailure(
    'default',
    { workflowId: 'run-iter-1', runId: 'abc' },
    'iterationWorkflow',
    RetryState.NON_RETRYABLE_FAILURE,
    activity,
  );
  const top = new WorkflowFailedError('Workflow execution failed', child, RetryState.NON_RETRYABLE_FAILURE);
  assert.equal(
    formatFailureChain(top),
    [
      'WorkflowFailedError: Workflow execution failed',
      '  caused by: ChildWorkflowFailure [workflow iterationWorkflow, id run-iter-1]: Child Workflow execution failed',
      '    caused by: ActivityFailure [activity trainDpo, id 7]: Activity task failed',
      '      caused by: ApplicationFailure [JobFailed, non-retryable]: train_dpo exited with code 1',
      '                 Traceback tail: CUDA out of memory',
    ].join('\n'),
  );
});

test('failure chain: plain errors, non-errors and cycles', () => {
  const a = new Error('outer', { cause: new Error('inner') });
  assert.equal(formatFailureChain(a), 'Error: outer\n  caused by: Error: inner');
  assert.equal(formatFailureChain('boom'), 'boom');
  const loop: Error & { cause?: unknown } = new Error('self');
  loop.cause = loop;
  assert.equal(formatFailureChain(loop), 'Error: self');
});

test('activities being retried: only attempts ≥ 2 with a failure, first line of the message', () => {
  const found = retryingActivities('run-1', [
    { activityId: '1', activityType: { name: 'prepareRun' }, attempt: 3, maximumAttempts: 6, lastFailure: { message: 'Could not load credentials\n  at x' } },
    { activityId: '2', activityType: { name: 'sampleShard' }, attempt: 1, maximumAttempts: 0, lastFailure: null },
    { activityId: '3', activityType: { name: 'trainDpo' }, attempt: 2, maximumAttempts: 0, lastFailure: null },
    { activityId: '4', activityType: { name: 'evaluate' }, attempt: 7, maximumAttempts: 0, lastFailure: { message: 'S3 timeout' } },
  ]);
  assert.deepEqual(found, [
    { workflowId: 'run-1', activityId: '1', activityType: 'prepareRun', attempt: 3, maximumAttempts: 6, message: 'Could not load credentials' },
    { workflowId: 'run-1', activityId: '4', activityType: 'evaluate', attempt: 7, maximumAttempts: 0, message: 'S3 timeout' },
  ]);
  assert.equal(formatRetrying(found[0]), 'retrying prepareRun (attempt 3/6): Could not load credentials');
  assert.equal(formatRetrying(found[1]), 'retrying evaluate (attempt 7): S3 timeout');
  assert.deepEqual(retryingActivities('x', undefined), []);
});

function recorder(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { stream: { isTTY, columns, write: (c: string) => chunks.push(c) }, chunks };
}

test('progress renderer, not a TTY: one line per change, elapsed shown but not counted as a change', () => {
  const r = recorder(false);
  const p = new ProgressRenderer(r.stream);
  p.update('iteration 0/2 · step prepare', '0s');
  p.update('iteration 0/2 · step prepare', '2s');
  p.update('iteration 0/2 · step evaluate', '4s');
  p.permanent('iteration 0 (seed judge) done');
  p.finish();
  assert.deepEqual(r.chunks, [
    '[0s] iteration 0/2 · step prepare\n',
    '[4s] iteration 0/2 · step evaluate\n',
    'iteration 0 (seed judge) done\n',
  ]);
});

test('progress renderer, TTY: one rewritten line, permanent lines above it, truncated to the width', () => {
  const r = recorder(true, 30);
  const p = new ProgressRenderer(r.stream);
  p.update('step prepare', '0s');
  p.update('a very long progress line that does not fit', '1s');
  p.permanent('done 0');
  p.finish();
  assert.deepEqual(r.chunks, [
    '\r\x1b[2Kstep prepare · 0s',
    '\r\x1b[2Ka very long progress line th…',
    '\r\x1b[2Kdone 0\na very long progress line th…',
    '\n',
  ]);
});

test('the curation section: one row per iteration with a curation headline, reasons largest first', () => {
  assert.equal(curationTable(summary), null, 'no curation headline, no section');
  assert.ok(!formatResults(summary).includes('pair curation'));
  const withCuration: RunSummary = {
    ...summary,
    iterations: [
      iteration(0),
      iteration(1, {
        pairs: {
          pairs: 40,
          inputsWithPair: 10,
          inputsWithoutPair: 6,
          uri: 's3://p/1',
          curation: {
            uri: 's3://p/1/curation.json',
            pairsByStrategy: { gold_margin: 30, majority_vote: 10 },
            droppedByReason: { balance: 2, length_difference: 5, inconsistent: 0 },
            withoutPairByReason: { no_correct: 4, no_rejected: 2 },
            parseFailureRate: 0.0125,
            sampleAgreement: { meanModalShare: 0.5, unanimousFraction: 0.1 },
            meanLengthDifference: -3.25,
          },
        },
      }),
    ],
  };
  const table = curationTable(withCuration)!;
  assert.deepEqual(table.rows, [['1', '1.3', '50.0', '10.0', 'gold_margin 30, majority_vote 10', 'length_difference 5, balance 2', 'no_correct 4, no_rejected 2', '-3.3']]);
  assert.ok(formatResults(withCuration).includes('pair curation (curation.json per iteration):\n' + renderTable(table)));
});

test('a pairwise suite with relative (A/B) metrics gets an A/B accuracy column; relative mode leaves the pointwise one —', () => {
  const relative = (accuracy: number) => ({
    n: 24,
    requests: 48,
    accuracy,
    positionConsistency: 0.5,
    unparseable: 0,
    preferA: 0.5,
    goldTies: 0,
    orderSeed: 123,
  });
  const s: RunSummary = {
    ...summary,
    iterations: [
      iteration(0, {
        eval: {
          plain: { kind: 'pairwise', n: 4, accuracy: 0.25, ties: 0, unparseable: 0 },
          both: { kind: 'pairwise', n: 24, accuracy: 0.5, ties: 3, unparseable: 0, mode: 'both', relative: relative(0.625) },
          rel: { kind: 'pairwise', n: 24, accuracy: 0.375, ties: 0, unparseable: 0, mode: 'relative', relative: relative(0.375) },
        },
      }),
      // Metrics recorded without the relative grading (e.g. an earlier run's): the A/B column shows —.
      iteration(1, { eval: { both: { kind: 'pairwise', n: 24, accuracy: 0.55, ties: 1, unparseable: 0 } } }),
    ],
  };
  assert.deepEqual(suitesOf(s), [
    { name: 'plain', kind: 'pairwise' },
    { name: 'both', kind: 'pairwise', relative: true },
    { name: 'rel', kind: 'pairwise', relative: true },
  ]);
  const t = resultsTable(s);
  assert.deepEqual(t.header, ['iteration', 'pairs', 'sample parse %', 'train loss', 'accuracy %', 'n', 'accuracy %', 'A/B acc %', 'n', 'accuracy %', 'A/B acc %', 'n']);
  assert.deepEqual(t.groups, [
    { label: '', span: 4 },
    { label: 'plain (pairwise)', span: 2 },
    { label: 'both (pairwise)', span: 3 },
    { label: 'rel (pairwise)', span: 3 },
  ]);
  assert.deepEqual(t.rows, [
    ['0', NONE, NONE, NONE, '25.0', '4', '50.0', '62.5', '24', NONE, '37.5', '24'],
    ['1', NONE, NONE, NONE, NONE, NONE, '55.0', NONE, '24', NONE, NONE, NONE],
  ]);
  // The change line keeps the suite's main metric (accuracy: in relative mode, the relative one).
  assert.deepEqual(changeLines(s).slice(1), ['both (pairwise) accuracy: 50.0% → 55.0% (+5.0 points, iteration 0 → 1)', 'rel (pairwise) accuracy: — (no later iteration)']);
});

test('change lines show the bootstrap intervals when the metrics carry them', () => {
  const withCi = (m: PointwiseMetrics, low: number, high: number): PointwiseMetrics => ({
    ...m,
    ci: {
      resamples: 1000,
      confidence: 0.95,
      seed: 1,
      intervals: { exactAgreement: [low, high], mae: [null, null], pearson: [null, null], spearman: [null, null], kendall: [null, null] },
    },
  });
  const its = summary.iterations.map((it) =>
    it.eval.synthetic?.kind === 'pointwise'
      ? { ...it, eval: { ...it.eval, synthetic: withCi(it.eval.synthetic, it.iteration === 0 ? 0.07 : 0.3, it.iteration === 0 ? 0.2 : 0.45) } }
      : it,
  );
  const lines = changeLines({ ...summary, iterations: its });
  assert.ok(
    lines.includes('synthetic (pointwise) exact agreement: 13.0% [7.0, 20.0] → 37.5% [30.0, 45.0] (+24.5 points, iteration 0 → 2; 95% bootstrap intervals in brackets)'),
    lines.join('\n'),
  );
  assert.ok(!changeLines(summary).some((l) => l.includes('bootstrap')), 'no intervals, no brackets');
});

test('sample parse cell: the judge\'s own parse rate, with what decoding forced beside it', () => {
  const base = { inputs: 10, judgments: 80, parsed: 80, parseRate: 1, agreementWithGold: null, uri: 's3://x' };
  const cases: Array<[Parameters<typeof sampleParseCell>[0], string]> = [
    [undefined, '—'],
    [base, '100.0'], // recorded before own rates
    [{ ...base, ownParseRate: 1, forcedMarkers: 0 }, '100.0'],
    [{ ...base, ownParseRate: 0.125, forcedMarkers: 70 }, '12.5 (+87.5 forced)'],
    [{ ...base, parsed: 20, parseRate: 0.25, ownParseRate: 0.25, forcedMarkers: 0 }, '25.0'],
  ];
  for (const [sample, want] of cases) assert.equal(sampleParseCell(sample), want);
});

test('warm start line: examples, rows left out, steps or reuse', () => {
  const w = { baseModelUri: 's3://b/seed', modelUri: 's3://b/ws/model', rows: 24, rowsWithoutReference: 2, examples: 22, examplesUri: 's3://b/ex', steps: 3, finalLoss: 1.23456, metricsUri: 's3://b/m', adopted: false };
  assert.equal(warmStartLine(w), "warm start (iteration 0's judge): SFT on 22 reference judgments from 24 rows (2 rows without one left out); 3 steps, final loss 1.2346 → s3://b/ws/model");
  assert.equal(warmStartLine({ ...w, rowsWithoutReference: 0, adopted: true }), "warm start (iteration 0's judge): SFT on 22 reference judgments from 24 rows; reused from an identical job → s3://b/ws/model");
  assert.match(formatResults({ ...summary, warmStart: w }), /\n\nwarm start \(iteration 0's judge\): SFT on 22/);
});
