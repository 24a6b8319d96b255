/**
 * @temporalio/workflow with patched('job-activities-v1') always true and every other patch as recorded:
 * bundled in place of the real module (a webpack alias in test/integration/replay.test.ts), it makes the
 * change that patch guards run unguarded. Histories recorded before that change must then fail to replay.
 */
import { patched as recordedPatched } from '@temporalio/workflow/lib/index';
import { JOB_ACTIVITIES_PATCH } from '../../workflows/options';

export * from '@temporalio/workflow/lib/index';

export function patched(patchId: string): boolean {
  return patchId === JOB_ACTIVITIES_PATCH || recordedPatched(patchId);
}
