/** bench/orchestration-figures.ts on hand-made histories: spans, covered time, job-step and workflow figures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import { activitySpans, coveredSeconds, jobStepFigures, workflowFigures } from '../../bench/orchestration-figures';

/**
 * A history from [at seconds, event attributes] in order, ids from 1, starting at an arbitrary epoch. Ids and
 * seconds are plain numbers where the server's are Longs: the functions read both through String() / Number().
 */
function history(events: Array<[number, Record<string, unknown>]>): temporal.api.history.v1.IHistory {
  const epoch = 1_780_000_000;
  const built = events.map(([at, attrs], i) => ({ eventId: i + 1, eventTime: { seconds: epoch + Math.floor(at), nanos: Math.round((at % 1) * 1e9) }, ...attrs }));
  return { events: built } as unknown as temporal.api.history.v1.IHistory;
}

const scheduled = (type: string) => ({ activityTaskScheduledEventAttributes: { activityType: { name: type } } });
const started = (scheduledEventId: number, attempt = 1) => ({ activityTaskStartedEventAttributes: { scheduledEventId, attempt } });
const completed = (scheduledEventId: number) => ({ activityTaskCompletedEventAttributes: { scheduledEventId } });

// An iteration: render (data step), sample job, train job retried once, then two evaluation jobs at once.
const iteration = history([
  [0, { workflowExecutionStartedEventAttributes: {} }],
  [0.1, scheduled('renderSampleRequests')], // 2
  [0.2, started(2)],
  [1.2, completed(2)],
  [1.5, scheduled('generateSampledJudgments')], // 5
  [1.6, started(5)],
  [11.6, completed(5)],
  [12.0, scheduled('trainJudge')], // 8
  [20.0, started(8, 2)], // the second attempt
  [40.0, completed(8)],
  [40.5, scheduled('generateEvaluationJudgments')], // 11
  [40.5, scheduled('generateBaselineJudgments')], // 12
  [40.6, started(11)],
  [40.7, started(12)],
  [45.6, completed(11)],
  [48.7, completed(12)],
  [50.0, { workflowExecutionCompletedEventAttributes: {} }],
]);

test('activitySpans: each completed activity with its last attempt, in seconds from the first event', () => {
  const spans = activitySpans(iteration);
  assert.deepEqual(
    spans.map((s) => [s.type, s.attempt, +s.scheduled.toFixed(3), +s.started.toFixed(3), +s.completed.toFixed(3)]),
    [
      ['renderSampleRequests', 1, 0.1, 0.2, 1.2],
      ['generateSampledJudgments', 1, 1.5, 1.6, 11.6],
      ['trainJudge', 2, 12, 20, 40],
      ['generateEvaluationJudgments', 1, 40.5, 40.6, 45.6],
      ['generateBaselineJudgments', 1, 40.5, 40.7, 48.7],
    ],
  );
});

test('coveredSeconds: overlapping intervals count once, gaps not at all, empty ones are ignored', () => {
  const cases: Array<[Array<[number, number]>, number]> = [
    [[], 0],
    [[[0, 1]], 1],
    [[[0, 1], [2, 3]], 2],
    [[[0, 2], [1, 3]], 3],
    [[[1, 3], [0, 2]], 3],
    [[[0, 10], [2, 3], [4, 5]], 10],
    [[[0, 1], [1, 2]], 2],
    [[[5, 5], [3, 2]], 0],
  ];
  for (const [intervals, want] of cases) assert.equal(coveredSeconds(intervals), want, JSON.stringify(intervals));
});

test('jobStepFigures and workflowFigures: each job step against its job, the time outside activities, events and payloads', () => {
  const jobs: Record<string, number> = { sample: 9.5, train: 19.0, evaluate: 4.5 }; // no record for the baselines
  const steps = jobStepFigures(activitySpans(iteration), (job) => jobs[job]);
  assert.deepEqual(
    steps.map((s) => [s.activity, s.job, +s.stepSeconds.toFixed(3), s.jobSeconds, s.overheadSeconds === null ? null : +s.overheadSeconds.toFixed(3)]),
    [
      ['generateSampledJudgments', 'sample', 10.1, 9.5, 0.6],
      ['trainJudge', 'train', 28, 19, 9], // the failed attempt and the retry's wait count as overhead
      ['generateEvaluationJudgments', 'evaluate', 5.1, 4.5, 0.6],
      ['generateBaselineJudgments', 'evaluate-baselines', 8.2, null, null],
    ],
  );
  const figures = workflowFigures(iteration, steps, [120, 4000, 300]);
  assert.equal(figures.wallSeconds, 50);
  // Inside activities: 0.2–1.2, 1.6–11.6, 20–40, 40.6–48.7 = 1 + 10 + 20 + 8.1 = 39.1 s.
  assert.equal(+figures.outsideActivitiesSeconds.toFixed(3), 10.9);
  assert.equal(+figures.jobStepOverheadSeconds.toFixed(3), 10.2);
  assert.equal(+figures.overheadShare.toFixed(3), 0.422);
  assert.equal(figures.events, 17);
  assert.equal(figures.largestPayloadBytes, 4000);
});
