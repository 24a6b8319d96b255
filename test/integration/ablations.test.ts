/**
 * Every ablation config (configs/ablations/) runs on the tiny judge through the real workflow, scaled down
 * (one iteration, fewer inputs, one epoch, a short held-out suite): each completes, and its curation report
 * and artifacts show the strategy, hygiene or training method it names. The full-size comparison is
 * `bash scripts/ablations.sh` (docs/evaluation.md, "Ablations").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { loadConfigFile } from '../../cli/config-file';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import type { RunSummary, IterationSummary } from '../../core/run/run-types';
import type { PreferencePair } from '../../core/data/records';
import { selfRationalizationRun } from '../../workflows';
import { createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();

/** The curation report's fields these tests read (docs/CONTRACTS.md, "curation.json"). */
interface Curation {
  judgments: { samples: number; parsed: number; parseFailureRate: number };
  pairs: { total: number; byStrategy: Record<string, number> };
  dropped: { samples: Record<string, number>; pairs: Record<string, number> };
  inputs: { total: number; withPair: number; withoutPair: number };
  length: { pairs: number };
  balance: { byLevel: Record<string, number> };
  strategies: Record<string, { pairsProduced: number; pairsKept: number }>;
}

interface AblationRun {
  summary: RunSummary;
  iteration: IterationSummary;
  curation: Curation;
  pairs: PreferencePair[];
}

interface Overrides {
  loop?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

/** Starts the scaled-down run of an ablation config; resolves to its summary, or rejects with its failure. */
async function startAblation(file: string, over: Overrides = {}): Promise<{ workflowId: string; result: Promise<RunSummary>; inputs: number }> {
  const loaded = await loadConfigFile(`configs/ablations/${file}`);
  const config = testConfig(
    stack.services,
    {
      loop: { iterations: 1, inputsPerIteration: 64, samplesPerInput: 8, ...over.loop },
      training: { epochs: 1, ...over.training },
      // The ablations compare pair curation; the inference-time baselines are the e2e test's concern.
      evaluation: { baselines: { samples: 0 } },
      data: {
        evalSuites: [{ name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 30 }],
      },
    } as Parameters<typeof testConfig>[1],
    loaded.raw,
  );
  const workflowId = `abl-${file.replace(/\.json$/, '')}-${Date.now()}`;
  // A worker stops when runUntil returns: one per run, on a task queue of its own since runs go in parallel
  // (the workflow bundle is built once and shared).
  const taskQueue = workflowId;
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const result = worker
    .runUntil(stack.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId, args: [config] }))
    .then((outcome) => summaryOf(stack.services, outcome));
  return { workflowId, result, inputs: (config.loop?.inputsPerIteration as number | undefined) ?? 64 };
}

async function runAblation(file: string, over: Overrides = {}): Promise<AblationRun> {
  const { result, inputs } = await startAblation(file, over);
  const summary = await result;
  const store = storeFor(stack.services);
  const iteration = summary.iterations[1];
  assert.ok(iteration?.pairs, `${file}: iteration 1 has pairs`);
  const curationUri = joinUri(stepPrefix(summary.runPrefixUri, 1, 'pair'), 'curation.json');
  const curation = await store.getJson<Curation>(curationUri);
  assert.ok(curation, `${file}: ${curationUri} exists`);
  const pairs: PreferencePair[] = [];
  for await (const p of store.readJsonl<PreferencePair>(iteration.pairs.uri)) pairs.push(p);
  // Common to every ablation: the report accounts for every sample, input and pair.
  assert.equal(curation.judgments.samples, inputs * 8);
  assert.equal(curation.inputs.total, inputs);
  assert.equal(curation.inputs.withPair + curation.inputs.withoutPair, inputs);
  assert.equal(curation.pairs.total, pairs.length);
  assert.equal(iteration.pairs.pairs, pairs.length);
  assert.ok(pairs.length > 0);
  assert.ok(iteration.eval['synthetic-heldout'], `${file}: evaluated`);
  return { summary, iteration, curation, pairs };
}

const strategiesOf = (pairs: PreferencePair[]) => [...new Set(pairs.map((p) => p.strategy))].sort();

test('the ablation folder holds the configs these tests run', () => {
  assert.deepEqual(readdirSync('configs/ablations').sort(), [
    'gold-margin-consistency.json',
    'gold-margin-dpo.json',
    'gold-margin-hygiene.json',
    'gold-margin-sft.json',
    'majority-vote.json',
    'meta-judge.json',
    'pure-dpo.json',
  ]);
});

