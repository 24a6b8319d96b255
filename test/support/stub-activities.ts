/**
 * Stand-ins for the run's activities, for the workflow tests on the time-skipping server: each returns a
 * small, plausible result at once and records its input, so a test reaches a control path (gate, sign-off,
 * timeout, cancellation, NoPairs, a refused job) without training a model. What the activities themselves do
 * is proven against the real services in test/integration; here only the workflow's decisions are under test.
 *
 * The config step is the real one (a pure local activity); the registry is kept in memory.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import { resolveRunConfig } from '../../activities/steps/config';
import type { ChampionInfo, ProposedEntry, RecordedDecision } from '../../activities/steps/registry';
import type { PreparedRun } from '../../activities/steps/prepare';
import type { JobResult } from '../../activities/jobs/types';
import type { GeneratedJudgments } from '../../activities/steps/generation';
import assert from 'node:assert/strict';
import { isRunResult, runSummaryFrom, type IterationSummary, type PointwiseMetrics, type RunOutcome, type RunSummary, type SuiteMetrics } from '../../core/run/run-types';
import { iterationSummaryUri } from '../../core/run/artifacts';
import { mergedShardsUri, shardJobUri, shardRanges, shardRequestsUri, type ShardRef } from '../../core/run/shards';
import type { UsageTotals } from '../../core/run/usage';

/** The one evaluation suite of the stub runs (a pointwise held-out suite). */
export const SUITE = 'synthetic-heldout';

type Input<K extends keyof Activities> = Parameters<Activities[K]>[0];

export interface StubCall {
  activity: keyof Activities;
  iteration?: number;
  /** The model the activity was handed (sample, train, each evaluation activity). */
  modelUri?: string;
  /** The task queue the activity ran on: the run's, or its job queue. */
  taskQueue: string;
}

export interface StubOptions {
  /** Held-out exact agreement of each evaluated model (by URI); 0.5 when not given. */
  agreement?: (modelUri: string, iteration: number) => number;
  /** Pairs the pair step finds in an iteration (8 when not given). */
  pairs?: (iteration: number) => number;
  /** The registry's champion before the run (none when not given). */
  champion?: ChampionInfo;
  /** An activity that, in the given iteration, throws this failure instead of returning. */
  fail?: { activity: keyof Activities; iteration?: number; failure: () => Error };
  /** An activity that, in the given iteration, heartbeats until it is cancelled (then records it and rethrows). */
  hold?: { activity: keyof Activities; iteration?: number };
}

export interface StubRecord {
  calls: StubCall[];
  /** trackRun's sends, in order: up to which iteration, and whether it ended the run's MLflow run. */
  trackSends: Array<{ through: number; ended: string | null }>;
  /** registerModelPackage's registry entries, in order. */
  modelPackages: string[];
  /** recordDecision's entries, in order. */
  registry: ProposedEntry[];
  /** Activities that saw their cancellation (a hold). */
  cancelled: Array<keyof Activities>;
  /** Resolves when the held activity has started. */
  held: Promise<void>;
  /** What recordIterationSummary wrote, by URI: the stub's S3 for iter-K/summary.json. */
  iterationSummaries: Map<string, IterationSummary>;
  /** The config sections each activity was handed (its input's `config` keys), call by call. */
  configSections: Array<{ activity: keyof Activities; sections: string[] }>;
}

/** A stub run's whole summary from its result: its iterations' summaries as recordIterationSummary got them. */
export function stubRunSummary(record: StubRecord, outcome: RunOutcome): RunSummary {
  if (!isRunResult(outcome)) return outcome;
  return runSummaryFrom(outcome, outcome.iterationResults.map((r) => {
    const it = record.iterationSummaries.get(r.summaryUri);
    assert.ok(it, `recordIterationSummary wrote ${r.summaryUri}`);
    return it;
  }));
}

const SEED = 's3://stub/models/seed';

export function modelOf(runPrefixUri: string, iteration: number): string {
  return `${runPrefixUri}/iter-${iteration}/train/model`;
}

function pointwise(agreement: number): PointwiseMetrics {
  return { kind: 'pointwise', n: 20, parsed: 20, parseRate: 1, ownParseRate: 1, exactAgreement: agreement, mae: 1 - agreement, pearson: agreement, spearman: agreement, kendall: agreement };
}

