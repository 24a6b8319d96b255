/** activities/jobs/file-wait.ts: the local runner's poll interval, cut short by the job's exit record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getEventListeners } from 'node:events';
import { sleepUntilFile } from '../../activities/jobs/file-wait';

const dir = () => mkdtempSync(path.join(os.tmpdir(), 'judgeloop-file-wait-'));

test('sleepUntilFile: wakes when the file is renamed into the folder, long before the interval', async () => {
  const d = dir();
  const t0 = Date.now();
  setTimeout(() => {
    writeFileSync(path.join(d, 'exit.json.tmp'), '{}');
    renameSync(path.join(d, 'exit.json.tmp'), path.join(d, 'exit.json'));
  }, 50);
  await sleepUntilFile(d, 'exit.json', 5000);
  const waited = Date.now() - t0;
  assert.ok(waited < 2000, `woke after ${waited} ms`);
});

test('sleepUntilFile: other files do not wake it; the interval does', async () => {
  const d = dir();
  const t0 = Date.now();
  setTimeout(() => writeFileSync(path.join(d, 'job.log'), 'a line\n'), 20);
  await sleepUntilFile(d, 'exit.json', 300);
  assert.ok(Date.now() - t0 >= 290, 'the whole interval');
});

test('sleepUntilFile: an abort ends it at once and leaves no listener on the signal; a folder that cannot be watched falls back to the timer', async () => {
  const d = dir();
  const controller = new AbortController();
  for (let i = 0; i < 20; i++) await sleepUntilFile(d, 'exit.json', 1, controller.signal);
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'no listener left after 20 polls');
  const t0 = Date.now();
  setTimeout(() => controller.abort(), 20);
  await sleepUntilFile(d, 'exit.json', 5000, controller.signal);
  assert.ok(Date.now() - t0 < 2000);
  await sleepUntilFile(d, 'exit.json', 5000, controller.signal); // already aborted: at once
  const t1 = Date.now();
  await sleepUntilFile(path.join(d, 'no-such-folder'), 'exit.json', 100);
  assert.ok(Date.now() - t1 >= 90, 'the timer alone');
});
