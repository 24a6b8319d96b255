/**
 * Shapes that cross the Temporal boundary (workflow inputs, results, queries). Small by design: data lives
 * in S3 and only URIs plus summaries travel in payloads (the claim-check pattern).
 */

import type { PairwiseMode } from '../config/config';
import type { AwaitingApproval, ChampionRef, DecidedBy, StartedFrom } from '../promotion/registry';
import type { UsageTotals } from './usage';

export const TASK_QUEUE = 'judgeloop';

/**
 * The task queue of a queue's job activities (sample, train, each evaluation generation...): a worker polls
 * both, with separate slots, so model jobs never hold up the data steps and their concurrency is set apart.
 */
export function jobTaskQueue(taskQueue: string): string {
  return `${taskQueue}-jobs`;
}
export const RUN_WORKFLOW = 'selfRationalizationRun';
export const ITERATION_WORKFLOW = 'iterationWorkflow';
export const PROGRESS_QUERY = 'progress';

/**
 * The run workflow's only argument is the raw run config (the JSON of a config file), so that
 * `temporal workflow start --type selfRationalizationRun --input-file configs/local.json` starts a run.
 * It is validated inside the workflow.
 */
export type RunInput = unknown;

/** Workflow id of iteration K's child workflow. */
export function iterationWorkflowId(runId: string, iteration: number): string {
  return `${runId}-iter-${iteration}`;
}

export type StepName = 'prepare' | 'warm-start' | 'sample' | 'score' | 'meta-judge' | 'consistency' | 'pair' | 'train' | 'evaluate' | 'done';

export interface PointwiseMetrics {
  kind: 'pointwise';
  /** Items in the suite. */
  n: number;
  /** Items whose judgment parsed (correlations and MAE use these), markers forced by decoding included. */
  parsed: number;
  parseRate: number;
  /** Items parsed with a marker the judge wrote itself, over n: what the gate's parse floor checks. */
  ownParseRate?: number;
  /** Items whose marker decoding forced. */
  forcedMarkers?: number;
  /** Exact agreement with gold over all n items (an unparseable judgment counts as a disagreement). */
  exactAgreement: number;
  mae: number | null;
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
  /** Bootstrap intervals of the metrics above (evaluation.bootstrap; absent when resamples is 0). */
  ci?: MetricIntervals<'exactAgreement' | 'mae' | 'pearson' | 'spearman' | 'kendall'>;
  /** Chance level: a judge that always gives the suite's most common gold score (core/evaluation/metrics.ts). */
  chance?: { score: number; exactAgreement: number; mae: number } | null;
  /** Gold (rows) x judge score (columns) on the scale, plus unparseable per gold level; null off the scale. */
  confusion?: { levels: number[]; counts: number[][]; unparseable: number[] } | null;
  /** Judge scores per scale level plus the unparseable count; null when a score or gold is off the scale. */
  scoreDistribution?: { levels: number[]; counts: number[]; unparseable: number } | null;
  /** The same figures against every other gold column of the suite (e.g. BiGGen's `human`, `gpt4`). */
  goldColumns?: Record<string, PointwiseFigures>;
  /** The figures per group (`data.evalSuites[].groupBy`); absent when no row has the field. */
  groups?: GroupedFigures<PointwiseFigures>;
  /** Inference-time baselines from N samples (evaluation.baselines), beside `greedy` (the figures above). */
  baselines?: Baselines<PointwiseFigures>;
  /** Paired bootstrap of this iteration minus iteration 0 on the same items (iterations >= 1). */
  vsIteration0?: PairedComparison<'exactAgreement' | 'mae' | 'pearson' | 'spearman' | 'kendall'>;
  /** `metrics/report.json`: every figure of every suite, per group and gold column, with matrices. */
  reportUri?: string;
}

/** A pointwise metric set without the suite-level extras. */
export type PointwiseFigures = Pick<
  PointwiseMetrics,
  'n' | 'parsed' | 'parseRate' | 'exactAgreement' | 'mae' | 'pearson' | 'spearman' | 'kendall' | 'ci'
>;

/** A pairwise metric set without the suite-level extras. */
export type PairwiseFigures = Pick<PairwiseMetrics, 'n' | 'accuracy' | 'ties' | 'unparseable' | 'ci'>;

export interface GroupedFigures<F> {
  /** The grouping field (`subset`, `meta.capability`...). */
  by: string;
  /** Rows without the field (in the suite's overall figures only). */
  ungrouped: number;
  /** Sorted by group name. */
  metrics: Record<string, F>;
}

export interface Baselines<F> {
  /** Samples per item and their temperature (evaluation.baselines). */
  samples: number;
  temperature: number;
  /** `greedy` (the suite's own figures), `one_sample`, `self_consistency`, `mean_of_n`, `best_of_n`. */
  metrics: Record<string, F>;
}

