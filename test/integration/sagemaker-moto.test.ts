/**
 * The SageMaker runner's requests against a real SageMaker-API-compatible server: moto in server mode
 * (`moto_server`, from scripts/setup.sh's moto step), which also serves S3. The real SageMakerJobRunner, a real
 * SageMakerClient and a real ObjectStore talk HTTP to moto; the assertions read back what moto recorded
 * (DescribeTrainingJob, ListTrainingJobs, the uploaded sourcedir.tar.gz). A later test runs a sharded sample's
 * real activities (split, one job per shard, merge) with this runner: several shards, several training jobs.
 * The last one registers promoted judges in moto's SageMaker Model Registry (activities/steps/model-registry.ts).
 *
 * What moto (5.2.5) does and does not do, and so what this file can show:
 *   - training jobs run no code: CreateTrainingJob stores the request and DescribeTrainingJob reports
 *     `Completed`/`Completed` at once (no InProgress, no BillableTimeInSeconds, ModelArtifacts pointing at a
 *     `model.tar.gz`), so the runner's poll loop sees one terminal describe;
 *   - DescribeTrainingJob of a missing job is a ValidationException "Could not find training job '<arn>'",
 *     where AWS says "Requested resource not found." (the runner's isNotFound knows both wordings);
 *   - CreateTrainingJob of an existing name overwrites it instead of failing with ResourceInUse, and
 *     StopTrainingJob is not implemented: adoption on ResourceInUse, stop on cancellation, throttling,
 *     capacity errors and Failed jobs stay covered by recorded responses (test/unit/sagemaker-runner.test.ts).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  DescribeTrainingJobCommand,
  ListTrainingJobsCommand,
  SageMakerClient,
  ListTagsCommand,
  StopTrainingJobCommand,
  type DescribeTrainingJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { SageMakerBackend, validateConfig } from '../../core/config/config';
import { sectionsFor } from '../../core/config/sections';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { shardJobUri, shardRequestsUri } from '../../core/run/shards';
import { createActivities } from '../../activities';
import type { GeneratedJudgments, GenerationInput, RequestSet } from '../../activities/steps/generation';
import { createTrainingJobRequest, sagemakerJobName } from '../../activities/jobs/sagemaker-request';
import { SageMakerJobRunner, type SageMakerApi, type SageMakerCommand } from '../../activities/jobs/sagemaker-runner';
import { COMPLETION_FILES, type JobContext, type JobProgress, type JobSpec } from '../../activities/jobs/types';
import { ObjectStore } from '../../activities/storage/object-store';
import type { JobUsage } from '../../core/run/usage';
import { freePort, isListening, LOCALHOST } from '../../stack/ports';
import { PROJECT_ROOT } from '../../stack/worker';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';
import { SageMakerModelRegistryConfig } from '../../core/promotion/gate-config';
import type { RegistryEntry } from '../../core/promotion/registry';
import { registerEntry, type RegisteredModelPackage } from '../../activities/steps/model-registry';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Dummy credentials for moto (it accepts any); set before any client resolves its credential chain.
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_SESSION_TOKEN = 'testing';
delete process.env.AWS_PROFILE;

const MOTO_SERVER = path.join(PROJECT_ROOT, '.tools/moto-venv/bin/moto_server');
const REGION = 'us-east-1';
const BUCKET = 'judgeloop-moto';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

let moto: ChildProcess | undefined;
let motoLog: string[] = [];
let endpoint = '';
let s3: S3Client;
let sagemaker: SageMakerClient;
let jobsDir = '';

/** The real client, recording each call (`Describe<job>`, `Create<job>`) so the tests can count them. */
class RecordingClient implements SageMakerApi {
  readonly ops: string[] = [];
  constructor(private readonly client: SageMakerClient) {}
  async send(command: SageMakerCommand): Promise<unknown> {
    this.ops.push(`${command.constructor.name.replace(/Command$/, '')} ${command.input.TrainingJobName}`);
    // The union of commands has no single `send` overload; each is a SageMakerClient command.
    return this.client.send(command as DescribeTrainingJobCommand);
  }
}

