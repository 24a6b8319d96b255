/**
 * The run budget on the real stack (Temporal dev server, S3 server, the real jobs on the tiny judge): a run
 * whose budget is spent by its first job is refused its second job and fails with BudgetExceeded, saying
 * what to do; started again under the same id with a larger budget, it reuses the job it paid for (not run,
 * not charged again) and completes, with its usage per iteration and in total. `judgeloop replay` then
 * replays the finished run from the server, and `judgeloop reset --iteration 1` restarts it from iteration 1,
 * whose steps and jobs are reused.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { selfRationalizationRun } from '../../workflows';
import type { RunSummary } from '../../core/run/run-types';
import { jobName } from '../../core/run/artifacts';
import { TINY_DATA, createTestWorker, runCli, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();
const cli = (...argv: string[]) => runCli(argv);

const TINY = {
  loop: { iterations: 1, inputsPerIteration: 40, samplesPerInput: 4 },
  training: { epochs: 1 },
  data: TINY_DATA,
  evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
};

function launches(workDir: string, job: string): number {
  const file = path.join(workDir, job, 'launches.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').length : 0;
}

test('a spent budget stops the next job; the rerun under the same id reuses what was paid for; replay and reset of that run', { timeout: 20 * 60_000 }, async () => {
  const taskQueue = 'budget';
  const runId = `budget-${Date.now()}`;
  // 0.36 ms of job time: the first job (iteration 0's evaluation, a few seconds of Python) spends it.
  const capped = testConfig(stack.services, { ...TINY, budget: { maxJobHours: 1e-7 } } as Parameters<typeof testConfig>[1]);
  const workDir = capped.backend.workDir;
  const store = storeFor(stack.services);
  const connection = ['--address', stack.services.temporalAddress, '--task-queue', taskQueue];
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);

  await worker.runUntil(async () => {
    const handle = await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [capped] });
    const failure = await handle.result().then(
      () => assert.fail('the capped run should fail'),
      (e: unknown) => e,
    );
    assert.ok(failure instanceof WorkflowFailedError);

    // The user's view: `judgeloop status` names the reason and what to do.
    const status = await cli('status', runId, ...connection);
    assert.equal(status.rc, 0, status.err);
    assert.match(status.out, /BudgetExceeded/);
    assert.match(status.out, /budget spent: the run's jobs have used [0-9.]+ billed instance-hours, reaching budget\.maxJobHours 1e-7 \(1 job\)/);
    assert.match(status.out, new RegExp(`job ${jobName(runId, 1, 'sample')} \\(generate\\.py\\) was not started`));
    assert.match(status.out, new RegExp(`--id ${runId}\\)`));
  });
  assert.equal(launches(workDir, jobName(runId, 0, 'evaluate')), 1);
  assert.equal(launches(workDir, jobName(runId, 1, 'sample')), 0, 'the refused job never started');

  // Again under the same id, through the CLI as the message says, with room in the budget.
  const roomy = { ...capped, budget: { maxJobHours: 10 } };
  const configPath = path.join(os.tmpdir(), `${runId}.json`);
  writeFileSync(configPath, JSON.stringify(roomy));
  // (A worker stops when runUntil returns: the rerun gets its own.)
  const again = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const summary = await again.runUntil(async () => {
    const started = await cli('run', '--config', configPath, '--id', runId, '--no-follow', ...connection);
    assert.equal(started.rc, 0, started.err);
    return summaryOf(stack.services, await stack.env.client.workflow.getHandle(runId).result());
  });
  assert.equal(launches(workDir, jobName(runId, 0, 'evaluate')), 1, 'the paid-for evaluation job is reused, not run again');
  assert.equal(launches(workDir, jobName(runId, 1, 'sample')), 1);
  const [it0, it1] = summary.iterations;
  assert.equal(it0.usage!.jobs, 1);
  assert.deepEqual(Object.keys(it1.usage!.byStep).sort(), ['evaluate', 'sample', 'train']);
  assert.equal(summary.usage!.jobs, 4);
  assert.ok(summary.usage!.seconds > 0);
  const recorded = await store.getJson<{ jobs: { attempt: string }[] }>(`${summary.runPrefixUri}/iter-0/usage.json`);
  assert.deepEqual(recorded?.jobs.map((j) => j.attempt), [jobName(runId, 0, 'evaluate')]);

  // Search attributes (the CLI set the run and judge names; the workflow keeps iteration and status) filter
  // runs in the Temporal UI and `temporal workflow list --query`.
  const query = `JudgeloopJudgeName = '${capped.judge.name}' AND JudgeloopStatus = 'completed' AND JudgeloopIteration = 1`;
  let found: string[] = [];
  for (const deadline = Date.now() + 15_000; found.length === 0 && Date.now() < deadline; ) {
    found = [];
    for await (const w of stack.env.client.workflow.list({ query })) found.push(w.workflowId);
    if (found.length === 0) await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(found, [runId], query);

  // Replay from the server: the run's history and its iterations' against the current workflow code.
  const replayed = await cli('replay', runId, ...connection);
  assert.equal(replayed.rc, 0, replayed.out + replayed.err);
  for (const id of [runId, `${runId}-iter-0`, `${runId}-iter-1`]) assert.match(replayed.out, new RegExp(`^deterministic {4}${id} \\(`, 'm'));
  assert.match(replayed.out, /3 histories replay deterministically/);

  // Temporal's reset restarts the run from iteration 1: the history up to there is kept, iteration 1 runs
  // again as a new execution, and its finished steps and jobs are reused, not redone.
  const dry = await cli('reset', runId, '--iteration', '1', '--dry-run', ...connection);
  assert.equal(dry.rc, 0, dry.err);
  assert.match(dry.out, new RegExp(`^temporal workflow reset --workflow-id ${runId} --event-id \\d+ --reason `));
  const before = await stack.env.client.workflow.getHandle(runId).describe();
  const third = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const afterReset = await third.runUntil(async () => {
    const reset = await cli('reset', runId, '--iteration', '1', ...connection);
    assert.equal(reset.rc, 0, reset.err);
    assert.match(reset.out, new RegExp(`run ${runId} restarts from iteration 1 \\(history event \\d+\\); new execution \\S+`));
    const handle = stack.env.client.workflow.getHandle(runId);
    const now = await handle.describe();
    assert.notEqual(now.runId, before.runId, 'a new execution of the same run');
    return summaryOf(stack.services, await handle.result());
  });
  assert.deepEqual(afterReset.iterations.map((i) => i.modelUri), summary.iterations.map((i) => i.modelUri));
  for (const step of ['sample', 'train', 'evaluate']) assert.equal(launches(workDir, jobName(runId, 1, step)), 1, `${step}: reused, not run again`);
  const missing = await cli('reset', runId, '--iteration', '5', '--dry-run', ...connection);
  assert.equal(missing.rc, 2);
  assert.match(missing.err, new RegExp(`run ${runId} never started iteration 5; it started 0, 1`));
});
