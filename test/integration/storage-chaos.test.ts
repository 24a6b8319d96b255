/**
 * The object store through a misbehaving network (test/support/s3-chaos-proxy.ts, seeded): 503 SlowDown,
 * connections reset before and after the request reached S3, bodies cut off halfway, slow replies. Every
 * write and read still returns exactly what was written: the SDK retries the failed requests, the store
 * resumes cut-off bodies with ranged reads.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServices, type TestServices } from '../support/services';
import { FAULT_KINDS, startChaosProxy, type ChaosProxy } from '../support/s3-chaos-proxy';
import { ObjectStore, createS3Client } from '../../activities/storage/object-store';

let services: TestServices;
let proxy: ChaosProxy;

before(async () => {
  services = await startTestServices({ temporal: false });
  process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
  proxy = await startChaosProxy({ target: services.s3.endpoint, seed: 7, rate: 0.15, slowMs: 200 });
});

after(async () => {
  await proxy?.stop();
  await services?.stop();
});

test('writes and reads through a flaky network return exactly what was written', { timeout: 5 * 60_000 }, async () => {
  const store = new ObjectStore(createS3Client({ endpoint: proxy.endpoint, region: services.s3.region, forcePathStyle: true }));
  const base = `s3://${services.s3.bucket}/chaos`;
  const local = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-chaos-'));
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  writeFileSync(path.join(local, 'weights.bin'), big);
  for (let i = 0; i < 12; i++) {
    await store.putJson(`${base}/doc-${i}.json`, { i, pad: 'x'.repeat(4000) });
    assert.deepEqual(await store.getJson(`${base}/doc-${i}.json`), { i, pad: 'x'.repeat(4000) });
    await store.writeJsonl(`${base}/rows-${i}.jsonl`, Array.from({ length: 3000 }, (_, k) => ({ i, k })));
    let n = 0;
    for await (const row of store.readJsonl<{ k: number }>(`${base}/rows-${i}.jsonl`)) assert.equal(row.k, n++);
    assert.equal(n, 3000);
    assert.equal((await store.list(`${base}/`)).filter((o) => o.uri.endsWith('.jsonl')).length, i + 1);
  }
  await store.uploadDir(local, `${base}/model`);
  const back = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-chaos-back-'));
  await store.downloadPrefix(`${base}/model`, back);
  assert.ok(readFileSync(path.join(back, 'weights.bin')).equals(big), 'a 3 MB object read back byte for byte');
  assert.equal(await store.getBytes(`${base}/missing.json`), null, 'a missing object is still missing, not an error');

  const byKind = new Map<string, number>();
  for (const f of proxy.faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  for (const kind of FAULT_KINDS) assert.ok((byKind.get(kind) ?? 0) >= 3, `${kind} injected ${byKind.get(kind) ?? 0} times`);
  assert.ok(proxy.faults.some((f) => f.kind === 'truncate' && f.method === 'GET'), 'bodies were cut off');
});

test('readJsonl: a line that is not JSON is an error naming its line, not an undefined row', async () => {
  const store = new ObjectStore(createS3Client({ endpoint: services.s3.endpoint, region: services.s3.region, forcePathStyle: true }));
  const uri = `s3://${services.s3.bucket}/bad/rows.jsonl`;
  await store.putBytes(uri, '{"a":1}\n{"a":\n{"a":3}\n');
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const row of store.readJsonl(uri)) seen.push(row);
    })(),
    /line 2 of s3:\/\/.*\/bad\/rows\.jsonl is not valid JSON/,
  );
  assert.deepEqual(seen, [{ a: 1 }]);
});
