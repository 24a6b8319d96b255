/**
 * The run workflow on a real Temporal dev server with a real worker: config and data problems are
 * rejected up front with every problem named, without retrying forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { selfRationalizationRun } from '../../workflows';
import { createTestWorker, testConfig, useTestStack, storeFor, writeHalfInvalidTrain } from '../support/judgeloop';

const stack = useTestStack();

async function runExpectingFailure(taskQueue: string, config: unknown): Promise<ApplicationFailure> {
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  return worker.runUntil(async () => {
    try {
      await stack.env.client.workflow.execute(selfRationalizationRun, {
        taskQueue,
        workflowId: `${taskQueue}-${Date.now()}`,
        args: [config],
        workflowExecutionTimeout: '2 minutes',
      });
    } catch (err) {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      // The root cause: the workflow's own failure, or the activity's under an ActivityFailure.
      let cause: unknown = err.cause;
      while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
      assert.ok(cause instanceof ApplicationFailure, String(cause));
      return cause;
    }
    throw new Error('the run should have failed');
  });
}

test('a bad config fails the run at once, listing every problem by its path', async () => {
  const config = testConfig(stack.services, { loop: { samplesPerInput: 0, temperature: -1 } }) as Record<string, unknown>;
  config.name = 'Not Valid!';
  const failure = await runExpectingFailure('wf-bad-config', config);
  assert.equal(failure.type, 'ConfigError');
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /3 problems/);
  assert.match(failure.message, /- name: /);
  assert.match(failure.message, /- loop\.samplesPerInput: /);
  assert.match(failure.message, /- loop\.temperature: /);
});

test('a dataset with too many invalid rows fails the run and keeps the bad rows in quarantine', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-data-'));
  const file = path.join(dir, 'train.jsonl');
  writeHalfInvalidTrain(file);
  const config = testConfig(stack.services, { data: { train: { uri: file, adapter: 'canonical' }, maxInvalidFraction: 0.25 } });
  const failure = await runExpectingFailure('wf-bad-data', config);
  assert.equal(failure.type, 'InvalidData');
  assert.match(failure.message, /dataset "train": 2 of 4 rows are invalid/);
  const quarantineUri = /see|reasons are in (s3:\/\/\S+)/.exec(failure.message)?.[1];
  assert.ok(quarantineUri, failure.message);
  const rows: Array<{ index: number; reason: string }> = [];
  for await (const row of storeFor(stack.services).readJsonl<{ index: number; reason: string }>(quarantineUri)) rows.push(row);
  assert.deepEqual(rows.map((r) => r.index), [1, 2], JSON.stringify(rows));
  assert.match(rows[0].reason, /not valid JSON/);
  assert.match(rows[1].reason, /rubric/);
});