/** B - A for two iterations on the items both judged (core/evaluation/bootstrap.ts, paired bootstrap). */
export interface PairedComparison<K extends string> {
  /** The iteration compared against (A); this iteration is B. */
  baseline: number;
  /** Items in both. */
  n: number;
  resamples: number;
  confidence: number;
  seed: number;
  diffs: Record<K, { diff: number | null; low: number | null; high: number | null; pValue: number | null }>;
}

/** Percentile-bootstrap intervals: `[low, high]` per metric (null when undefined), and how they were drawn. */
export interface MetricIntervals<K extends string> {
  resamples: number;
  confidence: number;
  seed: number;
  intervals: Record<K, [number | null, number | null]>;
}

export interface PairwiseMetrics {
  kind: 'pairwise';
  n: number;
  /**
   * Correct = chosen scored strictly above rejected; ties and unparseable judgments count 0.5. For a gold
   * tie (PandaLM), correct = both scored the same.
   */
  accuracy: number;
  ties: number;
  unparseable: number;
  /** Items whose gold is a tie. */
  goldTies?: number;
  /** Bootstrap interval of the (pointwise-scored) accuracy (evaluation.bootstrap; absent when resamples is 0). */
  ci?: MetricIntervals<'accuracy'>;
  /** Scored responses (two a pair) parsed with a marker the judge wrote itself, over all scored responses. */
  ownParseRate?: number;
  /** Scored responses whose marker decoding forced. */
  forcedMarkers?: number;
  /** Chance level: a judge that scores both responses of every pair the same (0.5 a pair; 1 on a gold tie). */
  chance?: { accuracy: number } | null;
  /**
   * How the suite was judged (`data.evalSuites[].mode`); absent means `pointwise`. In `relative` mode the
   * pointwise comparison does not run: `accuracy` and `unparseable` are then the relative ones and `ties` is 0.
   */
  mode?: PairwiseMode;
  /** The relative (A/B) grading, in `relative` and `both` mode. */
  relative?: RelativeMetrics;
  /** Pointwise-scored accuracy per group (`groupBy`, `subset` by default). */
  groups?: GroupedFigures<PairwiseFigures>;
  /** RewardBench's roll-up of the subsets (suites read with the `rewardbench` adapter). */
  rewardbench?: RewardBenchSummary;
  /** Inference-time baselines: both responses scored from N samples each. */
  baselines?: Baselines<PairwiseFigures>;
  vsIteration0?: PairedComparison<'accuracy'>;
  reportUri?: string;
}

/** core/evaluation/rewardbench.ts `rewardBenchRollup`, compacted: category scores are null unless every subset is there. */
export interface RewardBenchSummary {
  overall: number | null;
  complete: boolean;
  categories: Record<string, { score: number | null; scoreOverPresent: number | null; missing: number }>;
  missingSubsets: number;
  unknownSubsets: string[];
}

/** `data.evalSuites[].mode` (core/config/config.ts). */
export type { PairwiseMode };

/**
 * Relative (A/B) grading of a pairwise suite (`data.evalSuites[].mode` relative or both; core/evaluation/relative.ts):
 * every pair judged twice with the pairwise template, chosen as A and chosen as B.
 */
export interface RelativeMetrics {
  /** Pairs judged. */
  n: number;
  /** Relative judgments: two per pair, one per order. */
  requests: number;
  /**
   * Over both orders (`requests` verdicts): a verdict for the chosen response counts 1, for the rejected one
   * 0, an unparseable verdict 0.5. Gold tie: each of the pair's two verdicts counts 1 when they pick different
   * responses (the same letter twice, i.e. the judge had no preference between the responses), 0 when they
   * pick the same response, 0.5 when either is unparseable. 0 for an empty suite.
   */
  accuracy: number;
  /** Of the pairs whose two verdicts both parsed, the fraction that pick the same response; null when none. */
  positionConsistency: number | null;
  /** Verdicts that did not parse (a missing row counts as one). */
  unparseable: number;
  /** Of the parsed verdicts, the fraction that are `A` (0.5 = no preference for a position); null when none. */
  preferA: number | null;
  /** Pairs whose gold is a tie. */
  goldTies: number;
  /** `relativeOrderSeed(loop.seed, suite)`: with `relativeOrders`, which order was presented first. */
  orderSeed: number;
  /** Bootstrap intervals over pairs (a pair's two verdicts move together); absent when resamples is 0. */
  ci?: MetricIntervals<'accuracy' | 'positionConsistency' | 'preferA'>;
}


export type SuiteMetrics = PointwiseMetrics | PairwiseMetrics;

