/**
 * What orchestration costs a run, from its event histories and its jobs' usage records (bench/orchestration.ts):
 *
 * - per job step, the step's wall time (its activity scheduled → completed, retries included) against the
 *   job's own wall time (the usage record the runner wrote when the process ended): the difference is the
 *   runner's part (staging the channels, starting the process, uploading the outputs) and Temporal's
 *   (scheduling, the worker picking the task up);
 * - per iteration, the time no activity was running (workflow tasks, scheduling between steps) and that
 *   runner part summed, as a share of the iteration's wall time;
 * - per workflow, its event count and largest payload, against Temporal's limits.
 *
 * Pure: tested on hand-made histories in test/unit/orchestration-figures.test.ts.
 */
import type { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

/** Temporal's limits on one workflow: events in its history and bytes in one payload. */
export const TEMPORAL_LIMITS = { events: 51_200, payloadBytes: 2 * 1024 * 1024 } as const;

/** The job each job activity runs, by the step part of its name (core/run/artifacts.ts jobName). */
export const JOB_OF_ACTIVITY: Readonly<Record<string, string>> = {
  trainWarmStartJudge: 'warm-start',
  generateSampledJudgments: 'sample',
  generateMetaRatings: 'meta-judge',
  generateRescores: 'consistency',
  trainJudge: 'train',
  generateEvaluationJudgments: 'evaluate',
  generateBaselineJudgments: 'evaluate-baselines',
  generateRelativeVerdicts: 'evaluate-relative',
};

/** One activity of a history, in seconds since the history's first event; started/completed of its last attempt. */
export interface ActivitySpan {
  type: string;
  scheduled: number;
  started: number;
  completed: number;
  attempt: number;
}

function seconds(e: Event): number {
  const t = e.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) + (t.nanos ?? 0) / 1e9;
}

/** The history's completed activities, in the order they were scheduled. */
export function activitySpans(history: History): ActivitySpan[] {
  const events = history.events ?? [];
  const t0 = events.length ? seconds(events[0]) : 0;
  const byScheduledId = new Map<string, Partial<ActivitySpan>>();
  const out: ActivitySpan[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) byScheduledId.set(id, { type: scheduled.activityType?.name ?? '?', scheduled: seconds(e) - t0 });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const span = byScheduledId.get(String(started.scheduledEventId));
      if (span) Object.assign(span, { started: seconds(e) - t0, attempt: started.attempt ?? 1 });
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const span = byScheduledId.get(String(completed.scheduledEventId));
      if (span && span.started !== undefined) out.push({ ...(span as ActivitySpan), completed: seconds(e) - t0 });
    }
  }
  return out;
}

/** The history's wall time: first event to last, in seconds. */
export function wallSeconds(history: History): number {
  const events = history.events ?? [];
  return events.length ? seconds(events[events.length - 1]) - seconds(events[0]) : 0;
}

/** Seconds covered by at least one of the intervals (activities of a step that run at the same time count once). */
export function coveredSeconds(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  let start = -Infinity;
  for (const [a, b] of sorted) {
    if (a > end) {
      if (end > start) total += end - start;
      start = a;
      end = b;
    } else if (b > end) {
      end = b;
    }
  }
  if (end > start) total += end - start;
  return total;
}

export interface JobStepFigure {
  activity: string;
  /** The job's step name (`sample`, `train`...). */
  job: string;
  /** Scheduled → completed, retries included. */
  stepSeconds: number;
  /** The job's own wall time from its usage record; null when the record is missing. */
  jobSeconds: number | null;
  /** stepSeconds − jobSeconds (null without a record). */
  overheadSeconds: number | null;
}

/** Every job step of a history against its job's own time; `jobSeconds(job)` reads the usage record of the step's job. */
export function jobStepFigures(spans: ActivitySpan[], jobSeconds: (job: string) => number | undefined): JobStepFigure[] {
  return spans
    .filter((s) => JOB_OF_ACTIVITY[s.type] !== undefined)
    .map((s) => {
      const job = JOB_OF_ACTIVITY[s.type];
      const stepSeconds = s.completed - s.scheduled;
      const own = jobSeconds(job);
      return { activity: s.type, job, stepSeconds, jobSeconds: own ?? null, overheadSeconds: own === undefined ? null : stepSeconds - own };
    });
}

export interface WorkflowFigures {
  wallSeconds: number;
  /** Seconds in which no activity of the workflow was running (workflow tasks, scheduling between steps). */
  outsideActivitiesSeconds: number;
  /** The job steps' overheads summed (each step's wall time beyond its job's). */
  jobStepOverheadSeconds: number;
  /** (outside activities + job-step overheads) ÷ wall. An upper bound: overheads of steps that overlap add up. */
  overheadShare: number;
  events: number;
  largestPayloadBytes: number;
}

export function workflowFigures(history: History, jobSteps: JobStepFigure[], payloadSizes: number[]): WorkflowFigures {
  const spans = activitySpans(history);
  const wall = wallSeconds(history);
  const inside = coveredSeconds(spans.map((s) => [s.started, s.completed]));
  const outside = Math.max(0, wall - inside);
  const jobOverhead = jobSteps.reduce((sum, s) => sum + Math.max(0, s.overheadSeconds ?? 0), 0);
  return {
    wallSeconds: wall,
    outsideActivitiesSeconds: outside,
    jobStepOverheadSeconds: jobOverhead,
    overheadShare: wall > 0 ? (outside + jobOverhead) / wall : 0,
    events: history.events?.length ?? 0,
    largestPayloadBytes: payloadSizes.length ? Math.max(...payloadSizes) : 0,
  };
}
