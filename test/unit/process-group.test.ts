/**
 * activities/jobs/process-group.ts on real, short-lived processes (Linux): starting a process as a group leader with
 * its output in a file, and the group kill — the first signal, the escalation to SIGKILL for what ignores it,
 * grandchildren in the group, zombies counted as gone, the parent-death signal and a child that outlives us.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  groupRunning,
  isRunning,
  pdeathsigSupported,
  procStat,
  processGroupMembers,
  signalProcess,
  signalProcessGroup,
  startProcess,
  stopProcessGroup,
  type StartedProcess,
} from '../../activities/jobs/process-group';

const ROOT = path.resolve(__dirname, '../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-process-group-'));
const started: StartedProcess[] = [];
const linux = process.platform === 'linux' ? false : 'needs Linux (/proc, process groups as tested here)';

after(async () => {
  for (const p of started) await stopProcessGroup(p.pid, { graceMs: 0 }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function start(script: string, opts: { env?: NodeJS.ProcessEnv; log?: string } = {}): Promise<StartedProcess> {
  const p = await startProcess({ command: 'sh', args: ['-c', script], env: opts.env, output: opts.log ? { file: opts.log } : 'ignore' });
  started.push(p);
  return p;
}

async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the group has `count` live members and returns them. */
async function members(pgid: number, count: number): Promise<number[]> {
  await until(`${count} processes in group ${pgid}`, () => processGroupMembers(pgid).length === count);
  return processGroupMembers(pgid);
}

test('a started process leads its own process group, appends its output to the file and reports its exit code', { skip: linux }, async () => {
  const log = path.join(dir, 'sub', 'out.log');
  const first = await start('echo one; echo two >&2; exit 3', { log });
  assert.deepEqual(await first.exited, { code: 3, signal: null });
  const second = await start('echo three', { log });
  assert.deepEqual(await second.exited, { code: 0, signal: null });
  assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter(Boolean).sort(), ['one', 'three', 'two']);

  const sleeper = await start('sleep 30');
  assert.equal(procStat(sleeper.pid)?.pgrp, sleeper.pid, 'the child leads a group');
  assert.notEqual(procStat(process.pid)?.pgrp, sleeper.pid);
  assert.equal(signalProcess(sleeper.pid, 'SIGTERM'), true);
  assert.deepEqual(await sleeper.exited, { code: null, signal: 'SIGTERM' });
});

test('the environment given is the whole environment of the child', { skip: linux }, async () => {
  process.env.JUDGELOOP_PROCESS_GROUP_TEST = 'leaks';
  try {
    const log = path.join(dir, 'env.log');
    const p = await start('env', { log, env: { PATH: process.env.PATH, ONLY_THIS: 'yes' } });
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    const env = readFileSync(log, 'utf8');
    assert.match(env, /^ONLY_THIS=yes$/m);
    assert.doesNotMatch(env, /JUDGELOOP_PROCESS_GROUP_TEST/);
  } finally {
    delete process.env.JUDGELOOP_PROCESS_GROUP_TEST;
  }
});

