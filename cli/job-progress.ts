/**
 * The progress of the jobs running now, as their activities' last heartbeats report it (the local runner
 * reads the jobs' `JUDGELOOP_PROGRESS` lines and adds their pace: core/run/progress-rate.ts), for `follow`
 * and `status`: `sample 1,200/3,200 judgments (38%) · 41/s · ~49s left`.
 */
import type { Payload } from '@temporalio/common';
import { formatDuration } from '../core/report/summary-tables';

/** A pending activity as DescribeWorkflowExecution returns it: its type and its last heartbeat's payloads. */
export interface PendingWithHeartbeat {
  activityType?: { name?: string | null } | null;
  heartbeatDetails?: { payloads?: Payload[] | null } | null;
}

/** What a job activity heartbeats (activities/jobs/types.ts JobProgress), as far as the CLI reads it. */
export interface JobHeartbeat {
  phase?: string;
  jobName?: string;
  done?: number;
  total?: number;
  unit?: string;
  perSecond?: number;
  secondsLeft?: number;
  status?: string;
}

/** `run-i1-sample-shard-002` → `sample-shard-002`: the step part of a job name (core/run/artifacts.ts jobName). */
export function jobLabel(jobName: string): string {
  return /^.*-i\d+-(.+)$/.exec(jobName)?.[1] ?? jobName;
}

/** One job's progress, or null for a heartbeat that is not a running job with reported progress. */
export function formatJobProgress(h: JobHeartbeat): string | null {
  if (h.phase !== 'running' || !h.jobName || typeof h.done !== 'number') return null;
  const unit = h.unit ? ` ${h.unit}` : '';
  const count = h.total ? `${h.done.toLocaleString('en-US')}/${h.total.toLocaleString('en-US')}${unit} (${Math.floor((100 * h.done) / h.total)}%)` : `${h.done.toLocaleString('en-US')}${unit}`;
  const pace = h.perSecond !== undefined ? ` · ${h.perSecond < 10 ? h.perSecond.toFixed(1) : Math.round(h.perSecond)}/s` : '';
  const left = h.secondsLeft !== undefined ? ` · ~${formatDuration(h.secondsLeft * 1000)} left` : '';
  return `${jobLabel(h.jobName)} ${count}${pace}${left}`;
}

/**
 * The progress lines of the running jobs among `pending`; `decode` turns a heartbeat's first payload into its
 * value (the client's data converter, codecs included). A heartbeat that cannot be decoded is left out.
 */
export async function jobProgressLines(pending: readonly PendingWithHeartbeat[] | null | undefined, decode: (payload: Payload) => Promise<unknown>): Promise<string[]> {
  const lines: string[] = [];
  for (const p of pending ?? []) {
    const payload = p.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    const value = await decode(payload).catch(() => null);
    if (typeof value !== 'object' || value === null) continue;
    const line = formatJobProgress(value as JobHeartbeat);
    if (line) lines.push(line);
  }
  return lines;
}
