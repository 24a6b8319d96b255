/**
 * Pure text formatting for the CLI: the results of a finished run (its tables come from
 * core/report/summary-tables.ts, shared with the HTML report), progress lines while following, and the cause
 * chain of a failed run. No I/O, so it is unit-tested cell by cell.
 */
import type {
  IterationProgress,
  IterationSummary,
  PairwiseMetrics,
  PointwiseMetrics,
  RunProgress,
  RunSummary,
  SampleSummary,
  SuiteMetrics,
  WarmStartSummary,
} from '../core/run/run-types';
import type { UsageFigures, UsageTotals } from '../core/run/usage';
import { evaluationSections } from '../core/report/evaluation-tables';
import {
  NONE,
  changeLines,
  curationTable,
  finite,
  formatCost,
  formatDuration,
  isEvaluateOnly,
  mainMetric,
  num,
  pct,
  renderTable,
  resultsTable,
  usageTable,
  warmStartLine,
  costBasisLine,
} from '../core/report/summary-tables';
import { awaitingApprovalLine, promotionLines } from './format-promotion';

export function formatResults(summary: RunSummary): string {
  const curation = curationTable(summary);
  const usage = usageTable(summary);
  const lines = [
    `run ${summary.runId} · ${summary.runName} · judge ${summary.judgeName}`,
    '',
    ...(summary.warmStart ? [warmStartLine(summary.warmStart), ''] : []),
    renderTable(resultsTable(summary)),
    '',
    ...(curation ? ['pair curation (curation.json per iteration):', renderTable(curation), ''] : []),
    isEvaluateOnly(summary) ? 'the starting judge (an evaluate-only run: loop.iterations 0):' : 'change vs iteration 0:',
    ...changeLines(summary).map((l) => `  ${l}`),
    '',
    ...evaluationSections(summary),
    ...promotionLines(summary),
    ...(usage
      ? [
          'jobs, time and cost (billed: instance time; iter-K/usage.json lists every job):',
          renderTable(usage),
          ...[costBasisLine(summary.usage)].filter((line): line is string => line !== null),
          '',
        ]
      : []),
    ...(summary.usage?.reused?.length
      ? [`reused, not run (same inputs as a job that finished earlier): ${summary.usage.reused.join(', ')}`, '']
      : []),
    ...(summary.usage?.reusedSteps?.length
      ? [`reused, not recomputed (copied from the same step of an earlier run with the same inputs): ${summary.usage.reusedSteps.join(', ')}`, '']
      : []),
    `final model: ${summary.finalModelUri || NONE}`,
    `artifacts:   ${summary.runPrefixUri || NONE}`,
  ];
  const quarantined = (summary.datasets ?? []).filter((d) => d.quarantined > 0);
  if (quarantined.length) {
    lines.push(
      `quarantined rows: ${quarantined.map((d) => `${d.name} ${d.quarantined}/${d.rows + d.quarantined} (${d.quarantineUri})`).join(', ')}`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// progress

/** `3 jobs`, `1 data step`; empty for none. */
function plural(n: number, noun: string): string {
  return n === 0 ? '' : `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** A short line for an iteration that just finished, e.g. `iteration 1 done: 812 pairs · synthetic 37.5% exact`. */
export function formatIterationDone(it: IterationSummary): string {
  const parts: string[] = [];
  if (it.pairs) parts.push(`${it.pairs.pairs} pairs`);
  if (it.train && finite(it.train.finalLoss)) parts.push(`train loss ${num(it.train.finalLoss, 4)}`);
  for (const [name, m] of Object.entries(it.eval ?? {})) {
    parts.push(`${name} ${pct(mainMetric(m))}${mainMetric(m) === null ? '' : '%'} ${m.kind === 'pointwise' ? 'exact' : 'acc'}`);
  }
  if (it.gate) parts.push(it.gate.promote ? 'promoted' : 'kept the champion');
  if (it.usage) {
    const cost = formatCost(it.usage);
    parts.push(`jobs ${formatDuration(it.usage.seconds * 1000)}${cost === 'not priced' ? '' : `, est. ${cost}`}`);
    const reused = [plural(it.usage.reused?.length ?? 0, 'job'), plural(it.usage.reusedSteps?.length ?? 0, 'data step')].filter(Boolean);
    if (reused.length) parts.push(`${reused.join(' and ')} reused from an earlier run`);
  }
  const label = it.iteration === 0 ? 'iteration 0 (seed judge)' : `iteration ${it.iteration}`;
  return `${label} done${parts.length ? `: ${parts.join(' · ')}` : ''}`;
}

/**
 * The progress line while following, e.g.
 * `iteration 1/2 · step train · done: sample, score, pair · 1 iteration finished`.
 * The child's own progress (when it is for the iteration in flight) gives the finer step detail.
 */
const ITERATION_STEPS = ['sample', 'score', 'pair', 'train', 'evaluate'];

/**
 * How far the run is, in steps: iteration 0 is one (evaluate), each later iteration five (sample, score,
 * pair, train, evaluate; the optional judge-side steps ride along); the child's steps count for the iteration
 * in flight.
 */
export function runFraction(progress: RunProgress, child?: IterationProgress | null): number {
  const total = 1 + ITERATION_STEPS.length * progress.iterations;
  if (progress.step === 'done') return 1;
  const finished = (progress.completed ?? []).reduce((n, it) => n + (it.iteration === 0 ? 1 : ITERATION_STEPS.length), 0);
  const inFlight = child != null && child.iteration === progress.iteration ? child.stepsDone.filter((s) => ITERATION_STEPS.includes(s)).length : 0;
  return Math.min(1, (finished + inFlight) / total);
}

/** `[██████░░░░░░░░░░░░░░]  30%` */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

export function formatProgressLine(progress: RunProgress, child?: IterationProgress | null): string {
  const awaiting = awaitingApprovalLine(progress);
  if (awaiting) return awaiting;
  return `${progressBar(runFraction(progress, child))} · ${progressText(progress, child)}`;
}

function progressText(progress: RunProgress, child?: IterationProgress | null): string {
  const useChild = child != null && child.iteration === progress.iteration;
  const step = useChild ? child.step : progress.step;
  const it =
    progress.iteration === 0
      ? `iteration 0/${progress.iterations} (seed judge)`
      : `iteration ${progress.iteration}/${progress.iterations}`;
  const parts = [it, `step ${step}`];
  if (useChild && child.stepsDone.length) parts.push(`done: ${child.stepsDone.join(', ')}`);
  const n = progress.completed?.length ?? 0;
  parts.push(`${n} iteration${n === 1 ? '' : 's'} finished`);
  return parts.join(' · ');
}

/** How to resume following a run, as the user types it in this repo (`judgeloop follow <id>`). */
export function resumeHint(workflowId: string): string {
  return `npm run judgeloop -- follow ${workflowId}`;
}

export function resultsHint(workflowId: string): string {
  return `npm run judgeloop -- results ${workflowId}`;
}

// ---------------------------------------------------------------------------------------------------------
// failures

interface FailureLike {
  name?: string;
  message?: string;
  cause?: unknown;
  type?: string | null;
  nonRetryable?: boolean;
  activityType?: string;
  activityId?: string;
  workflowType?: string | null;
  execution?: { workflowId?: string | null };
  timeoutType?: unknown;
}

function describeOne(e: unknown): string {
  if (!(e instanceof Error) && (typeof e !== 'object' || e === null)) return String(e);
  const f = e as FailureLike;
  const name = f.name || 'Error';
  const msg = (f.message ?? '').trim();
  const extra: string[] = [];
  switch (name) {
    case 'ApplicationFailure':
      if (f.type) extra.push(f.type);
      if (f.nonRetryable) extra.push('non-retryable');
      break;
    case 'ActivityFailure':
      if (f.activityType) extra.push(`activity ${f.activityType}`);
      if (f.activityId) extra.push(`id ${f.activityId}`);
      break;
    case 'ChildWorkflowFailure':
      if (f.workflowType) extra.push(`workflow ${f.workflowType}`);
      if (f.execution?.workflowId) extra.push(`id ${f.execution.workflowId}`);
      break;
  }
  const head = `${name}${extra.length ? ` [${extra.join(', ')}]` : ''}`;
  return msg ? `${head}: ${msg}` : head;
}

/**
 * The message chain of a failure, outermost first, one "caused by" per level (cause of causes), with
 * multi-line messages (e.g. a Python traceback tail) indented under their level.
 */
export function formatFailureChain(err: unknown, maxDepth = 20): string {
  const lines: string[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = err;
  let depth = 0;
  while (cur !== undefined && cur !== null && !seen.has(cur) && depth < maxDepth) {
    seen.add(cur);
    const prefix = depth === 0 ? '' : `${'  '.repeat(depth)}caused by: `;
    const [first, ...rest] = describeOne(cur).split('\n');
    lines.push(prefix + first);
    const indent = ' '.repeat(prefix.length || 2);
    for (const r of rest) lines.push(indent + r);
    cur = typeof cur === 'object' ? (cur as FailureLike).cause : undefined;
    depth++;
  }
  return lines.join('\n');
}


// ---------------------------------------------------------------------------------------------------------
// activities being retried (a step that is stuck shows why)

export interface RetryingActivity {
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
  /** 0 = unlimited */
  maximumAttempts: number;
  message: string;
}

/** Loosely typed PendingActivityInfo (temporal.api.workflow.v1), as DescribeWorkflowExecution returns it. */
export interface PendingActivityLike {
  activityId?: string | null;
  activityType?: { name?: string | null } | null;
  attempt?: number | null;
  maximumAttempts?: number | null;
  lastFailure?: { message?: string | null } | null;
}

/** Pending activities that already failed at least once (attempt ≥ 2 with a last failure). */
export function retryingActivities(workflowId: string, pending: PendingActivityLike[] | null | undefined): RetryingActivity[] {
  return (pending ?? [])
    .filter((p) => (p.attempt ?? 0) >= 2 && p.lastFailure?.message)
    .map((p) => ({
      workflowId,
      activityId: p.activityId ?? '',
      activityType: p.activityType?.name ?? 'activity',
      attempt: p.attempt ?? 0,
      maximumAttempts: p.maximumAttempts ?? 0,
      message: (p.lastFailure?.message ?? '').split('\n')[0].trim(),
    }));
}

/** e.g. `retrying prepareRun (attempt 3): Could not load credentials from any providers` */
export function formatRetrying(a: RetryingActivity): string {
  const of = a.maximumAttempts > 0 ? `/${a.maximumAttempts}` : '';
  const msg = a.message.length > 200 ? `${a.message.slice(0, 199)}…` : a.message;
  return `retrying ${a.activityType} (attempt ${a.attempt}${of}): ${msg}`;
}
