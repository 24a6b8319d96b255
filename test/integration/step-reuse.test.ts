/**
 * Reuse of data steps across runs, on a real S3-compatible server: a step whose inputs have the same content
 * as the same step of an earlier run is copied from it (ETags kept, URIs moved into the new run) instead of
 * computed; other content, another place in the run, the switch off, or the earlier outputs gone, and it is
 * computed. The copy keeps the ETag of single-part and multipart objects alike, which is what lets the jobs
 * downstream of a copied step be reused in turn.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { ObjectStore, createS3Client, multipartParts } from '../../activities/storage/object-store';
import { type StepManifest, type StepReuse, dataStepCodeHash, reusedStepsIn, runStepOnce } from '../../activities/storage/reuse';
import { cacheIndexUri, parseS3Uri } from '../../core/run/artifacts';
import { startTestServices, type TestServices } from '../support/services';

let services: TestServices;
let store: ObjectStore;
let root: string;

before(async () => {
  services = await startTestServices({ temporal: false });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  store = new ObjectStore(createS3Client({ endpoint: services.s3.endpoint, region: services.s3.region, forcePathStyle: true }));
  root = `s3://${services.s3.bucket}/step-reuse-${Date.now().toString(36)}`;
});

after(async () => {
  await services?.stop();
});

test('ObjectStore.copy keeps the ETag of single-part and multipart objects', async () => {
  const small = await store.putJson(`${root}/copy/a/small one.json`, { x: 1 });
  // ~20 MB through writeJsonl: a multipart upload of three 8 MiB parts.
  const rows = Array.from({ length: 90_000 }, (_, i) => ({ i, pad: 'x'.repeat(200) }));
  const big = await store.writeJsonl(`${root}/copy/a/big.jsonl`, rows);
  const bigStat = await store.stat(big.uri);
  assert.equal(multipartParts(bigStat?.etag), 3, `a multipart object (${bigStat?.etag})`);
  for (const src of [small.uri, big.uri]) {
    const dest = src.replace('/copy/a/', '/copy/b/');
    await store.copy(src, dest);
    assert.deepEqual(await store.stat(dest), await store.stat(src), `${dest}: same size and ETag`);
  }
  assert.equal((await store.getBytes(`${root}/copy/b/small one.json`))?.toString(), (await store.getBytes(small.uri))?.toString());
  assert.equal(await store.stat(`${root}/copy/none`), null);
});

interface Summary {
  uri: string;
  rows: number;
}

test('a data step is copied from the same step of an earlier run with the same inputs by content', async () => {
  const indexUri = cacheIndexUri({ bucket: services.s3.bucket, prefix: parseS3Uri(root).key }, 'steps');
  const codeHash = await dataStepCodeHash();
  let computed = 0;
  /** A run with its own copies of the inputs: a model folder and a raw file (same bytes unless `raw` is given). */
  async function runWith(name: string, raw = '{"text":"Score: 3"}\n') {
    const runPrefixUri = `${root}/runs/${name}`;
    await store.putBytes(`${runPrefixUri}/models/seed/config.json`, '{"model":"tiny"}');
    await store.putBytes(`${runPrefixUri}/models/seed/weights.bin`, Buffer.alloc(1024, 7));
    await store.putBytes(`${runPrefixUri}/iter-1/sample/job/model/judgments.jsonl`, raw);
    return runPrefixUri;
  }
  function scoreStep(runPrefixUri: string, opts: { iteration?: number; acrossRuns?: boolean } = {}) {
    const prefixUri = `${runPrefixUri}/iter-${opts.iteration ?? 1}/score`;
    const acrossRuns: StepReuse | undefined = opts.acrossRuns === false ? undefined : { indexUri, codeHash, runPrefixUri };
    return runStepOnce<Summary>(
      store,
      {
        prefixUri,
        step: 'score',
        inputs: { raw: `${runPrefixUri}/iter-1/sample/job/model/judgments.jsonl`, model: `${runPrefixUri}/models/seed`, judge: { scale: [1, 5] } },
        codeVersion: 'test',
        ...(acrossRuns ? { acrossRuns } : {}),
      },
      async () => {
        computed++;
        const written = await store.writeJsonl(`${prefixUri}/data/judgments.jsonl`, [{ score: 3, run: runPrefixUri }]);
        return { objects: [written], summary: { uri: written.uri, rows: written.rows ?? 0 } };
      },
    );
  }

  const a = await runWith('a');
  const first = await scoreStep(a);
  assert.deepEqual([first.reused, computed], [false, 1]);

  // Another run, the same bytes under its own URIs: copied, not computed.
  const b = await runWith('b');
  const second = await scoreStep(b);
  assert.equal(computed, 1, 'not computed again');
  assert.deepEqual([second.reused, second.reusedFrom], [true, `${a}/iter-1/score`]);
  assert.equal(second.summary.uri, `${b}/iter-1/score/data/judgments.jsonl`, 'the summary points into the new run');
  assert.deepEqual(await store.stat(second.summary.uri), await store.stat(first.summary.uri), 'a byte-for-byte copy, same ETag');
  const manifest = await store.getJson<StepManifest<Summary>>(`${b}/iter-1/score/manifest.json`);
  assert.equal(manifest?.reusedFrom, `${a}/iter-1/score`);
  assert.deepEqual(manifest?.objects.map((o) => o.uri), [second.summary.uri]);
  assert.deepEqual(await reusedStepsIn(store, b, await store.list(`${b}/iter-1`)), ['iter-1/score']);
  assert.deepEqual(await reusedStepsIn(store, a, await store.list(`${a}/iter-1`)), [], 'the first run computed its step');
  // A retry in run b finds its own manifest.
  assert.deepEqual([(await scoreStep(b)).reusedFrom, computed], [`${a}/iter-1/score`, 1]);

  // Other input bytes; another place in the run; the switch off: computed.
  const c = await runWith('c', '{"text":"Score: 4"}\n');
  assert.equal((await scoreStep(c)).reused, false);
  assert.equal(computed, 2, 'other input content');
  const d = await runWith('d');
  assert.equal((await scoreStep(d, { iteration: 2 })).reused, false);
  assert.equal(computed, 3, 'the same inputs at another iteration are another step');
  const e = await runWith('e');
  assert.equal((await scoreStep(e, { acrossRuns: false })).reused, false);
  assert.equal(computed, 4, 'reuse.acrossRuns off');

  // The earlier outputs deleted: computed again, and the index points at the new outputs from then on.
  const { bucket, key } = parseS3Uri(first.summary.uri);
  await store.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  const f = await runWith('f');
  assert.equal((await scoreStep(f)).reused, false);
  assert.equal(computed, 5, 'the indexed outputs are gone');
  const g = await runWith('g');
  assert.equal((await scoreStep(g)).reusedFrom, `${f}/iter-1/score`);
  assert.equal(computed, 5);
});
