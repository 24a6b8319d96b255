/**
 * Replay: the committed histories of real runs (test/histories/<set>/, recorded with
 * scripts/record-histories.ts) replay deterministically against the current workflow code, and the CLI says
 * so. The set `pre-usage-accounting` was recorded before the iteration workflow gained its usage step, a
 * change guarded by patched('usage-accounting-v1'): it replays because of the guard, and the same histories
 * fail to replay when the guard is bypassed (patched() forced true), with the CLI-facing report naming the
 * event where the code diverges. Likewise `with-usage-and-report`, recorded before every model job became an
 * activity of its own (patched('job-activities-v1')); `with-job-activities` was recorded after. And
 * `with-job-activities` again, recorded before runs kept their iterations' summaries in S3
 * (patched('run-summary-in-s3-v1')); `with-summaries-in-s3` was recorded after.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflows } from '../../workers/main';
import { eventTypeName, formatReplayOutcomes, readHistoryFile, replayHistories, type RecordedHistory } from '../../workers/replay';
import { USAGE_PATCH } from '../../workflows/iteration';
import { JOB_ACTIVITIES_PATCH } from '../../workflows/options';
import { SUMMARY_IN_S3_PATCH } from '../../workflows/run';
import { main } from '../../cli/judgeloop';

const HISTORIES = path.resolve(__dirname, '../histories');

interface Manifest {
  commit: string;
  histories: { scenario: string; workflowId: string; files: string[]; outcome: string }[];
}

function sets(): string[] {
  return readdirSync(HISTORIES).filter((d) => existsSync(path.join(HISTORIES, d, 'manifest.json')));
}

async function load(set: string): Promise<{ manifest: Manifest; histories: RecordedHistory[] }> {
  const manifest = JSON.parse(readFileSync(path.join(HISTORIES, set, 'manifest.json'), 'utf8')) as Manifest;
  const files = manifest.histories.flatMap((h) => h.files.map((f) => path.join(HISTORIES, set, f)));
  return { manifest, histories: await Promise.all(files.map((f) => readHistoryFile(f))) };
}

let current: WorkflowBundleWithSourceMap;
before(async () => {
  current = await bundleWorkflows();
});

test('the committed history sets cover a completed, a failed-and-retried and a cancelled run', async () => {
  assert.ok(sets().length >= 1);
  for (const set of sets()) {
    const { manifest, histories } = await load(set);
    assert.deepEqual(manifest.histories.map((h) => h.scenario).sort(), ['cancelled', 'default', 'retried'], set);
    assert.match(manifest.histories.find((h) => h.scenario === 'cancelled')!.outcome, /cancel/i);
    assert.equal(manifest.histories.find((h) => h.scenario === 'default')!.outcome, 'completed');
    // Each run comes with its iterations' histories: the default run has iterations 0, 1 and 2.
    assert.equal(manifest.histories.find((h) => h.scenario === 'default')!.files.length, 4, set);
    assert.ok(histories.every((h) => (h.history.events?.length ?? 0) > 3));
  }
});

test('every committed history replays deterministically with the current workflow code', { timeout: 10 * 60_000 }, async () => {
  for (const set of sets()) {
    const { histories } = await load(set);
    const outcomes = await replayHistories(histories, current);
    assert.equal(outcomes.length, histories.length);
    assert.ok(outcomes.every((o) => o.deterministic), `${set}:\n${formatReplayOutcomes(outcomes)}`);
  }
});

/** The workflow code with `@temporalio/workflow` replaced by a module whose patched() skips some guards. */
function bundleWithPatches(module: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    webpackConfigHook: (config) => ({
      ...config,
      resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as Record<string, string>), '@temporalio/workflow$': require.resolve(module) } },
    }),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) },
  });
}

test(`histories from before the usage step replay only because of patched('${USAGE_PATCH}')`, { timeout: 10 * 60_000 }, async () => {
  const { histories } = await load('pre-usage-accounting');
  const unguarded = await bundleWithPatches('../support/always-patched');
  const iterations = histories.filter((h) => /-iter-\d+$/.test(h.workflowId));
  const outcomes = await replayHistories(iterations, unguarded);
  // Every iteration that completed recorded no usage step before completing; the unguarded code schedules one.
  const completed = new Set(iterations.filter((h) => eventTypeName(h.history.events!.at(-1)!) === 'WorkflowExecutionCompleted').map((h) => h.workflowId));
  assert.ok(completed.size >= 3);
  for (const o of outcomes) {
    if (completed.has(o.workflowId)) assert.equal(o.deterministic, false, `${o.workflowId} should diverge without the guard:\n${formatReplayOutcomes(outcomes)}`);
  }
  const diverged = outcomes.find((o) => !o.deterministic)!;
  assert.match(diverged.error ?? '', /nondetermin/i);
  assert.ok(diverged.divergence && diverged.divergence.context.some((l) => l.startsWith('>')), JSON.stringify(diverged.divergence));
  assert.match(formatReplayOutcomes(outcomes), /NONDETERMINISTIC .*\n[\s\S]*diverges at history event \d+; the history around it:/);
});

