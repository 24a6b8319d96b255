/**
 * The registry's conditional writes (activities/steps/registry.ts) against an in-memory S3 that honours If-Match /
 * If-None-Match and can inject what a real server does under contention: 409 ConditionalRequestConflict (AWS
 * S3, a conditional write to the same key in flight), 412 PreconditionFailed after another writer's update,
 * and other errors. The real server's behaviour under many concurrent promotions is
 * test/integration/registry-concurrency.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { historyEntryUri, registryDocumentUri, registryPrefixUri, type RegistryDocument, type RegistryEntry } from '../../core/promotion/registry';
import { createRegistryActivities, MAX_CONDITIONAL_ATTEMPTS, type ProposedEntry } from '../../activities/steps/registry';
import { ObjectStore } from '../../activities/storage/object-store';

function s3Error(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, Code: name, $metadata: { httpStatusCode: status } });
}

type Put = { key: string; body: string; ifMatch?: string; ifNoneMatch?: string };

/** Bucket "bkt" in memory; `beforePut` may throw (an injected error) or change objects (another writer). */
class FakeS3 {
  objects = new Map<string, { body: string; etag: string }>();
  puts: Put[] = [];
  beforePut?: (put: Put, n: number) => void;

  write(key: string, body: string): void {
    this.objects.set(key, { body, etag: `"${createHash('md5').update(body).digest('hex')}"` });
  }

  async send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof GetObjectCommand) {
      const o = this.objects.get(cmd.input.Key!);
      if (!o) throw s3Error('NoSuchKey', 404);
      // Both ways the SDK's body is read: as a stream (ObjectStore) and transformToByteArray (the registry).
      const bytes = Buffer.from(o.body);
      const Body = Object.assign(Readable.from([bytes]), { transformToByteArray: async () => new Uint8Array(bytes) });
      return { ETag: o.etag, ContentLength: bytes.length, Body };
    }
    if (cmd instanceof PutObjectCommand) {
      const put: Put = { key: cmd.input.Key!, body: String(cmd.input.Body), ifMatch: cmd.input.IfMatch, ifNoneMatch: cmd.input.IfNoneMatch };
      this.puts.push(put);
      this.beforePut?.(put, this.puts.filter((p) => p.key === put.key).length);
      const current = this.objects.get(put.key);
      if (put.ifNoneMatch === '*' && current) throw s3Error('PreconditionFailed', 412);
      if (put.ifMatch !== undefined && current?.etag !== put.ifMatch) throw s3Error('PreconditionFailed', 412);
      this.write(put.key, put.body);
      return { ETag: this.objects.get(put.key)!.etag };
    }
    if (cmd instanceof ListObjectsV2Command) {
      const prefix = cmd.input.Prefix ?? '';
      return { Contents: [...this.objects.keys()].filter((k) => k.startsWith(prefix)).map((Key) => ({ Key, Size: 1 })), IsTruncated: false };
    }
    throw new Error(`FakeS3: unexpected ${(cmd as object).constructor.name}`);
  }
}

