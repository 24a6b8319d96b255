/** The pure parts of cross-run step reuse: where a step sits in its run, moving URIs, addressing inputs by content. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentInputs, placeInRun, rebaseUris } from '../../activities/storage/step-reuse';
import { cacheIndexUri } from '../../core/run/artifacts';

const rebaseCases: [string, unknown, unknown][] = [
  ['the prefix itself', 's3://b/runs/a/iter-1/score', 's3://b/runs/z/iter-1/score'],
  ['an object under it', 's3://b/runs/a/iter-1/score/data/j.jsonl', 's3://b/runs/z/iter-1/score/data/j.jsonl'],
  ['a sibling sharing the name as a prefix stays', 's3://b/runs/a/iter-1/score-old/x', 's3://b/runs/a/iter-1/score-old/x'],
  ['another step of the old run stays', 's3://b/runs/a/iter-1/sample/job/model', 's3://b/runs/a/iter-1/sample/job/model'],
  ['numbers and nulls stay', { n: 3, none: null, ok: true }, { n: 3, none: null, ok: true }],
  [
    'nested objects and arrays',
    { uri: 's3://b/runs/a/iter-1/score/data/j.jsonl', curation: { uris: ['s3://b/runs/a/iter-1/score/c.json', 'elsewhere'] } },
    { uri: 's3://b/runs/z/iter-1/score/data/j.jsonl', curation: { uris: ['s3://b/runs/z/iter-1/score/c.json', 'elsewhere'] } },
  ],
];

for (const [name, value, expected] of rebaseCases) {
  test(`rebaseUris: ${name}`, () => {
    assert.deepEqual(rebaseUris(value, 's3://b/runs/a/iter-1/score/', 's3://b/runs/z/iter-1/score'), expected);
  });
}

test('placeInRun: the step prefix relative to its run; a prefix outside the run is kept whole', () => {
  assert.equal(placeInRun('s3://b/runs/a', 's3://b/runs/a/iter-1/sample/requests'), 'iter-1/sample/requests');
  assert.equal(placeInRun('s3://b/runs/a/', 's3://b/runs/a/iter-0/evaluate/metrics'), 'iter-0/evaluate/metrics');
  assert.equal(placeInRun('s3://b/runs/a', 's3://b/runs/ab/iter-1/score'), 's3://b/runs/ab/iter-1/score');
});

test('cacheIndexUri: under the storage prefix, or at the bucket root without one', () => {
  assert.equal(cacheIndexUri({ bucket: 'b', prefix: 'judgeloop' }, 'steps'), 's3://b/judgeloop/cache/steps');
  assert.equal(cacheIndexUri({ bucket: 'b', prefix: '' }, 'steps'), 's3://b/cache/steps');
  assert.equal(cacheIndexUri({ bucket: 'b', prefix: 'judgeloop' }, 'jobs'), 's3://b/judgeloop/cache/jobs');
});

test('contentInputs: S3 URIs at any depth become the content they name; other values stay', async () => {
  // Two runs' copies of the same folder and file, and a third run whose file differs.
  const folders: Record<string, { key: string; size: number; etag: string }[]> = {
    's3://b/runs/a/models/seed': [{ key: 'w.bin', size: 9, etag: '"w"' }],
    's3://b/runs/b/models/seed': [{ key: 'w.bin', size: 9, etag: '"w"' }],
    's3://b/runs/c/models/seed': [{ key: 'w.bin', size: 9, etag: '"w"' }],
  };
  const files: Record<string, { size: number; etag: string }> = {
    's3://b/runs/a/data/train.jsonl': { size: 5, etag: '"t"' },
    's3://b/runs/b/data/train.jsonl': { size: 5, etag: '"t"' },
    's3://b/runs/c/data/train.jsonl': { size: 5, etag: '"CHANGED"' },
  };
  let uris = 0;
  const store = {
    async list(uri: string) {
      return (folders[uri] ?? []).map((o) => ({ ...o, uri: `${uri}/${o.key}` }));
    },
    async stat(uri: string) {
      return files[uri] ?? null;
    },
  };
  const inputs = (run: string) => ({ model: `s3://b/runs/${run}/models/seed`, suites: [`s3://b/runs/${run}/data/train.jsonl`], judge: { name: 'j', scale: { min: 1, max: 5 } }, seed: 7, none: null });
  const a = await contentInputs(store, inputs('a'), () => uris++);
  assert.equal(uris, 2, 'each URI looked up once');
  assert.deepEqual(await contentInputs(store, inputs('b')), a, 'the same content under other URIs');
  assert.notDeepEqual(await contentInputs(store, inputs('c')), a, 'one file differs');
  assert.deepEqual((a as { judge: unknown; seed: number; none: null }).judge, { name: 'j', scale: { min: 1, max: 5 } });
  const missing = await contentInputs(store, { raw: 's3://b/runs/a/nothing.jsonl' });
  assert.notDeepEqual(missing, await contentInputs(store, { raw: 's3://b/runs/a/data/train.jsonl' }), 'an absent object is not any present one');
});
