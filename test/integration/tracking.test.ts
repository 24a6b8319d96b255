/**
 * A tracker that is down never fails a run (docs/tracking.md): a tiny run on the real services and jobs whose
 * config points at an MLflow server that does not answer completes, records what it could not send, and its
 * report says so with the command that sends it; that command, once a real MLflow server answers, sends it.
 * (The tracked path, read back through MLflow's REST API, is in e2e.test.ts.) And the signature of the requests
 * to SageMaker's managed MLflow, against botocore's.
 */
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import { joinUri } from '../../core/run/artifacts';
import type { TrackingStatus } from '../../activities/tracking/send-records';
import { TINY_DATA, createTestWorker, storeFor, summaryOf, testConfig, useTestStack } from '../support/judgeloop';
import { freePort } from '../support/services';
import { experimentRuns, metricHistory, startTestMlflow, tagOf } from '../support/mlflow';
import { main } from '../../cli/judgeloop';
import { payloadHash, signRequest, type RequestToSign } from '../../activities/tracking/sigv4';
import { mlflowVenv } from '../../stack/stack';
import { PROJECT_ROOT } from '../../stack/worker';

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

/** botocore's SigV4 (what the sagemaker-mlflow plugin signs with), run in the MLflow server's venv at a fixed time. */
const BOTOCORE_SIGN = `
import datetime, json, sys
from unittest import mock
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
q = json.load(sys.stdin)
r = AWSRequest(method=q["method"], url=q["url"], data=q["body"].encode(), headers=q["headers"])
with mock.patch("botocore.auth.get_current_datetime", return_value=datetime.datetime(2026, 12, 3, 8, 0, 0)):
    SigV4Auth(Credentials(q["ak"], q["sk"], q["token"]), q["service"], q["region"]).add_auth(r)
print(r.headers["Authorization"])
`;

test("the worker signs a managed MLflow's requests as botocore (the sagemaker-mlflow plugin's signer) does", () => {
  const python = path.join(mlflowVenv(PROJECT_ROOT), 'bin', 'python');
  const arn = 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-tracking-server/judges';
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session/token+=' };
  const body = JSON.stringify({ experiment_ids: ['1'], filter: "tags.`judgeloop.run_id` = 'run 1'" });
  const requests: RequestToSign[] = [
    { method: 'POST', url: 'https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/runs/search', headers: { 'content-type': 'application/json', 'x-mlflow-sm-tracking-server-arn': arn, 'x-amz-content-sha256': payloadHash(body) }, body },
    { method: 'GET', url: 'https://us-east-1.experiments.sagemaker.aws/api/2.0/mlflow/experiments/get-by-name?experiment_name=judgeloop%2Ftiny%20judge', headers: { 'x-mlflow-sm-tracking-server-arn': arn, 'x-amz-content-sha256': payloadHash('') }, body: '' },
  ];
  for (const req of requests) {
    const ours = signRequest(req, 'us-east-1', 'sagemaker-mlflow', credentials, new Date('2026-12-03T08:00:00Z')).authorization;
    const input = JSON.stringify({ ...req, ak: credentials.accessKeyId, sk: credentials.secretAccessKey, token: credentials.sessionToken, service: 'sagemaker-mlflow', region: 'us-east-1' });
    const theirs = execFileSync(python, ['-c', BOTOCORE_SIGN], { input }).toString().trim();
    assert.equal(ours, theirs, req.method);
  }
});
