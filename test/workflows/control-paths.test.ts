/**
 * How the run workflow ends when a step cannot go on, and which steps it takes: cancellation, an iteration
 * without preference pairs, a job the budget refuses, a config error, and the optional steps (warm start,
 * meta-judge, consistency re-scoring). The real workflow code on Temporal's time-skipping test server with
 * stubbed activities (test/support/stub-activities.ts). The same paths with real jobs: the fault matrix
 * (cancellation in every step), budget.test.ts and ablations.test.ts in test/integration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { selfRationalizationRun } from '../../workflows';
import { mergeConfig } from '../../cli/config-file';
import localConfig from '../../configs/local.json';
import { TINY_DATA } from '../support/judgeloop';
import { failure, stubActivities, type StubOptions, type StubRecord } from '../support/stub-activities';
import { stubbedWorker, useTimeSkippingEnv } from '../support/time-skipping';

const ts = useTimeSkippingEnv();
let queues = 0;

function config(over: Record<string, unknown> = {}): unknown {
  return mergeConfig(localConfig, {
    data: TINY_DATA,
    loop: { iterations: 1 },
    // Cancellation reaches an activity with its next heartbeat, which the SDK sends at most every 80% of this.
    timeouts: { heartbeatTimeoutSeconds: 2 },
    registry: { enabled: false },
    ...over,
  });
}

/** Starts a run on a worker of the real workflows with stubbed activities; `drive` gets its handle. */
async function withRun<T>(
  runId: string,
  cfg: unknown,
  options: StubOptions,
  drive: (handle: Awaited<ReturnType<typeof ts.env.client.workflow.start<typeof selfRationalizationRun>>>, record: StubRecord) => Promise<T>,
): Promise<T> {
  const { activities, record } = stubActivities(options);
  const taskQueue = `control-${++queues}`;
  const worker = await stubbedWorker(ts.env, taskQueue, activities);
  return worker.runUntil(async () => drive(await ts.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [cfg] }), record));
}

/** The run's failure, unwrapped down to the ApplicationFailure or CancelledFailure that caused it. */
async function rootCause(result: Promise<unknown>): Promise<Error> {
  try {
    await result;
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    let cause: unknown = err.cause;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure || cause instanceof CancelledFailure) && cause.cause) cause = cause.cause;
    assert.ok(cause instanceof Error, String(cause));
    return cause;
  }
  throw new Error('the run should have failed');
}

const called = (record: StubRecord, activity: string) => record.calls.filter((c) => c.activity === activity).length;

test('cancelled while a job runs: the job sees the cancellation before the run ends cancelled, and nothing after it runs', async () => {
  await withRun('cancel-in-train', config(), { hold: { activity: 'trainJudge', iteration: 1 } }, async (handle, record) => {
    await record.held;
    await handle.cancel();
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof CancelledFailure, `the run ends cancelled (${cause})`);
    assert.deepEqual(record.cancelled, ['trainJudge'], 'the job step was told, and finished stopping, before the run closed');
    assert.equal(called(record, 'evaluateJudge'), 1, 'only iteration 0 was evaluated');
    assert.equal(called(record, 'writeRunReport'), 0);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
  });
});

test('cancelled while a data step runs: the run ends cancelled, and the iteration\'s later steps never start', async () => {
  await withRun('cancel-in-score', config(), { hold: { activity: 'scoreJudgments', iteration: 1 } }, async (handle, record) => {
    await record.held;
    await handle.cancel();
    assert.ok((await rootCause(handle.result())) instanceof CancelledFailure);
    // Data steps are cancelled without the run waiting for them (they leave no process behind): the step
    // learns of it from its next heartbeat, which may come after the run has closed.
    for (let i = 0; i < 100 && record.cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(record.cancelled, ['scoreJudgments']);
    assert.equal(called(record, 'buildPairs') + called(record, 'trainJudge'), 0);
  });
});

test('an iteration without preference pairs fails the run, saying what to change, and trains nothing', async () => {
  await withRun('no-pairs', config(), { pairs: () => 0 }, async (handle, record) => {
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'NoPairs');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /^iteration 1: no preference pairs \(10 inputs had none\)\. Sample more judgments per input \(loop\.samplesPerInput\), raise loop\.temperature/);
    assert.equal(called(record, 'trainJudge'), 0);
    assert.equal(called(record, 'buildPairs'), 1, 'not retried');
  });
});

