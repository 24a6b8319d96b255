/** Shared set-up for tests that run Judgeloop workflows against the real local services. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { NativeConnection } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import type { RunConfigInput } from '../../core/config/config';
import { PROJECT_ROOT, createActivities, defaultActivityDeps } from '../../activities';
import { ObjectStore, createS3Client } from '../../activities/storage/object-store';
import { readRunSummary } from '../../activities/storage/run-summary';
import type { RunOutcome, RunSummary } from '../../core/run/run-types';
import { bundleWorkflows } from '../../workers/main';
import { JudgeloopWorker } from '../../workers/judgeloop-worker';
import { mergeConfig } from '../../cli/config-file';
import { main } from '../../cli/judgeloop';
import localConfig from '../../configs/local.json';
import { before, after } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startTestServices, type TestServices } from './services';
import { keepAliveInterceptor } from '../../workers/keep-alive';
import { tsFiles } from './source-files';

/** Data for tiny runs: one 20-item held-out suite, no contamination check (the default training set). */
export const TINY_DATA = {
  evalSuites: [{ name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 20 }],
  contamination: { check: false },
};

/** Runs the CLI in-process, as a user types it; returns its exit code and what it printed. */
/**
 * Writes a training file of 4 rows of which 2 are invalid (line 2 is not JSON, line 3 has no rubric): with
 * `data.maxInvalidFraction: 0.25` the prepare step fails with InvalidData and quarantines rows 1 and 2.
 */
export function writeHalfInvalidTrain(file: string): void {
  const good = {
    id: 'ok-1',
    instruction: 'Say hi.',
    response: 'Hi.',
    rubric: { criteria: 'Is it a greeting?', score1: 'no', score2: 'barely', score3: 'sort of', score4: 'yes', score5: 'a warm one' },
    gold_score: 4,
  };
  const lines = [JSON.stringify(good), '{"id": "broken-json"', JSON.stringify({ ...good, id: 'no-rubric', rubric: undefined }), JSON.stringify({ ...good, id: 'ok-2' })];
  writeFileSync(file, lines.join('\n') + '\n');
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ rc: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const rc = await main(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env });
  return { rc, out, err };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow code, bundled once and shared by every worker of the test process. The bundle is also kept on
 * disk under .judgeloop/cache, keyed by the content of everything webpack reads from the project (and the
 * lockfile), so the next test file takes it in milliseconds instead of bundling again (seconds each).
 */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= cachedBundle();
  return bundle;
}

async function cachedBundle(): Promise<WorkflowBundleWithSourceMap> {
  const file = path.join(PROJECT_ROOT, '.judgeloop', 'cache', `workflow-bundle-${bundleKey()}.json`);
  if (existsSync(file)) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as WorkflowBundleWithSourceMap;
    } catch {
      // A torn file from an interrupted write: bundle again below, which replaces it.
    }
  }
  const built = await bundleWorkflows();
  mkdirSync(path.dirname(file), { recursive: true });
  // Written under a temporary name and renamed, so a concurrent reader never sees half a bundle.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(built));
  renameSync(tmp, file);
  // Bundles of earlier code are not read again: keep the folder to the current one.
  for (const old of readdirSync(path.dirname(file))) {
    if (/^workflow-bundle-[0-9a-f]+\.json$/.test(old) && old !== path.basename(file)) rmSync(path.join(path.dirname(file), old), { force: true });
  }
  return built;
}

