/**
 * The local job runner against a real S3-compatible server and real child processes: outputs uploaded,
 * finished jobs adopted, running jobs adopted after their worker died, cancellation kills the process,
 * script errors fail without retry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { LocalJobRunner } from '../../activities/jobs/local-runner';
import { stopWarmPythons } from '../../activities/jobs/warm-python';
import { getEventListeners } from 'node:events';
import type { AbortReason, JobContext, JobProgress, JobSpec } from '../../activities/jobs/types';
import { ObjectStore, createS3Client } from '../../activities/storage/object-store';
import { PROJECT_ROOT } from '../../activities';
import { startTestServices, type TestServices } from '../support/services';

let services: TestServices;
let store: ObjectStore;
let workDir: string;

before(async () => {
  services = await startTestServices({ temporal: false });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  store = new ObjectStore(createS3Client({ endpoint: services.s3.endpoint, region: services.s3.region, forcePathStyle: true }));
  await store.putBytes(`s3://${services.s3.bucket}/inputs/a.txt`, 'alpha');
  await store.putBytes(`s3://${services.s3.bucket}/inputs/b.txt`, 'beta');
  workDir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-runner-'));
});

after(async () => {
  await stopWarmPythons();
  await services?.stop();
});

function runner(opts: { completionFiles?: Record<string, string>; warmPython?: boolean } = {}): LocalJobRunner {
  return new LocalJobRunner({
    ...opts,
    store,
    projectRoot: PROJECT_ROOT,
    python: process.env.JUDGELOOP_TEST_PYTHON ?? 'python3',
    workDir,
    jobsDir: path.join(PROJECT_ROOT, 'test/fixtures/jobs'),
    pollMs: 100,
    killGraceMs: 1000,
  });
}

function spec(name: string, hps: Record<string, string | number | boolean>): JobSpec {
  return {
    jobName: name,
    entryPoint: 'sleepy.py',
    channels: { input: `s3://${services.s3.bucket}/inputs` },
    hyperparameters: hps,
    outputUri: `s3://${services.s3.bucket}/jobs/${name}`,
  };
}

function context(
  signal = new AbortController().signal,
  reason: AbortReason = 'cancel-requested',
): JobContext & { beats: JobProgress[]; lines: string[] } {
  const beats: JobProgress[] = [];
  const lines: string[] = [];
  return { beats, lines, heartbeat: (d) => beats.push(d), signal, abortReason: () => reason, log: (l) => lines.push(l) };
}

function launches(name: string): number {
  const file = path.join(workDir, name, 'launches.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').length : 0;
}

// Every behaviour twice: jobs started as fresh interpreters, and forked from a warm Python.
for (const warmPython of [false, true]) {
  const mode = warmPython ? 'warm' : 'cold';

  describe(`${mode} launches`, () => {
    test('a job runs with its channels, reports progress, and its outputs land in S3', async () => {
      const ctx = context();
      const result = await runner({ warmPython }).run(spec(`job-ok-${mode}`, { seconds: 0.5, marker: 'one' }), ctx);
      assert.equal(result.how, 'ran');
      const out = JSON.parse((await store.getBytes(`${result.modelUri}/result.txt`))!.toString());
      assert.deepEqual(out, { marker: 'one', files: ['a.txt', 'b.txt'], checkpointDir: path.join(workDir, `job-ok-${mode}`, 'checkpoints') });
      assert.ok(await store.exists(`${result.outputDataUri}/pid.txt`));
      assert.ok(ctx.beats.some((b) => b.phase === 'running' && b.unit === 'ticks' && (b.done ?? 0) > 0), 'progress lines become heartbeat details');
      assert.equal(launches(`job-ok-${mode}`), 1);
      assert.ok(!ctx.lines.some((l) => l.includes('could not launch')), `launched ${mode}: ${ctx.lines.join('\n')}`);
      // Once the outputs are in S3, the job folder keeps its records and log, not its copies of data and models.
      for (const heavy of ['channels', 'model', 'checkpoints']) assert.equal(existsSync(path.join(workDir, `job-ok-${mode}`, heavy)), false, heavy);
      for (const kept of ['job.log', 'launch.json', 'exit.json']) assert.ok(existsSync(path.join(workDir, `job-ok-${mode}`, kept)), kept);
      // The job slept 0.5 s: its exit record counts it to the millisecond (whole seconds would make it 0 or 1).
      const exitRecord = readFileSync(path.join(workDir, `job-ok-${mode}`, 'exit.json'), 'utf8');
      const { seconds } = JSON.parse(exitRecord) as { seconds: number };
      assert.ok(seconds >= 0.5 && seconds < 30 && /"seconds":\s*\d+\.\d+/.test(exitRecord), `exit.json: ${exitRecord}`);
    });

    test('heartbeats carry the job\'s pace and the time left, from its progress lines', async () => {
      const ctx = context();
      await runner({ warmPython }).run(spec(`job-pace-${mode}`, { seconds: 1.5, marker: 'pace' }), ctx);
      const paced = ctx.beats.filter((b) => b.phase === 'running' && b.perSecond !== undefined);
      assert.ok(paced.length > 0, `some heartbeat has a pace: ${JSON.stringify(ctx.beats.filter((b) => b.phase === 'running').slice(-3))}`);
      const last = paced[paced.length - 1];
      // 15 ticks in 1.5 s: about 10 a second (the job's start and this machine's load blur it).
      assert.ok(last.perSecond! > 2 && last.perSecond! < 50, `pace ${last.perSecond}/s`);
      assert.ok(last.secondsLeft !== undefined && last.secondsLeft >= 0 && last.secondsLeft <= 10, `${last.secondsLeft} s left`);
      assert.equal(last.unit, 'ticks');
    });

    test('polling leaves no abort listeners on the activity signal (they piled up into MaxListenersExceededWarning)', async () => {
      const controller = new AbortController();
      // 100 ms polls over ~1.5 s: more than the 10 listeners Node warns at.
      const result = await runner({ warmPython }).run(spec(`job-listeners-${mode}`, { seconds: 1.5, marker: 'l' }), context(controller.signal));
      assert.equal(result.how, 'ran');
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    });

    test('a finished job is adopted on retry instead of running again', async () => {
      const first = await runner({ warmPython }).run(spec(`job-adopt-${mode}`, { seconds: 0.2, marker: 'first' }), context());
      assert.equal(first.how, 'ran');
      const again = await runner({ warmPython }).run(spec(`job-adopt-${mode}`, { seconds: 0.2, marker: 'first' }), context());
      assert.equal(again.how, 'adopted-finished');
      assert.equal(launches(`job-adopt-${mode}`), 1, 'the process was started once');
    });

    test('a running job whose worker died is adopted by the next attempt, never started twice', async () => {
      const name = `job-orphan-${mode}`;
      const s = spec(name, { seconds: 4, marker: 'orphan' });
      // A separate process plays the worker that starts the job and is then killed with SIGKILL.
      const doomed = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test/fixtures/run-job.ts')], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, RUN_JOB_SPEC: JSON.stringify(s), RUN_JOB_WORKDIR: workDir, RUN_JOB_WARM: String(warmPython), RUN_JOB_S3: JSON.stringify(services.s3) },
        stdio: 'ignore',
      });
      const launchFile = path.join(workDir, name, 'launch.json');
      const deadline = Date.now() + 30_000;
      while (!existsSync(launchFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(launchFile), 'the first worker launched the job');
      doomed.kill('SIGKILL');
      await new Promise((r) => doomed.once('exit', r));
      const jobPid = JSON.parse(readFileSync(launchFile, 'utf8')).pid as number;
      assert.doesNotThrow(() => process.kill(jobPid, 0), 'the job outlives its worker');

      const result = await runner({ warmPython }).run(s, context());
      assert.equal(result.how, 'adopted-running');
      assert.equal(launches(name), 1, 'the retry adopted the running process');
      const out = JSON.parse((await store.getBytes(`${result.modelUri}/result.txt`))!.toString());
      assert.equal(out.marker, 'orphan');
    });

    test('cancellation stops the job process', async () => {
      const controller = new AbortController();
      const running = runner({ warmPython }).run(spec(`job-cancel-${mode}`, { seconds: 30 }), context(controller.signal));
      const launchFile = path.join(workDir, `job-cancel-${mode}`, 'launch.json');
      while (!existsSync(launchFile)) await new Promise((r) => setTimeout(r, 100));
      const pid = JSON.parse(readFileSync(launchFile, 'utf8')).pid as number;
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await assert.rejects(running, (err) => err instanceof CancelledFailure);
      assert.throws(() => process.kill(pid, 0), 'the job process is gone');
      assert.equal(await store.exists(`s3://${services.s3.bucket}/jobs/job-cancel-${mode}/_job.json`), false);
    });

    test('an attempt the server gave up on (timed out) leaves the process for the next attempt, which adopts it', async () => {
      const controller = new AbortController();
      const name = `job-timed-out-${mode}`;
      const s = spec(name, { seconds: 3, marker: 'kept' });
      const ctx = context(controller.signal, 'timed-out');
      const running = runner({ warmPython }).run(s, ctx);
      const launchFile = path.join(workDir, name, 'launch.json');
      while (!existsSync(launchFile)) await new Promise((r) => setTimeout(r, 100));
      const pid = JSON.parse(readFileSync(launchFile, 'utf8')).pid as number;
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await assert.rejects(running, (err) => err instanceof ApplicationFailure && err.type === 'JobLeftRunning' && !err.nonRetryable);
      assert.doesNotThrow(() => process.kill(pid, 0), 'the job process keeps running');
      assert.ok(ctx.lines.some((l) => l.includes('left running') && l.includes('timed-out')), ctx.lines.join('\n'));

      const next = await runner({ warmPython }).run(s, context());
      assert.equal(next.how, 'adopted-running');
      assert.equal(launches(name), 1, 'never started twice');
      assert.equal(JSON.parse((await store.getBytes(`${next.modelUri}/result.txt`))!.toString()).marker, 'kept');
    });

    test('a shutdown of the worker stops its local job process (a graceful stop takes the machine\'s work with it)', async () => {
      const controller = new AbortController();
      const running = runner({ warmPython }).run(spec(`job-shutdown-${mode}`, { seconds: 30 }), context(controller.signal, 'worker-shutdown'));
      const launchFile = path.join(workDir, `job-shutdown-${mode}`, 'launch.json');
      while (!existsSync(launchFile)) await new Promise((r) => setTimeout(r, 100));
      const pid = JSON.parse(readFileSync(launchFile, 'utf8')).pid as number;
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await assert.rejects(running, (err) => err instanceof CancelledFailure && /stopped with its worker/.test(err.message));
      assert.throws(() => process.kill(pid, 0), 'the job process is gone');
    });

    test('a job that exits 0 without the file it writes last is run again, never adopted as done', async () => {
      const name = `job-incomplete-${mode}`;
      const s = spec(name, { seconds: 0.2, marker: 'second', incomplete_once: true });
      const r = runner({ warmPython, completionFiles: { 'sleepy.py': 'pid.txt' } });
      await assert.rejects(r.run(s, context()), (err) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'JobIncomplete');
        assert.equal(err.nonRetryable, false);
        assert.match(err.message, /exited with code 0 without writing output\/pid\.txt, the file it writes last; it is run again/);
        return true;
      });
      assert.equal(await store.exists(`s3://${services.s3.bucket}/jobs/${name}/_job.json`), false, 'no completion record');
      const retried = await r.run(s, context());
      assert.equal(retried.how, 'ran');
      assert.equal(launches(name), 2, 'launched again, not adopted');
      assert.equal(JSON.parse((await store.getBytes(`${retried.modelUri}/result.txt`))!.toString()).marker, 'second');
    });

    test('a script error fails without retry and shows the log tail', async () => {
      await assert.rejects(runner({ warmPython }).run(spec(`job-fail-${mode}`, { seconds: 0.1, exit_code: 3 }), context()), (err) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'JobFailed');
        assert.equal(err.nonRetryable, true);
        assert.match(err.message, /exited with code 3/);
        assert.match(err.message, /failing on purpose/);
        return true;
      });
    });
  });
}

/** The warm Python's pid from the line a runner logs when it starts one (null when it reused one). */
function warmPid(lines: string[]): number | null {
  const line = lines.find((l) => l.includes('started a warm Python for sleepy.py'));
  return line ? Number(/\(pid (\d+)\)/.exec(line)![1]) : null;
}

