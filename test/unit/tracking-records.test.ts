/** core/tracking/records.ts: what a run sends to MLflow, as pure functions of its config and summaries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MLFLOW_LIMITS,
  batches,
  configParams,
  experimentName,
  iterationMetrics,
  iterationTags,
  reportHtmlUri,
  runTags,
  trackerKey,
} from '../../core/tracking/records';
import { reportUris } from '../../core/report/report-html';
import { quoted } from '../../activities/tracking/mlflow-client';
import { trackingUriOf } from '../../activities/tracking/send-records';
import type { IterationSummary, PairwiseMetrics, PointwiseMetrics } from '../../core/run/run-types';

const metricsOf = (it: IterationSummary) => Object.fromEntries(iterationMetrics(it).map((m) => [m.key, m.value]));

test('configParams: one param per leaf, keyed by its path; arrays of objects by index, arrays of scalars as one value', () => {
  const cases: Array<[string, unknown, Record<string, string>]> = [
    ['nested objects', { training: { beta: 0.5, lora: { enabled: false } } }, { 'training.beta': '0.5', 'training.lora.enabled': 'false' }],
    ['strings stay as they are', { name: 'local-demo' }, { name: 'local-demo' }],
    ['arrays of objects, by index', { data: { evalSuites: [{ name: 'a' }, { name: 'b', role: 'test' }] } }, { 'data.evalSuites.0.name': 'a', 'data.evalSuites.1.name': 'b', 'data.evalSuites.1.role': 'test' }],
    ['arrays of scalars, as JSON', { evaluation: { gate: { suites: ['x', 'y'] } } }, { 'evaluation.gate.suites': '["x","y"]' }],
    ['null is a value, undefined is not', { a: null, b: undefined }, { a: 'null' }],
    ['keys MLflow refuses are made safe', { groups: { 'a(b),c': 1 } }, { 'groups.a_b__c': '1' }],
  ];
  for (const [name, config, want] of cases) {
    const params = configParams(config);
    assert.deepEqual(Object.fromEntries(params.map((p) => [p.key, p.value])), want, name);
    assert.deepEqual(params.map((p) => p.key), [...params.map((p) => p.key)].sort(), `${name}: sorted by key`);
  }
});

test('configParams: a value over MLflow\'s limit is cut and says so; every key fits', () => {
  const [param] = configParams({ judge: { template: 'x'.repeat(10_000) } });
  assert.ok(param.value.length <= MLFLOW_LIMITS.paramValue, `${param.value.length}`);
  assert.match(param.value, /… \(10000 characters, cut\)$/);
  assert.equal(trackerKey('k'.repeat(400)).length, MLFLOW_LIMITS.paramKey);
});

const pointwise: PointwiseMetrics = {
  kind: 'pointwise',
  n: 40,
  parsed: 38,
  parseRate: 0.95,
  ownParseRate: 0.9,
  exactAgreement: 0.5,
  mae: 0.7,
  pearson: 0.61,
  spearman: null,
  kendall: 0.4,
  ci: { resamples: 200, confidence: 0.95, seed: 0, intervals: { exactAgreement: [0.4, 0.6], mae: [0.5, 0.9], pearson: [0.5, null], spearman: [null, null], kendall: [0.3, 0.5] } },
  vsIteration0: {
    baseline: 0,
    n: 40,
    resamples: 200,
    confidence: 0.95,
    seed: 0,
    diffs: {
      exactAgreement: { diff: 0.1, low: 0.02, high: 0.18, pValue: 0.01 },
      mae: { diff: null, low: null, high: null, pValue: null },
      pearson: { diff: 0.05, low: -0.01, high: 0.1, pValue: 0.2 },
      spearman: { diff: null, low: null, high: null, pValue: null },
      kendall: { diff: 0.02, low: -0.03, high: 0.07, pValue: 0.4 },
    },
  },
};

const pairwise: PairwiseMetrics = {
  kind: 'pairwise',
  n: 24,
  accuracy: 0.625,
  ties: 3,
  unparseable: 1,
  ci: { resamples: 200, confidence: 0.95, seed: 0, intervals: { accuracy: [0.45, 0.8] } },
  relative: { n: 24, requests: 48, accuracy: 0.6, positionConsistency: 0.7, unparseable: 0, preferA: 0.55, goldTies: 0, orderSeed: 1 },
  rewardbench: { overall: 0.58, complete: false, categories: {}, missingSubsets: 2, unknownSubsets: [] },
};

const iteration1: IterationSummary = {
  iteration: 1,
  modelUri: 's3://b/runs/r/iter-1/train/job/model',
  sample: { inputs: 400, judgments: 3200, parsed: 3100, parseRate: 0.96875, agreementWithGold: 0.41, uri: 's3://x' },
  pairs: {
    pairs: 900,
    inputsWithPair: 300,
    inputsWithoutPair: 100,
    uri: 's3://x',
    curation: {
      uri: 's3://x',
      pairsByStrategy: { gold_margin: 900 },
      droppedByReason: { duplicate: 12 },
      withoutPairByReason: {},
      parseFailureRate: 0.03,
      sampleAgreement: { meanModalShare: null, unanimousFraction: null },
      meanLengthDifference: null,
    },
  },
  train: { modelUri: 's3://m', steps: 57, finalLoss: 0.41, finalRewardAccuracy: 0.8, finalRewardMargin: null, metricsUri: 's3://x', adopted: false },
  eval: { heldout: pointwise, 'llmbar-natural': pairwise },
  gate: { promote: true, reasons: ['better'], decidedBy: 'gate' },
  usage: {
    jobs: 3,
    seconds: 90,
    billableSeconds: 90,
    usd: 0.0225,
    unpricedJobs: 0,
    byStep: { train: { jobs: 1, seconds: 40, billableSeconds: 40, usd: 0.01, unpricedJobs: 0 } },
  },
};

test('iterationMetrics: each suite\'s figures with their intervals and their change from iteration 0; undefined figures are left out', () => {
  const m = metricsOf(iteration1);
  const expected: Record<string, number | undefined> = {
    'eval/heldout/exact_agreement': 0.5,
    'eval/heldout/exact_agreement_ci_low': 0.4,
    'eval/heldout/exact_agreement_ci_high': 0.6,
    'eval/heldout/exact_agreement_vs_iter0': 0.1,
    'eval/heldout/exact_agreement_vs_iter0_ci_low': 0.02,
    'eval/heldout/pearson_ci_low': 0.5,
    'eval/heldout/pearson_ci_high': undefined,
    'eval/heldout/spearman': undefined,
    'eval/heldout/mae_vs_iter0': undefined,
    'eval/heldout/parse_rate': 0.95,
    'eval/heldout/own_parse_rate': 0.9,
    'eval/llmbar-natural/accuracy': 0.625,
    'eval/llmbar-natural/accuracy_ci_high': 0.8,
    'eval/llmbar-natural/relative_accuracy': 0.6,
    'eval/llmbar-natural/position_consistency': 0.7,
    'eval/llmbar-natural/rewardbench_overall': 0.58,
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(m[key], value, key);
});

test('iterationMetrics: sampling, pair and parse counts, training, the gate, and time and estimated cost per step', () => {
  const m = metricsOf(iteration1);
  const expected: Record<string, number | undefined> = {
    'sample/judgments': 3200,
    'sample/parse_rate': 0.96875,
    'sample/agreement_with_gold': 0.41,
    'sample/own_parse_rate': undefined,
    'pairs/pairs': 900,
    'pairs/inputs_without_pair': 100,
    'pairs/by_strategy/gold_margin': 900,
    'pairs/dropped/duplicate': 12,
    'pairs/parse_failure_rate': 0.03,
    'train/steps': 57,
    'train/final_loss': 0.41,
    'train/final_reward_margin': undefined,
    'gate/promoted': 1,
    'usage/seconds': 90,
    'usage/est_usd': 0.0225,
    'usage/train/seconds': 40,
    'usage/train/est_usd': 0.01,
  };
  for (const [key, value] of Object.entries(expected)) assert.equal(m[key], value, key);
  const iteration0 = metricsOf({ iteration: 0, modelUri: 's3://seed', eval: { heldout: pointwise } });
  assert.equal(Object.keys(iteration0).some((k) => /^(sample|pairs|train|gate)\//.test(k)), false, 'iteration 0 only evaluates');
  assert.ok(iterationMetrics(iteration1).every((x) => Number.isFinite(x.value)));
});

test('tags: the run and each iteration are found by their tags and link to the artifacts and the report', () => {
  const facts = { runId: 'local-demo-1', runName: 'local-demo', judgeName: 'tiny', configHash: 'abc', runPrefixUri: 's3://judgeloop/runs/local-demo-1/' };
  const run = runTags(facts);
  assert.equal(run['judgeloop.run_id'], 'local-demo-1');
  assert.equal(run['judgeloop.kind'], 'run');
  assert.equal(run['mlflow.runName'], 'local-demo-1');
  assert.equal(run['judgeloop.report'], reportUris(facts.runPrefixUri).htmlUri, 'the report step\'s own location');
  assert.equal(reportHtmlUri(facts.runPrefixUri), 's3://judgeloop/runs/local-demo-1/report/report.html');
  assert.match(run['mlflow.note.content'], /judgeloop report local-demo-1/);
  const it = iterationTags(facts, 1, iteration1);
  assert.deepEqual(
    { kind: it['judgeloop.kind'], iteration: it['judgeloop.iteration'], name: it['mlflow.runName'], summary: it['judgeloop.summary'], promoted: it['judgeloop.promoted'] },
    { kind: 'iteration', iteration: '1', name: 'iteration-1', summary: 's3://judgeloop/runs/local-demo-1/iter-1/summary.json', promoted: 'true' },
  );
  assert.equal(iterationTags(facts, 2)['judgeloop.model'], undefined, 'an iteration not yet summarised has only its identity');
});

test('experimentName, trackingUriOf: the config\'s own, else the defaults', () => {
  const judge = { name: 'tiny' } as never;
  assert.equal(experimentName({ judge, tracking: undefined }), 'judgeloop/tiny');
  assert.equal(experimentName({ judge, tracking: { mlflow: { experiment: 'team/judges', trainingCurves: true, requestTimeoutSeconds: 10 } } }), 'team/judges');
  const cases: Array<[string | undefined, string | undefined, string | null]> = [
    ['http://mlflow:5000', 'http://env:5000', 'http://mlflow:5000'],
    [undefined, 'http://env:5000', 'http://env:5000'],
    [undefined, '  ', null],
    [undefined, undefined, null],
  ];
  for (const [configured, env, want] of cases) {
    const tracking = { mlflow: { trainingCurves: true, requestTimeoutSeconds: 10, ...(configured ? { trackingUri: configured } : {}) } };
    assert.equal(trackingUriOf({ tracking }, env === undefined ? {} : { MLFLOW_TRACKING_URI: env }), want, `${configured} / ${env}`);
  }
});

test('batches and quoted: MLflow\'s per-request limits and its filter syntax', () => {
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(batches([], 100), []);
  assert.equal(quoted("run-1"), "'run-1'");
  assert.equal(quoted("it's"), "'it\\'s'");
});
