/**
 * core/run/evaluation-detail.ts: the headline a suite's metrics keep in payloads, and the detail merged back
 * from report.json — kept where the summary has it, left out where report.json's shape does not fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EVALUATION_DETAIL_KEYS,
  evaluationHeadline,
  evaluationReportUris,
  mergeEvaluationDetail,
  withEvaluationDetail,
} from '../../core/run/evaluation-detail';
import type { PointwiseMetrics, RunSummary, SuiteMetrics } from '../../core/run/run-types';
import { realisticRunSummary } from '../fixtures/run-summary';

const groups = { by: 'subset', ungrouped: 0, metrics: { a: { n: 2, parsed: 2, parseRate: 1, exactAgreement: 0.5, mae: 0.5, pearson: null, spearman: null, kendall: null } } };
const diff = { diff: 0.5, low: 0, high: 1, pValue: 0.2 };
const vsIteration0 = { baseline: 0, n: 2, resamples: 10, confidence: 0.95, seed: 1, diffs: { exactAgreement: diff, mae: diff, pearson: diff, spearman: diff, kendall: diff } };
const confusion = { levels: [1, 2], counts: [[1, 0], [0, 1]], unparseable: [0, 0] };

function pointwise(extra: Partial<PointwiseMetrics> = {}): PointwiseMetrics {
  return { kind: 'pointwise', n: 2, parsed: 2, parseRate: 1, exactAgreement: 1, mae: 0, pearson: 1, spearman: 1, kendall: 1, reportUri: 's3://b/r/iter-1/evaluate/metrics/report.json', ...extra };
}

test('evaluationHeadline leaves out every detail field and keeps the rest, in order', () => {
  const full = pointwise({ confusion, groups, vsIteration0, scoreDistribution: null, goldColumns: {}, baselines: { samples: 2, temperature: 1, metrics: {} } });
  const headline = evaluationHeadline(full);
  assert.deepEqual(Object.keys(headline), Object.keys(pointwise()));
  for (const key of EVALUATION_DETAIL_KEYS) assert.equal(key in headline, false, key);
  assert.equal('confusion' in full, true, 'the input is not changed');
});

const cases: Array<{ name: string; metrics: SuiteMetrics; reported: unknown; expected: SuiteMetrics }> = [
  { name: 'detail merged back', metrics: pointwise(), reported: pointwise({ groups, vsIteration0, confusion }), expected: pointwise({ groups, vsIteration0, confusion }) },
  { name: 'a null matrix is a value (off the scale), merged', metrics: pointwise(), reported: pointwise({ confusion: null }), expected: pointwise({ confusion: null }) },
  { name: "the summary's own detail wins", metrics: pointwise({ groups }), reported: pointwise({ groups: { ...groups, ungrouped: 9 } }), expected: pointwise({ groups }) },
  { name: "the summary's headline wins (rounded there, full precision in report.json)", metrics: pointwise({ exactAgreement: 0.6667 }), reported: pointwise({ exactAgreement: 2 / 3, groups }), expected: pointwise({ exactAgreement: 0.6667, groups }) },
  { name: 'another kind adds nothing', metrics: pointwise(), reported: { kind: 'pairwise', groups }, expected: pointwise() },
  { name: 'a field of the wrong shape is left out', metrics: pointwise(), reported: pointwise({ groups: { by: 'subset' } as never, confusion: { levels: [1], counts: 'x', unparseable: [] } as never, vsIteration0 }), expected: pointwise({ vsIteration0 }) },
  { name: 'a field that is not detail is not taken', metrics: pointwise(), reported: { ...pointwise(), ownParseRate: 0.5, extra: 1 }, expected: pointwise() },
  { name: 'no entry', metrics: pointwise(), reported: undefined, expected: pointwise() },
];

for (const c of cases) {
  test(`mergeEvaluationDetail: ${c.name}`, () => {
    assert.deepEqual(mergeEvaluationDetail(c.metrics, c.reported), c.expected);
  });
}

test('withEvaluationDetail: each suite from the report.json its reportUri names; an unread file leaves its suites as they are', () => {
  const full = realisticRunSummary();
  const headlines: RunSummary = { ...full, iterations: full.iterations.map((it) => ({ ...it, eval: Object.fromEntries(Object.entries(it.eval).map(([k, m]) => [k, evaluationHeadline(m)])) })) };
  const uris = evaluationReportUris(headlines);
  assert.equal(uris.length, full.iterations.length, 'one report.json per iteration');
  const reports = new Map(full.iterations.map((it, i) => [uris[i], { suites: it.eval }]));
  assert.deepEqual(withEvaluationDetail(headlines, reports), full);
  reports.delete(uris[1]);
  const partial = withEvaluationDetail(headlines, reports);
  assert.deepEqual(partial.iterations[1], headlines.iterations[1]);
  assert.deepEqual(partial.iterations[0], full.iterations[0]);
});
