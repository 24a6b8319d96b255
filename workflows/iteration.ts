/**
 * One iteration of self-rationalization as a child workflow: sample → score → pair → train → evaluate.
 * Iteration 0 only evaluates the seed judge. Every step is an activity that reads and writes S3; only URIs
 * and small summaries pass through here.
 */
import { ApplicationFailure, defineQuery, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import { consistencyFilterActive, type RunConfig } from '../core/config/config';
import type { IterationProgress, IterationSummary, StepName } from '../core/run/run-types';
import type { Activities } from '../activities';
import type { PreparedDataset } from '../activities/steps/prepare';
import { JOB_CANCELLATION_PATCH, dataActivityOptions, jobActivityOptions } from './options';

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

  const jobs = proxyActivities<Activities>(jobActivityOptions(config, patched(JOB_CANCELLATION_PATCH)));
  const data = proxyActivities<Activities>(dataActivityOptions(config));
  const common = { config, runId: input.runId, runPrefixUri: input.runPrefixUri, iteration };

  /** What this iteration's jobs used and cost, from the records the job runners left in S3. */
  async function usage(): Promise<Pick<IterationSummary, 'usage'>> {
    if (!patched(USAGE_PATCH)) return {};
    return { usage: await data.summarizeUsage({ config, runPrefixUri: input.runPrefixUri, iteration }) };
  }

  if (iteration === 0) {
    const evalMetrics = await step('evaluate', () => jobs.evaluateJudge({ ...common, modelUri: input.modelUri, suites: input.evalSuites }));
    const used = await usage();
    progress.step = 'done';
    return { iteration, modelUri: input.modelUri, eval: evalMetrics, ...used };
  }

  const sampled = await step('sample', () => jobs.sampleJudgments({ ...common, modelUri: input.modelUri, trainUri: input.trainUri }));
  const scored = await step('score', () =>
    data.scoreJudgments({ ...common, modelUri: input.modelUri, rawJudgmentsUri: sampled.rawJudgmentsUri }),
  );
  // Optional judge-side steps that feed pair curation: the judge rates its own samples (meta_judge) and
  // re-scores each sampled rationale greedily (the rationale–score consistency filter).
  const judged = { ...common, modelUri: input.modelUri, requestsUri: sampled.requestsUri, judgmentsUri: scored.uri, trainUri: input.trainUri };
  const metaRatings = config.loop.pairing.strategies.some((s) => s.name === 'meta_judge')
    ? await step('meta-judge', () => jobs.rateJudgments(judged))
    : undefined;
  const consistency = consistencyFilterActive(config, iteration)
    ? await step('consistency', () => jobs.rescoreJudgments(judged))
    : undefined;
  const pairs = await step('pair', () =>
    data.buildPairs({
      ...common,
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
  const trained = await step('train', () => jobs.trainJudge({ ...common, modelUri: input.modelUri, pairsUri: pairs.uri }));
  const evalMetrics = await step('evaluate', () =>
    jobs.evaluateJudge({ ...common, modelUri: trained.modelUri, suites: input.evalSuites }),
  );
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
