/**
 * The deployable worker (docs/deploy.md): `npm run build:worker` compiles it and prebuilds its workflow bundle;
 * `node dist/.../workers/main.js` (no tsx, started from `/`) then serves a real Temporal dev server: its health
 * endpoint says live and ready, it polls, it runs a run's workflow and activities up to its first model job
 * (which read the data, the prompt template, the Python and the tiny judge by paths relative to the project
 * folder, not to dist/), and on SIGTERM during that job it reports not ready while it drains, lets the job
 * finish within the grace period, and exits 0. A build whose bundles do not match the worker's settings
 * refuses to start, saying why.
 *
 * The build goes to its own folder (dist/worker-test-<pid>, removed after), with only the bundle this worker's
 * settings need (no tracing), to stay cheap.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startTestServices, freePort, type TestServices } from '../support/services';
import { TINY_DATA, testConfig } from '../support/judgeloop';
import { ManagedProcess, type ExitStatus } from '../../stack/process';
import { PROJECT_ROOT, waitForWorkerPolling, workerEnv } from '../../stack/worker';
import { HEALTH_ADDRESS_ENV } from '../../workers/health';
import { BUNDLES_DIR_NAME, MANIFEST_FILE, type BundleManifest } from '../../workers/workflow-bundle';
import type { RunConfigInput } from '../../core/config/config';

const OUT = path.join(PROJECT_ROOT, 'dist', `worker-test-${process.pid}`);
const ENTRY = path.join(OUT, 'workers', 'main.js');
/** Longer than the tiny judge's evaluation job (about 8 s here): the job in flight at SIGTERM must finish. */
const GRACE_SECONDS = 45;
const TASK_QUEUE = 'judgeloop-built';

let services: TestServices;
let buildSeconds = 0;

before(async () => {
  const started = Date.now();
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-worker.ts', '--variants', 'failure-converter', '--out', path.relative(PROJECT_ROOT, OUT)], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  buildSeconds = (Date.now() - started) / 1000;
  services = await startTestServices();
});

after(async () => {
  await services?.stop();
  fs.rmSync(OUT, { recursive: true, force: true });
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

test('the built worker: live, ready, polls, runs a run up to its first job; SIGTERM mid-job: not ready, the job finishes, exit 0', async () => {
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

    // A run on the tiny judge (configs/local.json: every path in it relative to the project folder), until its
    // first model job is in flight on this worker.
    const connection = await Connection.connect({ address: services.temporalAddress });
    try {
      const client = new Client({ connection, namespace: services.namespace });
      const runId = `built-worker-${process.pid}`;
      await client.workflow.start('selfRationalizationRun', { taskQueue: TASK_QUEUE, workflowId: runId, args: [testConfig(services, { data: TINY_DATA } as Partial<RunConfigInput>)] });
      const child = client.workflow.getHandle(`${runId}-iter-0`);
      let job: string | undefined;
      for (const deadline = Date.now() + 60_000; !job && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        assert.ok(proc.alive, proc.logTail(30));
        const pending = await child.describe().then((d) => d.raw.pendingActivities ?? [], () => []);
        job = pending.find((a) => /^generate/.test(a.activityType?.name ?? '') && a.state === 2 /* STARTED */)?.activityType?.name ?? undefined;
      }
      assert.ok(job, `a generation job started within 60 s\n${proc.logTail(30)}`);

      // SIGTERM: from then on never ready; the job finishes within the grace period; the process exits 0.
      const signalled = Date.now();
      proc.kill('SIGTERM');
      const seen: string[] = [];
      let exit: ExitStatus | undefined;
      void proc.exited.then((st) => (exit = st));
      while (!exit && Date.now() - signalled < (GRACE_SECONDS + 15) * 1000) {
        const r = await get(`${base}/readyz`);
        if (r) seen.push(`${r.code} ${r.body.status}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      const status = await Promise.race([proc.exited, new Promise<null>((r) => setTimeout(() => r(null), 1000))]);
      const stopSeconds = (Date.now() - signalled) / 1000;
      console.log(`# built worker: exited ${stopSeconds.toFixed(2)} s after SIGTERM (${job} in flight); /readyz meanwhile: ${[...new Set(seen)].join(', ') || 'none'}`);
      assert.deepEqual(status, { code: 0, signal: null }, proc.logTail(30));
      assert.ok(stopSeconds < GRACE_SECONDS + 10, `stopped in ${stopSeconds} s`);
      // The signal reaches the worker's handler asynchronously: a probe answered in that instant may still be
      // 200. From the first 503 on it must never be ready again.
      const draining = seen.indexOf('503 draining');
      assert.ok(draining >= 0, `never answered 503 draining after SIGTERM: ${seen.join(', ')}`);
      assert.ok(draining <= 3, `not ready within a few probes of SIGTERM: ${seen.slice(0, 10).join(', ')}`);
      assert.ok(!seen.slice(draining).some((x) => x.startsWith('200')), `ready again while draining: ${seen.join(', ')}`);

      // The job in flight at SIGTERM completed after it (its grace), not cancelled.
      const events = (await child.fetchHistory()).events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === job);
      const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
      assert.ok(completed, `${job} completed: ${events.map((e) => e.eventType).join(' ')}`);
      const completedAt = Number(completed.eventTime?.seconds) * 1000 + Math.floor((completed.eventTime?.nanos ?? 0) / 1e6);
      assert.ok(completedAt > signalled, `${job} completed ${completedAt - signalled} ms after SIGTERM`);
      await client.workflow.getHandle(runId).terminate('test over').catch(() => undefined);
    } finally {
      await connection.close();
    }
  } finally {
    await proc.stop('SIGKILL', 1000);
  }
});
