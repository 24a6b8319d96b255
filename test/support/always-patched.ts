/**
 * @temporalio/workflow with `patched()` always true: bundled in place of the real module (a webpack alias in
 * test/integration/replay.test.ts), it makes every change guarded by patched() run unguarded, as if the
 * guard had been forgotten. Histories recorded before such a change must then fail to replay.
 */
export * from '@temporalio/workflow/lib/index';

export function patched(_patchId: string): boolean {
  return true;
}
