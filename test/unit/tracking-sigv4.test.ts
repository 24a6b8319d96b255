/**
 * activities/tracking/sigv4.ts and the managed-MLflow path of activities/tracking/mlflow-client.ts. SageMaker's
 * managed MLflow cannot run here: a local HTTP server stands in for its endpoint and records what arrives.
 * (The signature is checked against botocore's, which the sagemaker-mlflow plugin uses, in
 * test/integration/tracking.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { amzDate, canonicalQuery, payloadHash, signRequest } from '../../activities/tracking/sigv4';
import { MlflowClient, TrackerError, managedMlflowOf } from '../../activities/tracking/mlflow-client';
import { MlflowTrackingConfig } from '../../core/config/config';

const EXAMPLE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/judges';

test("SigV4: AWS's documented example request signs to its documented signature", () => {
  const headers = signRequest(
    { method: 'GET', url: 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08', headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: '' },
    'us-east-1',
    'iam',
    EXAMPLE,
    new Date('2015-08-30T12:36:00Z'),
  );
  assert.equal(
    headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
  );
  assert.equal(headers['x-amz-date'], '20150830T123600Z');
  assert.equal(amzDate(new Date('2026-12-03T08:00:00.123Z')), '20261203T080000Z');
  assert.equal(canonicalQuery(new URLSearchParams('b=2&a=x y&a=1&c=%2F')), 'a=1&a=x%20y&b=2&c=%2F');
  const withToken = signRequest({ method: 'POST', url: 'https://h/x', headers: {}, body: '{}' }, 'us-east-1', 's', { ...EXAMPLE, sessionToken: 'T' });
  assert.equal(withToken['x-amz-security-token'], 'T');
  assert.match(withToken.authorization, /SignedHeaders=host;x-amz-date;x-amz-security-token,/);
});

test('managed MLflow ARNs: the endpoint, signing service and header of each kind; anything else is a plain URL', () => {
  const cases: Array<[string, ReturnType<typeof managedMlflowOf>]> = [
    [ARN, { arn: ARN, region: 'eu-west-1', service: 'sagemaker-mlflow', header: 'x-mlflow-sm-tracking-server-arn', endpoint: 'https://eu-west-1.experiments.sagemaker.aws' }],
    [
      'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-1',
      { arn: 'arn:aws:sagemaker:us-east-1:123456789012:mlflow-app/app-1', region: 'us-east-1', service: 'sagemaker', header: 'x-sm-mlflow-app-arn', endpoint: 'https://us-east-1.experiments.sagemaker.aws' },
    ],
    ['http://127.0.0.1:5000', null],
    ['arn:aws:sagemaker:us-east-1:123456789012:training-job/x', null],
  ];
  for (const [uri, want] of cases) assert.deepEqual(managedMlflowOf(uri), want, uri);
  assert.equal(managedMlflowOf(ARN, 'https://vpce.example/')?.endpoint, 'https://vpce.example');
  for (const [uri, ok] of [[ARN, true], ['https://mlflow.example.com', true], ['mlflow.example.com', false], ['arn:aws:sagemaker:us-east-1:1:mlflow-tracking-server/x', false]] as const) {
    assert.equal(MlflowTrackingConfig.safeParse({ trackingUri: uri }).success, ok, uri);
  }
});

test('a managed MLflow gets each request signed, with its ARN header and body hash, at its endpoint', async () => {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      res.end(req.url!.includes('get-by-name') ? JSON.stringify({ experiment: { experiment_id: '7' } }) : JSON.stringify({ run: { info: { run_id: 'r1', experiment_id: '7', status: 'RUNNING' } } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const client = new MlflowClient(ARN, 5000, { credentials: async () => ({ ...EXAMPLE, sessionToken: 'TOKEN' }), customEndpoint: endpoint });
    assert.equal(client.uri, ARN, 'the ARN is what the training jobs get');
    assert.equal(await client.experimentId('judgeloop/tiny judge'), '7');
    await client.createRun('7', 1, { 'judgeloop.run_id': 'r' });
    const [get, post] = seen;
    assert.equal(get.url, '/api/2.0/mlflow/experiments/get-by-name?experiment_name=judgeloop%2Ftiny%20judge', 'spaces as %20, as signed');
    for (const r of [get, post]) {
      assert.equal(r.headers['x-mlflow-sm-tracking-server-arn'], ARN);
      assert.equal(r.headers['x-amz-security-token'], 'TOKEN');
      assert.equal(r.headers['x-amz-content-sha256'], payloadHash(r.body));
      assert.match(String(r.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sagemaker-mlflow\/aws4_request, SignedHeaders=[a-z0-9;-]*x-mlflow-sm-tracking-server-arn, Signature=[0-9a-f]{64}$/);
      // What arrived signs to the same signature: the request sent is the request signed.
      const signed = String(r.headers['x-amz-date']);
      const at = new Date(`${signed.slice(0, 4)}-${signed.slice(4, 6)}-${signed.slice(6, 8)}T${signed.slice(9, 11)}:${signed.slice(11, 13)}:${signed.slice(13, 15)}Z`);
      const names = /SignedHeaders=([^,]+)/.exec(String(r.headers.authorization))![1].split(';').filter((n) => !['host', 'x-amz-date', 'x-amz-security-token'].includes(n));
      const again = signRequest(
        { method: r.method, url: `https://${r.headers.host}${r.url}`, headers: Object.fromEntries(names.map((n) => [n, String(r.headers[n])])), body: r.body },
        'eu-west-1',
        'sagemaker-mlflow',
        { ...EXAMPLE, sessionToken: 'TOKEN' },
        at,
      );
      assert.equal(again.authorization, r.headers.authorization);
    }
    assert.equal(JSON.parse(post.body).experiment_id, '7');

    const noCredentials = new MlflowClient(ARN, 5000, { credentials: async () => Promise.reject(new Error('no role')), customEndpoint: endpoint });
    await assert.rejects(noCredentials.experimentId('x'), (err: unknown) => err instanceof TrackerError && err.code === 'NO_CREDENTIALS' && /no AWS credentials to sign the requests to arn:aws:sagemaker/.test(err.message));
  } finally {
    server.close();
  }
});

test("a managed MLflow's run is named with how to open its UI (a presigned URL), a plain server's by its page", () => {
  assert.equal(new MlflowClient('http://127.0.0.1:5000/').runUrl('1', 'abc'), 'http://127.0.0.1:5000/#/experiments/1/runs/abc');
  assert.equal(
    new MlflowClient(ARN).runUrl('1', 'abc'),
    `${ARN} #/experiments/1/runs/abc (open the UI with: aws sagemaker create-presigned-mlflow-tracking-server-url --tracking-server-name judges --region eu-west-1)`,
  );
});
