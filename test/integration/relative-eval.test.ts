/**
 * Relative (A/B) grading on the real stack: a Temporal dev server, the S3 server and the real generation job
 * on the tiny judge. The run's data is prepared in-process (the prepare activity), then iteration 0's child
 * workflow (`iterationWorkflow`, which only evaluates) runs on a worker with a pairwise suite in `both` mode:
 * the pointwise comparison as before, plus every pair judged twice with the pairwise template by a second
 * generation job that decodes `A` or `B`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { iterationWorkflow } from '../../workflows';
import { validateConfig } from '../../core/config/config';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import { relativeOrderSeed, relativeOrders } from '../../core/evaluation/relative';
import type { PairwiseMetrics } from '../../core/run/run-types';
import type { StepManifest } from '../../activities/storage/reuse';
import { createActivities, defaultActivityDeps } from '../../activities';
import type { RelativeJudgment, RelativeRequest } from '../../activities/steps/evaluate';
import type { PreparedRun } from '../../activities/steps/prepare';
import { createTestWorker, storeFor, testConfig, useTestStack } from '../support/judgeloop';

const stack = useTestStack();

const SUITE = 'llmbar-natural-24';

test('iteration 0 grades a pairwise suite in both modes: pointwise scores and A/B verdicts in both orders', { timeout: 10 * 60_000 }, async () => {
  const validated = validateConfig(
    testConfig(stack.services, {
      data: {
        evalSuites: [{ name: SUITE, kind: 'pairwise', uri: 'datasets/bundled/llmbar-natural.first24.jsonl', adapter: 'llmbar', mode: 'both' }],
        contamination: { check: false },
      },
    } as Parameters<typeof testConfig>[1]),
  );
  assert.ok(validated.ok, JSON.stringify(validated.ok ? null : validated.problems));
  const config = validated.config;
  const runId = `relative-${Date.now()}`;
  const activities = createActivities(defaultActivityDeps());
  const prepared: PreparedRun = await new MockActivityEnvironment().run(activities.prepareRun, { config, runId });
  assert.equal(prepared.evalSuites[0].rows, 24);

  const taskQueue = 'relative-eval';
  const input = {
    config,
    runId,
    runPrefixUri: prepared.runPrefixUri,
    iteration: 0,
    modelUri: prepared.seedModelUri,
    trainUri: prepared.train.uri,
    evalSuites: prepared.evalSuites,
  };
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const [first, again] = await worker.runUntil(async () => {
    const one = await stack.env.client.workflow.execute(iterationWorkflow, { taskQueue, workflowId: `${runId}-iter-0`, args: [input] });
    // A second evaluation of the same iteration reuses the recorded steps and adopts both jobs' outputs.
    const two = await stack.env.client.workflow.execute(iterationWorkflow, { taskQueue, workflowId: `${runId}-iter-0-again`, args: [input] });
    return [one, two];
  });
  assert.deepEqual(again.eval, first.eval, 'idempotent');

  const m = first.eval[SUITE] as PairwiseMetrics;
  assert.equal(m.kind, 'pairwise');
  assert.equal(m.mode, 'both');
  // The pointwise comparison, as in pointwise mode.
  assert.equal(m.n, 24);
  assert.ok(m.accuracy >= 0 && m.accuracy <= 1);
  // The relative grading: two requests per pair, grammar-constrained, so (nearly) every verdict parses.
  const rel = m.relative;
  assert.ok(rel, 'relative metrics in both mode');
  assert.equal(rel.n, 24);
  assert.equal(rel.requests, 48);
  assert.ok(rel.unparseable <= 2, `unparseable verdicts: ${rel.unparseable} of 48`);
  assert.ok(rel.accuracy >= 0 && rel.accuracy <= 1);
  assert.ok(rel.positionConsistency !== null && rel.positionConsistency >= 0 && rel.positionConsistency <= 1);
  assert.ok(rel.preferA !== null);
  assert.equal(rel.goldTies, 0);
  assert.equal(rel.orderSeed, relativeOrderSeed(config.loop.seed, SUITE));
  console.log(
    `${SUITE}: pointwise accuracy ${(m.accuracy * 100).toFixed(1)}%, A/B accuracy ${(rel.accuracy * 100).toFixed(1)}%, ` +
      `position consistency ${(rel.positionConsistency * 100).toFixed(1)}%, A share ${((rel.preferA ?? 0) * 100).toFixed(1)}%`,
  );

  const store = storeFor(stack.services);
  const evaluate = stepPrefix(prepared.runPrefixUri, 0, 'evaluate');
  // The requests: each pair in both orders, the seeded first order first.
  const requests: RelativeRequest[] = [];
  for await (const r of store.readJsonl<RelativeRequest>(joinUri(evaluate, 'relative', 'requests', 'data', 'requests.jsonl'))) requests.push(r);
  assert.equal(requests.length, 48);
  for (let i = 0; i < requests.length; i += 2) {
    const [a, b] = [requests[i], requests[i + 1]];
    assert.equal(a.example_id, b.example_id);
    assert.deepEqual([a.relative_order, b.relative_order], relativeOrders(rel.orderSeed, a.example_id));
    assert.deepEqual([a.relative_first, b.relative_first], [true, false]);
  }
  // The verdicts, with the response each picks, next to the pointwise judgments.
  const verdicts: RelativeJudgment[] = [];
  for await (const j of store.readJsonl<RelativeJudgment>(joinUri(evaluate, 'metrics', 'relative-judgments.jsonl'))) verdicts.push(j);
  assert.equal(verdicts.length, 48);
  assert.equal(new Set(verdicts.map((v) => v.example_id)).size, 24);
  for (const v of verdicts) {
    assert.equal(v.suite, SUITE);
    if (v.status !== 'ok') continue;
    assert.match(v.text, /\[RESULT\] [AB]$/);
    assert.ok(v.verdict === 'A' || v.verdict === 'B');
    assert.equal(v.picked, (v.verdict === 'A') === (v.relative_order === 'chosen_a') ? 'chosen' : 'rejected');
  }
  assert.equal(verdicts.filter((v) => v.status !== 'ok').length, rel.unparseable);
  let pointwiseJudgments = 0;
  for await (const _ of store.readJsonl(joinUri(evaluate, 'metrics', 'judgments.jsonl'))) pointwiseJudgments++;
  assert.equal(pointwiseJudgments, 48, 'two pointwise judgments per pair');

  const manifest = await store.getJson<StepManifest<unknown>>(joinUri(evaluate, 'metrics', 'manifest.json'));
  assert.ok(manifest);
  assert.deepEqual(
    manifest.objects.map((o) => o.uri.split('/').pop()),
    ['judgments.jsonl', 'relative-judgments.jsonl', 'report.json', 'metrics.json'],
  );
  // Two generation jobs, the second with the A/B grammar.
  const summary = await store.getJson<{ config?: { choices?: string } }>(joinUri(evaluate, 'relative', 'job', 'output', 'generation_summary.json'));
  assert.equal(summary?.config?.choices, 'A,B');
  assert.ok(await store.exists(joinUri(evaluate, 'job', 'model', 'judgments.jsonl')));
});