function stubJob(name: string, outputUri: string): JobResult {
  return {
    jobName: name,
    outputUri,
    modelUri: `${outputUri}/model`,
    outputDataUri: `${outputUri}/output`,
    how: 'ran',
    seconds: 1,
    usage: { jobName: name, attempt: name, status: 'Completed', entryPoint: 'stub', backend: 'local', iteration: null, step: 'stub', seconds: 1, billableSeconds: 1, instanceType: 'local', instanceCount: 1, usd: null, finishedAt: '2026-01-01T00:00:00.000Z' },
  };
}

/** Where a generation's job (or one shard's, `<step>/shards/<i>/job`) writes its judgments, as the real activities place it. */
export function generationOutput(input: { runPrefixUri: string; iteration: number; shard?: ShardRef }, step: string): string {
  const job = `${input.runPrefixUri}/iter-${input.iteration}/${step}/job`;
  return `${input.shard ? shardJobUri(job, input.shard.index) : job}/model`;
}

/** What a generation job activity returns, for a job that ran and wrote under `outputUri`. */
export function stubGenerated(outputUri: string, jobName: string): GeneratedJudgments {
  return { outputUri, judgmentsUri: `${outputUri}/judgments.jsonl`, jobName, how: 'ran', seconds: 1 };
}

const NO_USAGE: UsageTotals = { jobs: 0, seconds: 0, billableSeconds: 0, usd: 0, unpricedJobs: 0, byStep: {} };