before(async () => {
  if (!fs.existsSync(MOTO_SERVER)) {
    throw new Error(`moto_server is not installed at ${MOTO_SERVER}. Run: bash scripts/setup.sh --only moto`);
  }
  const port = await freePort();
  endpoint = `http://${LOCALHOST}:${port}`;
  moto = spawn(MOTO_SERVER, ['-H', LOCALHOST, '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  motoLog = [];
  const keep = (b: Buffer) => {
    motoLog.push(b.toString('utf8'));
    if (motoLog.length > 200) motoLog.shift();
  };
  moto.stdout!.on('data', keep);
  moto.stderr!.on('data', keep);
  const deadline = Date.now() + 20_000;
  while (!(await isListening(port))) {
    if (moto.exitCode !== null) throw new Error(`moto_server exited (${moto.exitCode}):\n${motoLog.join('')}`);
    if (Date.now() > deadline) throw new Error(`moto_server did not listen on ${endpoint} within 20 s:\n${motoLog.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  s3 = new S3Client({ endpoint, region: REGION, credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  sagemaker = new SageMakerClient({ endpoint, region: REGION, credentials });

  jobsDir = await mkdtemp(path.join(tmpdir(), 'judgeloop-moto-jobs-'));
  const files: Record<string, string> = {
    'generate.py': 'print("generate")\n',
    'train_dpo.py': 'print("train")\n',
    'judgeloop_jobs/__init__.py': '',
    'judgeloop_jobs/sm_contract.py': 'X = 1\n',
    'tests/test_generate.py': 'def test(): pass\n',
    'requirements.txt': 'torch\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(jobsDir, rel)), { recursive: true });
    await writeFile(path.join(jobsDir, rel), text);
  }
});

after(async () => {
  s3?.destroy();
  sagemaker?.destroy();
  if (moto && moto.exitCode === null) {
    const exited = new Promise((r) => moto!.once('exit', r));
    moto.kill('SIGTERM');
    const timer = setTimeout(() => moto!.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (jobsDir) await rm(jobsDir, { recursive: true, force: true });
});

const backend = SageMakerBackend.parse({
  ...SAGEMAKER_BACKEND_INPUT,
  spot: { enabled: true, maxWaitHours: 36 },
  pricesPerHour: { 'ml.g5.12xlarge': 7.2 },
  pollSeconds: 1,
});
const codeUri = `s3://${BUCKET}/runs/code/`;
const checkpointUri = `s3://${BUCKET}/runs/checkpoints/`;

function context() {
  const controller = new AbortController();
  const heartbeats: JobProgress[] = [];
  const logs: string[] = [];
  const ctx: JobContext = { heartbeat: (d) => heartbeats.push(d), signal: controller.signal, log: (l) => logs.push(l) };
  return { ctx, heartbeats, logs, abort: () => controller.abort() };
}

function runner() {
  const client = new RecordingClient(sagemaker);
  const r = new SageMakerJobRunner({
    client,
    store: new ObjectStore(s3),
    backend,
    codeUri,
    checkpointUri,
    jobsDir,
    pollMs: 50,
    apiBackoffMs: 10,
    stopWaitMs: 1000,
  });
  return { client, runner: r };
}

async function listJobNames(): Promise<string[]> {
  const out = await sagemaker.send(new ListTrainingJobsCommand({ MaxResults: 100 }));
  return (out.TrainingJobSummaries ?? []).map((s) => s.TrainingJobName!).sort();
}

const trainSpec: JobSpec = {
  jobName: 'judgeloop-moto-i1-train',
  entryPoint: 'train_dpo.py',
  channels: { pairs: `s3://${BUCKET}/runs/moto/iter-1/pair/data/`, model: `s3://${BUCKET}/runs/moto/model` },
  hyperparameters: { beta: 0.1, epochs: 1, loss: 'sigmoid', resume: true },
  outputUri: `s3://${BUCKET}/runs/moto/iter-1/train/job`,
};

const generateSpec: JobSpec = {
  jobName: 'judgeloop-moto-i1-generate',
  entryPoint: 'generate.py',
  channels: { requests: `s3://${BUCKET}/runs/moto/iter-1/generate/requests/` },
  hyperparameters: { max_new_tokens: 256, temperature: 0.7 },
  outputUri: `s3://${BUCKET}/runs/moto/iter-1/generate/job`,
};

/** The request the runner sends for `spec` on attempt 1 (what moto should have recorded). */
function expectedRequest(spec: JobSpec, sourceDirUri: string) {
  return createTrainingJobRequest(spec, backend, {
    sourceDirUri,
    kind: spec.entryPoint === 'train_dpo.py' ? 'training' : 'generation',
    checkpointUri,
  });
}

/** Asserts that moto's record of `spec`'s job is exactly the runner's request (the fields moto keeps). */
async function assertRecorded(spec: JobSpec, sourceDirUri: string): Promise<DescribeTrainingJobCommandOutput> {
  const want = expectedRequest(spec, sourceDirUri);
  const d = await sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: spec.jobName }));
  assert.equal(d.TrainingJobName, spec.jobName);
  assert.equal(d.RoleArn, backend.roleArn);
  // Moto adds MetricDefinitions of its own to AlgorithmSpecification; the image and input mode are ours.
  assert.equal(d.AlgorithmSpecification?.TrainingImage, want.AlgorithmSpecification!.TrainingImage);
  assert.equal(d.AlgorithmSpecification?.TrainingInputMode, 'File');
  assert.deepEqual(d.HyperParameters, want.HyperParameters);
  assert.equal(d.HyperParameters?.sagemaker_program, JSON.stringify(spec.entryPoint));
  assert.equal(d.HyperParameters?.sagemaker_submit_directory, JSON.stringify(sourceDirUri));
  assert.deepEqual(d.InputDataConfig, want.InputDataConfig);
  assert.deepEqual(d.OutputDataConfig, want.OutputDataConfig);
  assert.deepEqual(d.ResourceConfig, want.ResourceConfig);
  assert.deepEqual(d.StoppingCondition, want.StoppingCondition);
  assert.equal(d.EnableManagedSpotTraining, true);
  assert.deepEqual(d.CheckpointConfig, { S3Uri: `${checkpointUri}${spec.jobName}/`, LocalPath: '/opt/ml/checkpoints' });
  assert.equal(d.TrainingJobStatus, 'Completed', 'moto completes a training job as soon as it is created');
  return d;
}

/** The file names in a gzip tar. */
function tarNames(tgz: Buffer): string[] {
  const tar = gunzipSync(tgz); // throws unless it is gzip
  const listed = spawnSync('tar', ['-t', '-f', '-'], { input: tar, encoding: 'utf8' });
  assert.equal(listed.status, 0, `tar -t failed: ${listed.stderr}`);
  return listed.stdout.split('\n').filter(Boolean).sort();
}

let sourceDirUri = '';

/**
 * Moto completes a job without running its script, so it writes none of the outputs: this puts the file the
 * script writes last where SageMaker would upload it, or the runner would (rightly) not take the job as done.
 */
async function scriptWroteItsSummary(spec: JobSpec): Promise<void> {
  const file = COMPLETION_FILES[spec.entryPoint];
  await new ObjectStore(s3).putJson(`${spec.outputUri}/${spec.jobName}/output/data/${file}`, { written: 'by the test, as the script would' });
}

test('train_dpo.py: CreateTrainingJob as the runner built it, recorded by moto, with sourcedir.tar.gz in moto S3', async () => {
  const { client, runner: r } = runner();
  const c = context();
  await scriptWroteItsSummary(trainSpec);
  const result = await r.run(trainSpec, c.ctx);

  assert.deepEqual(client.ops, [
    'DescribeTrainingJob judgeloop-moto-i1-train', // not found: nothing to adopt
    'CreateTrainingJob judgeloop-moto-i1-train',
    'DescribeTrainingJob judgeloop-moto-i1-train', // the poll: moto answers Completed at once
  ]);
  const uploaded = c.logs.find((l) => l.startsWith('uploaded jobs/'));
  assert.ok(uploaded, c.logs.join('\n'));
  sourceDirUri = uploaded.replace(/^.* to /, '');
  assert.match(sourceDirUri, new RegExp(`^${codeUri}[0-9a-f]{16}/sourcedir\\.tar\\.gz$`));

  const d = await assertRecorded(trainSpec, sourceDirUri);
  assert.deepEqual(await listJobNames(), ['judgeloop-moto-i1-train']);

  // The poll heartbeated what DescribeTrainingJob said.
  const running = c.heartbeats.filter((h) => h.phase === 'running');
  assert.deepEqual(running, [
    { phase: 'running', jobName: trainSpec.jobName, externalJobName: 'judgeloop-moto-i1-train', status: 'Completed', secondaryStatus: 'Completed', billableSeconds: undefined, adopted: false },
  ]);
  // Moto reports a model.tar.gz (compressed output), which the runner does not take as the model folder.
  assert.match(d.ModelArtifacts?.S3ModelArtifacts ?? '', /model\.tar\.gz$/);
  assert.equal(result.how, 'ran');
  assert.equal(result.modelUri, `${trainSpec.outputUri}/judgeloop-moto-i1-train/output/model`);
  assert.equal(result.outputDataUri, `${trainSpec.outputUri}/judgeloop-moto-i1-train/output/data`);
  // Moto reports no billable time, so the cost is zero seconds on the configured instance type.
  assert.deepEqual(result.cost, { billableSeconds: 0, instanceType: 'ml.g5.12xlarge', instanceCount: 1, usd: 0 });
  // The usage record lands beside the job's outputs, in moto's S3.
  const usage = await new ObjectStore(s3).getJson<JobUsage>(`${trainSpec.outputUri}/_usage/judgeloop-moto-i1-train.json`);
  assert.deepEqual(
    [usage?.attempt, usage?.status, usage?.backend, usage?.iteration, usage?.step, usage?.instanceType],
    ['judgeloop-moto-i1-train', 'Completed', 'sagemaker', 1, 'train', 'ml.g5.12xlarge'],
  );

  // Tags are not in DescribeTrainingJob; moto keeps them for ListTags.
  const tags = await sagemaker.send(new ListTagsCommand({ ResourceArn: d.TrainingJobArn }));
  assert.deepEqual(tags.Tags, [{ Key: 'judgeloop:job', Value: trainSpec.jobName }]);

  // The code package: one gzip tar under codeUri/<hash>/ with the entry points and the package, no tests
  // and no requirements.txt.
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'runs/code/' }));
  assert.deepEqual(listed.Contents?.map((o) => `s3://${BUCKET}/${o.Key}`), [sourceDirUri]);
  const key = sourceDirUri.slice(`s3://${BUCKET}/`.length);
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const tgz = Buffer.from(await got.Body!.transformToByteArray());
  assert.deepEqual(tarNames(tgz), ['generate.py', 'judgeloop_jobs/__init__.py', 'judgeloop_jobs/sm_contract.py', 'train_dpo.py']);
});

