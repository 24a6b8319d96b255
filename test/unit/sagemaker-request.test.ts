import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { jobName as workflowJobName } from '../../core/run/artifacts';
import { SageMakerBackend, validateConfig, type RunConfigInput } from '../../core/config/config';
import { loadConfigFile, mergeConfig } from '../../cli/config-file';
import {
  classifyApiError,
  classifyFailure,
  createTrainingJobRequest,
  defaultCodeUri,
  isNotFound,
  jobCost,
  jobKind,
  outputLocations,
  sagemakerJobName,
} from '../../activities/jobs/sagemaker-request';
import type { JobSpec } from '../../activities/jobs/types';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';

const ROOT = resolve(__dirname, '..', '..');

const backendInput = SAGEMAKER_BACKEND_INPUT;

const backend = (extra: Record<string, unknown> = {}) => SageMakerBackend.parse({ ...backendInput, ...extra });

const baseConfig: RunConfigInput = {
  name: 'unit',
  judge: { name: 'tiny-judge', seedModel: '.judgeloop/models/tiny-judge' },
  data: { train: { uri: 'datasets/synthetic/train.jsonl' }, evalSuites: [{ name: 's', kind: 'pointwise', uri: 'x.jsonl' }] },
  storage: { bucket: 'judgeloop' },
};

function problems(backendRaw: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] {
  const result = validateConfig({ ...baseConfig, backend: backendRaw, ...extra });
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

test('config: a sagemaker backend validates with its defaults filled in', () => {
  const result = validateConfig({ ...baseConfig, backend: backendInput });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.config.backend.kind, 'sagemaker');
  if (result.config.backend.kind !== 'sagemaker') return;
  assert.equal(result.config.backend.instanceCount, 1);
  assert.equal(result.config.backend.volumeSizeGB, 100);
  assert.equal(result.config.backend.maxRuntimeHours, 24);
  assert.equal(result.config.backend.spot.enabled, false);
  assert.equal(result.config.backend.pollSeconds, 15);
  // Each shard a SageMaker job on its own instance: smaller shards, more of them at once than locally.
  assert.deepEqual(result.config.backend.sharding, { shards: 'auto', requestsPerShard: 10_000, maxShards: 16, concurrency: 4 });
  // The local default is untouched.
  const local = validateConfig(baseConfig);
  assert.ok(local.ok);
  assert.deepEqual(local.config.backend, {
    kind: 'local',
    python: '.venv/bin/python',
    workDir: '.judgeloop/jobs',
    warmPython: true,
    sharding: { shards: 'auto', requestsPerShard: 50_000, maxShards: 16, concurrency: 2 },
  });
});

test('config: every bad sagemaker key is named', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ roleArn: 'JudgeloopRole' }, /^backend\.roleArn: an IAM role ARN/],
    [{ roleArn: 'arn:aws:iam::12345:role/x' }, /^backend\.roleArn/],
    [{ region: 'useast1' }, /^backend\.region: an AWS region/],
    [{ images: { ...backendInput.images, training: 'huggingface/pytorch:latest' } }, /^backend\.images\.training: an ECR image URI/],
    [{ instanceTypes: { ...backendInput.instanceTypes, generation: 'g5.2xlarge' } }, /^backend\.instanceTypes\.generation: a SageMaker instance type/],
    [{ instanceCount: 0 }, /^backend\.instanceCount/],
    [{ spot: { enabled: true } }, /^backend\.spot\.maxWaitHours: required when spot\.enabled/],
    [{ spot: { enabled: true, maxWaitHours: 12 } }, /^backend\.spot\.maxWaitHours: must be at least maxRuntimeHours \(24\)/],
    [{ spot: { enabled: true, maxWaitHours: 30, checkpointUri: 'https://x/y' } }, /^backend\.spot\.checkpointUri: an s3:\/\/ URI/],
    [{ vpc: { subnets: ['subnet-1'], securityGroupIds: ['sg-0123abcd'] } }, /^backend\.vpc\.subnets\.0: a subnet id/],
    [{ tags: { 'aws:owner': 'me' } }, /^backend\.tags\.aws:owner: tag keys starting with "aws:" are reserved/],
    [{ codeUri: '/tmp/code' }, /^backend\.codeUri: an s3:\/\/ URI/],
    [{ pricesPerHour: { 'g5.2xlarge': 1 } }, /^backend\.pricesPerHour\.g5\.2xlarge: a SageMaker instance type/],
    [{ python: '.venv/bin/python' }, /^backend: Unrecognized key: "python"/],
  ];
  for (const [extra, want] of cases) {
    const got = problems({ ...backendInput, ...extra });
    assert.ok(got.some((p) => want.test(p)), `${JSON.stringify(extra)} → ${JSON.stringify(got)}`);
  }
  // Polling must heartbeat faster than the heartbeat timeout.
  const slow = problems({ ...backendInput, pollSeconds: 30 }, { timeouts: { heartbeatTimeoutSeconds: 30 } });
  assert.ok(slow.some((p) => /^backend\.pollSeconds: must be below timeouts\.heartbeatTimeoutSeconds \(30\)/.test(p)), JSON.stringify(slow));
  assert.deepEqual(problems({ ...backendInput, spot: { enabled: true, maxWaitHours: 24 } }), []);
  // The bucket must be in the jobs' region.
  const elsewhere = problems({ ...backendInput, region: 'eu-west-1' });
  assert.deepEqual(elsewhere, [
    'storage.region: is us-east-1, but SageMaker jobs read and write S3 in their own region, backend.region eu-west-1: use a bucket there and set storage.region to match',
  ]);
  assert.deepEqual(problems({ ...backendInput, region: 'eu-west-1' }, { storage: { bucket: 'judgeloop', region: 'eu-west-1' } }), []);
});