test(`iterations from before the model jobs became activities of their own replay only because of patched('${JOB_ACTIVITIES_PATCH}')`, { timeout: 10 * 60_000 }, async () => {
  const { histories } = await load('with-usage-and-report');
  // Unguarded, the code schedules the data activity that renders the requests where the history has the
  // one-activity step: renderSampleRequests for sampleJudgments, renderEvaluationRequests for evaluateJudge.
  const SPLIT: Record<string, string> = { sampleJudgments: 'renderSampleRequests', evaluateJudge: 'renderEvaluationRequests' };
  const firstStep = (h: RecordedHistory) =>
    h.history.events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).find((name): name is string => typeof name === 'string' && name in SPLIT);
  const iterations = histories.filter((h) => /-iter-\d+$/.test(h.workflowId) && firstStep(h) !== undefined);
  assert.equal(iterations.length, histories.filter((h) => /-iter-\d+$/.test(h.workflowId)).length, 'every iteration reached its first step');
  const unguarded = await bundleWithPatches('../support/job-activities-unguarded');
  const outcomes = await replayHistories(iterations, unguarded);
  assert.equal(outcomes.length, iterations.length);
  for (const [i, o] of outcomes.entries()) {
    const recorded = firstStep(iterations[i])!;
    assert.equal(o.deterministic, false, `${o.workflowId} should diverge without the guard:\n${formatReplayOutcomes(outcomes)}`);
    assert.match(o.error ?? '', new RegExp(`nondetermin[\\s\\S]*'${recorded}'[\\s\\S]*'${SPLIT[recorded]}'`, 'i'), o.workflowId);
  }
  // With the guard, the same histories replay (the test above), on the code that now splits the steps.
  assert.ok((await replayHistories(iterations, current)).every((o) => o.deterministic));
});

test(`runs from before their iterations' summaries went to S3 replay only because of patched('${SUMMARY_IN_S3_PATCH}')`, { timeout: 10 * 60_000 }, async () => {
  const { histories } = await load('with-job-activities');
  // The runs (not their iterations) that completed an iteration: unguarded, the code writes its summary
  // (recordIterationSummary) where the history goes on to the next step.
  const completedAnIteration = (h: RecordedHistory) => h.history.events!.some((e) => e.childWorkflowExecutionCompletedEventAttributes);
  const runs = histories.filter((h) => !/-iter-\d+$/.test(h.workflowId) && completedAnIteration(h));
  assert.ok(runs.length >= 2, 'the default and the retried run completed iteration 0');
  const unguarded = await bundleWithPatches('../support/summary-in-s3-unguarded');
  const outcomes = await replayHistories(runs, unguarded);
  for (const o of outcomes) {
    assert.equal(o.deterministic, false, `${o.workflowId} should diverge without the guard:\n${formatReplayOutcomes(outcomes)}`);
    // The code schedules an activity (the summary's write) where the history starts the next iteration.
    assert.match(o.error ?? '', /nondetermin[\s\S]*Activity machine does not handle this event: HistoryEvent\(id: \d+, StartChildWorkflowExecutionInitiated\)/i, o.workflowId);
  }
  assert.ok((await replayHistories(runs, current)).every((o) => o.deterministic));
});

test('judgeloop replay --file: exit 0 and "deterministic" per history; a broken file is a usage error', { timeout: 5 * 60_000 }, async () => {
  const set = sets()[0];
  const { manifest } = await load(set);
  const run = manifest.histories.find((h) => h.scenario === 'retried')!;
  let out = '';
  let err = '';
  const io = { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env: process.env };
  const rc = await main(['replay', ...run.files.flatMap((f) => ['--file', path.join(HISTORIES, set, f)])], io);
  assert.equal(rc, 0, `${out}${err}`);
  assert.equal(out.match(/^deterministic {4}/gm)?.length, run.files.length);
  assert.match(out, new RegExp(`deterministic {4}${run.workflowId} \\(selfRationalizationRun`));
  err = '';
  assert.equal(await main(['replay', '--file', path.join(HISTORIES, set, 'manifest.json')], io), 2);
  assert.match(err, /manifest\.json: (not a workflow history|the first event is not WorkflowExecutionStarted)/);
});
