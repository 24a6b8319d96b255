/**
 * The SageMaker runner's lifecycle against a fake client replaying recorded SageMaker responses (the
 * shapes DescribeTrainingJob and the API errors have in the AWS SDK): create, adopt, poll with heartbeats,
 * throttling, classified failures, a new attempt after a retryable failure, stop on cancellation, cost.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  type CreateTrainingJobCommandInput,
  type DescribeTrainingJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { SageMakerBackend } from '../../core/config/config';
import { createTrainingJobRequest, sagemakerJobName } from '../../activities/jobs/sagemaker-request';
import {
  SageMakerJobRunner,
  packSourceDir,
  sourceDirFiles,
  type SageMakerApi,
  type SageMakerCommand,
} from '../../activities/jobs/sagemaker-runner';
import type { AbortReason, JobContext, JobProgress, JobSpec, JobUsage } from '../../activities/jobs/types';
import { memoryStore, type MemoryStore } from '../support/memory-store';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';

let jobsDir = '';

before(async () => {
  jobsDir = await mkdtemp(path.join(tmpdir(), 'judgeloop-sm-jobs-'));
  const files: Record<string, string> = {
    'generate.py': 'print("generate")\n',
    'train_dpo.py': 'print("train")\n',
    'judgeloop_jobs/__init__.py': '',
    'judgeloop_jobs/sm_contract.py': 'X = 1\n',
    'judgeloop_jobs/__pycache__/sm_contract.cpython-312.pyc': 'bytecode',
    'tests/test_generate.py': 'def test(): pass\n',
    '.pytest_cache/v/cache': '{}',
    'requirements.txt': 'torch\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(jobsDir, rel)), { recursive: true });
    await writeFile(path.join(jobsDir, rel), text);
  }
});

after(async () => {
  await rm(jobsDir, { recursive: true, force: true });
});

const backend = SageMakerBackend.parse({
  ...SAGEMAKER_BACKEND_INPUT,
  spot: { enabled: true, maxWaitHours: 36 },
  pricesPerHour: { 'ml.g5.12xlarge': 7.2 },
});

const spec: JobSpec = {
  jobName: 'judgeloop-demo-i1-train',
  entryPoint: 'train_dpo.py',
  channels: { pairs: 's3://b/runs/demo/iter-1/pair/data/', model: 's3://b/runs/demo/model/' },
  hyperparameters: { beta: 0.1, epochs: 1 },
  outputUri: 's3://b/runs/demo/iter-1/train/job',
};

type Reply = object | Error;

function apiError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), { name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}
const notFound = () => apiError('ValidationException', 'Requested resource not found.');

/** Replays recorded replies per operation (DescribeTrainingJob per job name); the last reply repeats. */
class FakeSageMaker implements SageMakerApi {
  readonly calls: Array<{ op: 'create' | 'describe' | 'stop'; name: string; input: object }> = [];
  constructor(private readonly script: { describe: Record<string, Reply[]>; create?: Reply[]; stop?: Reply[] }) {}

  async send(command: SageMakerCommand): Promise<unknown> {
    const op = command instanceof CreateTrainingJobCommand ? 'create' : command instanceof DescribeTrainingJobCommand ? 'describe' : 'stop';
    const name = command.input.TrainingJobName ?? '';
    this.calls.push({ op, name, input: command.input });
    const queue = op === 'describe' ? this.script.describe[name] : this.script[op];
    if (!queue?.length) {
      if (op === 'describe') throw notFound();
      return { $metadata: { httpStatusCode: 200 } };
    }
    const reply = queue.length > 1 ? queue.shift()! : queue[0];
    if (reply instanceof Error) throw reply;
    return reply;
  }

  ops(): string[] {
    return this.calls.map((c) => `${c.op} ${c.name}`);
  }
}

/** Whether a URI is a usage record (core/run/usage.ts): the runner writes one for each attempt that ends. */
const isUsageRecord = (uri: string) => uri.includes('/_usage/');

