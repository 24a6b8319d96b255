/**
 * Temporal's time-skipping test server for the workflow tests (test/workflows): timers and timeouts of days
 * pass in milliseconds while a test waits on a workflow's result. The SDK would download the server from a
 * host this machine may not reach, so set-up fetches the same server from Maven Central and writes a wrapper
 * (scripts/setup.sh, step test-server) that the SDK starts as an existing executable.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { workflowBundle } from './judgeloop';
import type { Activities } from '../../activities';
import { JudgeloopWorker } from '../../workers/judgeloop-worker';

export const TEST_SERVER = path.resolve(__dirname, '../../.tools/bin/temporal-test-server');

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(TEST_SERVER)) {
    throw new Error(`the time-skipping test server is not set up (${TEST_SERVER} is missing): run bash scripts/setup.sh --only test-server`);
  }
  return TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
}

/** One time-skipping server for a test file, started before its tests and stopped after them. */
export function useTimeSkippingEnv(): { env: TestWorkflowEnvironment } {
  const holder = {} as { env: TestWorkflowEnvironment };
  before(async () => {
    holder.env = await createTimeSkippingEnv();
  });
  after(async () => {
    await holder.env?.teardown();
  });
  return holder;
}

/** A worker of the real workflow code with the given (stubbed) activities, on the task queue and its job queue. */
export async function stubbedWorker(env: TestWorkflowEnvironment, taskQueue: string, activities: Partial<Activities>): Promise<JudgeloopWorker> {
  return JudgeloopWorker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
}