export function stubActivities(options: StubOptions = {}): { activities: Partial<Activities>; record: StubRecord } {
  let heldStarted!: () => void;
  const record: StubRecord = { calls: [], trackSends: [], modelPackages: [], registry: [], cancelled: [], held: new Promise((r) => (heldStarted = r)), iterationSummaries: new Map(), configSections: [] };
  let champion: ChampionInfo | undefined = options.champion;

  /** Records the call, then fails, holds until cancelled, or lets the stub return. */
  async function enter(activity: keyof Activities, iteration?: number, modelUri?: string): Promise<void> {
    const { taskQueue } = Context.current().info;
    record.calls.push({ activity, taskQueue, ...(iteration === undefined ? {} : { iteration }), ...(modelUri === undefined ? {} : { modelUri }) });
    const applies = (t?: { activity: keyof Activities; iteration?: number }) =>
      t !== undefined && t.activity === activity && (t.iteration === undefined || t.iteration === iteration);
    if (applies(options.fail)) throw options.fail!.failure();
    if (applies(options.hold)) {
      heldStarted();
      const ctx = Context.current();
      try {
        for (;;) {
          ctx.heartbeat();
          await ctx.sleep(100);
        }
      } catch (err) {
        record.cancelled.push(activity);
        throw err;
      }
    }
  }

  const activities: Partial<Activities> = {
    async resolveRunConfig(input: Input<'resolveRunConfig'>) {
      return resolveRunConfig(input);
    },
    async prepareRun({ config, runId }: Input<'prepareRun'>): Promise<PreparedRun> {
      await enter('prepareRun');
      const runPrefixUri = `s3://${config.storage.bucket}/${config.storage.prefix}/${runId}`;
      const dataset = (name: string, kind: 'pointwise' | 'pairwise') => ({ name, kind, uri: `${runPrefixUri}/data/${name}.jsonl`, rows: 20, quarantined: 0, quarantineUri: `${runPrefixUri}/data/${name}.quarantine.jsonl` });
      return {
        runPrefixUri,
        configHash: 'stub-config-hash',
        seedModelUri: SEED,
        train: dataset('train', 'pointwise'),
        evalSuites: [dataset(SUITE, 'pointwise')],
        ...(config.warmStart ? { warmStart: dataset('warm-start', 'pointwise') } : {}),
      };
    },
    async readChampion() {
      await enter('readChampion');
      return champion ?? null;
    },
    async recordDecision({ entry, expectedChampionModelUri }: Input<'recordDecision'>): Promise<RecordedDecision> {
      await enter('recordDecision', entry.iteration, entry.modelUri);
      record.registry.push(entry);
      const replaces = entry.decision.promoted && (champion?.modelUri ?? null) === expectedChampionModelUri;
      if (replaces) champion = { modelUri: entry.modelUri, runId: entry.runId, iteration: entry.iteration, seedModelUri: entry.seedModelUri };
      return { historyUri: `s3://stub/registry/${entry.runId}/${entry.iteration}.json`, championReplaced: replaces, adopted: false };
    },
    async writeWarmStartExamples(input: Input<'writeWarmStartExamples'>) {
      await enter('writeWarmStartExamples', 0, input.modelUri);
      const prefix = `${input.runPrefixUri}/warm-start/examples/data`;
      return { examplesUri: `${prefix}/examples.jsonl`, examplesFolder: prefix, examples: 20, rows: 20, rowsWithoutReference: 0 };
    },
    async trainWarmStartJudge(input: Input<'trainWarmStartJudge'>) {
      await enter('trainWarmStartJudge', 0, input.modelUri);
      const prefix = `${input.runPrefixUri}/warm-start`;
      const { examples, examplesUri, rows, rowsWithoutReference } = input.examples;
      return { baseModelUri: input.modelUri, modelUri: `${prefix}/model`, rows, rowsWithoutReference, examples, examplesUri, steps: 3, finalLoss: 1, metricsUri: `${prefix}/metrics.jsonl`, adopted: false };
    },
    async renderSampleRequests(input: Input<'renderSampleRequests'>) {
      await enter('renderSampleRequests', input.iteration, input.modelUri);
      const prefix = `${input.runPrefixUri}/iter-${input.iteration}/sample/requests`;
      return { inputs: 10, requestsUri: `${prefix}/data/requests.jsonl`, requests: { dataUri: `${prefix}/data`, requests: 10 }, promptHash: 'stub', requestsReused: false };
    },
    async generateSampledJudgments(input: Input<'generateSampledJudgments'>) {
      await enter('generateSampledJudgments', input.iteration, input.modelUri);
      return stubGenerated(generationOutput(input, 'sample'), `sample-${input.iteration}`);
    },
    async scoreJudgments(input: Input<'scoreJudgments'>) {
      await enter('scoreJudgments', input.iteration, input.modelUri);
      return { inputs: 10, judgments: 40, parsed: 40, parseRate: 1, agreementWithGold: 0.5, uri: `${input.runPrefixUri}/iter-${input.iteration}/score/judgments.jsonl` };
    },
    async buildPairs(input: Input<'buildPairs'>) {
      await enter('buildPairs', input.iteration);
      const pairs = options.pairs?.(input.iteration) ?? 8;
      return { pairs, inputsWithPair: pairs === 0 ? 0 : 8, inputsWithoutPair: pairs === 0 ? 10 : 2, uri: `${input.runPrefixUri}/iter-${input.iteration}/pair/pairs.jsonl` };
    },
    async trainJudge(input: Input<'trainJudge'>) {
      await enter('trainJudge', input.iteration, input.modelUri);
      const modelUri = modelOf(input.runPrefixUri, input.iteration);
      return { modelUri, steps: 5, finalLoss: 0.5, finalRewardAccuracy: 0.75, finalRewardMargin: 0.2, metricsUri: `${modelUri}/../metrics.jsonl`, adopted: false };
    },
    async renderMetaJudgeRequests(input: Input<'renderMetaJudgeRequests'>) {
      await enter('renderMetaJudgeRequests', input.iteration, input.modelUri);
      return { dataUri: `${input.runPrefixUri}/iter-${input.iteration}/meta-judge/requests/data`, requests: 40 };
    },
    async generateMetaRatings(input: Input<'generateMetaRatings'>) {
      await enter('generateMetaRatings', input.iteration, input.modelUri);
      return stubGenerated(generationOutput(input, 'meta-judge'), `meta-judge-${input.iteration}`);
    },
    async collectMetaRatings(input: Input<'collectMetaRatings'>) {
      await enter('collectMetaRatings', input.iteration, input.modelUri);
      return { uri: `${input.runPrefixUri}/iter-${input.iteration}/meta-judge/data/ratings.jsonl`, rated: input.outputUri ? 40 : 0, unparseable: 0 };
    },
    async renderConsistencyRequests(input: Input<'renderConsistencyRequests'>) {
      await enter('renderConsistencyRequests', input.iteration, input.modelUri);
      return { dataUri: `${input.runPrefixUri}/iter-${input.iteration}/consistency/requests/data`, requests: 40 };
    },
    async generateRescores(input: Input<'generateRescores'>) {
      await enter('generateRescores', input.iteration, input.modelUri);
      return stubGenerated(generationOutput(input, 'consistency'), `consistency-${input.iteration}`);
    },
    async collectRescores(input: Input<'collectRescores'>) {
      await enter('collectRescores', input.iteration, input.modelUri);
      return { uri: `${input.runPrefixUri}/iter-${input.iteration}/consistency/data/rescores.jsonl`, rescored: input.outputUri ? 40 : 0, consistent: 30, inconsistent: input.outputUri ? 10 : 0 };
    },
    async renderEvaluationRequests(input: Input<'renderEvaluationRequests'>) {
      await enter('renderEvaluationRequests', input.iteration, input.modelUri);
      const prefix = `${input.runPrefixUri}/iter-${input.iteration}/evaluate`;
      return { pointwise: { dataUri: `${prefix}/requests/data`, requests: 20 }, relative: null };
    },
    async generateEvaluationJudgments(input: Input<'generateEvaluationJudgments'>) {
      await enter('generateEvaluationJudgments', input.iteration, input.modelUri);
      const outputUri = generationOutput(input, 'evaluate');
      return stubGenerated(outputUri, `evaluate-${input.iteration}`);
    },
    async generateBaselineJudgments(input: Input<'generateBaselineJudgments'>) {
      await enter('generateBaselineJudgments', input.iteration, input.modelUri);
      const outputUri = generationOutput(input, 'evaluate/baselines');
      return stubGenerated(outputUri, `evaluate-baselines-${input.iteration}`);
    },
    async computeEvaluationMetrics(input: Input<'computeEvaluationMetrics'>): Promise<Record<string, SuiteMetrics>> {
      await enter('computeEvaluationMetrics', input.iteration, input.modelUri);
      if (!input.outputs.pointwise || !input.requests.pointwise) throw new Error('computeEvaluationMetrics was not handed the pointwise requests and the judgments job\'s outputs');
      return { [SUITE]: pointwise(options.agreement?.(input.modelUri, input.iteration) ?? 0.5) };
    },
    async splitRequests(input: Input<'splitRequests'>) {
      await enter('splitRequests');
      return shardRanges(input.requests.requests, input.shards).map(([start, end], index) => ({ dataUri: shardRequestsUri(input.requests.dataUri, index), requests: end - start }));
    },
    async mergeShardJudgments(input: Input<'mergeShardJudgments'>) {
      await enter('mergeShardJudgments');
      const outputUri = mergedShardsUri(input.shards[0].outputUri);
      return { outputUri, judgmentsUri: `${outputUri}/judgments.jsonl`, jobName: input.shards.map((s) => s.jobName).join(','), how: 'ran' as const, seconds: input.shards.length };
    },
    async summarizeUsage(input: Input<'summarizeUsage'>) {
      await enter('summarizeUsage', input.iteration);
      return NO_USAGE;
    },
    async recordIterationSummary(input: Input<'recordIterationSummary'>) {
      await enter('recordIterationSummary', input.summary.iteration);
      const uri = iterationSummaryUri(input.runPrefixUri, input.summary.iteration);
      record.iterationSummaries.set(uri, input.summary);
      return { uri };
    },
    async registerModelPackage(input: Input<'registerModelPackage'>) {
      await enter('registerModelPackage');
      record.modelPackages.push(input.historyUri);
      return { registered: true, modelPackageArn: `arn:aws:sagemaker:us-east-1:123456789012:model-package/stub/${record.modelPackages.length}`, how: 'created' as const };
    },
    async trackRun(input: Input<'trackRun'>) {
      // The run's last send (with `ended`) is recorded without an iteration: it belongs to no iteration.
      await enter('trackRun', input.ended ? undefined : input.through);
      record.trackSends.push({ through: input.through, ended: input.ended?.status ?? null });
      return { tracked: true, untracked: [] };
    },
    async writeRunReport(input: Input<'writeRunReport'>) {
      await enter('writeRunReport');
      const runPrefixUri = (input.result ?? input.summary)!.runPrefixUri;
      return { htmlUri: `${runPrefixUri}/report/report.html`, summaryUri: `${runPrefixUri}/report/summary.json` };
    },
  };
  return { activities: recordingConfigSections(activities, record), record };
}

/** The activities, each first noting which config sections its input carries. */
function recordingConfigSections(activities: Partial<Activities>, record: StubRecord): Partial<Activities> {
  const wrapped = Object.entries(activities).map(([name, fn]) => {
    // Every activity takes one input object; the wrapper only reads its `config` and passes it on.
    const activity = fn as (input: unknown) => Promise<unknown>;
    return [
      name,
      async (input: unknown) => {
        const config = (input as { config?: unknown } | undefined)?.config;
        if (config && typeof config === 'object') record.configSections.push({ activity: name as keyof Activities, sections: Object.keys(config).sort() });
        return activity(input);
      },
    ];
  });
  return Object.fromEntries(wrapped) as Partial<Activities>;
}

/** A non-retryable failure of the given type, as the real activities throw them. */
export function failure(type: string, message: string): () => ApplicationFailure {
  return () => ApplicationFailure.nonRetryable(message, type);
}
