/**
 * Reuse across runs on the real stack (Temporal dev server, S3 server, the real jobs on the tiny judge):
 * a second run of the same config, under a new id, runs none of its jobs — each takes the outputs of the
 * first run's job with the same inputs — nor recomputes its data steps (they are copied from the first run's),
 * and ends with the same models and metrics; a third run that changes only the training parameters reuses
 * the shared prefix (evaluation of the seed, sampling, scoring, pairs) and trains anew.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import type { RunSummary } from '../../core/run/run-types';
import { jobName } from '../../core/run/artifacts';
import { formatIterationDone, formatResults } from '../../cli/format';
import { TINY_DATA, createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();

test('a rerun reuses every finished job; a variant reuses the prefix of work it shares', { timeout: 20 * 60_000 }, async () => {
  const taskQueue = 'reuse';
  const stamp = Date.now().toString(36);
  const base = testConfig(stack.services, {
    judge: { name: `reuse-${stamp}` },
    loop: { iterations: 1, inputsPerIteration: 40, samplesPerInput: 4 },
    training: { epochs: 1 },
    data: TINY_DATA,
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
    registry: { enabled: false },
  } as Parameters<typeof testConfig>[1]);
  const workDir = base.backend.workDir;
  const launched = (run: string, iteration: number, step: string) => existsSync(path.join(workDir, jobName(run, iteration, step), 'launches.log'));
  const runs = { first: `reuse-a-${stamp}`, again: `reuse-b-${stamp}`, variant: `reuse-c-${stamp}` };
  const variant = { ...base, training: { ...base.training, beta: 0.3 } };

  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const [first, again, changed] = await worker.runUntil(async () => {
    const run = async (workflowId: string, config: unknown) =>
      summaryOf(stack.services, await (await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [config] })).result());
    return [await run(runs.first, base), await run(runs.again, base), await run(runs.variant, variant)];
  });

  // The rerun: no job ran; every job points at the first run's outputs; same models, same metrics.
  const jobs: [number, string][] = [[0, 'evaluate'], [1, 'sample'], [1, 'train'], [1, 'evaluate']];
  for (const [k, step] of jobs) {
    assert.ok(launched(runs.first, k, step), `first run: ${step} of iteration ${k} ran`);
    assert.ok(!launched(runs.again, k, step), `rerun: ${step} of iteration ${k} did not run`);
  }
  assert.deepEqual(again.usage?.reused, jobs.map(([k, step]) => jobName(runs.again, k, step)).sort());
  assert.equal(again.usage?.jobs, 0, 'nothing ran, nothing was billed');
  // (Iteration 0's model is the seed as each run staged it; the trained judge is the first run's.)
  assert.equal(again.iterations[1].modelUri, first.iterations[1].modelUri);
  const figures = (s: RunSummary) => JSON.parse(JSON.stringify(s.iterations.map((i) => i.eval), (k, v: unknown) => (k.endsWith('Uri') ? undefined : v)));
  assert.deepEqual(figures(again), figures(first), 'the same metrics (the reports are each run\'s own)');
  // Nor did the data steps: each is a copy of the first run's, under the rerun's own prefix.
  const dataSteps = ['iter-0/evaluate/metrics', 'iter-0/evaluate/requests', 'iter-1/evaluate/metrics', 'iter-1/evaluate/requests', 'iter-1/pair', 'iter-1/sample/requests', 'iter-1/score'];
  assert.deepEqual(again.usage?.reusedSteps, dataSteps);
  assert.equal(first.usage?.reusedSteps, undefined, 'the first run computed its steps');
  const pairsUri = again.iterations[1].pairs!.uri;
  assert.ok(pairsUri.startsWith(`${again.runPrefixUri}/`), `the rerun's pairs are in its own prefix: ${pairsUri}`);
  assert.deepEqual(await storeFor(stack.services).stat(pairsUri), await storeFor(stack.services).stat(first.iterations[1].pairs!.uri), 'a copy of the first run\'s pairs');
  assert.equal(again.iterations[1].pairs?.pairs, first.iterations[1].pairs?.pairs);
  assert.match(formatIterationDone(again.iterations[1]), /3 jobs and 5 data steps reused from an earlier run/);
  assert.match(formatResults(again), new RegExp(`reused, not run \\(same inputs as a job that finished earlier\\): ${jobName(runs.again, 0, 'evaluate')}`));
  assert.match(formatResults(again), /reused, not recomputed \(copied from the same step of an earlier run with the same inputs\): iter-0\/evaluate\/metrics, /);

  // The variant: the seed's evaluation and the sampling are shared work; training (beta) and what follows are not.
  assert.deepEqual(changed.usage?.reused, [jobName(runs.variant, 0, 'evaluate'), jobName(runs.variant, 1, 'sample')].sort());
  assert.ok(launched(runs.variant, 1, 'train') && launched(runs.variant, 1, 'evaluate'));
  assert.notEqual(changed.iterations[1].modelUri, first.iterations[1].modelUri);
  // Its data steps before training are shared too; the new judge's evaluation metrics are not.
  assert.deepEqual(changed.usage?.reusedSteps, ['iter-0/evaluate/metrics', 'iter-0/evaluate/requests', 'iter-1/evaluate/requests', 'iter-1/pair', 'iter-1/sample/requests', 'iter-1/score']);
});
