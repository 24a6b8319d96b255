/**
 * The deployable worker (docs/deploy.md): `npm run build:worker` compiles it and prebuilds its workflow bundle;
 * `node dist/.../workers/main.js` (no tsx) then serves a real Temporal dev server: its health endpoint says
 * live and ready, it polls, it runs a run's workflow and first activities (which read files relative to the
 * project folder, not to dist/), and on SIGTERM it reports not ready while it drains and exits 0 within its
 * grace period. A build whose bundles do not match the worker's settings refuses to start, saying why.
 *
 * The build goes to its own folder (dist/worker-test-<pid>, removed after), with only the bundle this worker's
 * settings need (no tracing), to stay cheap.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { startTestServices, freePort, type TestServices } from '../support/services';
import { TINY_DATA, testConfig, writeHalfInvalidTrain } from '../support/judgeloop';
import { ManagedProcess, type ExitStatus } from '../../stack/process';
import { PROJECT_ROOT, waitForWorkerPolling, workerEnv } from '../../stack/worker';
import { HEALTH_ADDRESS_ENV } from '../../workers/health';
import { BUNDLES_DIR_NAME, MANIFEST_FILE, type BundleManifest } from '../../workers/workflow-bundle';
import type { RunConfigInput } from '../../core/config/config';

const OUT = path.join(PROJECT_ROOT, 'dist', `worker-test-${process.pid}`);
const ENTRY = path.join(OUT, 'workers', 'main.js');
const GRACE_SECONDS = 5;
const TASK_QUEUE = 'judgeloop-built';

let services: TestServices;
let buildSeconds = 0;
/** A file under the project folder that the run names by a relative path (as configs name prompts and data). */
let relativeTrain = '';

before(async () => {
  const started = Date.now();
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-worker.ts', '--variants', 'failure-converter', '--out', path.relative(PROJECT_ROOT, OUT)], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  buildSeconds = (Date.now() - started) / 1000;
  services = await startTestServices();
  const dir = fs.mkdtempSync(path.join(PROJECT_ROOT, '.judgeloop', 'worker-build-test-'));
  writeHalfInvalidTrain(path.join(dir, 'train.jsonl'));
  relativeTrain = path.relative(PROJECT_ROOT, path.join(dir, 'train.jsonl'));
});

after(async () => {
  await services?.stop();
  fs.rmSync(OUT, { recursive: true, force: true });
  if (relativeTrain) fs.rmSync(path.dirname(path.join(PROJECT_ROOT, relativeTrain)), { recursive: true, force: true });
});

function builtWorkerEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
    // No tsx in the worker: NODE_OPTIONS from the test runner (--import tsx) must not reach it.
    NODE_OPTIONS: undefined,
    ...workerEnv({ temporalAddress: services.temporalAddress, namespace: services.namespace, taskQueue: TASK_QUEUE, s3: services.s3 }),
    ...extra,
  };
}

async function get(url: string): Promise<{ code: number; body: { status?: string } } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { code: res.status, body: (await res.json()) as { status?: string } };
  } catch {
    return null; // not listening (yet, or any more)
  }
}

test('the build: compiled entry points and a manifest naming the bundle', () => {
  assert.ok(fs.existsSync(ENTRY), `${ENTRY} exists`);
  assert.ok(fs.existsSync(path.join(OUT, 'workers', 'healthcheck.js')));
  const manifest = JSON.parse(fs.readFileSync(path.join(OUT, BUNDLES_DIR_NAME, MANIFEST_FILE), 'utf8')) as BundleManifest;
  assert.deepEqual(manifest.bundles.map((b) => b.variant), ['failure-converter']);
  assert.ok(fs.existsSync(path.join(OUT, BUNDLES_DIR_NAME, manifest.bundles[0].file)));
  console.log(`# build (tsc + 1 bundle): ${buildSeconds.toFixed(1)} s`);
});

test('settings the build has no bundle for: the worker exits 1 before connecting, naming the variant and the fix', async () => {
  const log = path.join(services.dir, 'logs', 'built-worker-mismatch.log');
  const proc = await ManagedProcess.start({
    name: 'built worker',
    command: process.execPath,
    args: [ENTRY],
    cwd: PROJECT_ROOT,
    env: builtWorkerEnv({ JUDGELOOP_OTEL_FILE: path.join(services.dir, 'spans.jsonl') }),
    output: { file: log },
  });
  const status = await proc.exited;
  assert.equal(status.code, 1);
  const text = fs.readFileSync(log, 'utf8');
  assert.match(text, /need the workflow bundle "tracing-failure-converter", which the build in .* does not have \(it has: failure-converter\)/);
  assert.match(text, /npm run build:worker/);
});