/** The usage records written, by attempt name. */
function usageRecords(store: MemoryStore): Record<string, JobUsage> {
  const out: Record<string, JobUsage> = {};
  for (const [uri, body] of store.objects) {
    if (isUsageRecord(uri)) out[path.posix.basename(uri, '.json')] = JSON.parse(body.toString('utf8')) as JobUsage;
  }
  return out;
}

/** What the runner wrote besides usage records: the jobs/ package, when it was not in S3 already. */
function uploads(store: MemoryStore): string[] {
  return store.written.filter((uri) => !isUsageRecord(uri));
}

/** A job context whose abort (from onHeartbeat) reports `reason`, as Temporal's cancellation details do. */
function context(onHeartbeat?: (d: JobProgress, abort: () => void) => void, reason: AbortReason = 'cancel-requested') {
  const controller = new AbortController();
  const heartbeats: JobProgress[] = [];
  const logs: string[] = [];
  const ctx: JobContext = {
    heartbeat: (d) => {
      heartbeats.push(d);
      onHeartbeat?.(d, () => controller.abort());
    },
    signal: controller.signal,
    abortReason: () => reason,
    log: (line) => logs.push(line),
  };
  return { ctx, heartbeats, logs };
}

/** Where a job's train_dpo.py writes its summary, the file it writes last (COMPLETION_FILES). */
function summaryUri(attempt: number): string {
  return `${spec.outputUri}/${sagemakerJobName(spec.jobName, attempt)}/output/data/train_summary.json`;
}

function setup(
  script: ConstructorParameters<typeof FakeSageMaker>[0],
  backendOverride: SageMakerBackend = backend,
  /** The attempts whose script finished (wrote its summary); the others complete without it. */
  finishedAttempts: number[] = [1, 2, 3],
) {
  const client = new FakeSageMaker(script);
  const store = memoryStore();
  for (const attempt of finishedAttempts) store.objects.set(summaryUri(attempt), Buffer.from('{}'));
  const runner = new SageMakerJobRunner({
    client,
    store,
    backend: backendOverride,
    codeUri: 's3://b/runs/code/',
    checkpointUri: 's3://b/runs/checkpoints/',
    jobsDir,
    pollMs: 1,
    apiBackoffMs: 1,
    stopWaitMs: 5000,
  });
  return { client, store, runner };
}

/** The request the runner sends for `spec` (and so what a recorded describe of our own job echoes). */
async function expectedRequest(attempt = 1): Promise<CreateTrainingJobCommandInput> {
  const { runner } = setup({ describe: {} });
  const sourceDirUri = await runner.ensureSourceDir(context().ctx);
  return createTrainingJobRequest(spec, backend, { sourceDirUri, kind: 'training', attempt, checkpointUri: 's3://b/runs/checkpoints/' });
}

