/**
 * A tracker that is down never fails a run (docs/tracking.md): a tiny run on the real services and jobs whose
 * config points at an MLflow server that does not answer completes, records what it could not send, and its
 * report says so with the command that sends it; that command, once a real MLflow server answers, sends it.
 * (The tracked path, read back through MLflow's REST API, is in e2e.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import { joinUri } from '../../core/run/artifacts';
import type { TrackingStatus } from '../../activities/tracking/send-records';
import { TINY_DATA, createTestWorker, storeFor, summaryOf, testConfig, useTestStack } from '../support/judgeloop';
import { freePort } from '../support/services';
import { experimentRuns, metricHistory, startTestMlflow, tagOf } from '../support/mlflow';
import { main } from '../../cli/judgeloop';

const stack = useTestStack();

test('with the tracker down the run completes, records what was not sent, says so in its report, and `judgeloop track` sends it later', { timeout: 15 * 60_000 }, async () => {
  const taskQueue = 'tracking';
  const workflowId = `tracker-down-${Date.now().toString(36)}`;
  const down = `http://127.0.0.1:${await freePort()}`;
  const config = testConfig(stack.services, {
    data: TINY_DATA,
    loop: { iterations: 1, inputsPerIteration: 8, samplesPerInput: 2 },
    training: { epochs: 1 },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
    registry: { enabled: false },
    tracking: { mlflow: { trackingUri: down, requestTimeoutSeconds: 2 } },
  } as Parameters<typeof testConfig>[1]);
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const summary = await worker.runUntil(async () =>
    summaryOf(stack.services, await (await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [config] })).result()),
  );
  assert.deepEqual(summary.iterations.map((i) => i.iteration), [0, 1], 'the run completed both iterations');
  assert.ok(summary.iterations[1].train!.steps > 0, 'and trained, its loss curve untracked');

  const store = storeFor(stack.services);
  const status = await store.getJson<TrackingStatus>(joinUri(summary.runPrefixUri, 'tracking', 'mlflow.json'));
  assert.ok(status, 'tracking/mlflow.json records the sends');
  assert.equal(status.trackingUri, down);
  assert.deepEqual(status.tracked, []);
  assert.deepEqual(status.untracked.map((u) => u.iteration), [0, 1]);
  assert.match(status.untracked[0].reason, new RegExp(`^the MLflow tracking server at ${down.replace(/\./g, '\\.')} cannot be reached \\(ECONNREFUSED\\)$`));
  const html = (await store.getBytes(joinUri(summary.runPrefixUri, 'report', 'report.html')))!.toString('utf8');
  assert.match(html, new RegExp(`Not in the experiment tracker: iterations 0, 1 \\(the MLflow tracking server at .* cannot be reached \\(ECONNREFUSED\\)\\)\\. Send them with: judgeloop track ${workflowId}`));

  // The tracker is back (here: another address): one command sends the whole run.
  const mlflow = await startTestMlflow(stack.services);
  try {
    let out = '';
    let err = '';
    const rc = await main(['track', workflowId, '--tracking-uri', mlflow.url, '--address', stack.services.temporalAddress], {
      out: { write: (s: string) => ((out += s), true) },
      err: { write: (s: string) => ((err += s), true) },
      env: process.env,
    });
    assert.equal(rc, 0, err);
    assert.match(out, new RegExp(`run ${workflowId}: iterations 0, 1 are in MLflow experiment "judgeloop/${summary.judgeName}" at ${mlflow.url.replace(/\./g, '\\.')}`));
    const runs = (await experimentRuns(mlflow.url, `judgeloop/${summary.judgeName}`))!;
    const parent = runs.find((r) => tagOf(r, 'judgeloop.kind') === 'run')!;
    assert.equal(parent.info.status, 'FINISHED');
    assert.deepEqual(runs.filter((r) => r.info.run_id !== parent.info.run_id).map((r) => r.info.run_name).sort(), ['iteration-0', 'iteration-1']);
    assert.deepEqual((await metricHistory(mlflow.url, parent.info.run_id, 'pairs/pairs')).map((m) => [m.step, m.value]), [[1, summary.iterations[1].pairs!.pairs]]);
    const resent = await store.getJson<TrackingStatus>(joinUri(summary.runPrefixUri, 'tracking', 'mlflow.json'));
    assert.deepEqual([resent?.tracked, resent?.untracked], [[0, 1], []], 'tracking/mlflow.json says it is all there now');
  } finally {
    await mlflow.stop();
    store.client.destroy();
  }
});
