/**
 * The self-rationalization run: validate the config, bring data and the seed judge into S3, evaluate the
 * seed judge (iteration 0), then run K iterations, each a child workflow that starts from the previous
 * iteration's judge. Each iteration's summary goes to S3 as it ends; the run returns its facts and a line per
 * iteration (RunResult), and every artifact is in S3 under the run's prefix.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  defineQuery,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import { formatConfigProblems, validateConfig, type RunConfig } from '../core/config/config';
import { sectionsFor } from '../core/config/sections';
import {
  PROGRESS_QUERY,
  iterationWorkflowId,
  runResultOf,
  type IterationSummary,
  type RunOutcome,
  type RunProgress,
  type RunSummary,
  type WarmStartSummary,
} from '../core/run/run-types';
import { iterationSummaryUri } from '../core/run/artifacts';
import { registryConfig, type StartedFrom } from '../core/promotion/registry';
import { combineUsage } from '../core/run/usage';
import { withDatedData } from '../core/config/schedule';
import { markRun } from './search-attributes';
import type { Activities } from '../activities';
import { JOB_ACTIVITIES_PATCH, JOB_CANCELLATION_PATCH, dataActivityOptions, jobActivityOptions } from './options';
import { iterationWorkflow } from './iteration';
import { ApprovalDesk, decideIteration, proposedEntry, type Decision, type RunChampion } from './promotion';

/**
 * Runs started before the promotion gate existed replay without it (no registry reads, each iteration from
 * the last); new runs record this marker and gate every iteration.
 */
export const PROMOTION_PATCH = 'promotion-gate-v1';

/** Runs started before run reports existed replay without the report step. */
export const RUN_REPORT_PATCH = 'run-report-v1';

/** The warm start (config `warmStart`) runs before iteration 0; configs without it never reach this marker. */
export const WARM_START_PATCH = 'warm-start-v1';

/**
 * Runs from this patch on resolve their config (schema defaults, dated data) in an activity, whose result the
 * history records; runs started before validate it here, in workflow code, as they did when they were recorded.
 */
export const CONFIG_OUTSIDE_WORKFLOW_PATCH = 'config-outside-workflow-v1';

/**
 * New runs resolve their config in a regular activity. Runs started before resolved it in a local activity,
 * whose result can land in the first workflow task while the code after it runs in the next (seen under a
 * query or load): a replay then answers that code's patched() checks differently from the run and fails.
 * A regular activity's result always starts a workflow task of its own, in the run and in a replay alike.
 */
export const CONFIG_ACTIVITY_PATCH = 'config-activity-v1';

/**
 * Runs whose config turns tracking on (`tracking.mlflow`) send their records to the tracker after each
 * iteration's summary and before the report; runs started before never did.
 */
export const TRACKING_PATCH = 'experiment-tracking-v1';

/** Configs with `registry.sagemaker` register each promoted judge in the SageMaker Model Registry; runs before never did. */
export const MODEL_REGISTRY_PATCH = 'sagemaker-model-registry-v1';

/** A cancellation that arrives while the report is written cancels the run (before: the run completed). */
export const REPORT_CANCELLATION_PATCH = 'report-cancellation-v1';

/**
 * Runs from this patch on write each iteration's summary to S3 as it ends and return a RunResult: the run's
 * facts and a line per iteration, a few KB however many iterations and suites. Runs started before return
 * their whole RunSummary, and their report step is given it.
 */
export const SUMMARY_IN_S3_PATCH = 'run-summary-in-s3-v1';

export const runProgressQuery = defineQuery<RunProgress>(PROGRESS_QUERY);

/** When a Temporal Schedule started this run: its scheduled (not actual) start time; null otherwise. */
function scheduledTime(): Date | null {
  const at = workflowInfo().typedSearchAttributes.get(SCHEDULED_START_TIME);
  return at instanceof Date ? at : null;
}

const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

export async function selfRationalizationRun(rawConfig: unknown): Promise<RunOutcome> {
  markRun({ status: 'running', iteration: 0 });
  try {
    const summary = await run(rawConfig);
    markRun({ status: 'completed' });
    return summary;
  } catch (err) {
    markRun({ status: isCancellation(err) ? 'cancelled' : 'failed' });
    throw err;
  }
}

/** The validated config with its dated data filled in; a config with problems fails the run, naming them. */
async function resolveConfig(rawConfig: unknown): Promise<RunConfig> {
  // A scheduled run reads the data of its scheduled time (a backfilled one, of its own past day).
  const dataTime = scheduledTime() ?? workflowInfo().startTime;
  const asActivity = patched(CONFIG_ACTIVITY_PATCH);
  if (asActivity || patched(CONFIG_OUTSIDE_WORKFLOW_PATCH)) {
    const options = { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } } as const;
    const { resolveRunConfig } = asActivity ? proxyActivities<Activities>(options) : proxyLocalActivities<Activities>(options);
    const resolved = await resolveRunConfig({ rawConfig, dataTime: dataTime.toISOString() });
    // Thrown as a non-retryable failure: a plain exception would fail the workflow task and retry forever.
    if (!resolved.ok) throw ApplicationFailure.nonRetryable(resolved.message, 'ConfigError', { problems: resolved.problems });
    return resolved.config;
  }
  const validated = validateConfig(rawConfig);
  if (!validated.ok) {
    throw ApplicationFailure.nonRetryable(formatConfigProblems(validated.problems, 'the run config'), 'ConfigError', {
      problems: validated.problems,
    });
  }
  return withDatedData(validated.config, dataTime, validated.config.schedule?.timezone ?? 'UTC');
}