test('generate.py: the generation image and instance type, the same uploaded code', async () => {
  assert.ok(sourceDirUri, 'runs after the train_dpo.py test');
  const { client, runner: r } = runner();
  const c = context();
  await scriptWroteItsSummary(generateSpec);
  const result = await r.run(generateSpec, c.ctx);
  assert.deepEqual(client.ops, ['DescribeTrainingJob judgeloop-moto-i1-generate', 'CreateTrainingJob judgeloop-moto-i1-generate', 'DescribeTrainingJob judgeloop-moto-i1-generate']);
  // Same jobs/ content, so the package is found by its hash and not uploaded again.
  assert.ok(!c.logs.some((l) => l.startsWith('uploaded jobs/')), c.logs.join('\n'));
  const d = await assertRecorded(generateSpec, sourceDirUri);
  assert.equal(d.AlgorithmSpecification?.TrainingImage, backend.images.generation);
  assert.equal(d.ResourceConfig?.InstanceType, 'ml.g5.2xlarge');
  assert.deepEqual(d.InputDataConfig?.map((ch) => ch.ChannelName), ['requests']);
  assert.equal(result.how, 'ran');
  assert.deepEqual(await listJobNames(), ['judgeloop-moto-i1-generate', 'judgeloop-moto-i1-train']);
});