test('the built worker: live, ready, polls, runs a workflow; SIGTERM: not ready, then exit 0 within the grace period', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = path.join(services.dir, 'logs', 'built-worker.log');
  const started = Date.now();
  const proc = await ManagedProcess.start({
    name: 'built worker',
    command: process.execPath,
    args: [ENTRY],
    cwd: '/', // the worker finds its project folder from its own location, not from the working directory
    env: builtWorkerEnv({ [HEALTH_ADDRESS_ENV]: `127.0.0.1:${port}`, JUDGELOOP_SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS) }),
    output: { file: log },
  });
  try {
    // Ready within 60 s (it bundles nothing; seconds in practice).
    let ready = null;
    while (Date.now() - started < 60_000) {
      assert.ok(proc.alive, `the built worker exited early:\n${proc.logTail(30)}`);
      ready = await get(`${base}/readyz`);
      if (ready?.code === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const startupSeconds = (Date.now() - started) / 1000;
    assert.equal(ready?.code, 200, `ready: ${JSON.stringify(ready)}\n${proc.logTail(30)}`);
    assert.equal(ready?.body.status, 'polling');
    console.log(`# built worker: ready ${startupSeconds.toFixed(2)} s after it started`);
    const live = await get(`${base}/healthz`);
    assert.equal(live?.code, 200);
    assert.equal((await get(`${base}/nope`))?.code, 404);
    assert.match(fs.readFileSync(log, 'utf8'), /workflow bundle prebuilt workflows\.failure-converter\.js/);

    await waitForWorkerPolling({
      temporalAddress: services.temporalAddress,
      namespace: services.namespace,
      taskQueue: TASK_QUEUE,
      match: (identity) => identity.startsWith(`${proc.pid}@`),
      timeoutMs: 10_000,
      process: proc,
    });

    // A run whose training data (a path relative to the project, as configs name them) is half invalid: the
    // workflow runs from the prebuilt bundle, resolveRunConfig and prepareRun run, and prepareRun fails with
    // InvalidData, which it can only say after reading the file from the project folder.
    const connection = await Connection.connect({ address: services.temporalAddress });
    try {
      const client = new Client({ connection, namespace: services.namespace });
      const config = testConfig(services, { data: { ...TINY_DATA, train: { uri: relativeTrain, adapter: 'canonical' }, maxInvalidFraction: 0.25 } } as Partial<RunConfigInput>);
      const err = await client.workflow
        .execute('selfRationalizationRun', { taskQueue: TASK_QUEUE, workflowId: `built-worker-${process.pid}`, args: [config], workflowExecutionTimeout: '2 minutes' })
        .then(
          () => assert.fail('the run should fail on its invalid training rows'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError, String(err));
      let cause: unknown = err.cause;
      while (cause && !(cause instanceof ApplicationFailure)) cause = (cause as { cause?: unknown }).cause;
      assert.ok(cause instanceof ApplicationFailure, `an ApplicationFailure under ${String(err.cause)}`);
      assert.equal(cause.type, 'InvalidData', cause.message);
    } finally {
      await connection.close();
    }

    // SIGTERM: from then on never ready; exits 0 within the grace period (and a margin for the process to end).
    const signalled = Date.now();
    proc.kill('SIGTERM');
    const seen: string[] = [];
    let exit: ExitStatus | undefined;
    void proc.exited.then((s) => (exit = s));
    while (!exit && Date.now() - signalled < (GRACE_SECONDS + 15) * 1000) {
      const r = await get(`${base}/readyz`);
      if (r) seen.push(`${r.code} ${r.body.status}`);
      await new Promise((res) => setTimeout(res, 10));
    }
    const status = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
    const stopSeconds = (Date.now() - signalled) / 1000;
    console.log(`# built worker: exited ${stopSeconds.toFixed(2)} s after SIGTERM; /readyz answers meanwhile: ${[...new Set(seen)].join(', ') || 'none'}`);
    assert.deepEqual(status, { code: 0, signal: null }, proc.logTail(30));
    assert.ok(stopSeconds < GRACE_SECONDS + 10, `stopped in ${stopSeconds} s`);
    assert.ok(!seen.some((s) => s.startsWith('200')), `never ready after SIGTERM: ${seen.join(', ')}`);
  } finally {
    await proc.stop('SIGKILL', 1000);
  }
});