test('a command that cannot be started is an error, not a process', async () => {
  await assert.rejects(
    startProcess({ command: path.join(dir, 'no-such-program'), args: [] }),
    (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.message.includes('no-such-program'),
  );
});

test('the group kill ends the leader and its grandchildren with the first signal when they obey it', { skip: linux }, async () => {
  const p = await start('sleep 30 & sleep 30 & wait');
  const group = await members(p.pid, 3);
  const t0 = Date.now();
  const result = await stopProcessGroup(p.pid, { signal: 'SIGTERM', graceMs: 10_000 });
  assert.ok(Date.now() - t0 < 5000, 'no wait for the grace period');
  assert.deepEqual(result, { escalated: false, gone: true });
  assert.deepEqual(await p.exited, { code: null, signal: 'SIGTERM' });
  assert.deepEqual(group.filter(isRunning), []);
  assert.equal(groupRunning(p.pid), false);
  assert.throws(() => process.kill(p.pid, 0), 'the leader is reaped when the kill returns');
});

test('what ignores SIGTERM, a grandchild included, is SIGKILLed after the grace period', { skip: linux }, async () => {
  // An ignored signal stays ignored across fork and exec: the shell and its sleep both ignore SIGTERM.
  const p = await start('trap "" TERM; sleep 30 & wait');
  const group = await members(p.pid, 2);
  const grandchild = group.find((pid) => pid !== p.pid)!;
  const t0 = Date.now();
  const result = await stopProcessGroup(p.pid, { signal: 'SIGTERM', graceMs: 700 });
  const took = Date.now() - t0;
  assert.ok(took >= 700 && took < 6000, `waited the grace period, then killed (${took} ms)`);
  assert.deepEqual(result, { escalated: true, gone: true });
  assert.deepEqual(await p.exited, { code: null, signal: 'SIGKILL' });
  assert.equal(isRunning(grandchild), false, 'the grandchild in the group is gone too');
});

test('leaderOnly signals the leader alone; the SIGKILL after it still ends what the leader left in the group', { skip: linux }, async () => {
  const p = await start('trap "exit 0" TERM; sleep 30 & wait');
  const group = await members(p.pid, 2);
  const grandchild = group.find((pid) => pid !== p.pid)!;
  const result = await stopProcessGroup(p.pid, { signal: 'SIGTERM', graceMs: 10_000, leaderOnly: true });
  assert.deepEqual(await p.exited, { code: 0, signal: null }, 'the leader stopped on its own, by its trap');
  assert.deepEqual(result, { escalated: true, gone: true }, 'its sleep was still there for the SIGKILL');
  assert.equal(isRunning(grandchild), false);
});

test('graceMs 0 goes straight to SIGKILL, and a group that is already gone is no error', { skip: linux }, async () => {
  // exec: the group is this one process, which this test process reaps (a forked sleep would be left a zombie
  // here when PID 1 does not reap, and a zombie keeps its group in existence).
  const p = await start('exec sleep 30');
  assert.deepEqual(await stopProcessGroup(p.pid, { graceMs: 0 }), { escalated: true, gone: true });
  assert.deepEqual(await p.exited, { code: null, signal: 'SIGKILL' });
  assert.deepEqual(await stopProcessGroup(p.pid), { escalated: false, gone: true });
  assert.equal(signalProcessGroup(p.pid, 'SIGTERM'), false, 'ESRCH is "no such group", not an error');
});

test('a zombie counts as gone: the kill does not wait the grace period for a process nobody reaps', { skip: linux }, async () => {
  // Python forks a child into a group of its own that exits at once and is never reaped by its parent.
  const log = path.join(dir, 'zombie.log');
  const parent = await start(
    `exec python3 -c "import os, sys, time
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os._exit(0)
print(pid, flush=True)
time.sleep(30)"`,
    { log },
  );
  await until('the zombie pid', () => /^\d+$/m.test(readFileSync(log, 'utf8')));
  const zombie = Number(readFileSync(log, 'utf8').trim());
  await until('the child to be a zombie', () => procStat(zombie)?.state === 'Z');
  assert.equal(procStat(zombie)?.pgrp, zombie);
  assert.equal(signalProcessGroup(zombie, 0), true, 'the group still exists (its zombie)');
  assert.equal(groupRunning(zombie), false);
  const t0 = Date.now();
  assert.deepEqual(await stopProcessGroup(zombie, { graceMs: 10_000 }), { escalated: false, gone: true });
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.equal(procStat(zombie)?.state, 'Z', 'still unreaped: the kill did not wait for that');
  await stopProcessGroup(parent.pid, { graceMs: 0 });
});

test('no process id that would signal this process group or every process is accepted', () => {
  for (const bad of [0, 1, -5, Number.NaN, 2.5]) {
    assert.throws(() => signalProcessGroup(bad, 0), /not a process \(group\) id/);
  }
});

/**
 * Runs a node script (with tsx) that starts `sleep 30` through startProcess with `opts` and prints its pid;
 * with `hold` the script keeps running after that, without it the script exits when nothing holds it.
 */
async function scriptStartingSleep(opts: string, hold: boolean): Promise<{ script: StartedProcess; sleepPid: () => number }> {
  const log = path.join(dir, `script-${started.length}.log`);
  const code = `require('./activities/jobs/process-group.ts').startProcess({ command: 'sleep', args: ['30'], ${opts} })` +
    `.then((p) => console.log('pid', p.pid), (e) => { console.error(e); process.exit(2); });` +
    (hold ? 'setInterval(() => undefined, 1000);' : '');
  const script = await startProcess({
    command: process.execPath,
    args: ['--import', 'tsx', '-e', code],
    cwd: ROOT,
    output: { file: log },
  });
  started.push(script);
  const sleepPid = () => Number(/^pid (\d+)$/m.exec(readFileSync(log, 'utf8'))?.[1] ?? NaN);
  await until('the script to start sleep', () => Number.isInteger(sleepPid()), 60_000).catch((err) => {
    throw new Error(`${(err as Error).message}; script output:\n${readFileSync(log, 'utf8')}`);
  });
  return { script, sleepPid };
}

test('with unref the child keeps running after the process that started it has exited', { skip: linux }, async () => {
  const { script, sleepPid } = await scriptStartingSleep('unref: true', false);
  assert.deepEqual(await script.exited, { code: 0, signal: null }, 'the script exits on its own while its child runs');
  const pid = sleepPid();
  assert.equal(isRunning(pid), true, 'the child outlives it');
  assert.deepEqual(await stopProcessGroup(pid, { graceMs: 2000 }), { escalated: false, gone: true });
  assert.equal(isRunning(pid), false);
});

test('with a parent-death signal the child dies with the process that started it, even by SIGKILL', async (t) => {
  if (!(await pdeathsigSupported())) return t.skip('setpriv --pdeathsig is not available here');
  const { script, sleepPid } = await scriptStartingSleep("parentDeathSignal: 'KILL'", true);
  const pid = sleepPid();
  assert.equal(isRunning(pid), true);
  signalProcess(script.pid, 'SIGKILL');
  await script.exited;
  await until('the child to die with its parent', () => !isRunning(pid), 5000);
});