test('a second run of the same spec adopts the recorded job: no second CreateTrainingJob', async () => {
  assert.ok(sourceDirUri, 'runs after the train_dpo.py test');
  const before = await sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: trainSpec.jobName }));
  const { client, runner: r } = runner(); // a fresh runner, as on a retried activity or another worker
  const c = context();
  const result = await r.run(trainSpec, c.ctx);
  assert.deepEqual(client.ops, ['DescribeTrainingJob judgeloop-moto-i1-train']);
  assert.equal(result.how, 'adopted-finished');
  assert.equal(result.modelUri, `${trainSpec.outputUri}/judgeloop-moto-i1-train/output/model`);
  assert.ok(c.logs.some((l) => /already completed; adopting/.test(l)), c.logs.join('\n'));
  assert.deepEqual(await listJobNames(), ['judgeloop-moto-i1-generate', 'judgeloop-moto-i1-train']);
  const after = await sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: trainSpec.jobName }));
  assert.deepEqual(after.CreationTime, before.CreationTime, 'the job moto recorded was not created again');
});

test('moto (this pin) does not implement StopTrainingJob: stop on cancellation stays on recorded responses', async () => {
  // If a newer moto pin implements it, this fails: then test the runner's cancellation here too.
  const fast = new SageMakerClient({ endpoint, region: REGION, credentials, maxAttempts: 1 });
  try {
    await assert.rejects(fast.send(new StopTrainingJobCommand({ TrainingJobName: trainSpec.jobName })), (err: { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(err.$metadata?.httpStatusCode, 500);
      return true;
    });
  } finally {
    fast.destroy();
  }
});

test('a sharded sample: three shards run as three SageMaker training jobs, merged in shard order; a retried shard adopts its own job', async () => {
  // The real activities (split, the sample job per shard, merge), given moto's S3 and a SageMaker runner on moto.
  const example = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'configs/sagemaker.example.json'), 'utf8'));
  const parsed = validateConfig({
    ...example,
    storage: { bucket: BUCKET, prefix: 'runs', region: REGION, forcePathStyle: true, endpoint },
    backend: { ...example.backend, pollSeconds: 1, sharding: { shards: 3, concurrency: 3 } },
    reuse: { acrossRuns: false },
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const config = parsed.config;
  const clients: RecordingClient[] = [];
  const activities = createActivities({
    projectRoot: PROJECT_ROOT,
    codeVersion: 'test',
    storeFor: () => new ObjectStore(s3),
    runnerFor: () => {
      const { client, runner: r } = runner();
      clients.push(client);
      return r;
    },
  });
  const store = new ObjectStore(s3);
  // A run id long enough that the shard names need the hashed form (63 characters at most on SageMaker).
  const runId = 'weekly-retraining-of-the-support-judge-2026-12-03T04-00-00Z';
  const runPrefixUri = `s3://${BUCKET}/runs/${runId}`;
  const sample = stepPrefix(runPrefixUri, 1, 'sample');
  const requestsData = joinUri(sample, 'requests', 'data');
  const ids = Array.from({ length: 8 }, (_, i) => `req-${i}`);
  await store.writeJsonl(joinUri(requestsData, 'requests.jsonl'), ids.map((request_id) => ({ request_id, messages: [] })));

  const env = new MockActivityEnvironment();
  const shards: RequestSet[] = await env.run(activities.splitRequests, { config: sectionsFor(config, 'storage'), requests: { dataUri: requestsData, requests: ids.length }, shards: 3 });
  assert.deepEqual(shards, [0, 1, 2].map((i) => ({ dataUri: shardRequestsUri(requestsData, i), requests: [3, 3, 2][i] })));

  // Moto runs no script: write what each shard's generate.py would upload (its judgments and, last, its summary).
  const names = [0, 1, 2].map((i) => jobName(runId, 1, `sample-shard-00${i}`));
  const sagemakerNames = names.map((n) => sagemakerJobName(n));
  for (const [i, name] of sagemakerNames.entries()) {
    const jobUri = shardJobUri(joinUri(sample, 'job'), i);
    const mine = ids.slice([0, 3, 6][i], [3, 6, 8][i]);
    await store.writeJsonl(`${jobUri}/${name}/output/model/judgments.jsonl`, mine.map((request_id) => ({ request_id, shard: i })));
    await store.putJson(`${jobUri}/${name}/output/data/generation_summary.json`, { written: 'by the test, as the script would' });
  }
  const input = (i: number): GenerationInput => ({
    config: sectionsFor(config, 'generation'),
    runId,
    runPrefixUri,
    iteration: 1,
    modelUri: `s3://${BUCKET}/runs/${runId}/iter-0/model`,
    requests: shards[i],
    shard: { index: i, count: 3 },
  });
  const generate = (i: number): Promise<GeneratedJudgments> => new MockActivityEnvironment().run(activities.generateSampledJudgments, input(i));
  const generated = await Promise.all([0, 1, 2].map(generate));
  assert.deepEqual(generated.map((g) => [g.jobName, g.how]), names.map((n) => [n, 'ran']));
  assert.ok(sagemakerNames.every((n) => n.length <= 63) && new Set(sagemakerNames).size === 3, sagemakerNames.join(', '));

  // Moto recorded three training jobs, each reading its own shard's requests, each sampling from its own seed.
  const recorded = await Promise.all(sagemakerNames.map((n) => sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: n }))));
  assert.deepEqual(
    recorded.map((d) => d.InputDataConfig?.find((ch) => ch.ChannelName === 'requests')?.DataSource?.S3DataSource?.S3Uri),
    shards.map((s) => `${s.dataUri}/`),
  );
  assert.deepEqual(recorded.map((d) => d.ResourceConfig?.InstanceType), ['ml.g5.2xlarge', 'ml.g5.2xlarge', 'ml.g5.2xlarge']);
  assert.equal(new Set(recorded.map((d) => d.HyperParameters?.seed)).size, 3, 'each shard samples with its own seed');
  assert.deepEqual(recorded.map((d) => d.OutputDataConfig?.S3OutputPath), [0, 1, 2].map((i) => shardJobUri(joinUri(sample, 'job'), i)));
  assert.deepEqual(clients.flatMap((c) => c.ops.filter((op) => op.startsWith('Create'))).sort(), sagemakerNames.map((n) => `CreateTrainingJob ${n}`).sort());

  const merged: GeneratedJudgments = await env.run(activities.mergeShardJudgments, { config: sectionsFor(config, 'storage'), shards: generated });
  const rows: Array<{ request_id: string; shard: number }> = [];
  for await (const row of store.readJsonl<{ request_id: string; shard: number }>(merged.judgmentsUri)) rows.push(row);
  assert.deepEqual(rows.map((r) => r.request_id), ids, 'every request once, in shard order');
  assert.equal(merged.jobName, names.join(','));

  // A retried shard (a fresh runner, as on another worker) adopts its own finished job and creates nothing.
  clients.length = 0;
  const again = await generate(1);
  assert.equal(again.how, 'adopted-finished');
  assert.deepEqual(clients.flatMap((c) => c.ops), [`DescribeTrainingJob ${sagemakerNames[1]}`]);
});