async function parentOf(result: { modelUri: string }): Promise<number> {
  return JSON.parse((await store.getBytes(`${result.modelUri}/result.txt`))!.toString()).parent as number;
}

test('the jobs of an entry point are forked from one warm Python, which imported its PRELOAD once', async () => {
  await stopWarmPythons();
  const first = context();
  const a = await runner({ warmPython: true }).run(spec('job-warm-a', { seconds: 0.2, report_parent: true }), first);
  const pid = warmPid(first.lines);
  assert.ok(pid, first.lines.join('\n'));
  const line = first.lines.find((l) => l.includes('started a warm Python'))!;
  assert.match(line, /^job job-warm-a: .*which preloaded decimal; could not import judgeloop_test_missing_module \(ModuleNotFoundError/);
  const second = context();
  const b = await runner({ warmPython: true }).run(spec('job-warm-b', { seconds: 0.2, report_parent: true }), second);
  assert.equal(warmPid(second.lines), null, 'the second job reused the warm Python');
  assert.equal(await parentOf(a), pid);
  assert.equal(await parentOf(b), pid);
  assert.notEqual(pid, process.pid);
});

test('a warm Python that died is replaced at the next job', async () => {
  const first = context();
  await stopWarmPythons();
  await runner({ warmPython: true }).run(spec('job-warm-c', { seconds: 0.1 }), first);
  const dead = warmPid(first.lines)!;
  process.kill(dead, 'SIGKILL');
  while (existsSync(`/proc/${dead}`) && !readFileSync(`/proc/${dead}/stat`, 'utf8').includes(') Z')) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const next = context();
  const result = await runner({ warmPython: true }).run(spec('job-warm-d', { seconds: 0.1, report_parent: true }), next);
  assert.equal(result.how, 'ran');
  const replacement = warmPid(next.lines);
  assert.ok(replacement && replacement !== dead, next.lines.join('\n'));
  assert.equal(await parentOf(result), replacement);
});
