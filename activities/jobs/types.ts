/**
 * One contract for GPU/CPU jobs, two runners (local processes now, SageMaker in production): a job is a
 * Python entry point under jobs/ with named input channels and hyperparameters, writing its outputs to a
 * model folder and an output-data folder, exactly as SageMaker script mode provides them.
 */
import type { JobCost } from '../../core/run/run-types';
import type { JobUsage } from '../../core/run/usage';

export type { JobCost, JobUsage };

/** A file in jobs/ (`generate.py`, `train_dpo.py`). */
export type JobEntryPoint = string;

export interface JobSpec {
  /** Deterministic name derived in the workflow (core/run/artifacts jobName): the key for adoption on retry. */
  jobName: string;
  entryPoint: JobEntryPoint;
  /** Channel name → S3 prefix (a folder) whose objects are the channel's files. */
  channels: Record<string, string>;
  hyperparameters: Record<string, string | number | boolean>;
  /** S3 prefix receiving `model/` (SM_MODEL_DIR) and `output/` (SM_OUTPUT_DATA_DIR). */
  outputUri: string;
  /**
   * Environment variables that change where a job reports, never what it computes (the experiment tracker's
   * run: MLFLOW_*). Not part of the job's identity: adoption and reuse ignore them.
   */
  environment?: Record<string, string>;
}

export interface JobProgress {
  /**
   * `checking`: looking for a finished job with the same inputs (activities/storage/reuse.ts); `submitting` and
   * `stopping` come from the SageMaker runner (create, and stop on cancellation).
   */
  phase: 'checking' | 'submitting' | 'downloading' | 'running' | 'uploading' | 'stopping' | 'done';
  jobName: string;
  /** SageMaker only: the training job's name (sagemakerJobName), status, secondary status and billed time. */
  externalJobName?: string;
  status?: string;
  secondaryStatus?: string;
  billableSeconds?: number;
  pid?: number;
  done?: number;
  total?: number;
  unit?: string;
  /** The job's pace since the runner's first progress report of it, and the seconds left at it (core/run/progress-rate.ts). */
  perSecond?: number;
  secondsLeft?: number;
  adopted?: boolean;
  /** SageMaker only: an API call being retried after a throttled or failed attempt. */
  apiRetry?: { message: string; tries: number; retryingInMs: number };
}

export interface JobResult {
  jobName: string;
  outputUri: string;
  modelUri: string;
  outputDataUri: string;
  /** How the result came about: `ran` (this attempt launched it), `adopted-running` (an earlier attempt's
   * process was still running and this attempt waited for it), `adopted-finished` (outputs already there),
   * `reused` (a job with the same inputs finished elsewhere, e.g. in another run: its outputs are these). */
  how: 'ran' | 'adopted-running' | 'adopted-finished' | 'reused';
  seconds: number;
  /** SageMaker only: what the job billed (recorded in step summaries that keep the JobResult). */
  cost?: JobCost;
  /** The completed attempt's usage record (also in S3 beside the outputs; core/run/usage.ts). */
  usage: JobUsage;
}

/**
 * Why an activity's signal fired, from Temporal's cancellation details. Only `cancel-requested` means that
 * somebody wants the work to stop (the run, or this step, was cancelled). The others end this attempt only:
 * `timed-out` and `not-found` (the server already gave up on this attempt and may have started the next one,
 * which adopts the job), `worker-shutdown`, `paused` and `reset`. `unknown`: aborted without details.
 */
export type AbortReason = 'cancel-requested' | 'worker-shutdown' | 'timed-out' | 'not-found' | 'paused' | 'reset' | 'unknown';

export interface JobContext {
  heartbeat(details: JobProgress): void;
  /** Aborted when the activity is cancelled, times out, or its worker shuts down (see abortReason). */
  signal: AbortSignal;
  /** Why `signal` fired; absent (as in tests that build their own context) reads as `unknown`. */
  abortReason?(): AbortReason;
  log(line: string): void;
}

export function abortReasonOf(ctx: JobContext): AbortReason {
  return ctx.abortReason?.() ?? 'unknown';
}

export interface JobRunner {
  run(spec: JobSpec, ctx: JobContext): Promise<JobResult>;
  /**
   * Prepares now what the first job of each entry point would otherwise wait for (the local runner's warm
   * Pythons); returns at once, and never fails. Runners with nothing to prepare leave it out.
   */
  prewarm?(entryPoints: readonly string[]): void;
}

/**
 * The file each entry point writes last, into its output data folder: a job that exits 0 (or a SageMaker job
 * that completes) without it did not finish, and is run again rather than adopted. Entry points not listed
 * (test fixtures) are taken at their exit code.
 */
export const COMPLETION_FILES: Readonly<Record<string, string>> = {
  'generate.py': 'generation_summary.json',
  'train_dpo.py': 'train_summary.json',
  'train_sft.py': 'train_summary.json',
};
