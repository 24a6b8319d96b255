/**
 * Scheduled retraining on the real stack (Temporal dev server, S3 server, the real jobs on the tiny judge),
 * driven through the CLI as a user does: create a schedule from a config whose training data is a dated S3
 * location, list, describe, pause and unpause it, trigger a run (today's data, starting from the seed: the
 * judge has no champion yet), backfill yesterday (yesterday's data, starting from the champion the first run
 * left), delete it. The runs are evaluate-only (`loop.iterations: 0`): what a schedule decides is the data and
 * the judge a run starts from (iteration 0 of the first run makes the seed the judge's champion); training
 * is the loop's own tests' concern.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunSummary } from '../../core/run/run-types';
import { dateParts } from '../../core/config/schedule';
import { TINY_DATA, createTestWorker, runCli, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();
const cli = (...argv: string[]) => runCli(argv);

test('a schedule starts runs on dated data from the champion: create, list, describe, pause, trigger, backfill, delete', { timeout: 20 * 60_000 }, async () => {
  const taskQueue = 'schedule';
  const stamp = Date.now().toString(36);
  const scheduleId = `sched-${stamp}`;
  const bucket = stack.services.s3.bucket;
  const store = storeFor(stack.services);
  const connection = ['--address', stack.services.temporalAddress, '--task-queue', taskQueue];

  // The training data lands in a dated folder each day; today's and yesterday's are there (UTC dates).
  const now = new Date();
  const today = dateParts(now, 'UTC').date;
  const yesterday = dateParts(new Date(now.getTime() - 86_400_000), 'UTC').date;
  const train = readFileSync(path.resolve(__dirname, '../../datasets/synthetic/train.jsonl'));
  for (const day of [today, yesterday]) await store.putBytes(`s3://${bucket}/incoming/${day}/train.jsonl`, train);

  const config = testConfig(stack.services, {
    judge: { name: `scheduled-${stamp}` },
    loop: { iterations: 0 },
    data: { ...TINY_DATA, train: { uri: `s3://${bucket}/incoming/{date}/train.jsonl` } },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 }, gate: { metrics: { pointwise: 'exactAgreement' }, maxDrop: 1, parseRateFloor: 0 } },
    // Daily at 03:00 UTC: never due during the test, so only trigger and backfill start runs.
    schedule: { cron: '0 3 * * *', timezone: 'UTC' },
  } as Parameters<typeof testConfig>[1]);
  const configPath = path.join(os.tmpdir(), `${scheduleId}.json`);
  writeFileSync(configPath, JSON.stringify(config));

  const created = await cli('schedule', 'create', '--config', configPath, '--id', scheduleId, ...connection);
  assert.equal(created.rc, 0, created.err);
  assert.match(created.out, new RegExp(`created schedule ${scheduleId}: cron 0 3 \\* \\* \\* \\(UTC\\)`));
  assert.match(created.out, /next: \d{4}-\d{2}-\d{2}T03:00:00Z/);

  const listed = await cli('schedule', 'list', ...connection);
  assert.equal(listed.rc, 0, listed.err);
  assert.match(listed.out, new RegExp(`${scheduleId}\\s+cron 0 3 \\* \\* \\* \\(UTC\\)\\s+\\d{4}-\\d{2}-\\d{2}T03:00:00Z`));

  assert.equal((await cli('schedule', 'pause', scheduleId, '--note', 'data late', ...connection)).rc, 0);
  let described = await cli('schedule', 'describe', scheduleId, ...connection);
  assert.match(described.out, new RegExp(`schedule ${scheduleId} \\(paused\\) — note: data late`));
  assert.match(described.out, /policies:\s+overlap skip · catch-up window 24h · pause on failure no/);
  assert.equal((await cli('schedule', 'unpause', scheduleId, ...connection)).rc, 0);

  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const { first, second, backfilledId } = await worker.runUntil(async () => {
    const triggered = await cli('schedule', 'trigger', scheduleId, ...connection);
    assert.equal(triggered.rc, 0, triggered.err);
    const runId = /triggered schedule \S+: run (\S+)/.exec(triggered.out)?.[1] ?? '';
    assert.ok(runId.startsWith(`${scheduleId}-`), triggered.out);
    const first = await summaryOf(stack.services, await stack.env.client.workflow.getHandle(runId).result());

    // Backfill yesterday: the spec's 03:00 of that day, run now with that day's data.
    const start = new Date(`${yesterday}T00:00:00Z`);
    const backfill = await cli('schedule', 'backfill', scheduleId, '--start', start.toISOString(), '--end', new Date(start.getTime() + 86_399_000).toISOString(), ...connection);
    assert.equal(backfill.rc, 0, backfill.err);
    const handle = stack.env.client.schedule.getHandle(scheduleId);
    let backfilledId: string | undefined;
    for (const deadline = Date.now() + 60_000; !backfilledId; ) {
      const recent = (await handle.describe()).info.recentActions;
      backfilledId = recent.find((a) => a.scheduledAt.toISOString() === `${yesterday}T03:00:00.000Z`)?.action.workflow.workflowId;
      assert.ok(backfilledId || Date.now() < deadline, 'the backfill starts the run scheduled for yesterday 03:00');
      if (!backfilledId) await new Promise((r) => setTimeout(r, 500));
    }
    const second = await summaryOf(stack.services, await stack.env.client.workflow.getHandle(backfilledId).result());
    return { first, second, backfilledId };
  });

  // The triggered run: scheduled now, today's folder, the seed judge (no champion yet).
  assert.ok(first.scheduledFor);
  assert.ok(Math.abs(new Date(first.scheduledFor).getTime() - now.getTime()) < 5 * 60_000);
  const trainOf = (s: RunSummary) => s.datasets.find((d) => d.name === 'train');
  assert.equal(trainOf(first)?.rows, 400);
  const recordedFirst = await store.getJson<{ config: { data: { train: { uri: string } } } }>(`${first.runPrefixUri}/config.json`);
  assert.equal(recordedFirst?.config.data.train.uri, `s3://${bucket}/incoming/${dateParts(new Date(first.scheduledFor), 'UTC').date}/train.jsonl`);
  assert.equal(first.startedFrom?.kind, 'seed');

  // The backfilled run: scheduled yesterday 03:00, yesterday's folder, from the champion the first run left.
  assert.equal(second.scheduledFor, `${yesterday}T03:00:00.000Z`);
  assert.ok(backfilledId.startsWith(`${scheduleId}-`));
  const recordedSecond = await store.getJson<{ config: { data: { train: { uri: string } } } }>(`${second.runPrefixUri}/config.json`);
  assert.equal(recordedSecond?.config.data.train.uri, `s3://${bucket}/incoming/${yesterday}/train.jsonl`);
  assert.equal(second.startedFrom?.kind, 'champion');
  assert.equal(second.startedFrom?.runId, first.runId);

  described = await cli('schedule', 'describe', scheduleId, ...connection);
  assert.match(described.out, /runs:\s+2 started/);
  assert.ok(described.out.includes(`${yesterday}T03:00:00Z → ${backfilledId}`), described.out);

  assert.equal((await cli('schedule', 'delete', scheduleId, ...connection)).rc, 0);
  const gone = await cli('schedule', 'describe', scheduleId, ...connection);
  assert.equal(gone.rc, 1);
  assert.match(gone.err, new RegExp(`no schedule "${scheduleId}"`));
});