test('configs/sagemaker.example.json is a standalone real-model example that passes loadConfigFile', async () => {
  const raw = JSON.parse(readFileSync(resolve(ROOT, 'configs/sagemaker.example.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(raw.extends, undefined, 'nothing inherited from the tiny judge\'s configs/local.json');
  const loaded = await loadConfigFile(resolve(ROOT, 'configs/sagemaker.example.json'));
  assert.equal(loaded.config.backend.kind, 'sagemaker');
  if (loaded.config.backend.kind !== 'sagemaker') return;
  assert.equal(loaded.config.backend.spot.enabled, true);
  assert.match(loaded.config.backend.instanceTypes.training, /^ml\.g5\./);
  assert.equal(loaded.config.storage.endpoint, undefined);
  // Real-model settings, none of the tiny judge's: an S3 seed judge and training data, in-repo benchmarks,
  // LoRA DPO at the LoRA learning rate, pure DPO.
  assert.notEqual(loaded.config.judge.name, 'tiny-judge');
  assert.match(loaded.config.judge.seedModel, /^s3:\/\//);
  assert.match(loaded.config.data.train.uri, /^s3:\/\//);
  assert.ok(loaded.config.data.evalSuites.every((s) => s.uri.startsWith('datasets/benchmarks/')));
  assert.deepEqual(
    { beta: loaded.config.training.beta, lr: loaded.config.training.learningRate, lora: loaded.config.training.lora.enabled, rpoAlpha: loaded.config.training.rpoAlpha },
    { beta: 0.1, lr: 5e-6, lora: true, rpoAlpha: 0 },
  );
  assert.ok(loaded.config.training.maxLength >= 2048);
});

test('extends: an object whose kind changes replaces the base object instead of merging into it', () => {
  assert.deepEqual(
    mergeConfig({ backend: { kind: 'local', python: 'p', workDir: 'w' } }, { backend: { kind: 'sagemaker', region: 'r' } }),
    { backend: { kind: 'sagemaker', region: 'r' } },
  );
  assert.deepEqual(
    mergeConfig({ backend: { kind: 'local', python: 'p', workDir: 'w' } }, { backend: { kind: 'local', python: 'q' } }),
    { backend: { kind: 'local', python: 'q', workDir: 'w' } },
  );
});

test('jobKind: the training entry points and the rest', () => {
  const cases: Array<[string, string]> = [
    ['train_dpo.py', 'training'],
    ['train_sft.py', 'training'],
    ['generate.py', 'generation'],
  ];
  for (const [entry, want] of cases) assert.equal(jobKind(entry), want, entry);
});

test('sagemakerJobName: deterministic, at most 63 characters of [a-zA-Z0-9-], hashed when changed', () => {
  const valid = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
  const long = workflowJobName('self-rationalization-' + 'x'.repeat(80), 12, 'evaluate-relative');
  const cases: Array<[string, number, string | RegExp]> = [
    ['judgeloop-run-1-i1-sample', 1, 'judgeloop-run-1-i1-sample'],
    ['judgeloop-run-1-i1-sample', 2, 'judgeloop-run-1-i1-sample-r2'],
    ['run-1-i1-sample', 1, 'judgeloop-run-1-i1-sample'],
    ['run_1.i1 sample', 1, /^judgeloop-run-1-i1-sample-[0-9a-f]{8}$/],
    [long, 1, /^judgeloop-self-rationali[a-z-]*-[0-9a-f]{8}-[0-9a-z-]*i12-evaluate-relative$/],
    [long, 3, /^judgeloop-self-rationali[a-z-]*-[0-9a-f]{8}-[0-9a-z-]*i12-evaluate-relative-r3$/],
    ['x'.repeat(100), 1, /^judgeloop-x{19}-[0-9a-f]{8}-x{24}$/],
    ['a_b', 2, /^judgeloop-a-b-[0-9a-f]{8}-r2$/],
    ['---', 1, /^judgeloop-[0-9a-f]{8}$/],
  ];
  for (const [input, attempt, want] of cases) {
    const got = sagemakerJobName(input, attempt);
    assert.ok(got.length <= 63 && valid.test(got), `${input} → ${got}`);
    if (typeof want === 'string') assert.equal(got, want);
    else assert.match(got, want);
    assert.equal(sagemakerJobName(input, attempt), got, 'deterministic');
  }
  // Two names that differ only in what cleaning or truncation drops stay apart.
  assert.notEqual(sagemakerJobName('a_b'), sagemakerJobName('a.b'));
  assert.notEqual(sagemakerJobName('x'.repeat(70) + 'a'), sagemakerJobName('x'.repeat(70) + 'b'));
  assert.throws(() => sagemakerJobName('a', 0), /attempt must be a positive integer/);
});

const spec: JobSpec = {
  jobName: 'demo-run-i1-train',
  entryPoint: 'train_dpo.py',
  channels: { pairs: 's3://judgeloop/runs/demo-run/iter-1/pair/data', model: 's3://judgeloop/runs/demo-run/model/' },
  hyperparameters: { beta: 0.1, epochs: 1, lora: false, method: 'dpo' },
  outputUri: 's3://judgeloop/runs/demo-run/iter-1/train/job',
};

test('createTrainingJobRequest: the exact request for a typical spot config', () => {
  const b = backend({
    spot: { enabled: true, maxWaitHours: 36, checkpointUri: 's3://judgeloop/runs/checkpoints/' },
    vpc: { subnets: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
    kmsKeyId: 'alias/judgeloop',
    tags: { project: 'judgeloop', owner: 'ml' },
  });
  const request = createTrainingJobRequest(spec, b, {
    kind: jobKind(spec.entryPoint),
    sourceDirUri: 's3://judgeloop/runs/code/0123456789abcdef/sourcedir.tar.gz',
    checkpointUri: 's3://judgeloop/runs/checkpoints/',
  });
  assert.deepEqual(request, {
    TrainingJobName: 'judgeloop-demo-run-i1-train',
    RoleArn: 'arn:aws:iam::123456789012:role/JudgeloopSageMakerExecution',
    AlgorithmSpecification: {
      TrainingImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judgeloop-jobs:train-gpu',
      TrainingInputMode: 'File',
    },
    HyperParameters: {
      beta: '0.1',
      epochs: '1',
      lora: 'false',
      method: '"dpo"',
      sagemaker_program: '"train_dpo.py"',
      sagemaker_submit_directory: '"s3://judgeloop/runs/code/0123456789abcdef/sourcedir.tar.gz"',
      sagemaker_region: '"us-east-1"',
    },
    InputDataConfig: [
      {
        ChannelName: 'model',
        DataSource: {
          S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://judgeloop/runs/demo-run/model/', S3DataDistributionType: 'FullyReplicated' },
        },
      },
      {
        ChannelName: 'pairs',
        DataSource: {
          S3DataSource: {
            S3DataType: 'S3Prefix',
            S3Uri: 's3://judgeloop/runs/demo-run/iter-1/pair/data/',
            S3DataDistributionType: 'FullyReplicated',
          },
        },
      },
    ],
    OutputDataConfig: { S3OutputPath: 's3://judgeloop/runs/demo-run/iter-1/train/job', CompressionType: 'NONE', KmsKeyId: 'alias/judgeloop' },
    ResourceConfig: { InstanceType: 'ml.g5.12xlarge', InstanceCount: 1, VolumeSizeInGB: 100, VolumeKmsKeyId: 'alias/judgeloop' },
    StoppingCondition: { MaxRuntimeInSeconds: 86400, MaxWaitTimeInSeconds: 129600 },
    Tags: [
      { Key: 'owner', Value: 'ml' },
      { Key: 'project', Value: 'judgeloop' },
      { Key: 'judgeloop:job', Value: 'demo-run-i1-train' },
    ],
    EnableManagedSpotTraining: true,
    CheckpointConfig: { S3Uri: 's3://judgeloop/runs/checkpoints/demo-run-i1-train/', LocalPath: '/opt/ml/checkpoints' },
    VpcConfig: { Subnets: ['subnet-0123456789abcdef0'], SecurityGroupIds: ['sg-0123456789abcdef0'] },
  });
});

test('createTrainingJobRequest: on-demand generation has no spot, VPC or KMS fields', () => {
  const request = createTrainingJobRequest({ ...spec, entryPoint: 'generate.py', jobName: 'demo-run-i1-sample' }, backend(), {
    kind: 'generation',
    sourceDirUri: 's3://b/code/h/sourcedir.tar.gz',
    attempt: 2,
  });
  assert.equal(request.TrainingJobName, 'judgeloop-demo-run-i1-sample-r2');
  assert.equal(request.AlgorithmSpecification?.TrainingImage, backendInput.images.generation);
  assert.equal(request.ResourceConfig?.InstanceType, 'ml.g5.2xlarge');
  assert.deepEqual(request.StoppingCondition, { MaxRuntimeInSeconds: 86400 });
  assert.deepEqual(request.OutputDataConfig, { S3OutputPath: spec.outputUri, CompressionType: 'NONE' });
  for (const key of ['EnableManagedSpotTraining', 'CheckpointConfig', 'VpcConfig'] as const) assert.equal(request[key], undefined, key);
  assert.deepEqual(request.Tags, [{ Key: 'judgeloop:job', Value: 'demo-run-i1-sample' }]);
  // Spot without a checkpoint prefix is a programming error in the caller, named.
  assert.throws(
    () => createTrainingJobRequest(spec, backend({ spot: { enabled: true, maxWaitHours: 30 } }), { kind: 'training', sourceDirUri: 's3://b/c' }),
    /demo-run-i1-train: spot training needs a checkpoint URI/,
  );
});

test('defaultCodeUri and outputLocations', () => {
  assert.equal(defaultCodeUri({ bucket: 'judgeloop', prefix: 'runs' }), 's3://judgeloop/runs/code/');
  assert.equal(defaultCodeUri({ bucket: 'judgeloop', prefix: '' }), 's3://judgeloop/code/');
  const base = { TrainingJobName: 'j1', OutputDataConfig: { S3OutputPath: 's3://b/p/job/' } };
  assert.deepEqual(outputLocations({ ...base, ModelArtifacts: { S3ModelArtifacts: 's3://b/p/job/j1/output/model/' } }, 's3://x'), {
    modelUri: 's3://b/p/job/j1/output/model',
    outputDataUri: 's3://b/p/job/j1/output/data',
  });
  assert.deepEqual(outputLocations(base, 's3://x'), { modelUri: 's3://b/p/job/j1/output/model', outputDataUri: 's3://b/p/job/j1/output/data' });
});

test('classifyFailure: retryable capacity and internal errors, fail-fast script, validation and permission errors', () => {
  const cases: Array<[Record<string, string>, string, boolean]> = [
    [{ FailureReason: 'CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.' }, 'capacity', true],
    [{ FailureReason: 'InsufficientCapacityError: We currently do not have sufficient capacity' }, 'capacity', true],
    [{ FailureReason: 'InternalServerError: We encountered an internal error. Please try again.' }, 'internal', true],
    [{ FailureReason: 'ThrottlingException: Rate exceeded' }, 'throttling', true],
    [{ FailureReason: 'AlgorithmError: ExecuteUserScriptError: ExitCode 1 ErrorMessage "KeyError: \'pairs\'"' }, 'script', false],
    [{ FailureReason: 'ClientError: Data download failed: NoSuchKey' }, 'validation', false],
    [{ FailureReason: 'ClientError: Data download failed: AccessDenied (403) on s3://b/p' }, 'permission', false],
    [{ TrainingJobStatus: 'Stopped', SecondaryStatus: 'MaxRuntimeExceeded' }, 'stopped', false],
    [{ TrainingJobStatus: 'Failed', SecondaryStatus: 'MaxWaitTimeExceeded' }, 'capacity', true],
    [{ TrainingJobStatus: 'Stopped', SecondaryStatus: 'Stopped' }, 'stopped', false],
    [{ FailureReason: 'Something new' }, 'unknown', true],
    // The leading class decides: a script's traceback that mentions an internal error, capacity or
    // throttling is still the script failing, and is not retried as a new paid job.
    [{ FailureReason: 'AlgorithmError: ExecuteUserScriptError: RuntimeError: CUDA error: an internal error was encountered' }, 'script', false],
    [{ FailureReason: 'AlgorithmError: Traceback ... botocore.exceptions.ClientError: ThrottlingException: Rate exceeded' }, 'script', false],
    [{ FailureReason: 'AlgorithmError: ValueError: insufficient capacity in the KV cache for 4096 tokens' }, 'script', false],
    [{ FailureReason: 'ClientError: internal error while validating the input channels' }, 'validation', false],
    [{ FailureReason: 'InternalServerError: AlgorithmError reported by the platform' }, 'internal', true],
    [{ FailureReason: '  CapacityError: leading spaces are tolerated' }, 'capacity', true],
    // Without a known class the text is read.
    [{ FailureReason: 'We encountered an internal server error.' }, 'internal', true],
    [{ FailureReason: 'SomeNewError: User is not authorized to perform kms:Decrypt' }, 'permission', false],
  ];
  for (const [fields, kind, retryable] of cases) {
    const got = classifyFailure({ TrainingJobName: 'j1', TrainingJobStatus: 'Failed', ...fields } as Parameters<typeof classifyFailure>[0]);
    assert.equal(got.kind, kind, JSON.stringify(fields));
    assert.equal(got.retryable, retryable, JSON.stringify(fields));
    assert.match(got.message, /^SageMaker job j1 /);
    if (fields.FailureReason) assert.ok(got.message.includes(fields.FailureReason), got.message);
  }
});

test('classifyApiError and isNotFound', () => {
  const err = (name: string, message = 'm', status?: number) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
  const cases: Array<[Error, string, boolean]> = [
    [err('ThrottlingException', 'Rate exceeded', 400), 'throttling', true],
    [err('AccessDeniedException', 'no', 400), 'permission', false],
    [err('ValidationException', 'bad', 400), 'validation', false],
    [err('ResourceLimitExceeded', 'quota', 400), 'capacity', true],
    [err('InternalFailure', 'x', 500), 'internal', true],
    [err('Error', 'socket hang up'), 'internal', true],
  ];
  for (const [e, kind, retryable] of cases) {
    const got = classifyApiError(e);
    assert.deepEqual([got.kind, got.retryable], [kind, retryable], e.name);
  }
  assert.ok(isNotFound(err('ValidationException', 'Requested resource not found.')));
  assert.ok(isNotFound(err('ValidationException', "Could not find training job 'arn:aws:sagemaker:us-east-1:123456789012:training-job/x'")), 'moto\'s wording');
  assert.ok(isNotFound(err('ResourceNotFound')));
  assert.ok(!isNotFound(err('ValidationException', 'bad value')));
});

test('jobCost: billable seconds × instances × the hourly price', () => {
  const d = { BillableTimeInSeconds: 1800, TrainingTimeInSeconds: 3600, ResourceConfig: { InstanceType: 'ml.g5.12xlarge' as const, InstanceCount: 2, VolumeSizeInGB: 100 } };
  assert.deepEqual(jobCost(d, { 'ml.g5.12xlarge': 7.09 }), { billableSeconds: 1800, instanceType: 'ml.g5.12xlarge', instanceCount: 2, usd: 7.09 });
  assert.equal(jobCost(d, undefined).usd, null);
  assert.equal(jobCost({ ...d, BillableTimeInSeconds: undefined }, {}).billableSeconds, 3600);
});
