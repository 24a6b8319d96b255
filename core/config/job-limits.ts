/**
 * Limits of a SageMaker backend that its schema alone cannot see, checked before a run starts (the CLI and
 * the prepare step, like the token budgets), not in the workflow's own config validation, so that histories
 * of runs started before a check existed still replay.
 */
import type { ConfigProblem, RunConfig } from './config';

/**
 * Time a SageMaker job spends outside MaxRuntimeInSeconds that the job activity still waits through:
 * provisioning the instance and pulling the image before training starts, uploading the outputs after it,
 * and the wait for `Stopped` after a cancellation. Thirty minutes covers what SageMaker documents and what
 * large images take to pull.
 */
export const SAGEMAKER_OVERHEAD_MINUTES = 30;

export function jobLimitProblems(config: RunConfig): ConfigProblem[] {
  const backend = config.backend;
  if (backend.kind !== 'sagemaker') return [];
  const problems: ConfigProblem[] = [];
  if (backend.instanceCount !== 1) {
    problems.push({
      path: 'backend.instanceCount',
      message:
        `${backend.instanceCount}: every instance of a SageMaker training job runs the whole entry point, and the jobs do not ` +
        `split their work across hosts yet, so this would pay ${backend.instanceCount} times for the same outputs. Set it to 1`,
    });
  }
  // The activity must outlive the job: otherwise it times out while the job is still allowed to run, and
  // every retry does the same (the job keeps billing; the run fails after its last attempt).
  const spot = backend.spot.enabled && backend.spot.maxWaitHours !== undefined;
  const jobHours = spot ? backend.spot.maxWaitHours! : backend.maxRuntimeHours;
  const neededMinutes = Math.ceil(jobHours * 60 + SAGEMAKER_OVERHEAD_MINUTES);
  if (config.timeouts.jobTimeoutMinutes < neededMinutes) {
    const which = spot ? `backend.spot.maxWaitHours ${jobHours} (MaxWaitTimeInSeconds)` : `backend.maxRuntimeHours ${jobHours} (MaxRuntimeInSeconds)`;
    problems.push({
      path: 'timeouts.jobTimeoutMinutes',
      message:
        `${config.timeouts.jobTimeoutMinutes} minutes does not cover a SageMaker job: ${which} + ${SAGEMAKER_OVERHEAD_MINUTES} minutes ` +
        `for provisioning, upload and stopping = ${neededMinutes} minutes. The activity would time out while the job may still run; ` +
        `raise timeouts.jobTimeoutMinutes to at least ${neededMinutes}, or lower ${spot ? 'backend.spot.maxWaitHours' : 'backend.maxRuntimeHours'}`,
    });
  }
  return problems;
}
