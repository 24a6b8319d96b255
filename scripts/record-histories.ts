/**
 * Records the event histories of real runs for the replay tests (test/histories/, docs/operations.md, "Replay for debugging"): starts the
 * test services (a Temporal dev server and the S3 server), a worker with the current workflow code, runs each
 * scenario and writes every workflow's history (the run and its iteration children) in the JSON format of
 * `temporal workflow show --output json`, with a manifest.
 *
 *   node --import tsx scripts/record-histories.ts --out test/histories/<label> [--only default,retried,cancelled]
 *
 * Scenarios: `default` (configs/local.json, the embedded default, two iterations: about 5 minutes on 2 cores),
 * `retried` (a tiny run whose first activity fails while the S3 server is down and succeeds on a retry),
 * `cancelled` (a tiny run cancelled during iteration 1).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { selfRationalizationRun } from '../workflows';
import { startTestServices, type TestServices } from '../test/support/services';
import { createTestWorker, testConfig, useLocalS3Credentials } from '../test/support/judgeloop';

const TASK_QUEUE = 'record-histories';

const TINY = {
  loop: { iterations: 1, inputsPerIteration: 40, samplesPerInput: 4 },
  training: { epochs: 1 },
  data: {
    evalSuites: [{ name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 20 }],
    contamination: { check: false },
  },
  evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
};

interface Recorded {
  scenario: string;
  description: string;
  workflowId: string;
  files: string[];
  outcome: string;
}

async function exportHistories(env: TestWorkflowEnvironment, out: string, runId: string): Promise<string[]> {
  const files: string[] = [];
  const ids = [runId];
  // The run's children are its iterations, `<run>-iter-<k>`.
  for (let k = 0; k < 20; k++) {
    const child = `${runId}-iter-${k}`;
    try {
      await env.client.workflow.getHandle(child).describe();
      ids.push(child);
    } catch {
      break;
    }
  }
  for (const id of ids) {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    // Named by workflow id: replay needs it (the run names its children after it) and the file lacks it.
    const name = `${id}.json`;
    writeFileSync(path.join(out, name), JSON.stringify(JSON.parse(historyToJSON(history)), null, 1) + '\n');
    files.push(name);
  }
  return files;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 10 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function outcome(handle: WorkflowHandle): Promise<string> {
  return handle.result().then(
    () => 'completed',
    (e: unknown) => `failed: ${(e as Error).message} (${((e as { cause?: Error }).cause?.message ?? '').split('\n')[0]})`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' } } });
  if (!values.out) throw new Error('usage: record-histories.ts --out DIR [--only default,retried,cancelled]');
  const out = path.resolve(values.out);
  mkdirSync(out, { recursive: true });
  const only = new Set((values.only ?? 'default,retried,cancelled').split(','));
  const services: TestServices = await startTestServices();
  useLocalS3Credentials(services);
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
  const worker = await createTestWorker(env.nativeConnection, TASK_QUEUE);
  const recorded: Recorded[] = [];
  const stamp = Date.now().toString(36);
  try {
    await worker.runUntil(async () => {
      if (only.has('default')) {
        const workflowId = `history-default-${stamp}`;
        const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue: TASK_QUEUE, workflowId, args: [testConfig(services)] });
        const result = await outcome(handle);
        recorded.push({ scenario: 'default', description: 'configs/local.json, the embedded default: two iterations, completed', workflowId, files: await exportHistories(env, out, workflowId), outcome: result });
      }
      if (only.has('retried')) {
        const workflowId = `history-retried-${stamp}`;
        // The S3 server is down when the run starts: prepareRun fails, Temporal retries it, S3 comes back.
        await services.s3Server.stop();
        const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue: TASK_QUEUE, workflowId, args: [testConfig(services, TINY as never)] });
        await waitFor('a failed first attempt of prepareRun', async () => {
          const pending = (await handle.describe()).raw.pendingActivities ?? [];
          return pending.some((a) => (a.attempt ?? 0) >= 2 && a.lastFailure);
        });
        await services.restartS3();
        const result = await outcome(handle);
        recorded.push({ scenario: 'retried', description: 'a tiny run whose prepareRun failed (S3 down) and succeeded when retried; completed', workflowId, files: await exportHistories(env, out, workflowId), outcome: result });
      }
      if (only.has('cancelled')) {
        const workflowId = `history-cancelled-${stamp}`;
        // Nothing reused from the runs before (the same tiny config): iteration 1 would be over before the cancel.
        const config = testConfig(services, { ...TINY, reuse: { acrossRuns: false } } as never);
        const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue: TASK_QUEUE, workflowId, args: [config] });
        await waitFor('iteration 1 to start sampling', async () => {
          const progress = await handle.query<{ iteration: number }>('progress').catch(() => null);
          return progress && progress.iteration >= 1;
        });
        await new Promise((r) => setTimeout(r, 3000));
        await handle.cancel();
        const result = await outcome(handle);
        recorded.push({ scenario: 'cancelled', description: 'a tiny run cancelled during iteration 1', workflowId, files: await exportHistories(env, out, workflowId), outcome: result });
      }
    });
  } finally {
    await env.teardown();
    await services.stop();
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const manifest = { recordedAt: new Date().toISOString(), commit, histories: recorded };
  writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  for (const r of recorded) console.log(`${r.scenario}: ${r.outcome} → ${r.files.join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