export interface SampleSummary {
  inputs: number;
  judgments: number;
  /** Judgments with a valid score, markers forced by decoding included (these can be paired). */
  parsed: number;
  parseRate: number;
  /**
   * The judge's own parse rate: judgments that parsed with a marker the judge wrote itself (not forced by
   * decoding), over all judgments. Absent in summaries recorded before it existed.
   */
  ownParseRate?: number;
  /** Judgments whose marker decoding forced (judge.decoding.mode `forced`, the budget ran out). */
  forcedMarkers?: number;
  /** Fraction of parsed sampled judgments whose score equals the gold score. */
  agreementWithGold: number | null;
  uri: string;
}

export interface PairSummary {
  pairs: number;
  inputsWithPair: number;
  inputsWithoutPair: number;
  uri: string;
  /** A compact subset of the curation report (absent in summaries recorded before it existed). */
  curation?: PairCurationSummary;
}

/** The headline figures of `iter-K/pair/curation.json` (core/pairing/curation.ts has the full report). */
export interface PairCurationSummary {
  /** curation.json. */
  uri: string;
  /** Kept pairs per strategy (every listed strategy, 0 included). */
  pairsByStrategy: Record<string, number>;
  /** Samples excluded (consistency filter) and produced pairs dropped (de-duplication, hygiene, balance), by reason. */
  droppedByReason: Record<string, number>;
  /** Inputs left without a pair, by reason. */
  withoutPairByReason: Record<string, number>;
  /** Unparseable sampled judgments / all sampled judgments; null without judgments. */
  parseFailureRate: number | null;
  /** Agreement among each input's N samples: mean share of the modal score, and the fraction of unanimous inputs. */
  sampleAgreement: { meanModalShare: number | null; unanimousFraction: number | null };
  /** Mean of length(chosen) - length(rejected) over the kept pairs, in characters; null without pairs. */
  meanLengthDifference: number | null;
}

/** What a SageMaker job billed (activities/jobs/sagemaker-request.ts jobCost); absent for local jobs. */
export interface JobCost {
  /** Billed wall-clock seconds per instance (managed spot: only the billed part). */
  billableSeconds: number;
  instanceType: string;
  instanceCount: number;
  /** billableSeconds × instanceCount × backend.pricesPerHour[instanceType] / 3600; null without a price. */
  usd: number | null;
}

export interface TrainSummary {
  modelUri: string;
  steps: number;
  finalLoss: number | null;
  finalRewardAccuracy: number | null;
  finalRewardMargin: number | null;
  metricsUri: string;
  adopted: boolean;
  /** SageMaker backend only. */
  cost?: JobCost;
}

export interface IterationSummary {
  iteration: number;
  /** The model evaluated in this iteration (M_i; M_0 for iteration 0). */
  modelUri: string;
  sample?: SampleSummary;
  /** The judge's ratings of its own samples (the meta_judge strategy). */
  metaJudge?: MetaJudgeSummary;
  /** Greedy re-scores of the sampled rationales (loop.pairing.consistencyFilter). */
  consistency?: ConsistencySummary;
  pairs?: PairSummary;
  train?: TrainSummary;
  eval: Record<string, SuiteMetrics>;
  /** The judge this iteration started from (trained from; evaluated, for iteration 0). Absent in older summaries. */
  startModelUri?: string;
  /** The promotion decision for this iteration's judge (iterations >= 1; core/promotion/gate.ts). */
  gate?: { promote: boolean; reasons: string[]; decidedBy: DecidedBy };
  /** Time and cost of this iteration's jobs, per step (core/run/usage.ts; iter-K/usage.json has every job). */
  usage?: UsageTotals;
}

export interface MetaJudgeSummary {
  /** ratings.jsonl: {request_id, sample_index, meta_score, meta_status, reason?} per rated judgment. */
  uri: string;
  rated: number;
  unparseable: number;
}

export interface ConsistencySummary {
  /** rescores.jsonl: {request_id, sample_index, rescore, consistent} per re-scored judgment. */
  uri: string;
  rescored: number;
  consistent: number;
  inconsistent: number;
}

export interface DatasetSummary {
  name: string;
  uri: string;
  rows: number;
  quarantined: number;
  quarantineUri: string;
  /** Training rows dropped as contaminated (data.contamination.exclude); `rows` is what is left. */
  contaminationExcluded?: number;
}

/** The contamination check of the prepare step (core/data/contamination.ts); the full report is at `reportUri`. */
export interface ContaminationSummary {
  reportUri: string;
  trainRows: number;
  /** Training rows that match an evaluation item (exactly after normalisation, or as near-duplicates). */
  flaggedTrainRows: number;
  /** Flagged rows dropped from the training set (0 unless data.contamination.exclude). */
  excludedTrainRows: number;
  /** Ids of the dropped rows with their matches, when rows were dropped. */
  excludedUri?: string;
  matchesTotal: number;
  /** Per suite: matching (training row, evaluation item) pairs. */
  suites: Record<string, { exactMatches: number; nearDuplicates: number; trainRowsFlagged: number }>;
}

