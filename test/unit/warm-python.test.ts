/**
 * activities/jobs/warm-python.ts with the real warm Python (jobs/judgeloop_jobs/zygote.py) on short scripts:
 * a launch through it, a warm process that cannot start (the caller then launches cold), and one that ends
 * after its idle time. The runner's behaviour with it is test/integration/local-runner.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchWarm, prewarm, stopWarmPythons, type WarmJobRequest } from '../../activities/jobs/warm-python';
import { isRunning } from '../../activities/jobs/process-group';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = process.env.JUDGELOOP_TEST_PYTHON ?? 'python3';
const ZYGOTE = path.join(ROOT, 'jobs/judgeloop_jobs/zygote.py');
const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-warm-python-'));
const script = path.join(dir, 'job.py');
writeFileSync(script, 'import os\nPRELOAD = ("json",)\nopen(os.environ["OUT"], "w").write(str(os.getppid()))\n');

after(() => stopWarmPythons());

function request(name: string): WarmJobRequest & { out: string } {
  const out = path.join(dir, `${name}.out`);
  return { cwd: dir, env: { OUT: out }, log: path.join(dir, `${name}.log`), exit: path.join(dir, `${name}.exit.json`), job: name, spec: 'h', out };
}

async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a job launched warm is forked from the warm process, which reports its preload once', async () => {
  const opts = { python: PYTHON, zygote: ZYGOTE, script, env: { ...process.env }, logFile: path.join(dir, 'warm.log') };
  const a = request('a');
  const first = await launchWarm(opts, a);
  assert.deepEqual(first.started?.preloaded, ['json']);
  await until(() => existsSync(a.exit));
  assert.equal(JSON.parse(readFileSync(a.exit, 'utf8')).exitCode, 0);
  assert.equal(Number(readFileSync(a.out, 'utf8')), first.started!.pid);
  const b = request('b');
  const second = await launchWarm(opts, b);
  assert.equal(second.started, null, 'the same warm process');
  await until(() => existsSync(b.exit));
  assert.equal(Number(readFileSync(b.out, 'utf8')), first.started!.pid);
});

test('a warm process that cannot start rejects the launch, and is tried again at the next one', async () => {
  const broken = path.join(dir, 'broken-zygote.py');
  writeFileSync(broken, 'import sys\nprint("cannot start", file=sys.stderr)\nsys.exit(4)\n');
  const opts = { python: PYTHON, zygote: broken, script, env: { ...process.env }, logFile: path.join(dir, 'broken.log') };
  await assert.rejects(launchWarm(opts, request('c')), /exited \(code 4\); its log: .*broken\.log/);
  await assert.rejects(launchWarm(opts, request('d')), /exited \(code 4\)/);
  assert.equal(readFileSync(path.join(dir, 'broken.log'), 'utf8').split('cannot start').length - 1, 2, 'started twice');
  assert.equal(existsSync(path.join(dir, 'c.exit.json')), false);
});

test('a warm process ends after its idle time, and the next launch starts another', async () => {
  const opts = { python: PYTHON, zygote: ZYGOTE, script, env: { ...process.env, IDLE: '1' }, logFile: path.join(dir, 'idle.log'), idleMs: 300 };
  const first = await launchWarm(opts, request('e'));
  const pid = first.started!.pid;
  await until(() => !isRunning(pid));
  const next = await launchWarm(opts, request('f'));
  assert.ok(next.started && next.started.pid !== pid);
});

test('prewarm starts the warm process ahead of any launch; the first launch through it reports its preload', async () => {
  const marker = path.join(dir, 'imported.txt');
  writeFileSync(path.join(dir, 'marks_import.py'), `open(${JSON.stringify(marker)}, "w").write("imported")\n`);
  const prewarmed = path.join(dir, 'prewarmed.py');
  writeFileSync(prewarmed, 'import os\nPRELOAD = ("marks_import",)\nopen(os.environ["OUT"], "w").write(str(os.getppid()))\n');
  const opts = { python: PYTHON, zygote: ZYGOTE, script: prewarmed, env: { ...process.env, PYTHONPATH: dir }, logFile: path.join(dir, 'prewarmed.log') };
  prewarm(opts);
  prewarm(opts); // a second call while it starts: still one process
  await until(() => existsSync(marker)); // its preload ran with no job asking for it
  const g = request('g');
  const first = await launchWarm(opts, g);
  assert.deepEqual(first.started?.preloaded, ['marks_import'], 'the first launch reports what the prewarmed process loaded');
  await until(() => existsSync(g.exit));
  assert.equal(Number(readFileSync(g.out, 'utf8')), first.started!.pid, 'forked from the prewarmed process');
  const h = request('h');
  assert.equal((await launchWarm(opts, h)).started, null);
  assert.equal(readFileSync(path.join(dir, 'prewarmed.log'), 'utf8').split('Traceback').length, 1);
});

test('prewarm of a warm process that cannot start neither throws nor rejects; the first launch tries again', async () => {
  const broken = path.join(dir, 'broken-prewarm-zygote.py');
  writeFileSync(broken, 'import sys\nprint("cannot start", file=sys.stderr)\nsys.exit(5)\n');
  const opts = { python: PYTHON, zygote: broken, script, env: { ...process.env }, logFile: path.join(dir, 'broken-prewarm.log') };
  prewarm(opts);
  await until(() => existsSync(opts.logFile) && readFileSync(opts.logFile, 'utf8').includes('cannot start'));
  await new Promise((r) => setTimeout(r, 200)); // an unhandled rejection would fail the test file here
  await assert.rejects(launchWarm(opts, request('i')), /exited \(code 5\)/);
  assert.equal(readFileSync(opts.logFile, 'utf8').split('cannot start').length - 1, 2, 'started again by the launch');
});
