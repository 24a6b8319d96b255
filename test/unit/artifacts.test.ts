import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JOB_NAME, jobName, joinUri, parseS3Uri, runPrefixUri, stepPrefix } from '../../core/run/artifacts';

test('jobName is deterministic, SageMaker-valid and at most 63 characters', () => {
  const cases: Array<[string, number, string, string]> = [
    ['judgeloop-local-demo-20261128-101500', 1, 'train', 'judgeloop-local-demo-20261128-101500-i1-train'],
    ['run_with.odd/chars', 0, 'evaluate', 'run-with-odd-chars-i0-evaluate'],
  ];
  for (const [runId, iteration, step, expected] of cases) {
    assert.equal(jobName(runId, iteration, step), expected);
  }
  const long = 'judgeloop-' + 'x'.repeat(120);
  const a = jobName(long, 12, 'sample');
  assert.ok(a.length <= MAX_JOB_NAME, a);
  assert.match(a, /^[A-Za-z0-9][A-Za-z0-9-]*$/);
  assert.ok(a.endsWith('-i12-sample'));
  assert.equal(jobName(long, 12, 'sample'), a, 'same inputs, same name');
  assert.notEqual(jobName(long + 'y', 12, 'sample'), a, 'distinct long run ids stay distinct');
});

test('S3 URIs are parsed and joined with single slashes', () => {
  assert.deepEqual(parseS3Uri('s3://bucket/a/b.jsonl'), { bucket: 'bucket', key: 'a/b.jsonl' });
  assert.deepEqual(parseS3Uri('s3://bucket'), { bucket: 'bucket', key: '' });
  assert.throws(() => parseS3Uri('/local/path'), /not an s3:\/\/ URI/);
  assert.equal(joinUri('s3://b/runs/', '/iter-1/', 'sample'), 's3://b/runs/iter-1/sample');
  const run = runPrefixUri({ bucket: 'b', prefix: 'runs' }, 'r1');
  assert.equal(run, 's3://b/runs/r1');
  assert.equal(stepPrefix(run, 2, 'pair'), 's3://b/runs/r1/iter-2/pair');
  assert.equal(runPrefixUri({ bucket: 'b', prefix: '' }, 'r1'), 's3://b/r1');
});
