import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityCancellationDetails, CancelledFailure } from '@temporalio/common';
import { abortReason } from '../../activities/context';
import { shutdownGraceSeconds, stickyTimeoutSeconds } from '../../workers/main';
import { workerSlots } from '../../workers/judgeloop-worker';

test('abortReason: Temporal\'s cancellation details as one reason; a cancel request wins', () => {
  const cases: Array<[ConstructorParameters<typeof ActivityCancellationDetails>[0] | undefined, string]> = [
    [undefined, 'unknown'],
    [{}, 'unknown'],
    [{ cancelRequested: true }, 'cancel-requested'],
    [{ cancelRequested: true, workerShutdown: true }, 'cancel-requested'],
    [{ workerShutdown: true }, 'worker-shutdown'],
    [{ timedOut: true }, 'timed-out'],
    [{ notFound: true }, 'not-found'],
    [{ paused: true }, 'paused'],
    [{ reset: true }, 'reset'],
  ];
  for (const [options, want] of cases) {
    assert.equal(abortReason(options === undefined ? undefined : new ActivityCancellationDetails(options)), want, JSON.stringify(options));
  }
  // A worker shutting down cancels its activities with empty details; the signal's reason says why.
  const none = new ActivityCancellationDetails({});
  assert.equal(abortReason(none, new CancelledFailure('WORKER_SHUTDOWN')), 'worker-shutdown');
  assert.equal(abortReason(none, new CancelledFailure('TIMED_OUT')), 'timed-out');
  assert.equal(abortReason(none, new CancelledFailure('HEARTBEAT_DETAILS_CONVERSION_FAILED')), 'unknown');
  assert.equal(abortReason(new ActivityCancellationDetails({ cancelRequested: true }), new CancelledFailure('WORKER_SHUTDOWN')), 'cancel-requested');
});

test('shutdownGraceSeconds: 10 by default, a number of seconds otherwise, a clear error for anything else', () => {
  assert.equal(shutdownGraceSeconds({}), 10);
  assert.equal(shutdownGraceSeconds({ JUDGELOOP_SHUTDOWN_GRACE_SECONDS: '' }), 10);
  assert.equal(shutdownGraceSeconds({ JUDGELOOP_SHUTDOWN_GRACE_SECONDS: '0' }), 0);
  assert.equal(shutdownGraceSeconds({ JUDGELOOP_SHUTDOWN_GRACE_SECONDS: '2.5' }), 2.5);
  for (const bad of ['-1', 'ten', '10s']) {
    assert.throws(() => shutdownGraceSeconds({ JUDGELOOP_SHUTDOWN_GRACE_SECONDS: bad }), new RegExp(`JUDGELOOP_SHUTDOWN_GRACE_SECONDS must be a number of seconds \\(0 or more\\), got "${bad}"`));
  }
});

test('stickyTimeoutSeconds: 10 by default, more than 0 seconds otherwise, a clear error for anything else', () => {
  assert.equal(stickyTimeoutSeconds({}), 10);
  assert.equal(stickyTimeoutSeconds({ JUDGELOOP_STICKY_TIMEOUT_SECONDS: '' }), 10);
  assert.equal(stickyTimeoutSeconds({ JUDGELOOP_STICKY_TIMEOUT_SECONDS: '0.5' }), 0.5);
  for (const bad of ['0', '-1', 'ten', '10s']) {
    assert.throws(() => stickyTimeoutSeconds({ JUDGELOOP_STICKY_TIMEOUT_SECONDS: bad }), new RegExp(`JUDGELOOP_STICKY_TIMEOUT_SECONDS must be a number of seconds \\(more than 0\\), got "${bad}"`));
  }
});

test('workerSlots: data steps and jobs apart; JUDGELOOP_MAX_ACTIVITIES still sets the jobs; a clear error for anything else', () => {
  const cases: Array<[NodeJS.ProcessEnv, { dataSteps: number; jobs: number }]> = [
    [{}, { dataSteps: 4, jobs: 2 }],
    [{ JUDGELOOP_MAX_JOBS: '1' }, { dataSteps: 4, jobs: 1 }],
    [{ JUDGELOOP_MAX_ACTIVITIES: '1' }, { dataSteps: 4, jobs: 1 }],
    [{ JUDGELOOP_MAX_ACTIVITIES: '1', JUDGELOOP_MAX_JOBS: '3' }, { dataSteps: 4, jobs: 3 }],
    [{ JUDGELOOP_MAX_DATA_STEPS: ' 8 ', JUDGELOOP_MAX_JOBS: '' }, { dataSteps: 8, jobs: 2 }],
  ];
  for (const [env, want] of cases) assert.deepEqual(workerSlots(env), want, JSON.stringify(env));
  for (const [name, bad] of [['JUDGELOOP_MAX_JOBS', '0'], ['JUDGELOOP_MAX_DATA_STEPS', '2.5'], ['JUDGELOOP_MAX_ACTIVITIES', 'two']]) {
    assert.throws(() => workerSlots({ [name]: bad }), new RegExp(`${name} must be a whole number of at least 1, got "${bad}"`));
  }
});
