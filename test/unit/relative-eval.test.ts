/**
 * Relative (A/B) grading of pairwise suites: the seeded order, the metrics from verdict rows, the requests
 * and the parsed judgments of the evaluate step, and the config keys (data.evalSuites[].mode,
 * judge.pairwiseTemplate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { deriveSeed } from '../../core/common/rng';
import {
  pickedSide,
  relativeIntervals,
  relativeOrderSeed,
  relativeOrders,
  relativeResponses,
  relativeSuiteMetrics,
  type RelativeOrder,
  type RelativeVerdictRow,
} from '../../core/evaluation/relative';
import {
  buildRelativeRequest,
  createEvaluateActivities,
  pairwiseMetricsForMode,
  relativeJudgmentRow,
  suiteMode,
  type PairSides,
  type RelativeJudgment,
} from '../../activities/steps/evaluate';
import { loadTemplateFile } from '../../activities/steps/prompts';
import type { ActivityDeps } from '../../activities/context';
import type { ObjectStore } from '../../activities/storage/object-store';
import type { JobResult, JobRunner, JobSpec, JobUsage } from '../../activities/jobs/types';
import type { PreparedDataset } from '../../activities/steps/prepare';
import type { PairwiseMetrics, PointwiseMetrics, SuiteMetrics } from '../../core/run/run-types';
import localConfig from '../../configs/local.json';
import { memoryStore, type MemoryStore } from '../support/memory-store';

const ROOT = path.resolve(__dirname, '..', '..');

function configWith(suites: unknown[], judge: Record<string, unknown> = {}, baselineSamples = 0): ReturnType<typeof validateConfig> {
  return validateConfig({
    ...localConfig,
    // The inference-time baselines are off unless a test asks for them (their own test below).
    evaluation: { ...localConfig.evaluation, baselines: { samples: baselineSamples } },
    judge: { ...localConfig.judge, ...judge, decoding: { ...localConfig.judge.decoding, ...(judge.decoding as object | undefined) } },
    data: { ...localConfig.data, evalSuites: suites },
  });
}

function validConfig(suites: unknown[], judge: Record<string, unknown> = {}, baselineSamples = 0): RunConfig {
  const r = configWith(suites, judge, baselineSamples);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const llmbar = { name: 'llmbar', kind: 'pairwise', uri: 'datasets/bundled/llmbar-natural.first24.jsonl', adapter: 'llmbar' };
const heldout = { name: 'heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' };

// --- the seeded order ---------------------------------------------------------------------------------

test('the order seed comes from loop.seed and the suite; the order from it and the example id', () => {
  const seed = relativeOrderSeed(0, 'llmbar');
  assert.equal(seed, deriveSeed(0, 'evaluate-relative', 'llmbar'));
  assert.notEqual(seed, relativeOrderSeed(1, 'llmbar'), 'loop.seed matters');
  assert.notEqual(seed, relativeOrderSeed(0, 'other'), 'the suite matters');
  for (const id of ['a', 'b', 'ex-17', 'ünïcode']) {
    const orders = relativeOrders(seed, id);
    assert.deepEqual(orders, relativeOrders(seed, id), 'deterministic');
    assert.deepEqual([...orders].sort(), ['chosen_a', 'chosen_b'], 'both orders, once each');
  }
});

test('the seeded first order is roughly balanced and differs between seeds', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `ex-${i}`);
  const firsts = (seed: number) => ids.map((id) => relativeOrders(seed, id)[0]);
  const a = firsts(relativeOrderSeed(0, 'llmbar'));
  const chosenAFirst = a.filter((o) => o === 'chosen_a').length;
  assert.ok(chosenAFirst > 900 && chosenAFirst < 1100, `chosen_a first ${chosenAFirst} of 2000`);
  const b = firsts(relativeOrderSeed(1, 'llmbar'));
  const same = a.filter((o, i) => o === b[i]).length;
  assert.ok(same > 900 && same < 1100, `another seed is another coin (${same} of 2000 agree)`);
});

test('responses as A and B, and the response a verdict picks, per order', () => {
  const pair = { chosen: 'good', rejected: 'bad' };
  assert.deepEqual(relativeResponses(pair, 'chosen_a'), { response_a: 'good', response_b: 'bad' });
  assert.deepEqual(relativeResponses(pair, 'chosen_b'), { response_a: 'bad', response_b: 'good' });
  const cases: Array<[RelativeOrder, 'A' | 'B' | null, 'chosen' | 'rejected' | null]> = [
    ['chosen_a', 'A', 'chosen'],
    ['chosen_a', 'B', 'rejected'],
    ['chosen_b', 'A', 'rejected'],
    ['chosen_b', 'B', 'chosen'],
    ['chosen_a', null, null],
    ['chosen_b', null, null],
  ];
  for (const [order, verdict, picked] of cases) assert.equal(pickedSide(order, verdict), picked, `${order} ${verdict}`);
});

// --- metrics from verdict rows ------------------------------------------------------------------------

type V = 'A' | 'B' | null;
/** One pair's two rows: the verdict with chosen as A, and with chosen as B. */
function pair(id: string, chosenA: V, chosenB: V, goldTie = false): RelativeVerdictRow[] {
  const tie = goldTie ? { goldTie: true } : {};
  return [
    { exampleId: id, order: 'chosen_a', verdict: chosenA, ...tie },
    { exampleId: id, order: 'chosen_b', verdict: chosenB, ...tie },
  ];
}