test('a job the budget refuses fails the run at once with BudgetExceeded: no retry, no later step', async () => {
  const refused = failure('BudgetExceeded', 'run budget spent: 0.0001 of 0.0000001 job hours (budget.maxJobHours); raise it and start the run again under the same id');
  await withRun('budget-refused', config({ loop: { iterations: 2 } }), { fail: { activity: 'sampleJudgments', iteration: 1, failure: refused } }, async (handle, record) => {
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'BudgetExceeded');
    assert.match(cause.message, /raise it and start the run again under the same id/);
    assert.equal(called(record, 'sampleJudgments'), 1, 'a refused job is not retried');
    assert.equal(called(record, 'scoreJudgments') + called(record, 'trainJudge') + called(record, 'writeRunReport'), 0);
  });
});

test('a bad config fails the run before any activity, naming every problem', async () => {
  const bad = mergeConfig(config(), { loop: { samplesPerInput: 0, temperature: -1 } }) as Record<string, unknown>;
  await withRun('bad-config', bad, {}, async (handle, record) => {
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'ConfigError');
    assert.match(cause.message, /2 problems[\s\S]*- loop\.samplesPerInput: [\s\S]*- loop\.temperature: /);
    assert.deepEqual(record.calls, [], 'no step ran');
  });
});

test('the warm start runs before iteration 0 from the seed, and iteration 0 evaluates its model', async () => {
  const cfg = config({ warmStart: { data: { uri: 'datasets/synthetic/train.jsonl', adapter: 'canonical' } } });
  await withRun('warm-start', cfg, {}, async (handle, record) => {
    const summary = await handle.result();
    const order = record.calls.map((c) => c.activity).filter((a) => a === 'warmStartJudge' || a === 'evaluateJudge');
    assert.deepEqual(order, ['warmStartJudge', 'evaluateJudge', 'evaluateJudge']);
    assert.equal(summary.warmStart?.modelUri, summary.iterations[0].modelUri, 'iteration 0 evaluates the warm-started judge');
    assert.equal(record.calls.find((c) => c.activity === 'sampleJudgments')?.modelUri, summary.warmStart?.modelUri);
  });
});

test('the judge-side steps run only when configured: meta-judge for the meta_judge strategy, re-scoring for the consistency filter', async () => {
  await withRun('plain-steps', config(), {}, async (handle, record) => {
    await handle.result();
    assert.equal(called(record, 'rateJudgments') + called(record, 'rescoreJudgments'), 0);
  });
  const cfg = config({
    loop: { iterations: 1, pairing: { strategies: [{ name: 'meta_judge', margin: 1 }], consistencyFilter: true } },
  });
  const { activities, record } = stubActivities();
  const rated: string[] = [];
  const taskQueue = `control-${++queues}`;
  const worker = await stubbedWorker(ts.env, taskQueue, {
    ...activities,
    async rateJudgments(input) {
      rated.push('rateJudgments');
      return { uri: `${input.runPrefixUri}/iter-1/meta-judge/ratings.jsonl`, rated: 40, unparseable: 0 };
    },
    async rescoreJudgments(input) {
      rated.push('rescoreJudgments');
      return { uri: `${input.runPrefixUri}/iter-1/consistency/rescores.jsonl`, rescored: 40, consistent: 30, inconsistent: 10 };
    },
  });
  const summary = await worker.runUntil(ts.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: 'judge-side-steps', args: [cfg] }));
  assert.deepEqual(rated, ['rateJudgments', 'rescoreJudgments']);
  assert.equal(summary.iterations[1].metaJudge?.rated, 40);
  assert.equal(summary.iterations[1].consistency?.inconsistent, 10);
  assert.ok(record.calls.some((c) => c.activity === 'buildPairs'));
});
