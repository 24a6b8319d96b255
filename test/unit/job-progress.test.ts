/**
 * Live progress inside a step: a job's pace from its progress reports (core/run/progress-rate.ts, put in its
 * heartbeats by the local runner) and the lines `follow` and `status` make of the heartbeats (cli/job-progress.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { paceOf } from '../../core/run/progress-rate';
import { formatJobProgress, jobLabel, jobProgressLines, type JobHeartbeat } from '../../cli/job-progress';

test('paceOf: units per second since the first report, and the seconds left at that pace', () => {
  const cases: Array<[string, Parameters<typeof paceOf>, ReturnType<typeof paceOf>]> = [
    ['100 judgments in 2 s, 300 left', [{ done: 0, at: 0 }, { done: 100, at: 2000, total: 400 }], { perSecond: 50, secondsLeft: 6 }],
    ['from a first report mid-job', [{ done: 40, at: 1000 }, { done: 60, at: 5000, total: 100 }], { perSecond: 5, secondsLeft: 8 }],
    ['no total: a pace only', [{ done: 0, at: 0 }, { done: 7, at: 3000 }], { perSecond: 2.33 }],
    ['done: nothing left', [{ done: 0, at: 0 }, { done: 10, at: 1000, total: 10 }], { perSecond: 10, secondsLeft: 0 }],
    ['the same report: no pace yet', [{ done: 5, at: 1000 }, { done: 5, at: 1000, total: 10 }], {}],
    ['nothing done since', [{ done: 5, at: 0 }, { done: 5, at: 9000, total: 10 }], {}],
    ['under half a second apart: noise', [{ done: 0, at: 0 }, { done: 3, at: 400, total: 10 }], {}],
    ['a total below done (a job that miscounts): no time left given', [{ done: 0, at: 0 }, { done: 12, at: 2000, total: 10 }], { perSecond: 6 }],
    ['a clock that went back', [{ done: 0, at: 5000 }, { done: 3, at: 1000, total: 10 }], {}],
  ];
  for (const [name, args, want] of cases) assert.deepEqual(paceOf(...args), want, name);
});

test('formatJobProgress: the step part of the job name, the count, the percentage, the pace and the time left', () => {
  const running = { phase: 'running', jobName: 'weekly-2026-12-01-i1-train' };
  const cases: Array<[string, JobHeartbeat, string | null]> = [
    ['all of it', { ...running, done: 120, total: 216, unit: 'steps', perSecond: 3.1, secondsLeft: 31 }, 'train 120/216 steps (55%) · 3.1/s · ~31s left'],
    ['thousands, a fast pace', { ...running, jobName: 'r-i2-sample-shard-003', done: 1200, total: 3200, unit: 'judgments', perSecond: 41.2, secondsLeft: 49 }, 'sample-shard-003 1,200/3,200 judgments (37%) · 41/s · ~49s left'],
    ['no pace yet', { ...running, done: 0, total: 216, unit: 'steps' }, 'train 0/216 steps (0%)'],
    ['no total', { ...running, done: 5, unit: 'ticks', perSecond: 2 }, 'train 5 ticks · 2.0/s'],
    ['minutes left', { ...running, done: 1, total: 100, unit: 'steps', perSecond: 0.2, secondsLeft: 495 }, 'train 1/100 steps (1%) · 0.2/s · ~8m15s left'],
    ['not running yet', { phase: 'downloading', jobName: 'r-i1-train' }, null],
    ['running, no report yet', { phase: 'running', jobName: 'r-i1-train' }, null],
    ['a SageMaker poll (no counts)', { phase: 'running', jobName: 'r-i1-train', status: 'InProgress' }, null],
  ];
  for (const [name, heartbeat, want] of cases) assert.equal(formatJobProgress(heartbeat), want, name);
  assert.equal(jobLabel('a-run-with-i9-in-it-i12-evaluate-baselines'), 'evaluate-baselines');
  assert.equal(jobLabel('no-iteration-here'), 'no-iteration-here');
});

test('jobProgressLines: decodes each pending activity\'s last heartbeat, keeps the running jobs, skips what it cannot read', async () => {
  const encode = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);
  const pending = [
    { activityType: { name: 'trainJudge' }, heartbeatDetails: { payloads: [encode({ phase: 'running', jobName: 'r-i1-train', done: 10, total: 20, unit: 'steps', perSecond: 2, secondsLeft: 5 })] } },
    { activityType: { name: 'buildPairs' }, heartbeatDetails: { payloads: [encode({ inputs: 300 })] } },
    { activityType: { name: 'generateSampledJudgments' }, heartbeatDetails: null },
    { activityType: { name: 'generateEvaluationJudgments' }, heartbeatDetails: { payloads: [{ metadata: { encoding: new TextEncoder().encode('binary/encrypted') }, data: new Uint8Array([1, 2]) }] } },
  ];
  const lines = await jobProgressLines(pending, async (p) => defaultPayloadConverter.fromPayload(p));
  assert.deepEqual(lines, ['train 10/20 steps (50%) · 2.0/s · ~5s left']);
  assert.deepEqual(await jobProgressLines(null, async () => null), []);
});