const metricCases: Array<{
  name: string;
  rows: RelativeVerdictRow[];
  accuracy: number;
  positionConsistency: number | null;
  unparseable: number;
  preferA: number | null;
  goldTies?: number;
}> = [
  { name: 'correct in both orders', rows: pair('p', 'A', 'B'), accuracy: 1, positionConsistency: 1, unparseable: 0, preferA: 0.5 },
  { name: 'wrong in both orders', rows: pair('p', 'B', 'A'), accuracy: 0, positionConsistency: 1, unparseable: 0, preferA: 0.5 },
  { name: 'always A (position-inconsistent)', rows: pair('p', 'A', 'A'), accuracy: 0.5, positionConsistency: 0, unparseable: 0, preferA: 1 },
  { name: 'always B (position-inconsistent)', rows: pair('p', 'B', 'B'), accuracy: 0.5, positionConsistency: 0, unparseable: 0, preferA: 0 },
  { name: 'one unparseable, one correct', rows: pair('p', null, 'B'), accuracy: 0.75, positionConsistency: null, unparseable: 1, preferA: 0 },
  { name: 'one unparseable, one wrong', rows: pair('p', 'B', null), accuracy: 0.25, positionConsistency: null, unparseable: 1, preferA: 0 },
  { name: 'both unparseable', rows: pair('p', null, null), accuracy: 0.5, positionConsistency: null, unparseable: 2, preferA: null },
  { name: 'gold tie, same letter twice (no preference): right', rows: pair('t', 'A', 'A', true), accuracy: 1, positionConsistency: 0, unparseable: 0, preferA: 1, goldTies: 1 },
  { name: 'gold tie, same response twice (a preference): wrong', rows: pair('t', 'A', 'B', true), accuracy: 0, positionConsistency: 1, unparseable: 0, preferA: 0.5, goldTies: 1 },
  { name: 'gold tie, rejected twice: wrong', rows: pair('t', 'B', 'A', true), accuracy: 0, positionConsistency: 1, unparseable: 0, preferA: 0.5, goldTies: 1 },
  { name: 'gold tie with an unparseable verdict: half', rows: pair('t', 'B', null, true), accuracy: 0.5, positionConsistency: null, unparseable: 1, preferA: 0, goldTies: 1 },
  {
    name: 'a suite: correct, wrong, inconsistent, unparseable, gold tie',
    rows: [...pair('c', 'A', 'B'), ...pair('w', 'B', 'A'), ...pair('i', 'A', 'A'), ...pair('u', null, 'B'), ...pair('t', 'B', 'B', true)],
    // credits: 2 + 0 + 1 + 1.5 + 2 = 6.5 of 10 verdicts
    accuracy: 0.65,
    // both parsed: c, w, i, t → consistent c, w
    positionConsistency: 0.5,
    unparseable: 1,
    // parsed verdicts: A B B A A A B B B → 4 A of 9
    preferA: 4 / 9,
    goldTies: 1,
  },
];

for (const c of metricCases) {
  test(`relative metrics: ${c.name}`, () => {
    const m = relativeSuiteMetrics(c.rows, 42);
    const pairs = new Set(c.rows.map((r) => r.exampleId)).size;
    assert.equal(m.n, pairs);
    assert.equal(m.requests, 2 * pairs);
    assert.ok(Math.abs(m.accuracy - c.accuracy) < 1e-12, `accuracy ${m.accuracy}, expected ${c.accuracy}`);
    assert.equal(m.positionConsistency, c.positionConsistency);
    assert.equal(m.unparseable, c.unparseable);
    if (c.preferA === null) assert.equal(m.preferA, null);
    else assert.ok(m.preferA !== null && Math.abs(m.preferA - c.preferA) < 1e-12, `preferA ${m.preferA}`);
    assert.equal(m.goldTies, c.goldTies ?? 0);
    assert.equal(m.orderSeed, 42);
  });
}

