/**
 * The run's config is resolved outside workflow code: an activity validates it (schema defaults filled) and
 * fills its dated data locations, and the history records the result. A new run's history then replays
 * with workflow code in which validating or dating a config throws; a history recorded before the change
 * (validated in the workflow) still replays with the real code, through its patch guard.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, ApplicationFailure } from '@temporalio/common';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import webpack from 'webpack';
import type { temporal } from '@temporalio/proto';
import { selfRationalizationRun } from '../../workflows';
import { CONFIG_OUTSIDE_WORKFLOW_PATCH } from '../../workflows/run';
import { readHistoryFile, replayHistories } from '../../workers/replay';
import type { ResolvedRunConfig } from '../../activities/steps/config';
import { createTestWorker, testConfig, useTestStack } from '../support/judgeloop';

const stack = useTestStack();
const WORKFLOWS = path.resolve(__dirname, '../../workflows');

/** The workflows with core/config/config's validateConfig and core/config/schedule's withDatedData replaced by throwing stubs. */
let guarded: WorkflowBundleWithSourceMap;
before(async () => {
  const stub = require.resolve('../support/no-config-in-workflow');
  guarded = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    webpackConfigHook: (config) => ({
      ...config,
      plugins: [
        ...(config.plugins ?? []),
        new webpack.NormalModuleReplacementPlugin(/\/core\/config\/(config|schedule)$/, (resource: { request: string; context: string }) => {
          if (resource.context.startsWith(WORKFLOWS)) resource.request = stub;
        }),
      ],
    }),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) },
  });
});

type History = temporal.api.history.v1.IHistory;

/** The results of an activity type recorded in a history (its ActivityTaskCompleted events), decoded. */
function activityResults(history: History, activityType: string): unknown[] {
  const events = history.events ?? [];
  const scheduled = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => Number(e.eventId)),
  );
  return events
    .filter((e) => e.activityTaskCompletedEventAttributes && scheduled.has(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)))
    .map((e) => {
      const payload = e.activityTaskCompletedEventAttributes!.result!.payloads![0];
      return defaultPayloadConverter.fromPayload(payload as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
    });
}

test('a new run records its resolved config (defaults, dated data) and replays without validating or dating in workflow code', { timeout: 5 * 60_000 }, async () => {
  const taskQueue = 'config-outside';
  const workflowId = `config-outside-${Date.now()}`;
  const raw = testConfig(stack.services, {
    loop: { iterations: 0 },
    data: { train: { uri: `s3://${stack.services.s3.bucket}/dated/{date}/train.jsonl` } },
  }) as Record<string, unknown>;
  delete raw.timeouts; // filled by the schema's defaults, in the activity
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const history = await worker.runUntil(async () => {
    const handle = await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [raw] });
    // The dated file does not exist: prepare fails, non-retryably, after the config was resolved.
    await assert.rejects(handle.result(), (err) => {
      assert.ok(err instanceof WorkflowFailedError);
      const cause = err.cause as (Error & { cause?: Error }) | undefined;
      assert.match(`${cause?.message} ${cause?.cause?.message}`, /dataset not found: .*\/dated\/\d{4}-\d{2}-\d{2}\/train\.jsonl/);
      return true;
    });
    return handle.fetchHistory();
  });

  const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes);
  const patchMarker = markers.find((e) => e.markerRecordedEventAttributes!.markerName === 'core_patch');
  assert.ok(patchMarker, 'the patch marker is recorded');
  const [resolved] = activityResults(history, 'resolveRunConfig') as ResolvedRunConfig[];
  assert.ok(resolved?.ok, 'the resolved config is the recorded result of resolveRunConfig');
  // A regular activity, not a local one (workflows/run.ts CONFIG_ACTIVITY_PATCH): its result starts a workflow
  // task of its own, so the code after it runs in the same task in the run and in every replay.
  assert.deepEqual(markers.filter((e) => e.markerRecordedEventAttributes!.markerName === 'core_local_activity'), [], 'no local activity');
  assert.equal(resolved.config.timeouts.jobTimeoutMinutes, 24 * 60, 'the default filled in outside the workflow, and recorded');
  const today = new Date().toISOString().slice(0, 10);
  assert.match(resolved.config.data.train.uri, new RegExp(`/dated/(${today}|\\d{4}-\\d{2}-\\d{2})/train\\.jsonl$`));
  assert.ok(!resolved.config.data.train.uri.includes('{date}'));

  const [outcome] = await replayHistories([{ workflowId, history, source: 'recorded now' }], guarded);
  assert.equal(outcome.deterministic, true, outcome.error);
});

test(`the stubs bite: a run recorded before ${CONFIG_OUTSIDE_WORKFLOW_PATCH} validated in workflow code, so it fails to replay with them (with the real code it replays: replay.test.ts)`, { timeout: 5 * 60_000 }, async () => {
  const file = path.resolve(__dirname, '../histories/with-usage-and-report');
  const { readdirSync, readFileSync } = await import('node:fs');
  const manifest = JSON.parse(readFileSync(path.join(file, 'manifest.json'), 'utf8')) as { histories: { scenario: string; workflowId: string; files: string[] }[] };
  const run = manifest.histories.find((h) => h.scenario === 'default')!;
  const runFile = run.files.find((f) => !/-iter-\d+/.test(f))!;
  assert.ok(readdirSync(file).includes(path.basename(runFile)));
  const old = await readHistoryFile(path.join(file, runFile));
  const [stubbed] = await replayHistories([old], guarded);
  assert.equal(stubbed.deterministic, false);
  assert.match(stubbed.error ?? '', /validateConfig ran in workflow code/);
});

test('an invalid config still fails the run with a ConfigError that names the field', { timeout: 2 * 60_000 }, async () => {
  const taskQueue = 'config-outside-invalid';
  const raw = testConfig(stack.services, { loop: { iterations: -1 } } as Parameters<typeof testConfig>[1]);
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  await worker.runUntil(async () => {
    const handle = await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: `config-invalid-${Date.now()}`, args: [raw] });
    await assert.rejects(handle.result(), (err) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'ConfigError');
      assert.match(err.cause.message, /loop\.iterations/);
      return true;
    });
  });
});
