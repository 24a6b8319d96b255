/**
 * Shapes that cross the Temporal boundary (workflow inputs, results, queries). Small by design: data lives
 * in S3 and only URIs plus summaries travel in payloads (the claim-check pattern).
 */

export const TASK_QUEUE = 'judgeloop';
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

export type StepName = 'prepare' | 'sample' | 'score' | 'pair' | 'train' | 'evaluate' | 'done';

export interface PointwiseMetrics {
  kind: 'pointwise';
  /** Items in the suite. */
  n: number;
  /** Items whose judgment parsed (correlations and MAE use these). */
  parsed: number;
  parseRate: number;
  /** Exact agreement with gold over all n items (an unparseable judgment counts as a disagreement). */
  exactAgreement: number;
  mae: number | null;
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
}

export interface PairwiseMetrics {
  kind: 'pairwise';
  n: number;
  /** Correct = chosen scored strictly above rejected; ties and unparseable judgments count 0.5. */
  accuracy: number;
  ties: number;
  unparseable: number;
}

export type SuiteMetrics = PointwiseMetrics | PairwiseMetrics;

export interface SampleSummary {
  inputs: number;
  judgments: number;
  parsed: number;
  parseRate: number;
  /** Fraction of parsed sampled judgments whose score equals the gold score. */
  agreementWithGold: number | null;
  uri: string;
}

export interface PairSummary {
  pairs: number;
  inputsWithPair: number;
  inputsWithoutPair: number;
  uri: string;
}

export interface TrainSummary {
  modelUri: string;
  steps: number;
  finalLoss: number | null;
  finalRewardAccuracy: number | null;
  finalRewardMargin: number | null;
  metricsUri: string;
  adopted: boolean;
}

export interface IterationSummary {
  iteration: number;
  /** The model evaluated in this iteration (M_i; M_0 for iteration 0). */
  modelUri: string;
  sample?: SampleSummary;
  pairs?: PairSummary;
  train?: TrainSummary;
  eval: Record<string, SuiteMetrics>;
}

export interface DatasetSummary {
  name: string;
  uri: string;
  rows: number;
  quarantined: number;
  quarantineUri: string;
}

export interface RunSummary {
  runId: string;
  runName: string;
  judgeName: string;
  configHash: string;
  runPrefixUri: string;
  datasets: DatasetSummary[];
  iterations: IterationSummary[];
  finalModelUri: string;
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
}
