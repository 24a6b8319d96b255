/**
 * @temporalio/workflow with patched('run-summary-in-s3-v1') always true and every other patch as recorded:
 * bundled in place of the real module (a webpack alias in test/integration/replay.test.ts), it makes the
 * change that patch guards run unguarded. Runs recorded before that change must then fail to replay.
 */
import { patched as recordedPatched } from '@temporalio/workflow/lib/index';
import { SUMMARY_IN_S3_PATCH } from '../../workflows/run';

export * from '@temporalio/workflow/lib/index';

export function patched(patchId: string): boolean {
  return patchId === SUMMARY_IN_S3_PATCH || recordedPatched(patchId);
}
