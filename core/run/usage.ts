/**
 * What the jobs of a run used and cost. Every job that ends leaves one usage record beside its outputs
 * (`<job output>/_usage/<attempt>.json`, written by the job runner). Records are keyed by the attempt's
 * deterministic name (the local job's name; the SageMaker job's name, `-r2` for a second SageMaker job after
 * a failed one), so a retried or adopted activity rewrites the same record and is never counted twice, while
 * a failed SageMaker job that billed is counted. These functions sum the records per step, iteration and run.
 */
import type { LocalBackend, SageMakerBackend } from '../config/config';

/** One finished job (a process of the local runner, or a SageMaker training job). */
export interface JobUsage {
  /** The workflow's job name (core/run/artifacts jobName). */
  jobName: string;
  /** The attempt that ran: the local job's name, or the SageMaker training job's name. The record's key. */
  attempt: string;
  /**
   * How the attempt ended: `Completed`, or SageMaker's `Failed` / `Stopped`; `Reused`: not run, because a
   * job with the same inputs had finished (in another run); it cost nothing here and is not in the totals.
   */
  status: 'Completed' | 'Failed' | 'Stopped' | 'Reused';
  /** Reused jobs: the output location of the job whose outputs this one took. */
  reusedFrom?: string;
  entryPoint: string;
  backend: 'local' | 'sagemaker';
  /** Iteration and step, from where the job wrote its outputs (`…/iter-K/<step>/…`); null when elsewhere. */
  iteration: number | null;
  step: string;
  /** How long the job ran: the local process's wall time, or SageMaker's TrainingTimeInSeconds. */
  seconds: number;
  /** What is billed per instance: local: `seconds`; SageMaker: BillableTimeInSeconds (less with spot). */
  billableSeconds: number;
  /** `local` for local jobs. */
  instanceType: string;
  instanceCount: number;
  /** billableSeconds × instanceCount × the price per hour / 3600; null without a price for the instance. */
  usd: number | null;
  finishedAt: string;
}

export interface UsageFigures {
  jobs: number;
  seconds: number;
  billableSeconds: number;
  /** The priced jobs' cost; `unpricedJobs` says how many jobs had no price (their cost is not in it). */
  usd: number;
  unpricedJobs: number;
}

/**
 * What the costs were estimated with: the config setting that priced the jobs, and where its prices come from
 * and their date (`backend.priceSource`), when the config says. Every cost Judgeloop shows is such an estimate.
 */
export interface PriceBasis {
  setting: 'backend.pricePerHour' | 'backend.pricesPerHour';
  source?: string;
  asOf?: string;
}

/** The price basis of a backend config; undefined when it prices nothing. */
export function priceBasis(
  backend: Pick<LocalBackend, 'kind' | 'pricePerHour' | 'priceSource'> | Pick<SageMakerBackend, 'kind' | 'pricesPerHour' | 'priceSource'> | undefined,
): PriceBasis | undefined {
  if (!backend) return undefined;
  const priced = backend.kind === 'local' ? backend.pricePerHour !== undefined : Object.keys(backend.pricesPerHour ?? {}).length > 0;
  if (!priced) return undefined;
  return {
    setting: backend.kind === 'local' ? 'backend.pricePerHour' : 'backend.pricesPerHour',
    ...(backend.priceSource ? { source: backend.priceSource.source, asOf: backend.priceSource.asOf } : {}),
  };
}

export interface UsageTotals extends UsageFigures {
  byStep: Record<string, UsageFigures>;
  /** What the costs were estimated with; absent when nothing was priced, and in older summaries. */
  prices?: PriceBasis;
  /** Jobs not run because their outputs were reused (their names); absent when none. */
  reused?: string[];
  /**
   * Data steps not recomputed because the same step of an earlier run had the same inputs by content: their
   * places in the run (`iter-1/score`), whose outputs were copied from it; absent when none.
   */
  reusedSteps?: string[];
}

/** The folder of usage records under a job's output location. */
export const USAGE_FOLDER = '_usage';

const EMPTY: UsageFigures = { jobs: 0, seconds: 0, billableSeconds: 0, usd: 0, unpricedJobs: 0 };

/** Cents of a cent are noise; rounding keeps sums of many jobs readable (and payloads small). */
function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function add(a: UsageFigures, b: UsageFigures): UsageFigures {
  return {
    jobs: a.jobs + b.jobs,
    seconds: round(a.seconds + b.seconds, 3),
    billableSeconds: round(a.billableSeconds + b.billableSeconds, 3),
    usd: round(a.usd + b.usd, 4),
    unpricedJobs: a.unpricedJobs + b.unpricedJobs,
  };
}

