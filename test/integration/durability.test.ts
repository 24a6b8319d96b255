/**
 * Durability: the worker is killed with SIGKILL while the DPO job runs. A new worker picks the run up; the
 * training job is adopted (never started twice, never two at once), the steps finished before the kill are
 * not redone, and the run completes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { selfRationalizationRun } from '../../workflows';
import { iterationWorkflowId, type RunSummary } from '../../core/run-types';
import { jobName, joinUri, stepPrefix } from '../../core/artifacts';
import type { StepManifest } from '../../activities/manifest';
import { PROJECT_ROOT } from '../../activities';
import { startTestServices, type TestServices } from '../support/services';
import { storeFor, testConfig, useLocalS3Credentials } from '../support/judgeloop';
import { activityAttempts } from '../support/history';

let services: TestServices;
let env: TestWorkflowEnvironment;
const workers: ChildProcess[] = [];

before(async () => {
  services = await startTestServices();
  useLocalS3Credentials(services);
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
});

after(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await env?.teardown();
  await services?.stop();
});

function startWorkerProcess(taskQueue: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'workers/main.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: services.temporalAddress,
      JUDGELOOP_TASK_QUEUE: taskQueue,
      AWS_ACCESS_KEY_ID: services.s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: services.s3.secretAccessKey,
      AWS_REGION: services.s3.region,
      JUDGELOOP_S3_ENDPOINT: services.s3.endpoint,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  workers.push(child);
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function launches(dir: string): number {
  const file = path.join(dir, 'launches.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').length : 0;
}

test('SIGKILL of the worker during DPO: the job is adopted, finished steps are not redone', { timeout: 20 * 60_000 }, async () => {
  const taskQueue = 'durability';
  const workflowId = `durability-${Date.now()}`;
  const config = testConfig(services, {
    loop: { iterations: 1, inputsPerIteration: 120 },
    // Several epochs keep the DPO job running long enough to be caught mid-way.
    training: { epochs: 6 },
    timeouts: { heartbeatTimeoutSeconds: 5 },
  });
  const workDir = config.backend.workDir;
  const trainDir = path.join(workDir, jobName(workflowId, 1, 'train'));
  const sampleDir = path.join(workDir, jobName(workflowId, 1, 'sample'));
  const store = storeFor(services);

  const first = startWorkerProcess(taskQueue);
  const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [config] });

  const deadline = Date.now() + 15 * 60_000;
  while (!existsSync(path.join(trainDir, 'launch.json'))) {
    assert.ok(Date.now() < deadline, 'the DPO job should start');
    assert.equal(first.exitCode, null, 'the first worker is still running');
    await sleep(200);
  }
  const trainPid = JSON.parse(readFileSync(path.join(trainDir, 'launch.json'), 'utf8')).pid as number;
  await sleep(1000);
  assert.doesNotThrow(() => process.kill(trainPid, 0), 'the DPO job is running when the worker is killed');
  assert.equal(existsSync(path.join(trainDir, 'exit.json')), false, 'the DPO job has not finished yet');

  const manifestsBefore = new Map<string, string>();
  for (const step of ['score', 'pair'] as const) {
    const m = await store.getJson<StepManifest<unknown>>(joinUri(stepPrefix(`s3://${services.s3.bucket}/runs/${workflowId}`, 1, step), 'manifest.json'));
    assert.ok(m, `${step} finished before the kill`);
    manifestsBefore.set(step, m.createdAt);
  }

  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  startWorkerProcess(taskQueue);
  const summary: RunSummary = await handle.result();

  assert.deepEqual(summary.iterations.map((i) => i.iteration), [0, 1]);
  assert.equal(launches(trainDir), 1, 'exactly one DPO job was ever started for this step');
  assert.equal(summary.iterations[1].train!.adopted, true, 'the retried training activity adopted the job');
  assert.ok(await store.exists(joinUri(summary.iterations[1].train!.modelUri, 'model.safetensors')));
  assert.equal(launches(sampleDir), 1, 'the sampling job was not run again');
  for (const step of ['score', 'pair'] as const) {
    const m = await store.getJson<StepManifest<unknown>>(joinUri(stepPrefix(summary.runPrefixUri, 1, step), 'manifest.json'));
    assert.equal(m!.createdAt, manifestsBefore.get(step), `${step} was not redone`);
  }
  const attempts = activityAttempts(await env.client.workflow.getHandle(iterationWorkflowId(workflowId, 1)).fetchHistory());
  assert.deepEqual(attempts.get('sampleJudgments'), [1]);
  assert.deepEqual(attempts.get('scoreJudgments'), [1]);
  assert.deepEqual(attempts.get('buildPairs'), [1]);
  assert.ok((attempts.get('trainJudge') ?? []).includes(2), `trainJudge was retried after the kill: ${attempts.get('trainJudge')}`);
});