// The runs are independent: three at a time keep both cores busy through each job's start-up.
describe('the ablation configs, scaled down', { concurrency: 3 }, () => {
  test('gold_margin + DPO (the embedded default): chosen scores the gold, rejected misses it by >= 2', { timeout: 15 * 60_000 }, async () => {
    const { pairs, curation, iteration } = await runAblation('gold-margin-dpo.json');
    assert.deepEqual(strategiesOf(pairs), ['gold_margin']);
    assert.ok(pairs.every((p) => Math.abs(p.chosen_score - p.rejected_score) >= 2));
    assert.deepEqual(curation.pairs.byStrategy, { gold_margin: pairs.length });
    assert.ok(iteration.train!.finalRewardAccuracy !== null, 'DPO reports reward accuracy');
  });

  test('the SFT control trains train_sft.py on the chosen judgments of the same kind of pairs', { timeout: 15 * 60_000 }, async () => {
    const { summary, iteration } = await runAblation('gold-margin-sft.json');
    const store = storeFor(stack.services);
    const trainSummary = await store.getJson<{ method: string; examples: number; pairs: number }>(
      joinUri(stepPrefix(summary.runPrefixUri, 1, 'train'), 'job', 'output', 'train_summary.json'),
    );
    assert.equal(trainSummary?.method, 'sft');
    assert.equal(trainSummary?.pairs, iteration.pairs!.pairs);
    assert.ok(trainSummary!.examples > 0 && trainSummary!.examples <= trainSummary!.pairs);
    assert.equal(iteration.train!.finalRewardAccuracy, null, 'no DPO rewards in SFT');
    assert.ok(iteration.train!.steps > 0);
  });

  test('majority_vote needs no gold: chosen holds the samples\' majority score', { timeout: 15 * 60_000 }, async () => {
    const { pairs } = await runAblation('majority-vote.json');
    assert.deepEqual(strategiesOf(pairs), ['majority_vote']);
    assert.ok(pairs.every((p) => Math.abs(p.chosen_score - p.rejected_score) >= 2));
  });

  test('meta_judge: the judge rates its own samples in a generation step; pairs follow the ratings', { timeout: 15 * 60_000 }, async () => {
    // The seed judge: its sampled ratings (4 per judgment at T=1) vary, so their means separate judgments.
    const { pairs, iteration } = await runAblation('meta-judge.json');
    assert.ok(iteration.metaJudge, 'the iteration ran the meta-judge step');
    assert.equal(iteration.metaJudge.rated, iteration.sample!.parsed, 'every parsed sample is rated');
    assert.ok(iteration.metaJudge.unparseable < iteration.metaJudge.rated);
    assert.deepEqual(strategiesOf(pairs), ['meta_judge']);
  });

  test('hygiene: balanced gold levels and a length-difference cap, each drop counted', { timeout: 15 * 60_000 }, async () => {
    const { pairs, curation } = await runAblation('gold-margin-hygiene.json');
    const levels = Object.values(curation.balance.byLevel).filter((n) => n > 0);
    assert.ok(levels.length > 1 && levels.every((n) => n === levels[0]), `balanced: ${JSON.stringify(curation.balance.byLevel)}`);
    assert.ok(pairs.every((p) => Math.abs([...p.chosen].length - [...p.rejected].length) <= 40));
    const produced = Object.values(curation.strategies).reduce((n, s) => n + s.pairsProduced, 0);
    const dropped = Object.values(curation.dropped.pairs).reduce((n, k) => n + k, 0);
    assert.equal(produced, pairs.length + dropped, 'every produced pair is kept or dropped for a reason');
  });

  test('consistency filter: rationales are re-scored greedily and inconsistent samples never reach a pair', { timeout: 15 * 60_000 }, async () => {
    // The filter keeps the samples whose greedy re-score from their own rationale agrees. The tiny judge's
    // two-token rationales do not determine its score, so its greedy re-score is its usual answer and the
    // filter may leave gold_margin no rejected judgment anywhere: the iteration then ends with NoPairs.
    // Either way the re-scores and the drops must add up.
    const { workflowId, result } = await startAblation('gold-margin-consistency.json', {
      loop: { pairing: { consistencyFilter: true, consistencyFromIteration: 1 } },
    });
    const outcome = await result.then(
      (summary) => ({ summary, failure: undefined }),
      (error: unknown) => ({ summary: undefined, failure: error }),
    );
    if (outcome.failure) {
      const cause = String((outcome.failure as { cause?: { cause?: unknown } }).cause?.cause ?? outcome.failure);
      assert.match(cause, /no preference pairs/, 'the only acceptable failure is NoPairs');
    }
    const store = storeFor(stack.services);
    const runPrefix = `s3://${stack.services.s3.bucket}/runs/${workflowId}`;
    const rescores: { consistent: boolean; rescore: number | null; score: number }[] = [];
    for await (const r of store.readJsonl<{ consistent: boolean; rescore: number | null; score: number }>(
      joinUri(runPrefix, 'iter-1', 'consistency', 'data', 'rescores.jsonl'),
    )) {
      rescores.push(r);
    }
    const curation = await store.getJson<Curation>(joinUri(stepPrefix(runPrefix, 1, 'pair'), 'curation.json'));
    assert.ok(curation, 'the pair step wrote its curation report');
    assert.equal(rescores.length, curation.judgments.parsed, 'every parsed sample was re-scored');
    assert.ok(rescores.every((r) => r.consistent === (r.rescore === r.score)));
    const inconsistent = rescores.filter((r) => !r.consistent).length;
    assert.ok(inconsistent > 0, 'a T=1 sample sometimes contradicts its rationale');
    assert.equal(curation.dropped.samples.inconsistent ?? 0, inconsistent, 'each inconsistent sample is dropped and counted');
    if (outcome.summary) {
      const it = outcome.summary.iterations[1];
      assert.deepEqual([it.consistency!.rescored, it.consistency!.inconsistent], [rescores.length, inconsistent]);
    }
  });

  test('pure DPO (rpoAlpha 0) passes rpo_alpha 0 to train_dpo.py', { timeout: 15 * 60_000 }, async () => {
    const { summary } = await runAblation('pure-dpo.json');
    const store = storeFor(stack.services);
    const trainSummary = await store.getJson<{ config: { rpo_alpha: number } }>(
      joinUri(stepPrefix(summary.runPrefixUri, 1, 'train'), 'job', 'output', 'train_summary.json'),
    );
    assert.equal(trainSummary?.config.rpo_alpha, 0);
  });
});
