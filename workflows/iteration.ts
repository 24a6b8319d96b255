/**
 * One iteration of self-rationalization as a child workflow: sample → score → pair → train → evaluate.
 * Iteration 0 only evaluates the seed judge. Every step is one or more activities that read and write S3;
 * every model job is an activity of its own on the job task queue, between the data activities that render
 * its requests and collect its rows. Only URIs and small summaries pass through here.
 */
import { ApplicationFailure, defineQuery, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import { consistencyFilterActive, type RunConfig } from '../core/config/config';
import { sectionsFor } from '../core/config/sections';
import { shardCount, type ShardingSettings } from '../core/run/shards';
import { inPool } from '../core/common/pool';
import type { ConsistencySummary, IterationProgress, IterationSummary, MetaJudgeSummary, StepName, SuiteMetrics } from '../core/run/run-types';
import type { Activities } from '../activities';
import type { PreparedDataset } from '../activities/steps/prepare';
import type { JudgeSideInput } from '../activities/steps/judge-side';
import type { GeneratedJudgments, GenerationInput, RequestSet } from '../activities/steps/generation';
import { JOB_ACTIVITIES_PATCH, JOB_CANCELLATION_PATCH, dataActivityOptions, jobActivityOptions } from './options';

export interface IterationInput {
  config: RunConfig;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  /** The judge entering this iteration: M(i-1), or M0 for iteration 0. */
  modelUri: string;
  trainUri: string;
  evalSuites: PreparedDataset[];
}

export const iterationProgressQuery = defineQuery<IterationProgress>('progress');

/** Iterations started before usage accounting existed replay without the usage step. */
export const USAGE_PATCH = 'usage-accounting-v1';

/** Generations split into shards when they are large (backend.sharding); iterations from before ran one job each. */
export const SHARDED_GENERATION_PATCH = 'sharded-generation-v1';

/** Configs resolved before sharding existed have no backend.sharding: one job per generation, as they ran. */
const ONE_SHARD: ShardingSettings = { shards: 1, requestsPerShard: Number.MAX_SAFE_INTEGER, maxShards: 1, concurrency: 1 };

export async function iterationWorkflow(input: IterationInput): Promise<IterationSummary> {
  const { config, iteration } = input;
  const progress: IterationProgress = { iteration, step: 'sample', stepsDone: [] };
  setHandler(iterationProgressQuery, () => progress);
  async function step<T>(name: StepName, work: () => Promise<T>): Promise<T> {
    progress.step = name;
    const result = await work();
    progress.stepsDone.push(name);
    return result;
  }

  // Runs started before every model job was an activity of its own replay with the one-activity steps.
  const jobActivities = patched(JOB_ACTIVITIES_PATCH);
  const jobs = proxyActivities<Activities>(jobActivityOptions(config, patched(JOB_CANCELLATION_PATCH), jobActivities));
  const data = proxyActivities<Activities>(dataActivityOptions(config));
  const common = { runId: input.runId, runPrefixUri: input.runPrefixUri, iteration };
  // Each activity gets the config sections it reads (core/config/sections.ts); the one-activity steps of
  // runs from before job-activities-v1 get the whole config, as they did.
  const generation = { ...common, config: sectionsFor(config, 'generation') };
  const judgeSide = { ...common, config: sectionsFor(config, 'judgeSide') };
  const sharding = config.backend.sharding ?? ONE_SHARD;
  const splits = new Map<string, Promise<RequestSet[]>>();

  /**
   * One generation over a request set: one job, or, when it is large (core/run/shards.ts), one job per
   * shard of its requests, `sharding.concurrency` at a time, merged into one judgments file. Each shard is
   * an activity of its own: a retry reruns that shard alone, and reuse finds each shard's job by its content.
   */
  async function generateSharded(
    generate: (input: GenerationInput) => Promise<GeneratedJudgments>,
    modelUri: string,
    requests: RequestSet,
  ): Promise<GeneratedJudgments> {
    const count = shardCount(sharding, requests.requests);
    if (count === 1 || !patched(SHARDED_GENERATION_PATCH)) return generate({ ...generation, modelUri, requests });
    // The baselines sample the pointwise requests again: split each request set once.
    const key = `${requests.dataUri}#${count}`;
    if (!splits.has(key)) splits.set(key, data.splitRequests({ config: sectionsFor(config, 'storage'), requests, shards: count }));
    const shards = await splits.get(key)!;
    const outputs = await inPool(
      shards.map((part, index) => () => generate({ ...generation, modelUri, requests: part, shard: { index, count } })),
      sharding.concurrency,
    );
    return data.mergeShardJudgments({ config: sectionsFor(config, 'storage'), shards: outputs });
  }

  /** Step 1, Sample: render the chosen inputs into the judge's prompt; the judge writes N judgments of each. */
  async function sample(modelUri: string): Promise<{ requestsUri: string; rawJudgmentsUri: string }> {
    if (!jobActivities) return jobs.sampleJudgments({ ...common, config, modelUri, trainUri: input.trainUri });
    const rendered = await data.renderSampleRequests({ ...common, config: sectionsFor(config, 'sampleRequests'), modelUri, trainUri: input.trainUri });
    const sampled = await generateSharded(jobs.generateSampledJudgments, modelUri, rendered.requests);
    return { requestsUri: rendered.requestsUri, rawJudgmentsUri: sampled.judgmentsUri };
  }

  /** The judge rates each of its parsed samples as a meta-judge (for the meta_judge strategy). */
  async function rate(judged: JudgeSideInput): Promise<MetaJudgeSummary> {
    if (!jobActivities) return jobs.rateJudgments({ ...judged, config });
    const requests = await data.renderMetaJudgeRequests(judged);
    const rated = requests ? await generateSharded(jobs.generateMetaRatings, judged.modelUri, requests) : null;
    return data.collectMetaRatings({ ...judged, outputUri: rated?.outputUri ?? null });
  }

  /** The judge re-scores each parsed sample from its own rationale (the consistency filter). */
  async function rescore(judged: JudgeSideInput): Promise<ConsistencySummary> {
    if (!jobActivities) return jobs.rescoreJudgments({ ...judged, config });
    const requests = await data.renderConsistencyRequests(judged);
    const rescored = requests ? await generateSharded(jobs.generateRescores, judged.modelUri, requests) : null;
    return data.collectRescores({ ...judged, outputUri: rescored?.outputUri ?? null });
  }

  /**
   * Step 5, Evaluate: render every suite's requests, run each generation (the greedy judgments, the
   * baselines' samples, the A/B verdicts) as its own job, at the same time, then compute the suites' metrics.
   */
  async function evaluate(modelUri: string): Promise<Record<string, SuiteMetrics>> {
    const evaluation = { ...common, config: sectionsFor(config, 'evaluation'), modelUri, suites: input.evalSuites };
    if (!jobActivities) return jobs.evaluateJudge({ ...evaluation, config });
    const requests = await data.renderEvaluationRequests(evaluation);
    // The baselines sample the pointwise requests again (activities/steps/evaluate.ts baselineRequests).
    const baselineRequests = config.evaluation.baselines.samples > 0 ? requests.pointwise : null;
    const outputOf = async (generate: (input: GenerationInput) => Promise<GeneratedJudgments>, set: RequestSet | null) =>
      set ? (await generateSharded(generate, modelUri, set)).outputUri : null;
    const [pointwise, baselines, relative] = await Promise.all([
      outputOf(jobs.generateEvaluationJudgments, requests.pointwise),
      outputOf(jobs.generateBaselineJudgments, baselineRequests),
      outputOf(jobs.generateRelativeVerdicts, requests.relative),
    ]);
    return data.computeEvaluationMetrics({ ...evaluation, requests, outputs: { pointwise, baselines, relative } });
  }

  /** What this iteration's jobs used and cost, from the records the job runners left in S3. */
  async function usage(): Promise<Pick<IterationSummary, 'usage'>> {
    if (!patched(USAGE_PATCH)) return {};
    return { usage: await data.summarizeUsage({ config: sectionsFor(config, 'usage'), runPrefixUri: input.runPrefixUri, iteration }) };
  }

  if (iteration === 0) {
    const evalMetrics = await step('evaluate', () => evaluate(input.modelUri));
    const used = await usage();
    progress.step = 'done';
    return { iteration, modelUri: input.modelUri, eval: evalMetrics, ...used };
  }

  const sampled = await step('sample', () => sample(input.modelUri));
  const scored = await step('score', () =>
    data.scoreJudgments({ ...common, config: sectionsFor(config, 'score'), modelUri: input.modelUri, rawJudgmentsUri: sampled.rawJudgmentsUri }),
  );
  // Optional judge-side steps that feed pair curation: the judge rates its own samples (meta_judge) and
  // re-scores each sampled rationale greedily (the rationale–score consistency filter).
  const judged: JudgeSideInput = { ...judgeSide, modelUri: input.modelUri, requestsUri: sampled.requestsUri, judgmentsUri: scored.uri, trainUri: input.trainUri };
  const metaRatings = config.loop.pairing.strategies.some((s) => s.name === 'meta_judge')
    ? await step('meta-judge', () => rate(judged))
    : undefined;
  const consistency = consistencyFilterActive(config, iteration)
    ? await step('consistency', () => rescore(judged))
    : undefined;
  const pairs = await step('pair', () =>
    data.buildPairs({
      ...common,
      config: sectionsFor(config, 'pair'),
      requestsUri: sampled.requestsUri,
      judgmentsUri: scored.uri,
      ...(metaRatings ? { metaRatingsUri: metaRatings.uri } : {}),
      ...(consistency ? { consistencyUri: consistency.uri } : {}),
    }),
  );
  if (pairs.pairs === 0) {
    throw ApplicationFailure.nonRetryable(
      `iteration ${iteration}: no preference pairs (${pairs.inputsWithoutPair} inputs had none). ` +
        'Sample more judgments per input (loop.samplesPerInput), raise loop.temperature or lower the strategies\' margin (loop.pairing.strategies[].margin).',
      'NoPairs',
    );
  }
  const trained = await step('train', () => jobs.trainJudge({ ...common, config: sectionsFor(config, 'train'), modelUri: input.modelUri, pairsUri: pairs.uri }));
  const evalMetrics = await step('evaluate', () => evaluate(trained.modelUri));
  const used = await usage();
  progress.step = 'done';
  return {
    iteration,
    modelUri: trained.modelUri,
    sample: scored,
    ...(metaRatings ? { metaJudge: metaRatings } : {}),
    ...(consistency ? { consistency } : {}),
    pairs,
    train: trained,
    eval: evalMetrics,
    ...used,
  };
}
