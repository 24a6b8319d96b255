/**
 * How the run workflow ends when a step cannot go on, and which steps it takes: cancellation, an iteration
 * without preference pairs, a job the budget refuses, a config error, and the optional steps (warm start,
 * meta-judge, consistency re-scoring), and how the model jobs are scheduled (each its own activity, on the
 * job task queue; the evaluation's generations at the same time). The real workflow code on Temporal's time-skipping test server with
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
import { failure, stubActivities, stubGenerated, type StubOptions, type StubRecord, stubRunSummary } from '../support/stub-activities';
import { stubbedWorker, useTimeSkippingEnv } from '../support/time-skipping';
import { ACTIVITY_SECTIONS, type ActivitySections } from '../../core/config/sections';
import type { Activities } from '../../activities';

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
    assert.equal(called(record, 'computeEvaluationMetrics'), 1, 'only iteration 0 was evaluated');
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
  await withRun('budget-refused', config({ loop: { iterations: 2 } }), { fail: { activity: 'generateSampledJudgments', iteration: 1, failure: refused } }, async (handle, record) => {
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'BudgetExceeded');
    assert.match(cause.message, /raise it and start the run again under the same id/);
    assert.equal(called(record, 'generateSampledJudgments'), 1, 'a refused job is not retried');
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
    const summary = stubRunSummary(record, await handle.result());
    const order = record.calls.map((c) => c.activity).filter((a) => /WarmStart/.test(a) || a === 'computeEvaluationMetrics');
    assert.deepEqual(order, ['writeWarmStartExamples', 'trainWarmStartJudge', 'computeEvaluationMetrics', 'computeEvaluationMetrics']);
    const queue = record.calls.find((c) => c.activity === 'prepareRun')!.taskQueue;
    assert.deepEqual(record.calls.filter((c) => /WarmStart/.test(c.activity)).map((c) => c.taskQueue), [queue, `${queue}-jobs`], 'the examples a data step, the training a job');
    assert.equal(summary.warmStart?.modelUri, summary.iterations[0].modelUri, 'iteration 0 evaluates the warm-started judge');
    assert.equal(record.calls.find((c) => c.activity === 'generateSampledJudgments')?.modelUri, summary.warmStart?.modelUri);
  });
});

test('the judge-side steps run only when configured: meta-judge for the meta_judge strategy, re-scoring for the consistency filter', async () => {
  await withRun('plain-steps', config(), {}, async (handle, record) => {
    await handle.result();
    assert.deepEqual(record.calls.filter((c) => /Meta|Rescore|Consistency/.test(c.activity)), []);
  });
  const cfg = config({
    loop: { iterations: 1, pairing: { strategies: [{ name: 'meta_judge', margin: 1 }], consistencyFilter: true } },
  });
  await withRun('judge-side-steps', cfg, {}, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    const judgeSide = record.calls.filter((c) => /Meta|Rescore|Consistency/.test(c.activity)).map((c) => c.activity);
    assert.deepEqual(judgeSide, ['renderMetaJudgeRequests', 'generateMetaRatings', 'collectMetaRatings', 'renderConsistencyRequests', 'generateRescores', 'collectRescores']);
    assert.equal(summary.iterations[1].metaJudge?.rated, 40);
    assert.equal(summary.iterations[1].consistency?.inconsistent, 10);
    assert.ok(record.calls.some((c) => c.activity === 'buildPairs'));
  });
});

test('a judge-side step with nothing to rate (no sampled judgment parsed) runs no job and collects nothing', async () => {
  const cfg = config({ loop: { iterations: 1, pairing: { strategies: [{ name: 'meta_judge', margin: 1 }], consistencyFilter: true } } });
  const { activities, record } = stubActivities();
  const taskQueue = `control-${++queues}`;
  const worker = await stubbedWorker(ts.env, taskQueue, {
    ...activities,
    renderMetaJudgeRequests: async () => null,
    renderConsistencyRequests: async () => null,
  });
  const summary = stubRunSummary(record, await worker.runUntil(ts.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: 'judge-side-empty', args: [cfg] })));
  assert.equal(called(record, 'generateMetaRatings') + called(record, 'generateRescores'), 0);
  assert.deepEqual([summary.iterations[1].metaJudge?.rated, summary.iterations[1].consistency?.rescored], [0, 0]);
});

/** The config sections each activity is sent (core/config/sections.ts), or the whole config. */
const SECTIONS_OF: Partial<Record<keyof Activities, ActivitySections | 'whole' | 'registry'>> = {
  resolveRunConfig: 'whole',
  prepareRun: 'whole',
  writeWarmStartExamples: 'warmStart',
  trainWarmStartJudge: 'warmStart',
  renderSampleRequests: 'sampleRequests',
  generateSampledJudgments: 'generation',
  scoreJudgments: 'score',
  renderMetaJudgeRequests: 'judgeSide',
  generateMetaRatings: 'generation',
  collectMetaRatings: 'judgeSide',
  renderConsistencyRequests: 'judgeSide',
  generateRescores: 'generation',
  collectRescores: 'judgeSide',
  buildPairs: 'pair',
  trainJudge: 'train',
  renderEvaluationRequests: 'evaluation',
  generateEvaluationJudgments: 'generation',
  generateBaselineJudgments: 'generation',
  computeEvaluationMetrics: 'evaluation',
  summarizeUsage: 'usage',
  recordIterationSummary: 'storage',
  trackRun: 'tracking',
  writeRunReport: 'storage',
  readChampion: 'registry',
  recordDecision: 'registry',
  registerModelPackage: 'modelRegistry',
};

