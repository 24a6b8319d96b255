/**
 * Sharded generation on the real stack (Temporal dev server, S3 server, generate.py on the tiny judge): with
 * `backend.sharding.shards: 3` the sample and each evaluation generation run as three jobs over contiguous
 * parts of their requests, each with its own seed when it samples, merged into one judgments file that the
 * score and metrics steps read. The workflow's decisions (auto counts, concurrency, a shard retried alone) are
 * tested with stubs in test/workflows/sharding.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import { shardJobUri, mergedShardsUri, shardRequestsUri } from '../../core/run/shards';
import { stepPrefix, joinUri } from '../../core/run/artifacts';
import { activityAttempts } from '../support/history';
import { createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();

test('three shards: the sample and the evaluations run as three jobs each, merged into the judgments the next steps read', { timeout: 10 * 60_000 }, async () => {
  const taskQueue = 'sharding';
  const runId = `sharded-${Date.now()}`;
  const config = testConfig(stack.services, {
    loop: { iterations: 1, inputsPerIteration: 40, samplesPerInput: 4 },
    training: { epochs: 1 },
    data: { evalSuites: [{ name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 20 }] },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
    registry: { enabled: false },
    reuse: { acrossRuns: false },
    backend: { sharding: { shards: 3, concurrency: 2 } },
  } as Parameters<typeof testConfig>[1]);
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const summary = await worker.runUntil(async () =>
    summaryOf(stack.services, await stack.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: runId, args: [config] })),
  );
  const store = storeFor(stack.services);
  const sample = stepPrefix(summary.runPrefixUri, 1, 'sample');

  // The requests: three contiguous shards of the 40 rendered ones.
  const rendered: Array<{ request_id: string }> = [];
  for await (const row of store.readJsonl<{ request_id: string }>(joinUri(sample, 'requests', 'data', 'requests.jsonl'))) rendered.push(row);
  assert.equal(rendered.length, 40);
  const shardRows: string[][] = [];
  for (const i of [0, 1, 2]) {
    const ids: string[] = [];
    for await (const row of store.readJsonl<{ request_id: string }>(joinUri(shardRequestsUri(joinUri(sample, 'requests', 'data'), i), 'requests.jsonl'))) ids.push(row.request_id);
    shardRows.push(ids);
  }
  assert.deepEqual(shardRows.map((r) => r.length), [14, 13, 13]);
  assert.deepEqual(shardRows.flat(), rendered.map((r) => r.request_id), 'contiguous, in order, every request once');

  // Each shard's job wrote its judgments; the merged file holds all of them, and the score step read it.
  const seeds = new Set<number>();
  for (const [i, ids] of shardRows.entries()) {
    const rows: Array<{ request_id: string; seed: number }> = [];
    for await (const row of store.readJsonl<{ request_id: string; seed: number }>(joinUri(shardJobUri(joinUri(sample, 'job'), i), 'model', 'judgments.jsonl'))) rows.push(row);
    assert.equal(rows.length, ids.length * 4, `shard ${i}: 4 judgments per request`);
    assert.deepEqual([...new Set(rows.map((r) => r.request_id))].sort(), [...ids].sort(), `shard ${i} judged its own requests`);
    for (const r of rows) seeds.add(r.seed);
  }
  assert.equal(seeds.size, 3, 'each sampling shard has its own seed');
  const merged: Array<{ request_id: string; sample_index: number }> = [];
  for await (const row of store.readJsonl<{ request_id: string; sample_index: number }>(joinUri(mergedShardsUri(joinUri(shardJobUri(joinUri(sample, 'job'), 0), 'model')), 'judgments.jsonl'))) merged.push(row);
  assert.equal(merged.length, 160);
  assert.equal(new Set(merged.map((r) => `${r.request_id}#${r.sample_index}`)).size, 160, 'every (request, sample) once');
  const it1 = summary.iterations[1];
  assert.equal(it1.sample?.judgments, 160, 'the score step read the merged judgments');
  assert.equal(it1.sample?.inputs, 40);
  assert.ok((it1.pairs?.pairs ?? 0) > 0 && it1.train?.modelUri, 'pairs built and a model trained from them');

  // The evaluations: three greedy jobs each, merged; the metrics saw all 20 examples.
  for (const it of summary.iterations) {
    const evaluate = stepPrefix(summary.runPrefixUri, it.iteration, 'evaluate');
    for (const i of [0, 1, 2]) assert.ok(await store.exists(joinUri(shardJobUri(joinUri(evaluate, 'job'), i), 'model', 'judgments.jsonl')), `iteration ${it.iteration} evaluation shard ${i}`);
    const metrics = it.eval['synthetic-heldout'];
    assert.equal(metrics.kind, 'pointwise');
    assert.equal(metrics.n, 20, `iteration ${it.iteration}: every example evaluated`);
    assert.equal(it.usage?.byStep.evaluate?.jobs, 3, `iteration ${it.iteration}: three evaluation jobs`);
  }
  assert.equal(it1.usage?.byStep.sample?.jobs, 3, 'three sample jobs');

  // The history: one job activity per shard, one split per request set and one merge per generation.
  const attempts = activityAttempts(await stack.env.client.workflow.getHandle(`${runId}-iter-1`).fetchHistory());
  assert.equal(attempts.get('generateSampledJudgments')?.length, 3);
  assert.equal(attempts.get('generateEvaluationJudgments')?.length, 3);
  assert.equal(attempts.get('splitRequests')?.length, 2, 'the sample and the evaluation requests');
  assert.equal(attempts.get('mergeShardJudgments')?.length, 2);
});
