/** Activity options derived from the run config: timeouts, heartbeats and which failures are final. */
import type { ActivityOptions } from '@temporalio/workflow';
import type { RunConfig } from '../core/config';

/** Failures that a retry cannot fix: bad config, bad data, a job script that exited with an error. */
export const NON_RETRYABLE = ['ConfigError', 'InvalidData', 'InvalidInput'];

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 6,
  nonRetryableErrorTypes: NON_RETRYABLE,
};

/** Steps that run a job: heartbeats every poll, so a dead worker is noticed within the heartbeat timeout. */
export function jobActivityOptions(config: RunConfig): ActivityOptions {
  return {
    startToCloseTimeout: `${config.timeouts.jobTimeoutMinutes} minutes`,
    heartbeatTimeout: `${config.timeouts.heartbeatTimeoutSeconds} seconds`,
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