async function run(rawConfig: unknown): Promise<RunOutcome> {
  const config = await resolveConfig(rawConfig);
  const summariesInS3 = patched(SUMMARY_IN_S3_PATCH);
  const runId = workflowInfo().workflowId;
  const scheduledFor = scheduledTime();
  const progress: RunProgress = {
    runId,
    iterations: config.loop.iterations,
    iteration: 0,
    step: 'prepare',
    childWorkflowId: null,
    completed: [],
  };
  setHandler(runProgressQuery, () => progress);
  const gated = patched(PROMOTION_PATCH);
  const desk = gated ? new ApprovalDesk(progress, runId) : undefined;

  const { prepareRun, readChampion, recordDecision, recordIterationSummary } = proxyActivities<Activities>(dataActivityOptions(config));
  const prepared = await prepareRun({ config, runId });

  // Where the run starts: the registry's champion (registry.startFrom: champion), else the seed judge.
  const useRegistry = gated && config.registry.enabled;
  const found = useRegistry ? await readChampion({ config: registryConfig(config) }) : null;
  const startedFrom: StartedFrom =
    found && config.registry.startFrom === 'champion'
      ? { kind: 'champion', modelUri: found.modelUri, runId: found.runId, iteration: found.iteration }
      : { kind: 'seed', modelUri: prepared.seedModelUri, runId, iteration: 0 };

  // The seed step: a run from the seed model fine-tunes it on reference judgments first (the paper's M0);
  // a run from a champion starts from a judge that has been through it already.
  let warmStart: WarmStartSummary | undefined;
  if (config.warmStart && prepared.warmStart && startedFrom.kind === 'seed' && patched(WARM_START_PATCH)) {
    progress.step = 'warm-start';
    const jobActivities = patched(JOB_ACTIVITIES_PATCH);
    const jobs = proxyActivities<Activities>(jobActivityOptions(config, patched(JOB_CANCELLATION_PATCH), jobActivities));
    const warmStartInput = { runId, runPrefixUri: prepared.runPrefixUri, modelUri: prepared.seedModelUri, dataUri: prepared.warmStart.uri };
    if (jobActivities) {
      const { writeWarmStartExamples } = proxyActivities<Activities>(dataActivityOptions(config));
      const warmStartConfig = sectionsFor(config, 'warmStart');
      const examples = await writeWarmStartExamples({ ...warmStartInput, config: warmStartConfig });
      warmStart = await jobs.trainWarmStartJudge({ config: warmStartConfig, runId, runPrefixUri: prepared.runPrefixUri, modelUri: prepared.seedModelUri, examples });
    } else {
      // Runs from before job-activities-v1: one activity, the whole config, as they were recorded.
      warmStart = await jobs.warmStartJudge({ ...warmStartInput, config });
    }
  }
  const startModelUri = warmStart?.modelUri ?? startedFrom.modelUri;
  let champion: RunChampion = {
    ref: { modelUri: startModelUri, runId: startedFrom.runId, iteration: startedFrom.iteration },
    eval: {},
    seedModelUri: startedFrom.kind === 'champion' && found ? found.seedModelUri : prepared.seedModelUri,
  };
  const runFacts = { runId, trainUri: prepared.train.uri, configHash: prepared.configHash };
  const record = async (it: IterationSummary, parent: RunChampion | null, decision: Decision, expected: string | null) => {
    if (!useRegistry) return;
    const recorded = await recordDecision({ config: registryConfig(config), entry: proposedEntry(config, runFacts, it, parent, decision), expectedChampionModelUri: expected });
    // A promoted judge is also a version in the SageMaker Model Registry, where deployments read it.
    if (decision.promote && config.registry.sagemaker && patched(MODEL_REGISTRY_PATCH)) {
      const { registerModelPackage } = proxyActivities<Activities>(dataActivityOptions(config));
      await registerModelPackage({ config: sectionsFor(config, 'modelRegistry'), historyUri: recorded.historyUri });
    }
  };

  // Experiment tracking: never fails the run. A tracker that cannot be reached is a warning here, a line in
  // the run report, and `judgeloop track <run id>` sends the records later (activities/steps/track.ts).
  const tracked = summariesInS3 && config.tracking?.mlflow !== undefined && patched(TRACKING_PATCH);
  const track = async (through: number, ended?: { status: 'FINISHED' | 'FAILED'; at: string }) => {
    if (!tracked) return;
    const { trackRun } = proxyActivities<Activities>(dataActivityOptions(config));
    try {
      const sent = await trackRun({
        config: sectionsFor(config, 'tracking'),
        runPrefixUri: prepared.runPrefixUri,
        startedAt: workflowInfo().startTime.toISOString(),
        through,
        ...(ended ? { ended } : {}),
      });
      if (!sent.tracked) {
        log.warn(`iterations ${sent.untracked.join(', ')} are not tracked: ${sent.problem}; send them later with: judgeloop track ${runId}`);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn(`the run's records were not sent to the tracker: ${String(err)}; send them later with: judgeloop track ${runId}`);
    }
  };

  // The last iteration whose summary is recorded (what a failed run's last send covers).
  let iterationsDone = -1;
  try {
    const iterations: IterationSummary[] = [];
    let modelUri = startModelUri;
    for (let iteration = 0; iteration <= config.loop.iterations; iteration++) {
      const childId = iterationWorkflowId(runId, iteration);
      progress.iteration = iteration;
      progress.step = iteration === 0 ? 'evaluate' : 'sample';
      if (iteration > 0) markRun({ iteration });
      progress.childWorkflowId = childId;
      const summary = await executeChild(iterationWorkflow, {
        workflowId: childId,
        args: [
          {
            config,
            runId,
            runPrefixUri: prepared.runPrefixUri,
            iteration,
            modelUri,
            trainUri: prepared.train.uri,
            evalSuites: prepared.evalSuites,
          },
        ],
        parentClosePolicy: ParentClosePolicy.TERMINATE,
      });
      if (!gated || !desk) {
        iterations.push(summary);
        progress.completed = iterations;
        modelUri = summary.modelUri;
        continue;
      }
      const it: IterationSummary = { ...summary, startModelUri: modelUri };
      if (iteration === 0) {
        champion = { ...champion, eval: it.eval };
        // A judge name without a champion gets one: the judge this run started from, as evaluated here.
        if (!found) await record(it, null, { promote: true, reasons: ['first champion: the seed judge'], decidedBy: 'gate' }, null);
      } else {
        const decision = await decideIteration(config, champion, it, desk);
        it.gate = decision;
        await record(it, champion, decision, champion.ref.modelUri);
        if (decision.promote) champion = { ref: { modelUri: it.modelUri, runId, iteration }, eval: it.eval, seedModelUri: champion.seedModelUri };
        desk.resolve({ iteration, promoted: decision.promote, decidedBy: decision.decidedBy, reasons: decision.reasons, champion: champion.ref });
      }
      if (summariesInS3) await recordIterationSummary({ config: sectionsFor(config, 'storage'), runPrefixUri: prepared.runPrefixUri, summary: it });
      iterationsDone = iteration;
      await track(iteration);
      iterations.push(it);
      progress.completed = iterations;
      // The next iteration starts from the champion: a rejected judge is not trained further.
      modelUri = champion.ref.modelUri;
    }
    progress.step = 'done';
    progress.childWorkflowId = null;

    const summary: RunSummary = {
      runId,
      runName: config.name,
      judgeName: config.judge.name,
      configHash: prepared.configHash,
      runPrefixUri: prepared.runPrefixUri,
      datasets: [prepared.train, ...prepared.evalSuites].map(({ kind: _kind, ...d }) => d),
      iterations,
      finalModelUri: modelUri,
      ...(gated ? { champion: champion.ref, startedFrom } : {}),
      ...(iterations.some((i) => i.usage) ? { usage: combineUsage(iterations.map((i) => i.usage)) } : {}),
      ...(scheduledFor ? { scheduledFor: scheduledFor.toISOString() } : {}),
      ...(warmStart ? { warmStart } : {}),
    };

    // The run report (report/report.html and report/summary.json under the run's prefix; activities/steps/report.ts),
    // dated by the workflow's own clock. A report that cannot be written does not fail a run whose work is
    // done: `judgeloop report` renders it from the summary instead.
    const result = summariesInS3 ? runResultOf(summary, (iteration) => iterationSummaryUri(prepared.runPrefixUri, iteration)) : undefined;
    await track(config.loop.iterations, { status: 'FINISHED', at: new Date().toISOString() });
    if (patched(RUN_REPORT_PATCH)) {
      const { writeRunReport } = proxyActivities<Activities>(dataActivityOptions(config));
      const times = { startedAt: workflowInfo().startTime.toISOString(), finishedAt: new Date().toISOString() };
      try {
        await writeRunReport({ config: sectionsFor(config, 'storage'), ...(result ? { result } : { summary }), ...times });
      } catch (err) {
        // A cancelled run ends cancelled, even when only its report was left to write.
        if (isCancellation(err) && patched(REPORT_CANCELLATION_PATCH)) throw err;
        log.warn('the run report could not be written; `judgeloop report` renders it from the summary', { error: String(err) });
      }
    }
    return result ?? summary;
  } catch (err) {
    // A run that fails ends its MLflow run FAILED (a cancelled one can run nothing more: `judgeloop track` marks it).
    if (!isCancellation(err)) await track(Math.max(0, iterationsDone), { status: 'FAILED', at: new Date().toISOString() });
    throw err;
  }
}