test('each activity is sent only the config sections it reads, not the whole config', async () => {
  const cfg = config({
    warmStart: { data: { uri: 'datasets/synthetic/train.jsonl', adapter: 'canonical' } },
    loop: { iterations: 1, pairing: { strategies: [{ name: 'meta_judge', margin: 1 }], consistencyFilter: true } },
    evaluation: { baselines: { samples: 2, temperature: 1 } },
    registry: { enabled: true, sagemaker: { region: 'us-east-1', inferenceImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judge-serving:1.0' } },
  });
  await withRun('config-sections', cfg, {}, async (handle, record) => {
    await handle.result();
    const whole = record.configSections.find((c) => c.activity === 'prepareRun')!.sections;
    assert.ok(whole.includes('data') && whole.includes('warmStart'), `prepareRun gets the whole config: ${whole.join(', ')}`);
    const seen = new Set<string>();
    for (const { activity, sections } of record.configSections) {
      const kind = SECTIONS_OF[activity];
      assert.ok(kind, `${activity} is in the table of config sections`);
      const expected =
        kind === 'whole' ? whole : kind === 'registry' ? ['judge', 'storage'] : ACTIVITY_SECTIONS[kind].filter((s) => whole.includes(s)).sort();
      if (kind !== 'whole') assert.deepEqual(sections, expected, `${activity} is sent ${kind}'s sections`);
      seen.add(activity);
    }
    const missing = Object.keys(SECTIONS_OF).filter((a) => !seen.has(a) && a !== 'resolveRunConfig');
    assert.deepEqual(missing, [], 'the run called every activity of the table');
    // The largest section (the datasets) reaches only the steps that read the eval suites' settings.
    const withData = [...new Set(record.configSections.filter((c) => c.sections.includes('data')).map((c) => c.activity))].sort();
    assert.deepEqual(withData, ['computeEvaluationMetrics', 'prepareRun', 'renderEvaluationRequests']);
  });
});

const JOB_ACTIVITIES = ['generateSampledJudgments', 'generateMetaRatings', 'generateRescores', 'trainJudge', 'trainWarmStartJudge', 'generateEvaluationJudgments', 'generateBaselineJudgments', 'generateRelativeVerdicts'];

test('every model job runs on the job task queue, every data step on the run\'s own; the evaluation is render → jobs → metrics', async () => {
  await withRun('job-queue', config({ evaluation: { baselines: { samples: 0 } } }), {}, async (handle, record) => {
    await handle.result();
    const taskQueue = record.calls.find((c) => c.activity === 'prepareRun')!.taskQueue;
    for (const call of record.calls) {
      const expected = JOB_ACTIVITIES.includes(call.activity) ? `${taskQueue}-jobs` : taskQueue;
      assert.equal(call.taskQueue, expected, `${call.activity} (iteration ${call.iteration}) ran on ${call.taskQueue}`);
    }
    const iteration1 = record.calls.filter((c) => c.iteration === 1).map((c) => c.activity);
    assert.deepEqual(iteration1, [
      'renderSampleRequests',
      'generateSampledJudgments',
      'scoreJudgments',
      'buildPairs',
      'trainJudge',
      'renderEvaluationRequests',
      'generateEvaluationJudgments',
      'computeEvaluationMetrics',
      'summarizeUsage',
      'recordIterationSummary', // by the run, once the iteration and its gate are done
      'trackRun', // the embedded default tracks its runs (tracking.mlflow)
    ]);
    assert.equal(called(record, 'generateBaselineJudgments') + called(record, 'generateRelativeVerdicts'), 0, 'no baselines or relative suites configured, no such job');
  });
});

test('the evaluation\'s three generations run at the same time, and a failed one is retried alone', async () => {
  const cfg = config({ evaluation: { baselines: { samples: 4, temperature: 1 } } });
  const { activities, record } = stubActivities();
  const running = new Set<string>();
  let most = 0;
  const attempts: Record<string, number> = {};
  /** A generation that takes a while (of workflow time), so the others can start beside it. */
  const generation = (name: string) => async (input: { iteration: number; runPrefixUri: string }) => {
    attempts[`${name}@${input.iteration}`] = (attempts[`${name}@${input.iteration}`] ?? 0) + 1;
    running.add(name);
    most = Math.max(most, running.size);
    try {
      await new Promise((r) => setTimeout(r, 300));
      // The baselines' first attempt of iteration 1 fails as a lost connection would: retryable.
      if (name === 'baselines' && input.iteration === 1 && attempts[`${name}@1`] === 1) throw new Error('connection reset');
    } finally {
      running.delete(name);
    }
    return stubGenerated(`${input.runPrefixUri}/iter-${input.iteration}/evaluate/${name}/model`, name);
  };
  let handed: unknown;
  const taskQueue = `control-${++queues}`;
  const worker = await stubbedWorker(ts.env, taskQueue, {
    ...activities,
    async renderEvaluationRequests(input) {
      const prefix = `${input.runPrefixUri}/iter-${input.iteration}/evaluate`;
      return { pointwise: { dataUri: `${prefix}/requests/data`, requests: 20 }, relative: { dataUri: `${prefix}/relative/requests/data`, requests: 8 } };
    },
    generateEvaluationJudgments: generation('pointwise'),
    generateBaselineJudgments: generation('baselines'),
    generateRelativeVerdicts: generation('relative'),
    async computeEvaluationMetrics(input) {
      handed = { requests: input.requests, outputs: input.outputs };
      return activities.computeEvaluationMetrics!(input);
    },
  });
  await worker.runUntil(ts.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: 'evaluation-generations', args: [cfg] }));
  assert.equal(most, 3, 'pointwise, baselines and relative generations overlapped');
  assert.deepEqual(attempts, { 'pointwise@0': 1, 'baselines@0': 1, 'relative@0': 1, 'pointwise@1': 1, 'baselines@1': 2, 'relative@1': 1 });
  assert.ok(record.calls.length > 0);
  const prefix = String((handed as { outputs: { pointwise: string } }).outputs.pointwise).replace(/\/pointwise\/model$/, '');
  assert.deepEqual(handed, {
    requests: { pointwise: { dataUri: `${prefix}/requests/data`, requests: 20 }, relative: { dataUri: `${prefix}/relative/requests/data`, requests: 8 } },
    outputs: { pointwise: `${prefix}/pointwise/model`, baselines: `${prefix}/baselines/model`, relative: `${prefix}/relative/model` },
  });
});

