/**
 * The tracking step: sends the run's records, as far as S3 has them, to the experiment tracker (MLflow;
 * activities/tracking/send-records.ts). The run calls it after each iteration's summary is written and once
 * before its report. A tracker that cannot be reached is not a failure of this step: the step returns
 * `tracked: false` with the reason (the run logs it as a warning) and the run report lists what is missing;
 * `judgeloop track <run id>` sends it later. Only S3 problems fail it (and are retried).
 */
import type { ConfigFor } from '../../core/config/sections';
import { storageSettings, type ActivityDeps } from '../context';
import { sendRunRecords } from '../tracking/send-records';
import type { RunStatus } from '../tracking/mlflow-client';

export interface TrackRunInput {
  config: ConfigFor<'tracking'>;
  runPrefixUri: string;
  /** The run's start (ISO 8601, from the workflow): the MLflow run's start and its metrics' timestamp. */
  startedAt: string;
  /** Send iterations 0..through. */
  through: number;
  /** The run has ended (FINISHED, or FAILED): its MLflow run is marked so, at this time (ISO 8601, from the workflow). */
  ended?: { status: Exclude<RunStatus, 'RUNNING'>; at: string };
}

/** Small on purpose: it lands in the run's history. */
export interface TrackRunResult {
  tracked: boolean;
  /** The run's page in the tracker. */
  runUrl?: string;
  /** Why some iterations are not tracked (the first reason). */
  problem?: string;
  untracked: number[];
}

export function createTrackActivities(deps: ActivityDeps) {
  return {
    async trackRun(input: TrackRunInput): Promise<TrackRunResult> {
      const store = deps.storeFor(storageSettings(input.config));
      const status = await sendRunRecords({
        store,
        runPrefixUri: input.runPrefixUri,
        tracking: input.config,
        startedAt: Date.parse(input.startedAt),
        through: input.through,
        ...(input.ended ? { end: { status: input.ended.status, at: Date.parse(input.ended.at) } } : {}),
      });
      return {
        tracked: status.untracked.length === 0,
        ...(status.runUrl ? { runUrl: status.runUrl } : {}),
        ...(status.untracked[0] ? { problem: status.untracked[0].reason } : {}),
        untracked: status.untracked.map((u) => u.iteration),
      };
    },
  };
}