const CONFIG: RunConfig = (() => {
  const r = validateConfig({
    name: 'reg',
    judge: { name: 'j', seedModel: '.judgeloop/models/tiny-judge' },
    data: { train: { uri: 'datasets/synthetic/train.jsonl' }, evalSuites: [{ name: 'syn', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' }] },
    storage: { bucket: 'bkt' },
  });
  assert.ok(r.ok);
  return r.config;
})();
const PREFIX = registryPrefixUri(CONFIG.storage, 'j');
const DOC_KEY = registryDocumentUri(PREFIX).replace('s3://bkt/', '');
const historyKey = (runId: string, iteration: number) => historyEntryUri(PREFIX, runId, iteration).replace('s3://bkt/', '');
const SEED = 's3://bkt/runs/seed/model';

function proposed(runId: string, iteration: number, modelUri: string, parent: string | null): ProposedEntry {
  return {
    judgeName: 'j',
    modelUri,
    runId,
    iteration,
    parentModelUri: parent,
    seedModelUri: SEED,
    data: { trainUri: 'datasets/synthetic/train.jsonl', configHash: 'h' },
    metrics: {},
    decision: { promoted: true, reasons: ['gate passed'], decidedBy: 'gate' },
  };
}

function setup(s3: FakeS3) {
  const store = new ObjectStore(s3 as unknown as S3Client); // the fake implements the one method ObjectStore calls: send
  return createRegistryActivities({ projectRoot: '.', storeFor: () => store, runnerFor: () => assert.fail('no jobs here'), codeVersion: 'test' });
}

/** registry.json with a champion: the seed, promoted by run r0. */
function withSeedChampion(s3: FakeS3): void {
  const champion: RegistryEntry = {
    ...proposed('r0', 0, SEED, null),
    decision: { promoted: true, reasons: [], decidedBy: 'gate', at: '2025-01-01T00:00:00Z' },
    championReplaced: true,
  };
  s3.write(DOC_KEY, JSON.stringify({ judgeName: 'j', champion, updatedAt: champion.decision.at } satisfies RegistryDocument));
}

const doc = (s3: FakeS3) => JSON.parse(s3.objects.get(DOC_KEY)!.body) as RegistryDocument;
const history = (s3: FakeS3, runId: string, iteration: number) => {
  const o = s3.objects.get(historyKey(runId, iteration));
  return o ? (JSON.parse(o.body) as RegistryEntry) : undefined;
};

test('409 ConditionalRequestConflict on registry.json is a retry: reread, rewrite, the promotion lands once', async () => {
  const s3 = new FakeS3();
  withSeedChampion(s3);
  s3.beforePut = (put, n) => {
    if (put.key === DOC_KEY && n <= 3) throw s3Error('ConditionalRequestConflict', 409);
  };
  const out = await setup(s3).recordDecision({ config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: SEED });
  assert.deepEqual([out.championReplaced, out.adopted, out.note], [true, false, undefined]);
  assert.equal(doc(s3).champion.modelUri, 's3://bkt/m/r1-1');
  const docPuts = s3.puts.filter((p) => p.key === DOC_KEY);
  assert.equal(docPuts.length, 4, 'three conflicts, then the write');
  assert.ok(docPuts.every((p) => p.ifMatch !== undefined), 'every write of registry.json is conditional on the ETag read');
  assert.equal(history(s3, 'r1', 1)?.championReplaced, true);
});

test('409 on the history entry is a retry too; a first promotion creates registry.json with If-None-Match', async () => {
  const s3 = new FakeS3();
  s3.beforePut = (put, n) => {
    if (put.key === historyKey('r1', 1) && n <= 2) throw s3Error('ConditionalRequestConflict', 409);
  };
  const out = await setup(s3).recordDecision({ config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: null });
  assert.deepEqual([out.championReplaced, out.adopted], [true, false]);
  assert.equal(s3.puts.filter((p) => p.key === historyKey('r1', 1)).length, 3);
  assert.ok(s3.puts.every((p) => p.ifNoneMatch === '*' || p.ifMatch !== undefined), 'no unconditional write');
  assert.equal(s3.puts.find((p) => p.key === DOC_KEY)?.ifNoneMatch, '*');
  assert.equal(history(s3, 'r1', 1)?.modelUri, 's3://bkt/m/r1-1');
});

test('409 whose conflicting write landed (a concurrent attempt of the same activity): its entry is adopted, not rewritten', async () => {
  const s3 = new FakeS3();
  withSeedChampion(s3);
  s3.beforePut = (put, n) => {
    if (put.key === historyKey('r1', 1) && n === 1) {
      s3.write(put.key, JSON.stringify({ ...JSON.parse(put.body), note: 'written by the other attempt' }));
      throw s3Error('ConditionalRequestConflict', 409);
    }
  };
  const out = await setup(s3).recordDecision({ config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: SEED });
  assert.deepEqual([out.adopted, out.note], [true, 'written by the other attempt']);
  assert.equal(s3.puts.filter((p) => p.key === historyKey('r1', 1)).length, 1);
});

test('412 after another run promoted between our read and our write: recorded, champion not overwritten', async () => {
  const s3 = new FakeS3();
  withSeedChampion(s3);
  s3.beforePut = (put, n) => {
    if (put.key !== DOC_KEY || n !== 1) return;
    // Run r2 replaces the champion just before our conditional write reaches the server.
    const d = doc(s3);
    s3.write(DOC_KEY, JSON.stringify({ ...d, champion: { ...d.champion, modelUri: 's3://bkt/m/r2-1', runId: 'r2', iteration: 1 } }));
  };
  const out = await setup(s3).recordDecision({ config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: SEED });
  assert.equal(out.championReplaced, false);
  assert.match(out.note ?? '', /the registry's champion is s3:\/\/bkt\/m\/r2-1 \(run r2, iteration 1\), not the judge this run's gate compared against \(s3:\/\/bkt\/runs\/seed\/model\)/);
  assert.equal(doc(s3).champion.modelUri, 's3://bkt/m/r2-1', "r2's update is kept");
  assert.equal(history(s3, 'r1', 1)?.championReplaced, false);
});

test('409 on every attempt: the activity fails with nothing written, so its retry starts clean', async () => {
  const s3 = new FakeS3();
  withSeedChampion(s3);
  const before = s3.objects.get(DOC_KEY)!.body;
  s3.beforePut = (put) => {
    if (put.key === DOC_KEY) throw s3Error('ConditionalRequestConflict', 409);
  };
  const activities = setup(s3);
  const input = { config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: SEED };
  await assert.rejects(activities.recordDecision(input), new RegExp(`${MAX_CONDITIONAL_ATTEMPTS} conditional writes in a row .*409 ConditionalRequestConflict.*will be retried`));
  assert.equal(s3.puts.filter((p) => p.key === DOC_KEY).length, MAX_CONDITIONAL_ATTEMPTS);
  assert.equal(s3.objects.get(DOC_KEY)!.body, before, 'registry.json unchanged');
  assert.equal(history(s3, 'r1', 1), undefined, 'no decision recorded');
  // The retry, once the contention is gone, records it.
  s3.beforePut = undefined;
  const out = await activities.recordDecision(input);
  assert.deepEqual([out.championReplaced, out.adopted], [true, false]);
});

test('other S3 errors are not mistaken for contention: they fail the activity at once', async () => {
  const s3 = new FakeS3();
  withSeedChampion(s3);
  s3.beforePut = () => {
    throw s3Error('InternalError', 500);
  };
  await assert.rejects(
    setup(s3).recordDecision({ config: CONFIG, entry: proposed('r1', 1, 's3://bkt/m/r1-1', SEED), expectedChampionModelUri: SEED }),
    /InternalError/,
  );
  assert.equal(s3.puts.length, 1);
});
