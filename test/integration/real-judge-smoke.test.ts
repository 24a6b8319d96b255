/**
 * Smoke run of the whole workflow on the real seed judge (SmolLM2-135M-Instruct, which set-up builds into
 * .judgeloop/models/smollm2-135m-instruct) through the real stack: a few inputs, short forced rationales,
 * one iteration. It proves the plumbing with a pretrained tokenizer and chat template — parse accounting,
 * pairs, a trained model, metrics with chance levels — not that the judge improves (see docs/results.md
 * for that).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import type { PairwiseMetrics, PointwiseMetrics, RunSummary } from '../../core/run/run-types';
import { joinUri } from '../../core/run/artifacts';
import { validateJudgment } from '../../core/data/records';
import { createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();
const REAL_SEED = '.judgeloop/models/smollm2-135m-instruct';

test('the real seed judge runs a whole iteration: judgments parsed and counted, pairs, a trained model, metrics', { timeout: 15 * 60_000 }, async () => {
  assert.ok(
    existsSync(path.resolve(__dirname, '../..', REAL_SEED, 'config.json')),
    `${REAL_SEED} is missing: set-up builds it (bash scripts/setup.sh --only real-judge)`,
  );
  const taskQueue = 'real-smoke';
  const config = testConfig(stack.services, {
    judge: {
      name: 'smollm2-smoke',
      seedModel: REAL_SEED,
      // The raw instruct model rarely writes `[RESULT] n` unprompted: the forced option gives the loop
      // scores to pair, and every judgment still says whose marker it was.
      decoding: { mode: 'forced', maxRationaleTokens: 12, batchSize: 8, maxPromptTokens: 448 },
    },
    data: {
      train: { uri: 'datasets/synthetic/train.jsonl', adapter: 'canonical', limit: 6 },
      evalSuites: [
        { name: 'synthetic-validation', kind: 'pointwise', uri: 'datasets/synthetic/validation.jsonl', adapter: 'canonical', limit: 4, role: 'validation' },
        { name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 4, role: 'test' },
        { name: 'llmbar-natural', kind: 'pairwise', uri: 'datasets/bundled/llmbar-natural.first24.jsonl', adapter: 'llmbar', limit: 2, role: 'test' },
      ],
      contamination: { check: false },
    },
    loop: {
      iterations: 1,
      inputsPerIteration: 6,
      samplesPerInput: 4,
      pairing: { strategies: [{ name: 'gold_margin', margin: 1, maxPairsPerInput: 1 }] },
    },
    training: { epochs: 1, batchSize: 2, maxLength: 512, learningRate: 1e-5, rpoAlpha: 0, tokenIds: 'sampled' },
    evaluation: { bootstrap: { resamples: 100 }, baselines: { samples: 0 }, gate: { enabled: false } },
    registry: { enabled: false },
  } as Parameters<typeof testConfig>[1]);
  const workflowId = `real-smoke-${Date.now()}`;
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const result = await worker.runUntil(stack.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId, args: [config] }));
  const summary: RunSummary = await summaryOf(stack.services, result);
  const store = storeFor(stack.services);

  assert.deepEqual(summary.iterations.map((i) => i.iteration), [0, 1]);
  const it = summary.iterations[1];
  // Parse accounting: every judgment counted once, parsed or not; what parsed is the judge's own or forced.
  const sample = it.sample!;
  assert.equal(sample.judgments, 6 * 4);
  assert.ok(sample.ownParseRate !== undefined && sample.forcedMarkers !== undefined);
  assert.equal(Math.round(sample.ownParseRate * sample.judgments) + sample.forcedMarkers, sample.parsed, 'own + forced = parsed');
  console.log(`real seed: ${sample.parsed}/${sample.judgments} parsed, ${sample.forcedMarkers} markers forced, own parse rate ${sample.ownParseRate}`);
  let rows = 0;
  for await (const row of store.readJsonl<Record<string, unknown>>(sample.uri)) {
    rows++;
    const { request_id: _r, gold_score: _g, logprob: _l, ...record } = row;
    const v = validateJudgment(record);
    assert.ok(v.ok, v.ok ? '' : v.reason);
    assert.ok(['model', 'forced'].includes(String(row.marker_source)), `marker_source ${String(row.marker_source)}`);
  }
  assert.equal(rows, sample.judgments);

  // Pairs and a trained model: a real safetensors folder with the tokenizer and its chat template.
  assert.ok(it.pairs!.pairs > 0, `pairs from the real judge's samples (${JSON.stringify(it.pairs)})`);
  assert.ok(it.train!.steps > 0);
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    assert.ok(await store.exists(joinUri(it.train!.modelUri, file)), `${file} in the trained model`);
  }
  assert.notEqual(it.modelUri, summary.iterations[0].modelUri);

  // Token identity: the pairs carry the ids the judge sampled, and DPO trained on those, not on a re-tokenization.
  for await (const pair of store.readJsonl<Record<string, unknown>>(it.pairs!.uri)) {
    assert.ok(Array.isArray(pair.chosen_ids) && Array.isArray(pair.rejected_ids) && typeof pair.prompt_ids_sha256 === 'string', 'sampled ids in every pair');
  }
  const trainSummary = await store.getJson<{ token_ids?: string }>(it.train!.metricsUri.replace(/metrics\.jsonl$/, 'train_summary.json'));
  assert.equal(trainSummary?.token_ids, 'sampled');

  // Metrics on every suite, in both iterations, with the suite's chance level beside them.
  for (const i of summary.iterations) {
    const validation = i.eval['synthetic-validation'] as PointwiseMetrics;
    const heldout = i.eval['synthetic-heldout'] as PointwiseMetrics;
    const pairs = i.eval['llmbar-natural'] as PairwiseMetrics;
    assert.equal(validation.n, 4);
    assert.equal(heldout.n, 4);
    assert.equal(pairs.n, 2);
    assert.ok(heldout.chance && pairs.chance, 'chance levels');
    assert.ok(heldout.ownParseRate !== undefined && heldout.ownParseRate <= heldout.parseRate);
    assert.ok(heldout.exactAgreement >= 0 && heldout.exactAgreement <= 1);
  }
});
