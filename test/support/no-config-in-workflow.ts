/**
 * Bundled in place of core/config/config and core/config/schedule for workflow code (test/integration/config-outside-workflow.test.ts):
 * validating a config or filling its dates inside a workflow throws, so a history that replays with this
 * bundle never ran them in workflow code.
 */
export { consistencyFilterActive, formatConfigProblems } from '../../core/config/config';

export function validateConfig(): never {
  throw new Error('validateConfig ran in workflow code');
}

export function withDatedData(): never {
  throw new Error('withDatedData ran in workflow code');
}