test('model registry: a promoted judge becomes an approved version in its judge\'s group, a retry adopts it, and a deployment reads the latest approved one', async () => {
  const settings = SageMakerModelRegistryConfig.parse({ region: REGION, inferenceImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judge-serving:1.0' });
  const judgeName = `moto-judge-${Date.now().toString(36)}`;
  const prefix = `s3://${BUCKET}/runs/run-a`;
  const entryOf = (iteration: number, promoted: boolean): RegistryEntry => ({
    judgeName,
    modelUri: iteration === 0 ? `${prefix}/seed` : `${prefix}/iter-${iteration}/train/job/model`,
    runId: 'run-a',
    iteration,
    parentModelUri: iteration === 0 ? null : `${prefix}/seed`,
    seedModelUri: `${prefix}/seed`,
    data: { trainUri: `${prefix}/data/train`, configHash: 'cafe' },
    metrics: { heldout: { kind: 'pointwise', n: 20, parsed: 20, parseRate: 1, exactAgreement: 0.5, mae: 0.7, pearson: 0.6, spearman: 0.55, kendall: 0.4, reportUri: `${prefix}/iter-${iteration}/evaluate/metrics/report.json` } },
    decision: { promoted, reasons: [promoted ? 'better' : 'worse'], decidedBy: 'gate', at: '2026-12-03T08:00:00Z' },
    championReplaced: promoted,
  });
  const versions = async () =>
    (await sagemaker.send(new ListModelPackagesCommand({ ModelPackageGroupName: judgeName }))).ModelPackageSummaryList ?? [];

  const first = await registerEntry(sagemaker, entryOf(0, true), settings, 'abc1234');
  assert.deepEqual([first.registered, first.how, first.version, first.group], [true, 'created', 1, judgeName]);
  const group = await sagemaker.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: judgeName }));
  assert.equal(group.ModelPackageGroupName, judgeName, 'the group was created, named after the judge');

  const retried = await registerEntry(sagemaker, entryOf(0, true), settings, 'abc1234');
  assert.deepEqual([retried.how, retried.modelPackageArn], ['adopted', first.modelPackageArn], 'a retry adopts the version its attempt created');
  assert.equal((await versions()).length, 1);

  // Through the activity: the entry is read from the judge registry in S3, as recordDecision wrote it.
  const historyUri = `s3://${BUCKET}/runs/registry/${judgeName}/history/run-a-iter-1.json`;
  const store = new ObjectStore(s3);
  await store.putJson(historyUri, entryOf(1, true));
  const { registerModelPackage } = createActivities({
    projectRoot: PROJECT_ROOT,
    codeVersion: 'abc1234',
    storeFor: () => store,
    runnerFor: () => {
      throw new Error('no job here');
    },
    sagemakerFor: () => sagemaker,
  });
  const config = { registry: { enabled: true, startFrom: 'champion' as const, sagemaker: settings }, storage: { bucket: BUCKET, prefix: 'runs', region: REGION, forcePathStyle: true, endpoint } };
  const second = (await new MockActivityEnvironment().run(registerModelPackage, { config, historyUri })) as RegisteredModelPackage;
  assert.deepEqual([second.how, second.version], ['created', 2]);

  const rejected = await registerEntry(sagemaker, entryOf(2, false), settings);
  assert.equal(rejected.registered, false);
  assert.equal((await versions()).length, 2, 'a rejected judge is not registered');

  // What a deployment does: the latest approved version of the judge's group, and the model folder it serves.
  const latest = await sagemaker.send(
    new ListModelPackagesCommand({ ModelPackageGroupName: judgeName, ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1 }),
  );
  assert.equal(latest.ModelPackageSummaryList?.[0]?.ModelPackageArn, second.modelPackageArn);
  const described = await sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: second.modelPackageArn }));
  assert.equal(described.ModelApprovalStatus, 'Approved');
  assert.equal(described.InferenceSpecification?.Containers?.[0]?.ModelDataSource?.S3DataSource?.S3Uri, `${prefix}/iter-1/train/job/model/`);
  assert.equal(described.InferenceSpecification?.Containers?.[0]?.Image, settings.inferenceImage);
  assert.equal(described.CustomerMetadataProperties?.['judgeloop:parent-model-uri'], `${prefix}/seed`);
  assert.equal(described.CustomerMetadataProperties?.['metric:heldout:pearson'], '0.6');
  assert.equal(described.ModelMetrics?.ModelQuality?.Statistics?.S3Uri, `${prefix}/iter-1/evaluate/metrics/report.json`);
  assert.equal(described.MetadataProperties?.CommitId, 'abc1234');
});