function figuresOf(job: JobUsage): UsageFigures {
  return {
    jobs: 1,
    seconds: job.seconds,
    billableSeconds: job.billableSeconds * job.instanceCount,
    usd: job.usd ?? 0,
    unpricedJobs: job.usd === null ? 1 : 0,
  };
}

/** Totals and per-step totals of usage records; one record per attempt counts (the last one given). */
export function sumUsage(records: Iterable<JobUsage>): UsageTotals {
  const byName = new Map<string, JobUsage>();
  for (const r of records) byName.set(r.attempt, r);
  let total = { ...EMPTY };
  const byStep: Record<string, UsageFigures> = {};
  const reused: string[] = [];
  for (const job of byName.values()) {
    if (job.status === 'Reused') {
      reused.push(job.jobName);
      continue;
    }
    const f = figuresOf(job);
    total = add(total, f);
    byStep[job.step] = add(byStep[job.step] ?? EMPTY, f);
  }
  return { ...total, byStep, ...(reused.length ? { reused: reused.sort() } : {}) };
}

/** The sum of several totals (a run's iterations); absent entries (older summaries) are skipped. */
export function combineUsage(parts: Iterable<UsageTotals | undefined>): UsageTotals {
  let total = { ...EMPTY };
  const byStep: Record<string, UsageFigures> = {};
  const reused: string[] = [];
  const reusedSteps: string[] = [];
  let prices: PriceBasis | undefined;
  for (const p of parts) {
    if (!p) continue;
    const { byStep: steps, reused: r, reusedSteps: rs, prices: basis, ...figures } = p;
    // A run's iterations share its config; the latest one's basis stands for all.
    prices = basis ?? prices;
    total = add(total, figures);
    for (const [step, f] of Object.entries(steps)) byStep[step] = add(byStep[step] ?? EMPTY, f);
    reused.push(...(r ?? []));
    reusedSteps.push(...(rs ?? []));
  }
  return { ...total, byStep, ...(reused.length ? { reused } : {}), ...(reusedSteps.length ? { reusedSteps } : {}), ...(prices ? { prices } : {}) };
}

/** Iteration and step of a job from its output location: `…/iter-3/sample/job` → {3, sample}. */
export function locateJob(outputUri: string): { iteration: number | null; step: string } {
  const parts = outputUri.replace(/\/+$/, '').split('/');
  const at = parts.findIndex((p) => /^iter-\d+$/.test(p));
  if (at < 0 || at + 1 >= parts.length) return { iteration: null, step: 'other' };
  return { iteration: Number(parts[at].slice('iter-'.length)), step: parts[at + 1] };
}

/** The cost of `billableSeconds` on `instanceCount` instances at `pricePerHour` (null: not priced). */
export function costUsd(billableSeconds: number, instanceCount: number, pricePerHour: number | undefined): number | null {
  return pricePerHour === undefined ? null : round((billableSeconds * instanceCount * pricePerHour) / 3600, 4);
}

/** The run's prefix from a job's output location (everything before `/iter-K/`); null when elsewhere. */
export function runPrefixOf(outputUri: string): string | null {
  const m = /^(.*?)\/iter-\d+(\/|$)/.exec(outputUri);
  return m ? m[1] : null;
}

export interface BudgetLimits {
  maxUsd?: number;
  maxJobHours?: number;
}

/**
 * Why the next job may not start (the first limit the finished jobs have reached), or null. Reaching a
 * limit exactly counts as spent: the next job would pass it.
 */
export function budgetExhausted(limits: BudgetLimits, spent: UsageFigures): string | null {
  const hours = spent.billableSeconds / 3600;
  if (limits.maxUsd !== undefined && spent.usd >= limits.maxUsd) {
    return `the run's jobs have cost $${spent.usd.toFixed(2)}, reaching budget.maxUsd $${limits.maxUsd.toFixed(2)} (${spent.jobs} job${spent.jobs === 1 ? '' : 's'})`;
  }
  if (limits.maxJobHours !== undefined && hours >= limits.maxJobHours) {
    return `the run's jobs have used ${hours.toFixed(3)} billed instance-hours, reaching budget.maxJobHours ${limits.maxJobHours} (${spent.jobs} job${spent.jobs === 1 ? '' : 's'})`;
  }
  return null;
}