test('relative metrics: row order is free; a missing order counts as unparseable; duplicates are refused', () => {
  const rows = [...pair('a', 'A', 'B'), ...pair('b', 'B', 'A')];
  assert.deepEqual(relativeSuiteMetrics([...rows].reverse(), 1), relativeSuiteMetrics(rows, 1));
  const missing = relativeSuiteMetrics([{ exampleId: 'a', order: 'chosen_b', verdict: 'B' }], 1);
  assert.deepEqual({ n: missing.n, requests: missing.requests, unparseable: missing.unparseable, accuracy: missing.accuracy }, {
    n: 1,
    requests: 2,
    unparseable: 1,
    accuracy: 0.75,
  });
  assert.throws(() => relativeSuiteMetrics([...pair('a', 'A', 'B'), { exampleId: 'a', order: 'chosen_a', verdict: 'B' }], 1), /two verdicts/);
  const empty = relativeSuiteMetrics([], 7);
  assert.deepEqual(empty, { n: 0, requests: 0, accuracy: 0, positionConsistency: null, unparseable: 0, preferA: null, goldTies: 0, orderSeed: 7 });
});

// --- the evaluate step's pure parts -------------------------------------------------------------------

test('relative requests: the pairwise template with chosen as A or as B, recorded order and hashes', async () => {
  const config = validConfig([{ ...llmbar, mode: 'both' }]);
  const template = await loadTemplateFile(ROOT, config.judge.pairwiseTemplate, 'pairwise', 'judge.pairwiseTemplate');
  const ex = { id: 'x1', instruction: 'Name a prime.', chosen: 'Seven.', rejected: 'Nine.', tie: true as const };
  const a = buildRelativeRequest(template, config, 'llmbar', ex, 'chosen_a', true);
  const b = buildRelativeRequest(template, config, 'llmbar', ex, 'chosen_b', false);
  assert.equal(a.request_id, 'llmbar::x1::chosen_a');
  assert.equal(b.request_id, 'llmbar::x1::chosen_b');
  assert.equal(a.relative_first, true);
  assert.equal(b.relative_first, false);
  assert.equal(a.gold_tie, true);
  assert.equal(a.template_hash, template.hash);
  assert.notEqual(a.prompt_hash, b.prompt_hash);
  const user = (r: typeof a) => r.messages.find((m) => m.role === 'user')?.content ?? '';
  assert.match(user(a), /### Response A\nSeven\.\n\n### Response B\nNine\./);
  assert.match(user(b), /### Response A\nNine\.\n\n### Response B\nSeven\./);
  assert.match(user(a), /\[RESULT\]/);
  assert.equal(buildRelativeRequest(template, config, 'llmbar', { ...ex, tie: undefined }, 'chosen_a', true).gold_tie, undefined);
});

test('relative judgments: the verdict parsed with the judge marker, and the response it picks', () => {
  const base = {
    request_id: 'llmbar::x1::chosen_b',
    example_id: 'x1',
    suite: 'llmbar',
    prompt_hash: 'p',
    template_hash: 't',
    relative_order: 'chosen_b' as const,
    relative_first: true,
    seed: 0,
  };
  const ok = relativeJudgmentRow({ ...base, text: 'B is right [RESULT] B' }, '[RESULT]', 's3://m');
  assert.deepEqual(
    { status: ok.status, verdict: ok.verdict, picked: ok.picked, rationale: ok.rationale, model: ok.model_id },
    { status: 'ok', verdict: 'B', picked: 'chosen', rationale: 'B is right', model: 's3://m' },
  );
  const bad = relativeJudgmentRow({ ...base, text: 'no verdict here', gold_tie: true }, '[RESULT]', 's3://m');
  assert.equal(bad.status, 'unparseable');
  assert.equal(bad.picked, null);
  assert.equal(bad.reason, 'no_marker');
  assert.equal(bad.gold_tie, true);
});

test('pairwise metrics per mode: pointwise as before, both adds relative, relative alone', () => {
  const sides: PairSides[] = [
    { chosen: 5, rejected: 1 },
    { chosen: 2, rejected: 2 },
  ];
  const relative = relativeSuiteMetrics([...pair('a', 'A', 'B'), ...pair('b', 'A', 'A')], 9);
  const pointwise = pairwiseMetricsForMode('pointwise', sides, undefined);
  assert.deepEqual(pointwise, { kind: 'pairwise', n: 2, accuracy: 0.75, ties: 1, unparseable: 0, goldTies: 0 });
  assert.deepEqual(pairwiseMetricsForMode('both', sides, relative), { ...pointwise, mode: 'both', relative });
  assert.deepEqual(pairwiseMetricsForMode('relative', [], relative), {
    kind: 'pairwise',
    n: 2,
    accuracy: 0.75,
    ties: 0,
    unparseable: 0,
    goldTies: 0,
    mode: 'relative',
    relative,
  });
  assert.throws(() => pairwiseMetricsForMode('relative', [], undefined), /without relative metrics/);
});

// --- config -------------------------------------------------------------------------------------------

test('config: pairwiseTemplate default, mode optional (pointwise) and only on pairwise suites', () => {
  const config = validConfig([heldout, llmbar, { ...llmbar, name: 'rel', mode: 'relative' }, { ...llmbar, name: 'two', mode: 'both' }]);
  assert.equal(config.judge.pairwiseTemplate, 'prompts/pairwise-v1.txt');
  assert.deepEqual(
    config.data.evalSuites.map((s) => suiteMode(config, s)),
    ['pointwise', 'pointwise', 'relative', 'both'],
  );
  assert.equal(config.data.evalSuites[1].mode, undefined, 'absent stays absent (the config hash of old configs is unchanged)');
  assert.equal(suiteMode(config, { name: 'not-in-config', kind: 'pairwise' }), 'pointwise');

  const problems = (r: ReturnType<typeof validateConfig>) => (r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`));
  const [onPointwise] = problems(configWith([{ ...heldout, mode: 'relative' }, llmbar]));
  assert.match(onPointwise, /^data\.evalSuites\.0\.mode: only pairwise suites have a mode .*suite "heldout" is pointwise/);
  assert.equal(problems(configWith([{ ...heldout, mode: 'pointwise' }])).length, 1, 'even mode pointwise');
  assert.match(problems(configWith([{ ...llmbar, mode: 'sideways' }]))[0], /^data\.evalSuites\.0\.mode: /);
  const [vllm] = problems(configWith([heldout, { ...llmbar, mode: 'both' }], { decoding: { backend: 'vllm' } }));
  assert.match(vllm, /^data\.evalSuites\.1\.mode: mode "both" decodes an A\/B verdict, which needs the transformers backend/);
  assert.deepEqual(problems(configWith([heldout, llmbar], { decoding: { backend: 'vllm' } })), [], 'pointwise pairs work with vllm');
  assert.equal(validConfig([llmbar], { pairwiseTemplate: 'prompts/my-pairwise.txt' }).judge.pairwiseTemplate, 'prompts/my-pairwise.txt');
  assert.equal(problems(configWith([llmbar], { pairwiseTemplate: '' })).length, 1);
});

// --- the evaluate activity, in memory: an object store and a fake generation job ----------------------

/** The ObjectStore methods the evaluate step uses, in memory. */

interface FakeRequest {
  request_id: string;
  relative_order?: RelativeOrder;
  messages: unknown;
  [key: string]: unknown;
}

/** Stands in for generate.py: answers each request with `answer(request)`, greedy, one sample. */
function fakeRunner(store: MemoryStore, answer: (r: FakeRequest, sampleIndex: number) => string) {
  const specs: JobSpec[] = [];
  const runner: JobRunner = {
    async run(spec: JobSpec): Promise<JobResult> {
      specs.push(spec);
      const requests = store.rows<FakeRequest>(`${spec.channels.requests}/requests.jsonl`);
      await store.writeJsonl(
        `${spec.outputUri}/model/judgments.jsonl`,
        // num_samples rows per request, as generate.py writes them, sample i with log-probability -i.
        requests.flatMap(({ messages: _messages, ...r }) =>
          Array.from({ length: Number(spec.hyperparameters.num_samples ?? 1) }, (_, i) => ({
            ...r,
            sample_index: i,
            text: answer({ ...r, messages: [] }, i),
            seed: 0,
            num_tokens: 3,
            logprob: -i,
          })),
        ),
      );
      const usage: JobUsage = {
        jobName: spec.jobName,
        attempt: spec.jobName,
        status: 'Completed',
        entryPoint: spec.entryPoint,
        backend: 'local',
        iteration: null,
        step: 'evaluate',
        seconds: 0,
        billableSeconds: 0,
        instanceType: 'local',
        instanceCount: 1,
        usd: null,
        finishedAt: new Date(0).toISOString(),
      };
      return { jobName: spec.jobName, outputUri: spec.outputUri, modelUri: `${spec.outputUri}/model`, outputDataUri: `${spec.outputUri}/output`, how: 'ran', seconds: 0, usage };
    },
  };
  return { runner, specs };
}

const RUN = 's3://b/runs/r1';

async function evalSuites(store: MemoryStore): Promise<PreparedDataset[]> {
  const rubric = { criteria: 'c', score1: 'a', score2: 'b', score3: 'c', score4: 'd', score5: 'e' };
  const ds = async (name: string, kind: 'pointwise' | 'pairwise', rows: unknown[]): Promise<PreparedDataset> => {
    const written = await store.writeJsonl(`${RUN}/data/eval-${name}/data/rows.jsonl`, rows);
    return { name, kind, uri: written.uri, rows: rows.length, quarantined: 0, quarantineUri: `${written.uri}.q` };
  };
  const pairs = [
    { id: 'p0', instruction: 'Name a prime.', chosen: 'Seven.', rejected: 'Nine.' },
    { id: 'p1', instruction: 'Capital of France?', chosen: 'Paris.', rejected: 'Lyon.' },
    { id: 'p2', instruction: 'Say hi.', chosen: 'Hi.', rejected: 'Hello.', tie: true },
  ];
  return [
    await ds('held', 'pointwise', [{ id: 'h0', instruction: 'Q', response: 'A', rubric, gold_score: 3 }]),
    await ds('pairs', 'pairwise', pairs),
    await ds('rel', 'pairwise', pairs),
  ];
}

/** A judge that knows the gold: picks chosen, except that it always says A for p1 and fails to answer p2. */
function knowingJudge(r: FakeRequest): string {
  if (!r.relative_order) return 'fine [RESULT] 3';
  if (r.request_id.includes('::p1::')) return 'first [RESULT] A';
  if (r.request_id.includes('::p2::')) return 'no verdict';
  return `good [RESULT] ${r.relative_order === 'chosen_a' ? 'A' : 'B'}`;
}

async function evaluate(config: RunConfig, store: MemoryStore, runner: JobRunner, suites: PreparedDataset[]): Promise<Record<string, SuiteMetrics>> {
  const deps: ActivityDeps = {
    projectRoot: ROOT,
    codeVersion: 'test',
    storeFor: () => store as unknown as ObjectStore,
    runnerFor: () => runner,
  };
  const { evaluateJudge } = createEvaluateActivities(deps);
  return new MockActivityEnvironment().run(evaluateJudge, { config, runId: 'r1', runPrefixUri: RUN, iteration: 0, modelUri: 's3://b/m', suites });
}

test('evaluate: a second job decodes A/B for relative and both suites; metrics per mode; a rerun reuses every step', async () => {
  const store = memoryStore();
  const suites = await evalSuites(store);
  const config = validConfig([heldout, { ...llmbar, name: 'pairs', mode: 'both' }, { ...llmbar, name: 'rel', mode: 'relative' }]);
  const { runner, specs } = fakeRunner(store, knowingJudge);
  const metrics = await evaluate(config, store, runner, suites);

  assert.deepEqual(specs.map((s) => s.jobName), ['r1-i0-evaluate', 'r1-i0-evaluate-relative']);
  const [pointwiseJob, relativeJob] = specs;
  assert.equal(pointwiseJob.hyperparameters.choices, undefined);
  assert.deepEqual(
    { choices: relativeJob.hyperparameters.choices, n: relativeJob.hyperparameters.num_samples, t: relativeJob.hyperparameters.temperature },
    { choices: 'A,B', n: 1, t: 0 },
  );
  assert.equal(relativeJob.outputUri, `${RUN}/iter-0/evaluate/relative/job`);
  // Pointwise requests: the pointwise suite and the `both` suite's two sides; none for the `relative` suite.
  const pointwiseRequests = store.rows<FakeRequest>(`${RUN}/iter-0/evaluate/requests/data/requests.jsonl`);
  assert.equal(pointwiseRequests.length, 1 + 3 * 2);
  assert.ok(pointwiseRequests.every((r) => !r.request_id.startsWith('rel::')));
  const relativeRequests = store.rows<FakeRequest>(`${RUN}/iter-0/evaluate/relative/requests/data/requests.jsonl`);
  assert.equal(relativeRequests.length, 2 * 3 * 2);

  assert.equal((metrics.held as PointwiseMetrics).exactAgreement, 1);
  const both = metrics.pairs as PairwiseMetrics;
  const rel = metrics.rel as PairwiseMetrics;
  // Pointwise comparison of `both`: every side scored 3 → two ties (0.5) and a gold tie judged right (1).
  assert.deepEqual({ n: both.n, accuracy: both.accuracy, ties: both.ties, goldTies: both.goldTies, mode: both.mode }, {
    n: 3,
    accuracy: 0.6667, // 2/3, rounded to 4 decimals in the payload
    ties: 2,
    goldTies: 1,
    mode: 'both',
  });
  // Relative: p0 right twice (2), p1 "A" twice (1), p2 a gold tie with no verdict (0.5 + 0.5) → 4 of 6.
  const expected = {
    n: 3,
    requests: 6,
    accuracy: 0.6667,
    positionConsistency: 0.5,
    unparseable: 2,
    preferA: 3 / 4,
    goldTies: 1,
  };
  for (const [name, m] of [['pairs', both], ['rel', rel]] as const) {
    assert.ok(m.relative, name);
    const { orderSeed, ci, ...rest } = m.relative;
    assert.deepEqual(rest, expected, name);
    // Intervals over the 3 pairs: every resample's accuracy is a mean of the pairs' credits (1, 0.5, 0.5).
    assert.deepEqual(ci?.intervals.accuracy, [0.5, 1], name);
    assert.equal(ci?.resamples, 1000);
    assert.equal(orderSeed, relativeOrderSeed(config.loop.seed, name));
  }
  assert.deepEqual({ n: rel.n, accuracy: rel.accuracy, ties: rel.ties, unparseable: rel.unparseable, mode: rel.mode }, {
    n: 3,
    accuracy: 0.6667,
    ties: 0,
    unparseable: 2,
    mode: 'relative',
  });

  const verdicts = store.rows<RelativeJudgment>(`${RUN}/iter-0/evaluate/metrics/relative-judgments.jsonl`);
  assert.equal(verdicts.length, 12);
  const p0 = verdicts.filter((v) => v.suite === 'rel' && v.example_id === 'p0');
  assert.deepEqual(p0.map((v) => [v.relative_order, v.verdict, v.picked]).sort(), [['chosen_a', 'A', 'chosen'], ['chosen_b', 'B', 'chosen']]);
  assert.deepEqual(
    verdicts.filter((v) => v.example_id === 'p2').map((v) => [v.status, v.reason, v.gold_tie]),
    Array.from({ length: 4 }, () => ['unparseable', 'no_marker', true]),
  );

  // A rerun with the same inputs returns the recorded metrics (the runner adopts its jobs' outputs).
  const again = await evaluate(config, store, runner, suites);
  assert.deepEqual(again, metrics);
});

test('evaluate: only relative suites run no pointwise job; only pointwise suites run no relative job', async () => {
  const store = memoryStore();
  const [, , relSuite] = await evalSuites(store);
  const relOnly = fakeRunner(store, knowingJudge);
  const m = await evaluate(validConfig([{ ...llmbar, name: 'rel', mode: 'relative' }]), store, relOnly.runner, [relSuite]);
  assert.deepEqual(relOnly.specs.map((s) => s.jobName), ['r1-i0-evaluate-relative']);
  assert.equal((m.rel as PairwiseMetrics).relative?.requests, 6);
  assert.deepEqual(store.rows(`${RUN}/iter-0/evaluate/metrics/judgments.jsonl`), [], 'no pointwise judgments');

  const store2 = memoryStore();
  const [held, pairs] = await evalSuites(store2);
  const plain = fakeRunner(store2, knowingJudge);
  const m2 = await evaluate(validConfig([heldout, { ...llmbar, name: 'pairs' }]), store2, plain.runner, [held, pairs]);
  assert.deepEqual(plain.specs.map((s) => s.jobName), ['r1-i0-evaluate']);
  const { ci, reportUri, ...pointwiseMetrics } = m2.pairs as PairwiseMetrics;
  assert.deepEqual(pointwiseMetrics, { kind: 'pairwise', n: 3, accuracy: 0.6667, ties: 2, unparseable: 0, goldTies: 1, chance: { accuracy: 0.6667 }, ownParseRate: 1, forcedMarkers: 0 }, 'pointwise mode: as before, with chance (a constant judge ties every pair: 1 on the gold tie, 0.5 on the others) and the own parse rate (rows without marker_source are the judge\'s own)');
  assert.equal(reportUri, 's3://b/runs/r1/iter-0/evaluate/metrics/report.json', 'every figure is also in report.json');
  assert.equal(ci?.resamples, 1000, 'plus its bootstrap interval');
  assert.equal(store2.objects.has(`${RUN}/iter-0/evaluate/metrics/relative-judgments.jsonl`), false);
});

test('evaluate: inference-time baselines from N samples per request, beside the greedy score', async () => {
  const store = memoryStore();
  const [held, pairs] = await evalSuites(store);
  // Greedy says 3; samples 0..3 say 2, 4, 4, 5 (sample 0 has the highest log-probability, 0).
  const sampled = [2, 4, 4, 5];
  const judge = (r: FakeRequest, i: number) => `fine [RESULT] ${r.request_id.endsWith('::rejected') ? 1 : (sampled[i] ?? 3)}`;
  const { runner, specs } = fakeRunner(store, (r, i) => (specs.at(-1)?.jobName.endsWith('baselines') ? judge(r, i) : 'fine [RESULT] 3'));
  const config = validConfig([heldout, { ...llmbar, name: 'pairs' }], {}, 4);
  const m = await evaluate(config, store, runner, [held, pairs]);
  assert.deepEqual(specs.map((s) => s.jobName), ['r1-i0-evaluate', 'r1-i0-evaluate-baselines']);
  const job = specs[1];
  assert.deepEqual(
    { n: job.hyperparameters.num_samples, t: job.hyperparameters.temperature, requests: job.channels.requests, out: job.outputUri },
    { n: 4, t: 1, requests: specs[0].channels.requests, out: `${RUN}/iter-0/evaluate/baselines/job` },
    'the same requests as the greedy job, sampled N times at the baselines temperature',
  );
  // The workflow gets each suite's headline; the baselines are in report.json, where the report step and the CLI read them.
  assert.equal((m.held as PointwiseMetrics).baselines, undefined, 'not in the payload');
  const reported = JSON.parse(store.objects.get(`${RUN}/iter-0/evaluate/metrics/report.json`)!.toString('utf8')) as { suites: Record<string, SuiteMetrics> };
  const heldMetrics = reported.suites.held as PointwiseMetrics;
  const b = heldMetrics.baselines!;
  assert.deepEqual({ samples: b.samples, temperature: b.temperature }, { samples: 4, temperature: 1 });
  // Gold 3: greedy 3 agrees; one sample 2, mode 4, mean 3.75 (rounds to 4), best-of-N (sample 0) 2 do not.
  assert.deepEqual(
    Object.fromEntries(Object.entries(b.metrics).map(([k, f]) => [k, [f.exactAgreement, f.mae]])),
    { greedy: [1, 0], one_sample: [0, 1], self_consistency: [0, 1], mean_of_n: [0, 0.75], best_of_n: [0, 1] },
  );
  // Pairs: chosen sampled as above, rejected always 1: every baseline ranks chosen higher except that the gold
  // tie (p2) is then judged wrong → 2 of 3; greedy scores both sides 3 → ties and a right gold tie.
  const pairMetrics = reported.suites.pairs as PairwiseMetrics;
  assert.equal(pairMetrics.baselines!.metrics.greedy.accuracy, 2 / 3);
  for (const name of ['one_sample', 'self_consistency', 'mean_of_n', 'best_of_n']) {
    assert.equal(pairMetrics.baselines!.metrics[name].accuracy, 2 / 3, name);
  }
});

test('evaluate as activities of its own (render → the three generations → metrics): the same jobs, objects and metrics as evaluateJudge in one', async () => {
  const config = validConfig([heldout, { ...llmbar, name: 'pairs', mode: 'both' }, { ...llmbar, name: 'rel', mode: 'relative' }], {}, 4);
  const judge = (r: FakeRequest, i: number) => (r.relative_order ? knowingJudge(r) : `fine [RESULT] ${1 + ((i + r.request_id.length) % 5)}`);
  // In one activity, as runs started before the split schedule it.
  const whole = memoryStore();
  const wholeJobs = fakeRunner(whole, judge);
  const inOne = await evaluate(config, whole, wholeJobs.runner, await evalSuites(whole));

  const split = memoryStore();
  const splitJobs = fakeRunner(split, judge);
  const suites = await evalSuites(split);
  const deps: ActivityDeps = { projectRoot: ROOT, codeVersion: 'test', storeFor: () => split as unknown as ObjectStore, runnerFor: () => splitJobs.runner };
  const acts = createEvaluateActivities(deps);
  const env = new MockActivityEnvironment();
  const call = <I, O>(fn: (input: I) => Promise<O>, input: I) => env.run(fn, input) as Promise<O>;
  const common = { config, runId: 'r1', runPrefixUri: RUN, iteration: 0, modelUri: 's3://b/m' };
  const requests = await call(acts.renderEvaluationRequests, { ...common, suites });
  assert.ok(requests.pointwise && requests.relative);
  assert.deepEqual(requests, {
    pointwise: { dataUri: `${RUN}/iter-0/evaluate/requests/data`, requests: 7 },
    relative: { dataUri: `${RUN}/iter-0/evaluate/relative/requests/data`, requests: 12 },
  });
  // The workflow runs the three at once; here in the opposite order, which must not matter.
  const relative = await call(acts.generateRelativeVerdicts, { ...common, requests: requests.relative });
  const baselines = await call(acts.generateBaselineJudgments, { ...common, requests: requests.pointwise });
  const pointwise = await call(acts.generateEvaluationJudgments, { ...common, requests: requests.pointwise });
  assert.deepEqual([pointwise.jobName, baselines.jobName, relative.jobName], ['r1-i0-evaluate', 'r1-i0-evaluate-baselines', 'r1-i0-evaluate-relative']);
  assert.equal(pointwise.outputUri, `${RUN}/iter-0/evaluate/job/model`);
  const metrics = await call(acts.computeEvaluationMetrics, {
    ...common,
    suites,
    requests,
    outputs: { pointwise: pointwise.outputUri, baselines: baselines.outputUri, relative: relative.outputUri },
  });

  assert.deepEqual(metrics, inOne);
  const bySpec = (specs: JobSpec[]) => Object.fromEntries(specs.map((s) => [s.jobName, s]));
  assert.deepEqual(bySpec(splitJobs.specs), bySpec(wholeJobs.specs), 'the same three jobs, with the same channels and hyperparameters');
  // Every object is byte for byte the same but for the times written into manifests and index entries.
  const contents = (store: ReturnType<typeof memoryStore>) =>
    Object.fromEntries([...store.objects].map(([uri, body]) => [uri, body.toString('utf8').replace(/"(createdAt|finishedAt)":\s*"[^"]*"/g, '"$1":"<time>"')]));
  assert.deepEqual(contents(split), contents(whole));
});

test('relativeIntervals: resamples pairs; seeded; undefined rates give null bounds', () => {
  const rows = [
    { exampleId: 'a', order: 'chosen_a' as const, verdict: 'A' as const },
    { exampleId: 'a', order: 'chosen_b' as const, verdict: 'B' as const },
    { exampleId: 'b', order: 'chosen_a' as const, verdict: 'B' as const },
    { exampleId: 'b', order: 'chosen_b' as const, verdict: 'B' as const },
    { exampleId: 'c', order: 'chosen_a' as const, verdict: null },
    { exampleId: 'c', order: 'chosen_b' as const, verdict: 'A' as const },
  ];
  const options = { resamples: 500, confidence: 0.9, seed: 3 };
  const ci = relativeIntervals(rows, options);
  const m = relativeSuiteMetrics(rows, 0);
  // Pair credits 2, 1, 0.5 of 2: accuracy 3.5/6; resamples range from all-c (0.25) to all-a (1).
  assert.ok(Math.abs(m.accuracy - 3.5 / 6) < 1e-12);
  const [low, high] = ci.intervals.accuracy;
  assert.ok(low !== null && high !== null && low >= 0.25 && high <= 1 && low <= m.accuracy && m.accuracy <= high);
  assert.deepEqual(relativeIntervals(rows, options), ci, 'seeded');
  // Only unparseable verdicts: position consistency and the A share are undefined on every resample.
  const none = relativeIntervals([{ exampleId: 'x', order: 'chosen_a', verdict: null }, { exampleId: 'x', order: 'chosen_b', verdict: null }], options);
  assert.deepEqual([none.intervals.positionConsistency, none.intervals.preferA, none.intervals.accuracy], [[null, null], [null, null], [0.5, 0.5]]);
});