/** A recorded DescribeTrainingJob answer for the job created by `request`. */
function described(
  request: CreateTrainingJobCommandInput,
  status: NonNullable<DescribeTrainingJobCommandOutput['TrainingJobStatus']>,
  secondary: NonNullable<DescribeTrainingJobCommandOutput['SecondaryStatus']>,
  extra: Partial<DescribeTrainingJobCommandOutput> = {},
): DescribeTrainingJobCommandOutput {
  return {
    $metadata: { httpStatusCode: 200 },
    TrainingJobName: request.TrainingJobName,
    TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${request.TrainingJobName}`,
    TrainingJobStatus: status,
    SecondaryStatus: secondary,
    HyperParameters: request.HyperParameters,
    AlgorithmSpecification: request.AlgorithmSpecification,
    RoleArn: request.RoleArn,
    InputDataConfig: request.InputDataConfig,
    OutputDataConfig: request.OutputDataConfig,
    ResourceConfig: request.ResourceConfig,
    StoppingCondition: request.StoppingCondition,
    EnableManagedSpotTraining: request.EnableManagedSpotTraining,
    CheckpointConfig: request.CheckpointConfig,
    ModelArtifacts: { S3ModelArtifacts: '' },
    CreationTime: new Date('2025-01-01T00:00:00Z'),
    ...extra,
  };
}

function completed(request: CreateTrainingJobCommandInput): DescribeTrainingJobCommandOutput {
  return described(request, 'Completed', 'Completed', {
    BillableTimeInSeconds: 1800,
    TrainingTimeInSeconds: 3000,
    ModelArtifacts: { S3ModelArtifacts: `${spec.outputUri}/${request.TrainingJobName}/output/model/` },
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the run to fail');
}

test('sourcedir.tar.gz: reproducible, without tests, caches or requirements.txt', async () => {
  const files = await sourceDirFiles(jobsDir);
  assert.deepEqual(files, ['generate.py', 'judgeloop_jobs/__init__.py', 'judgeloop_jobs/sm_contract.py', 'train_dpo.py']);
  const a = await packSourceDir(jobsDir, files);
  const b = await packSourceDir(jobsDir, files);
  assert.ok(a.equals(b), 'two packs of the same files are byte-identical');
  const tgz = path.join(jobsDir, '..', `${path.basename(jobsDir)}.tgz`);
  await writeFile(tgz, a);
  const listed = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' });
  await rm(tgz, { force: true });
  assert.deepEqual(listed.stdout.trim().split('\n'), files);
});

test('create, poll InProgress → Completed with heartbeats, cost and the model folder; jobs/ uploaded once', async () => {
  const request = await expectedRequest();
  const { client, store, runner } = setup({
    describe: {
      'judgeloop-demo-i1-train': [
        notFound(),
        described(request, 'InProgress', 'Starting'),
        described(request, 'InProgress', 'Training', { BillableTimeInSeconds: 60 }),
        completed(request),
      ],
    },
  });
  const { ctx, heartbeats } = context();
  const result = await runner.run(spec, ctx);
  assert.deepEqual(client.ops(), ['describe judgeloop-demo-i1-train', 'create judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train']);
  assert.deepEqual(client.calls[1].input, request, 'the exact CreateTrainingJob request');
  assert.equal(result.how, 'ran');
  assert.equal(result.modelUri, `${spec.outputUri}/judgeloop-demo-i1-train/output/model`);
  assert.equal(result.outputDataUri, `${spec.outputUri}/judgeloop-demo-i1-train/output/data`);
  assert.deepEqual(result.cost, { billableSeconds: 1800, instanceType: 'ml.g5.12xlarge', instanceCount: 1, usd: 3.6 });
  const running = heartbeats.filter((h) => h.phase === 'running').map((h) => [h.status, h.secondaryStatus, h.billableSeconds]);
  assert.deepEqual(running, [['InProgress', 'Starting', undefined], ['InProgress', 'Training', 60], ['Completed', 'Completed', 1800]]);
  assert.ok(heartbeats.every((h) => h.jobName === spec.jobName));
  const sourceDirUri = JSON.parse(request.HyperParameters!.sagemaker_submit_directory) as string;
  assert.match(sourceDirUri, /^s3:\/\/b\/runs\/code\/[0-9a-f]{16}\/sourcedir\.tar\.gz$/);
  assert.ok(store.objects.has(sourceDirUri));
  assert.deepEqual(uploads(store), [sourceDirUri]);

  // Another runner (a retried activity on another worker) finds the package there and the job completed.
  const again = setup({ describe: { 'judgeloop-demo-i1-train': [completed(request)] } });
  again.store.objects.set(sourceDirUri, store.objects.get(sourceDirUri)!);
  const adopted = await again.runner.run(spec, context().ctx);
  assert.equal(adopted.how, 'adopted-finished');
  assert.deepEqual(uploads(again.store), []);
  assert.deepEqual(again.client.ops(), ['describe judgeloop-demo-i1-train']);

  // Both runners leave the same usage record for the one SageMaker job: a retry is not charged twice.
  const record = usageRecords(store)['judgeloop-demo-i1-train'];
  assert.deepEqual(record, {
    jobName: 'judgeloop-demo-i1-train',
    entryPoint: spec.entryPoint,
    iteration: 1,
    step: 'train',
    attempt: 'judgeloop-demo-i1-train',
    status: 'Completed',
    backend: 'sagemaker',
    seconds: 3000,
    billableSeconds: 1800,
    instanceType: 'ml.g5.12xlarge',
    instanceCount: 1,
    usd: 3.6,
    finishedAt: new Date(0).toISOString(),
  });
  assert.deepEqual(result.usage, record);
  assert.deepEqual(usageRecords(again.store), { 'judgeloop-demo-i1-train': record });
});

test('ResourceInUse on create: the job another attempt just created is adopted and polled', async () => {
  const request = await expectedRequest();
  const { client, runner } = setup({
    describe: { 'judgeloop-demo-i1-train': [notFound(), described(request, 'InProgress', 'Downloading'), completed(request)] },
    create: [apiError('ResourceInUse', 'Training job names must be unique within an AWS account and region, and a training job with this name already exists')],
  });
  const { ctx, logs } = context();
  const result = await runner.run(spec, ctx);
  assert.equal(result.how, 'adopted-running');
  assert.deepEqual(client.ops(), ['describe judgeloop-demo-i1-train', 'create judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train']);
  assert.ok(logs.some((l) => /already exists \(created concurrently\); adopting it/.test(l)));
});

test('an InProgress job from an earlier attempt is adopted without creating anything', async () => {
  const request = await expectedRequest();
  const { client, runner } = setup({
    describe: { 'judgeloop-demo-i1-train': [described(request, 'InProgress', 'Training'), completed(request)] },
  });
  const { ctx, heartbeats } = context();
  const result = await runner.run(spec, ctx);
  assert.equal(result.how, 'adopted-running');
  assert.ok(!client.ops().some((o) => o.startsWith('create')));
  assert.ok(heartbeats.some((h) => h.phase === 'running' && h.adopted === true));
});

test('ThrottlingException on describe is retried in place with backoff', async () => {
  const request = await expectedRequest();
  const throttled = () => apiError('ThrottlingException', 'Rate exceeded');
  const { client, runner } = setup({
    describe: { 'judgeloop-demo-i1-train': [notFound(), throttled(), throttled(), described(request, 'InProgress', 'Training'), completed(request)] },
  });
  const { ctx, logs } = context();
  const result = await runner.run(spec, ctx);
  assert.equal(result.how, 'ran');
  assert.equal(client.calls.filter((c) => c.op === 'describe').length, 5);
  assert.equal(logs.filter((l) => /ThrottlingException: Rate exceeded; retrying/.test(l)).length, 2);
});

test('backing off on throttling heartbeats at least every heartbeatEveryMs, repeating the last progress', async () => {
  const request = await expectedRequest();
  const throttled = () => apiError('ThrottlingException', 'Rate exceeded');
  const client = new FakeSageMaker({
    describe: { 'judgeloop-demo-i1-train': [notFound(), throttled(), throttled(), described(request, 'InProgress', 'Training'), completed(request)] },
  });
  const store = memoryStore();
  store.objects.set(summaryUri(1), Buffer.from('{}'));
  const runner = new SageMakerJobRunner({
    client, store, backend, codeUri: 's3://b/runs/code/', checkpointUri: 's3://b/runs/checkpoints/', jobsDir,
    pollMs: 1, apiBackoffMs: 4, heartbeatEveryMs: 1,
  });
  const { ctx, heartbeats } = context();
  await runner.run(spec, ctx);
  const backoff = heartbeats.filter((h) => h.apiRetry);
  // Two throttled describes: waits of 4 and 8 ms, one heartbeat per millisecond of each.
  assert.equal(backoff.length, 4 + 8);
  assert.deepEqual(backoff[0], { phase: 'submitting', jobName: spec.jobName, apiRetry: { message: 'ThrottlingException: Rate exceeded', tries: 1, retryingInMs: 4 } });
  assert.deepEqual(backoff.at(-1)!.apiRetry, { message: 'ThrottlingException: Rate exceeded', tries: 2, retryingInMs: 1 });
});

test('throttling that does not clear becomes a retryable activity failure', async () => {
  const { runner } = setup({ describe: { 'judgeloop-demo-i1-train': [apiError('ThrottlingException', 'Rate exceeded')] } });
  const err = await rejection(runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.nonRetryable, false);
  assert.equal(err.type, 'SageMakerApiThrottling');
  assert.match(err.message, /DescribeTrainingJob judgeloop-demo-i1-train: ThrottlingException: Rate exceeded/);
});

test('a Failed job with an AlgorithmError fails non-retryably with its FailureReason', async () => {
  const request = await expectedRequest();
  const reason = 'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "KeyError: \'pairs\'"';
  const { runner } = setup({
    describe: { 'judgeloop-demo-i1-train': [notFound(), described(request, 'InProgress', 'Training'), described(request, 'Failed', 'Failed', { FailureReason: reason })] },
  });
  const err = await rejection(runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.nonRetryable, true);
  assert.equal(err.type, 'SageMakerJobScript');
  assert.ok(err.message.includes(reason), err.message);
  assert.match(err.message, /^job judgeloop-demo-i1-train \(train_dpo\.py\): SageMaker job judgeloop-demo-i1-train failed/);

  // A retry of the identical request does not pay for the same failure again.
  const retry = setup({ describe: { 'judgeloop-demo-i1-train': [described(request, 'Failed', 'Failed', { FailureReason: reason })] } });
  const again = await rejection(retry.runner.run(spec, context().ctx));
  assert.ok(again instanceof ApplicationFailure && again.nonRetryable);
  assert.deepEqual(retry.client.ops(), ['describe judgeloop-demo-i1-train']);
});

test('a capacity failure is retryable, and the retried activity creates the next attempt, which resumes from the same checkpoints', async () => {
  const request = await expectedRequest();
  const capacity = described(request, 'Failed', 'Failed', {
    FailureReason: 'CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.',
  });
  const first = setup({ describe: { 'judgeloop-demo-i1-train': [notFound(), capacity] } });
  const err = await rejection(first.runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.nonRetryable, false);
  assert.equal(err.type, 'SageMakerJobCapacity');
  assert.match(err.message, /CapacityError: Unable to provision/);

  const second = await expectedRequest(2);
  const retry = setup({
    describe: { 'judgeloop-demo-i1-train': [{ ...capacity, BillableTimeInSeconds: 90 }], 'judgeloop-demo-i1-train-r2': [notFound(), completed(second)] },
  });
  const result = await retry.runner.run(spec, context().ctx);
  // The failed job is recorded under its own name with what it billed, beside the one that completed.
  const usage = usageRecords(retry.store);
  assert.deepEqual(Object.keys(usage).sort(), ['judgeloop-demo-i1-train', 'judgeloop-demo-i1-train-r2']);
  assert.deepEqual([usage['judgeloop-demo-i1-train'].status, usage['judgeloop-demo-i1-train'].billableSeconds, usage['judgeloop-demo-i1-train'].usd], ['Failed', 90, 0.18]);
  assert.equal(usage['judgeloop-demo-i1-train-r2'].status, 'Completed');
  assert.equal(usageRecords(first.store)['judgeloop-demo-i1-train'].status, 'Failed', 'the first activity recorded it too (the same record)');
  assert.equal(result.how, 'ran');
  assert.deepEqual(retry.client.ops(), ['describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train-r2', 'create judgeloop-demo-i1-train-r2', 'describe judgeloop-demo-i1-train-r2']);
  const created = retry.client.calls[2].input as CreateTrainingJobCommandInput;
  assert.equal(created.TrainingJobName, 'judgeloop-demo-i1-train-r2');
  assert.equal(created.CheckpointConfig?.S3Uri, 's3://b/runs/checkpoints/judgeloop-demo-i1-train/');
  assert.equal(result.modelUri, `${spec.outputUri}/judgeloop-demo-i1-train-r2/output/model`);
});

test('a job from another config under the same name is not adopted: the next attempt runs ours', async () => {
  const request = await expectedRequest();
  const other = { ...request, HyperParameters: { ...request.HyperParameters, beta: '0.5' } };
  const second = await expectedRequest(2);
  const { client, runner } = setup({
    describe: { 'judgeloop-demo-i1-train': [completed(other)], 'judgeloop-demo-i1-train-r2': [notFound(), completed(second)] },
  });
  const result = await runner.run(spec, context().ctx);
  assert.equal(result.how, 'ran');
  assert.deepEqual(client.ops(), ['describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train-r2', 'create judgeloop-demo-i1-train-r2', 'describe judgeloop-demo-i1-train-r2']);
});

test('cancellation sends StopTrainingJob, waits for Stopped, then throws CancelledFailure', async () => {
  const request = await expectedRequest();
  const { client, runner, store } = setup({
    describe: {
      'judgeloop-demo-i1-train': [
        notFound(),
        described(request, 'InProgress', 'Training'),
        described(request, 'Stopping', 'Stopping'),
        described(request, 'Stopping', 'Stopping'),
        described(request, 'Stopped', 'Stopped', { BillableTimeInSeconds: 120 }),
      ],
    },
  });
  const { ctx, heartbeats } = context((d, abort) => {
    if (d.status === 'InProgress') abort();
  });
  const err = await rejection(runner.run(spec, ctx));
  assert.ok(err instanceof CancelledFailure, String(err));
  assert.deepEqual(client.ops(), [
    'describe judgeloop-demo-i1-train',
    'create judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'stop judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
  ]);
  assert.deepEqual(heartbeats.at(-1), { phase: 'stopping', jobName: 'judgeloop-demo-i1-train', externalJobName: 'judgeloop-demo-i1-train', status: 'Stopped', secondaryStatus: 'Stopped' });
  const stopped = usageRecords(store)['judgeloop-demo-i1-train'];
  assert.deepEqual([stopped.status, stopped.billableSeconds, stopped.usd], ['Stopped', 120, 0.24], 'a stopped job bills until Stopped');

  // A later run of the step (the job was cancelled, now it is wanted again) starts the next attempt.
  const second = await expectedRequest(2);
  const rerun = setup({
    describe: { 'judgeloop-demo-i1-train': [described(request, 'Stopped', 'Stopped')], 'judgeloop-demo-i1-train-r2': [notFound(), completed(second)] },
  });
  assert.equal((await rerun.runner.run(spec, context().ctx)).how, 'ran');
});

for (const reason of ['worker-shutdown', 'timed-out', 'not-found', 'paused', 'unknown'] as const) {
  test(`an attempt that ends without a cancel request (${reason}) leaves the job running, and the next attempt adopts it`, async () => {
    const request = await expectedRequest();
    const { client, runner, store } = setup({
      describe: { 'judgeloop-demo-i1-train': [notFound(), described(request, 'InProgress', 'Training')] },
    });
    const { ctx, logs } = context((d, abort) => {
      if (d.status === 'InProgress') abort();
    }, reason);
    const err = await rejection(runner.run(spec, ctx));
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'JobLeftRunning');
    assert.equal(err.nonRetryable, false);
    assert.ok(!client.ops().some((o) => o.startsWith('stop')), `no StopTrainingJob: ${client.ops()}`);
    assert.ok(logs.some((l) => l.includes(`left running for the next attempt to adopt (this attempt ended: ${reason})`)), logs.join('\n'));
    assert.deepEqual(usageRecords(store), {}, 'nothing ended, so nothing is recorded yet');

    const next = setup({ describe: { 'judgeloop-demo-i1-train': [described(request, 'InProgress', 'Training'), completed(request)] } });
    const result = await next.runner.run(spec, context().ctx);
    assert.equal(result.how, 'adopted-running');
    assert.ok(!next.client.ops().some((o) => o.startsWith('create')));
  });
}

test('an attempt that finds its job Stopping waits for it to stop: a cancelled job runs again as the next attempt, a job stopped by its runtime limit fails', async () => {
  const request = await expectedRequest();
  const second = await expectedRequest(2);
  const cancelled = setup({
    describe: {
      'judgeloop-demo-i1-train': [described(request, 'Stopping', 'Stopping'), described(request, 'Stopping', 'Stopping'), described(request, 'Stopped', 'Stopped', { BillableTimeInSeconds: 60 })],
      'judgeloop-demo-i1-train-r2': [notFound(), completed(second)],
    },
  });
  const result = await cancelled.runner.run(spec, context().ctx);
  assert.equal(result.how, 'ran');
  assert.deepEqual(cancelled.client.ops(), [
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train',
    'describe judgeloop-demo-i1-train-r2',
    'create judgeloop-demo-i1-train-r2',
    'describe judgeloop-demo-i1-train-r2',
  ]);
  assert.equal(usageRecords(cancelled.store)['judgeloop-demo-i1-train'].status, 'Stopped');

  const limited = setup({
    describe: { 'judgeloop-demo-i1-train': [described(request, 'Stopping', 'Stopping'), described(request, 'Stopped', 'MaxRuntimeExceeded')] },
  });
  const err = await rejection(limited.runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /ran longer than backend\.maxRuntimeHours/);
  assert.ok(!limited.client.ops().some((o) => o.startsWith('create')));
});

test('a job that completes without the file its script writes last is not adopted: the next attempt runs a new job', async () => {
  const request = await expectedRequest();
  const second = await expectedRequest(2);
  const first = setup({ describe: { 'judgeloop-demo-i1-train': [notFound(), described(request, 'InProgress', 'Training'), completed(request)] } }, backend, [2]);
  const err = await rejection(first.runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.type, 'JobIncomplete');
  assert.equal(err.nonRetryable, false);
  assert.match(err.message, /completed without writing output\/data\/train_summary\.json, the file the script writes last; it is run again as a new job/);
  assert.equal(usageRecords(first.store)['judgeloop-demo-i1-train'].status, 'Completed', 'it billed, so it is recorded');

  const retry = setup(
    { describe: { 'judgeloop-demo-i1-train': [completed(request)], 'judgeloop-demo-i1-train-r2': [notFound(), completed(second)] } },
    backend,
    [2],
  );
  const { ctx, logs } = context();
  const result = await retry.runner.run(spec, ctx);
  assert.equal(result.how, 'ran');
  assert.deepEqual(retry.client.ops(), ['describe judgeloop-demo-i1-train', 'describe judgeloop-demo-i1-train-r2', 'create judgeloop-demo-i1-train-r2', 'describe judgeloop-demo-i1-train-r2']);
  assert.ok(logs.some((l) => /completed without output\/data\/train_summary\.json; starting the next attempt/.test(l)));
  assert.equal(result.outputDataUri, `${spec.outputUri}/judgeloop-demo-i1-train-r2/output/data`);
});

test('instanceCount > 1 is refused before anything is created (every host would run the whole job)', async () => {
  const { client, runner } = setup({ describe: {} }, SageMakerBackend.parse({ ...SAGEMAKER_BACKEND_INPUT, instanceCount: 2 }));
  const err = await rejection(runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.type, 'ConfigError');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /backend\.instanceCount is 2, but the jobs do not shard their work across hosts yet; set it to 1/);
  assert.deepEqual(client.ops(), []);
});

test('a job stopped by someone else fails non-retryably; a permission error on create fails fast', async () => {
  const request = await expectedRequest();
  const stopped = setup({
    describe: { 'judgeloop-demo-i1-train': [notFound(), described(request, 'InProgress', 'Training'), described(request, 'Stopped', 'Stopped')] },
  });
  const err = await rejection(stopped.runner.run(spec, context().ctx));
  assert.ok(err instanceof ApplicationFailure);
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /was stopped outside this activity/);

  const denied = setup({
    describe: {},
    create: [apiError('AccessDeniedException', 'User: arn:aws:sts::123456789012:assumed-role/worker is not authorized to perform: iam:PassRole')],
  });
  const err2 = await rejection(denied.runner.run(spec, context().ctx));
  assert.ok(err2 instanceof ApplicationFailure);
  assert.equal(err2.nonRetryable, true);
  assert.equal(err2.type, 'SageMakerApiPermission');
  assert.match(err2.message, /CreateTrainingJob judgeloop-demo-i1-train for job judgeloop-demo-i1-train: AccessDeniedException: .*iam:PassRole/);
});