test('tracking: the run sends its records after each iteration and once more, ending its MLflow run, before its report', async () => {
  await withRun('tracked', config({ loop: { iterations: 2 } }), {}, async (handle, record) => {
    await handle.result();
    assert.deepEqual(record.trackSends, [
      { through: 0, ended: null },
      { through: 1, ended: null },
      { through: 2, ended: null },
      { through: 2, ended: 'FINISHED' },
    ]);
    const order = record.calls.map((c) => c.activity).filter((a) => a === 'trackRun' || a === 'writeRunReport' || a === 'recordIterationSummary');
    assert.deepEqual(order.slice(-3), ['trackRun', 'trackRun', 'writeRunReport'], 'the last iteration is sent, then the run is ended, then the report is written');
  });
});

test('a tracker that fails never fails the run: the run completes and writes its report', async () => {
  const broken = failure('TrackerBroken', 'the tracker answered 500 to everything');
  await withRun('tracker-broken', config(), { fail: { activity: 'trackRun', failure: broken } }, async (handle, record) => {
    await handle.result();
    assert.equal((await handle.describe()).status.name, 'COMPLETED');
    assert.equal(called(record, 'trackRun'), 3, 'each send was tried once (a non-retryable failure), none stopped the run');
    assert.equal(called(record, 'writeRunReport'), 1);
  });
});

test('a config without tracking sends nothing to a tracker', async () => {
  const untracked = config() as Record<string, unknown>;
  delete untracked.tracking;
  await withRun('untracked', untracked, {}, async (handle, record) => {
    await handle.result();
    assert.equal(called(record, 'trackRun'), 0);
    assert.equal(called(record, 'writeRunReport'), 1);
  });
});

test('a run that fails still ends its MLflow run, FAILED, with what it recorded; a cancelled one sends nothing more', async () => {
  await withRun('tracked-fails', config(), { pairs: () => 0 }, async (handle, record) => {
    const cause = await rootCause(handle.result());
    assert.ok(cause instanceof ApplicationFailure && cause.type === 'NoPairs');
    assert.deepEqual(record.trackSends, [
      { through: 0, ended: null },
      { through: 0, ended: 'FAILED' },
    ]);
  });
  await withRun('tracked-cancelled', config(), { hold: { activity: 'trainJudge', iteration: 1 } }, async (handle, record) => {
    await record.held;
    await handle.cancel();
    assert.ok((await rootCause(handle.result())) instanceof CancelledFailure);
    assert.deepEqual(record.trackSends, [{ through: 0, ended: null }]);
  });
});
