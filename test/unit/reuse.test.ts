/**
 * activities/storage/reuse.ts without S3: where a step sits in its run, moving URIs, addressing steps and jobs
 * by content, and the job runner's reuse against an in-memory store. (test/integration/step-reuse.test.ts and
 * reuse.test.ts cover the same rules on the S3 server and in whole runs.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentAddress, contentInputs, jobAddress, placeInRun, rebaseUris, reusingRunner, workAddress, type ReusableJob } from '../../activities/storage/reuse';
import type { ObjectStore } from '../../activities/storage/object-store';
import type { JobContext, JobResult, JobRunner, JobSpec } from '../../activities/jobs/types';
import { cacheIndexUri } from '../../core/run/artifacts';
import { memoryStore } from '../support/memory-store';

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

test('jobAddress: the same inputs anywhere give the same address; any input change gives another', async () => {
  const listing: Record<string, { key: string; size: number; etag?: string }[]> = {
    's3://b/runs/a/models/seed': [{ key: 'config.json', size: 10, etag: '"e1"' }, { key: 'model.safetensors', size: 99, etag: '"e2"' }],
    's3://b/runs/b/models/seed': [{ key: 'model.safetensors', size: 99, etag: '"e2"' }, { key: 'config.json', size: 10, etag: '"e1"' }, { key: '_job.json', size: 5, etag: '"x"' }],
    's3://b/runs/c/models/seed': [{ key: 'config.json', size: 10, etag: '"e1"' }, { key: 'model.safetensors', size: 99, etag: '"CHANGED"' }],
    's3://b/runs/a/iter-1/sample/requests/data': [{ key: 'requests.jsonl', size: 7, etag: '"r"' }],
    's3://b/runs/b/iter-1/sample/requests/data': [{ key: 'requests.jsonl', size: 7, etag: '"r"' }],
  };
  const store = {
    async stat() {
      return null;
    },
    async list(prefix: string) {
      return (listing[prefix] ?? []).map((o) => ({ ...o, uri: `${prefix}/${o.key}`, key: `${prefix.slice('s3://b/'.length)}/${o.key}` }));
    },
  };
  const spec = (run: string, hps: Record<string, number> = { num_samples: 4 }) => ({
    jobName: `${run}-i1-sample`,
    entryPoint: 'generate.py',
    channels: { model: `s3://b/runs/${run}/models/seed`, requests: `s3://b/runs/${run}/iter-1/sample/requests/data` },
    hyperparameters: hps,
    outputUri: `s3://b/runs/${run}/iter-1/sample/job`,
  });
  const local = { backend: 'local' } as const;
  const a = await jobAddress(store, spec('a'), 'code1', local);
  assert.equal(await jobAddress(store, spec('b'), 'code1', local), a, 'other run, same content (order and _-files ignored)');
  assert.notEqual(await jobAddress(store, spec('b'), 'code2', local), a, 'other jobs/ code');
  assert.notEqual(await jobAddress(store, spec('b', { num_samples: 8 }), 'code1', local), a, 'other hyperparameters');
  assert.notEqual(await jobAddress(store, { ...spec('b'), channels: { ...spec('b').channels, model: 's3://b/runs/c/models/seed' } }, 'code1', local), a, 'other model bytes');
  const image = (tag: string) => ({ backend: 'sagemaker', image: `763104351884.dkr.ecr.us-east-1.amazonaws.com/vllm:${tag}` }) as const;
  const onSageMaker = await jobAddress(store, spec('b'), 'code1', image('0.6'));
  assert.notEqual(onSageMaker, a, 'another backend');
  assert.notEqual(await jobAddress(store, spec('b'), 'code1', image('0.7')), onSageMaker, 'another image');
  assert.equal(await jobAddress(store, spec('a'), 'code1', image('0.6')), onSageMaker, 'the same image, same content');
  assert.equal(await contentAddress(store, 's3://b/runs/a/models/seed/'), await contentAddress(store, 's3://b/runs/a/models/seed'), 'a trailing slash names the same folder');
});

test('workAddress: a step and a job of the same name and inputs differ, and so does the same step at another place', async () => {
  const store = { list: async () => [], stat: async () => null };
  const step = { kind: 'step' as const, name: 'score', place: 'iter-1/score', code: 'c', inputs: { seed: 1 } };
  const address = await workAddress(store, step);
  assert.equal(await workAddress(store, { ...step }), address, 'stable');
  assert.notEqual(await workAddress(store, { ...step, kind: 'job' }), address);
  assert.notEqual(await workAddress(store, { ...step, place: 'iter-2/score' }), address);
  assert.notEqual(await workAddress(store, { ...step, code: 'd' }), address);
});

test('reusingRunner: a job done elsewhere is reused, not run; an index entry whose outputs are gone is replaced', async () => {
  const store = memoryStore();
  store.objects.set('s3://b/runs/seed/model.bin', Buffer.from('weights'));
  const ran: string[] = [];
  const inner: JobRunner = {
    async run(spec: JobSpec): Promise<JobResult> {
      ran.push(spec.jobName);
      store.objects.set(`${spec.outputUri}/output/judgments.jsonl`, Buffer.from('{}'));
      const usage = { jobName: spec.jobName, entryPoint: spec.entryPoint, attempt: spec.jobName, status: 'Completed', backend: 'local', seconds: 1, billableSeconds: 1, instanceType: 'local', instanceCount: 1, usd: 0, finishedAt: `t-${ran.length}` } as JobResult['usage'];
      return { jobName: spec.jobName, outputUri: spec.outputUri, modelUri: `${spec.outputUri}/model`, outputDataUri: `${spec.outputUri}/output`, how: 'ran', seconds: 1, usage };
    },
  };
  const runner = reusingRunner(inner, store as unknown as ObjectStore, { indexUri: 's3://b/cache/jobs', jobsDir: __dirname, runtimeOf: () => ({ backend: 'local' }) });
  const ctx: JobContext = { heartbeat: () => undefined, signal: new AbortController().signal, abortReason: () => undefined, log: () => undefined } as unknown as JobContext;
  const spec = (run: string): JobSpec => ({ jobName: `${run}-i1-sample`, entryPoint: 'generate.py', channels: { model: 's3://b/runs/seed' }, hyperparameters: { n: 4 }, outputUri: `s3://b/runs/${run}/iter-1/sample/job` });
  const entries = () => [...store.objects.keys()].filter((k) => k.startsWith('s3://b/cache/jobs/')).map((k) => JSON.parse(store.objects.get(k)!.toString('utf8')) as ReusableJob);

  const first = await runner.run(spec('a'), ctx);
  assert.equal(first.how, 'ran');
  assert.deepEqual(entries().map((e) => e.outputUri), ['s3://b/runs/a/iter-1/sample/job'], 'indexed when it finished');

  const second = await runner.run(spec('b'), ctx);
  assert.deepEqual([second.how, second.outputDataUri, ran], ['reused', 's3://b/runs/a/iter-1/sample/job/output', ['a-i1-sample']], 'the same content in another run: not run');
  assert.equal(second.usage.status, 'Reused');

  // Run a's outputs deleted: run c runs the job, and the entry now points at c's outputs.
  store.objects.delete('s3://b/runs/a/iter-1/sample/job/output/judgments.jsonl');
  const third = await runner.run(spec('c'), ctx);
  assert.deepEqual([third.how, ran], ['ran', ['a-i1-sample', 'c-i1-sample']]);
  assert.deepEqual(entries().map((e) => e.outputUri), ['s3://b/runs/c/iter-1/sample/job']);

  // The job's own entry (a retry of c) is the runner's to adopt, not a reuse.
  await runner.run(spec('c'), ctx);
  assert.deepEqual(ran, ['a-i1-sample', 'c-i1-sample', 'c-i1-sample']);
});
