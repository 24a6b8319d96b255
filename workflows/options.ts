/** Activity options derived from the run config: timeouts, heartbeats, task queues and which failures are final. */
import { ActivityCancellationType, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { RunConfig } from '../core/config/config';
import { jobTaskQueue } from '../core/run/run-types';

/** Failures that a retry cannot fix: bad config, bad data, a job script that exited with an error. */
export const NON_RETRYABLE = ['ConfigError', 'InvalidData', 'InvalidInput'];

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 6,
  nonRetryableErrorTypes: NON_RETRYABLE,
};

/**
 * Runs started before job steps waited for their cancellation replay with Temporal's default (the run did
 * not wait); the workflows pass `patched(JOB_CANCELLATION_PATCH)` as `waitForCancellation`.
 */
export const JOB_CANCELLATION_PATCH = 'job-cancellation-wait-v1';

/**
 * New runs schedule every model job as an activity of its own on the job task queue (core/run/run-types.ts
 * jobTaskQueue), and the evaluation as render → one job per generation → metrics. Runs started before
 * replay as they were recorded: their jobs on the run's own task queue, the evaluation as one activity.
 */
export const JOB_ACTIVITIES_PATCH = 'job-activities-v1';

/**
 * Steps that run a job: heartbeats every poll, so a dead worker is noticed within the heartbeat timeout. A
 * cancelled run waits for its job steps to confirm the cancellation: they stop their job (a local process,
 * a SageMaker job) first, and a run that ends cancelled has left none running. (Without the wait the run
 * could close first, and the step would then learn only that its activity no longer exists — which, like a
 * timeout, leaves the job for a next attempt that never comes.)
 */
export function jobActivityOptions(config: RunConfig, waitForCancellation: boolean, onJobQueue = false): ActivityOptions {
  return {
    ...(onJobQueue ? { taskQueue: jobTaskQueue(workflowInfo().taskQueue) } : {}),
    startToCloseTimeout: `${config.timeouts.jobTimeoutMinutes} minutes`,
    heartbeatTimeout: `${config.timeouts.heartbeatTimeoutSeconds} seconds`,
    ...(waitForCancellation ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}),
    retry,
  };
}

/**
 * Streaming steps over S3 (ingest, score, pair): bounded, heartbeating while they stream, and between their
 * own heartbeats by the worker's keep-alive (workers/keep-alive.ts), so a dead worker is noticed within the
 * heartbeat timeout even during one long call such as uploading a seed model.
 */
export function dataActivityOptions(config: RunConfig): ActivityOptions {
  return {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${config.timeouts.heartbeatTimeoutSeconds} seconds`,
    retry,
  };
}