export interface RunSummary {
  runId: string;
  runName: string;
  judgeName: string;
  configHash: string;
  runPrefixUri: string;
  datasets: DatasetSummary[];
  iterations: IterationSummary[];
  /** The run's champion when it ended (with the gate: the judge to use; the summary's finalModelUri too). */
  finalModelUri: string;
  /** The run's champion: the judge it started from, or the last one it promoted. Absent in older summaries. */
  champion?: ChampionRef;
  /** Where iteration 0 started: the registry's champion or judge.seedModel. Absent in older summaries. */
  startedFrom?: StartedFrom;
  /** Time and cost of all the run's jobs: the iterations' usage summed. Absent in older summaries. */
  usage?: UsageTotals;
  /** The scheduled time, for a run a Temporal Schedule started (its dated data locations are of this time). */
  scheduledFor?: string;
  /** The warm start (config `warmStart`): the seed model fine-tuned on reference judgments before iteration 0. */
  warmStart?: WarmStartSummary;
}

/**
 * What a run returns (runs started from `run-summary-in-s3-v1` on): the summary's run-level facts and one line
 * per iteration. Each iteration's whole summary is in S3 at `summaryUri` (`iter-K/summary.json`, written as the
 * iteration ends), so the run's result stays a few KB however many iterations and suites it has; the report
 * step writes the assembled RunSummary to `report/summary.json`. `runSummaryFrom` puts the two together.
 */
export interface RunResult extends Omit<RunSummary, 'iterations'> {
  iterationResults: IterationResult[];
}

export interface IterationResult {
  iteration: number;
  /** The judge this iteration evaluated (M_i). */
  modelUri: string;
  /** iter-K/summary.json: the IterationSummary. */
  summaryUri: string;
  /** The gate's decision on this iteration's judge (iterations >= 1). */
  promoted?: boolean;
}

/** A run's result: a RunSummary for runs started before `run-summary-in-s3-v1`, a RunResult after. */
export type RunOutcome = RunSummary | RunResult;

export function isRunResult(outcome: RunOutcome): outcome is RunResult {
  return Array.isArray((outcome as Partial<RunResult>).iterationResults) && !('iterations' in outcome);
}

/** The run's result for a summary whose iterations are recorded in S3 (`IterationResult.summaryUri`). */
export function runResultOf(summary: RunSummary, summaryUriOf: (iteration: number) => string): RunResult {
  const { iterations, ...facts } = summary;
  return {
    ...facts,
    iterationResults: iterations.map((it) => ({
      iteration: it.iteration,
      modelUri: it.modelUri,
      summaryUri: summaryUriOf(it.iteration),
      ...(it.gate ? { promoted: it.gate.promote } : {}),
    })),
  };
}

/** The whole summary of a run from its result and its iterations' summaries (in the result's order). */
export function runSummaryFrom(result: RunResult, iterations: IterationSummary[]): RunSummary {
  const { runId, runName, judgeName, configHash, runPrefixUri, datasets, iterationResults, ...rest } = result;
  const byIteration = new Map(iterations.map((it) => [it.iteration, it]));
  // In the order the run builds its summary, so that the JSON written of it is the same bytes.
  return {
    runId,
    runName,
    judgeName,
    configHash,
    runPrefixUri,
    datasets,
    iterations: iterationResults.map((r) => {
      const it = byIteration.get(r.iteration);
      if (!it) throw new Error(`the summary of iteration ${r.iteration} is missing (expected at ${r.summaryUri})`);
      return it;
    }),
    ...rest,
  };
}

/** The seed step: SFT of the base model on reference judgments; its model is the run's M0. */
export interface WarmStartSummary {
  /** The model it started from (judge.seedModel as staged). */
  baseModelUri: string;
  /** The warm-started judge: what iteration 0 evaluates and iteration 1 samples from. */
  modelUri: string;
  /** Rows read, rows without a reference judgment (left out), and the SFT examples rendered from the rest. */
  rows: number;
  rowsWithoutReference: number;
  examples: number;
  examplesUri: string;
  steps: number;
  finalLoss: number | null;
  metricsUri: string;
  /** True when the job's outputs came from an earlier attempt or an identical job (reuse), not a new run. */
  adopted: boolean;
}

export interface IterationProgress {
  iteration: number;
  step: StepName;
  stepsDone: StepName[];
}

export interface RunProgress {
  runId: string;
  iterations: number;
  /** The iteration in flight (0 = evaluating the seed judge). */
  iteration: number;
  step: StepName;
  /** Workflow id of the iteration's child workflow, to query it for step detail. */
  childWorkflowId: string | null;
  completed: IterationSummary[];
  /** Set while a promotion the gate allowed waits for `judgeloop approve` (evaluation.gate.requireApproval). */
  awaitingApproval?: AwaitingApproval | null;
}