function bundleKey(): string {
  const hash = createHash('sha256');
  const files = ['core', 'activities', 'workflows', 'workers'].flatMap((dir) => tsFiles(path.join(PROJECT_ROOT, dir)));
  for (const f of [...files.sort(), path.join(PROJECT_ROOT, 'package-lock.json')]) {
    hash.update(path.relative(PROJECT_ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}


/** Points the AWS SDK's default credential chain at the local S3 server (for in-process activities). */
export function useLocalS3Credentials(services: TestServices): void {
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  process.env.AWS_REGION = services.s3.region;
  process.env.JUDGELOOP_S3_ENDPOINT = services.s3.endpoint;
}

export function storeFor(services: TestServices): ObjectStore {
  return new ObjectStore(createS3Client({ endpoint: services.s3.endpoint, region: services.s3.region, forcePathStyle: true }));
}

/** A run's whole summary from what it returned: its iterations' summaries read from the test S3 server. */
export async function summaryOf(services: TestServices, outcome: RunOutcome): Promise<RunSummary> {
  const store = storeFor(services);
  try {
    return await readRunSummary(store, outcome);
  } finally {
    store.client.destroy();
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  return (over ? mergeConfig(base, over) : base) as T;
}

/** configs/local.json pointed at the test services and a fresh job folder, with overrides. */
export function testConfig(
  services: TestServices,
  overrides?: DeepPartial<RunConfigInput>,
  /** The config to start from (e.g. an ablation config, merged with its `extends`); configs/local.json by default. */
  start: unknown = localConfig,
): RunConfigInput & { backend: { workDir: string } } {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-jobs-'));
  jobFolders.push(workDir);
  const base = merge(start as RunConfigInput, {
    // A judge name of its own per config: runs in one test file share an S3 server, and with one name they
    // would share a registry, so a later run could start from an earlier test's champion (or its gate could
    // race another run's promotions). Tests about the registry pass judge.name explicitly.
    judge: { name: `${(start as RunConfigInput).judge?.name ?? 'judge'}-t${process.pid}-${++judgeCounter}` },
    storage: { bucket: services.s3.bucket, endpoint: services.s3.endpoint },
    backend: { kind: 'local', workDir },
  } as DeepPartial<RunConfigInput>);
  return merge(base, overrides) as RunConfigInput & { backend: { workDir: string } };
}

let judgeCounter = 0;

/**
 * The job folders testConfig made: removed when the test file's process exits (the jobs copy their model in,
 * so a real-judge run leaves gigabytes; a suite that kept them would fill the disk of the machine CI runs on).
 * JUDGELOOP_KEEP_TEST_JOBS=1 keeps them for debugging.
 */
const jobFolders: string[] = [];
process.once('exit', () => {
  if (process.env.JUDGELOOP_KEEP_TEST_JOBS === '1') return;
  for (const dir of jobFolders) rmSync(dir, { recursive: true, force: true });
});

/** `payloadCodecs`: e.g. workers/codec.ts codecFromEnv(testCodecEnv()) (test/support/codec.ts) for an encrypting worker. */
export async function createTestWorker(
  connection: NativeConnection,
  taskQueue: string,
  namespace = 'default',
  opts: { payloadCodecs?: PayloadCodec[] } = {},
): Promise<JudgeloopWorker> {
  // As the real worker: the workflows and data steps on the task queue, the jobs on its job queue.
  return JudgeloopWorker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(defaultActivityDeps()),
    // As the real worker (workers/main.ts): data steps rely on it to heartbeat within the timeout.
    interceptors: { activity: [keepAliveInterceptor] },
    ...(opts.payloadCodecs ? { dataConverter: { payloadCodecs: opts.payloadCodecs } } : {}),
  });
}

export interface TestStack {
  services: TestServices;
  env: TestWorkflowEnvironment;
}

/**
 * The real local services (Temporal dev server, S3 server) and a Temporal test environment on them, started
 * before the file's tests and stopped after them. Read the fields inside tests (they are set by the hook).
 */
export function useTestStack(): TestStack {
  const stack = {} as TestStack;
  before(async () => {
    stack.services = await startTestServices();
    useLocalS3Credentials(stack.services);
    stack.env = await TestWorkflowEnvironment.createFromExistingServer({ address: stack.services.temporalAddress });
  });
  after(async () => {
    await stack.env?.teardown();
    await stack.services?.stop();
  });
  return stack;
}
