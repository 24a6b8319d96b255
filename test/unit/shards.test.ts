/**
 * Sharded generation's pure parts (core/run/shards.ts, core/common/pool.ts, shardedJob) and its two data steps
 * (activities/steps/shards.ts) on an in-memory store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { mergedShardsUri, shardCount, shardJobUri, shardRanges, shardRequestsUri } from '../../core/run/shards';
import { inPool } from '../../core/common/pool';
import { deriveSeed } from '../../core/common/rng';
import { shardedJob, type GeneratedJudgments } from '../../activities/steps/generation';
import { createShardActivities } from '../../activities/steps/shards';
import type { ActivityDeps } from '../../activities/context';
import type { ObjectStore } from '../../activities/storage/object-store';
import type { JobSpec } from '../../activities/jobs/types';
import { sagemakerJobName } from '../../activities/jobs/sagemaker-request';
import { memoryStore } from '../support/memory-store';
import { validateConfig } from '../../core/config/config';
import localConfig from '../../configs/local.json';

test('shardCount: the configured count, or auto by requestsPerShard up to maxShards; never more than the requests, at least one', () => {
  const cases: Array<[{ shards: 'auto' | number; requestsPerShard: number; maxShards: number }, number, number]> = [
    [{ shards: 'auto', requestsPerShard: 50_000, maxShards: 16 }, 400, 1],
    [{ shards: 'auto', requestsPerShard: 50_000, maxShards: 16 }, 50_000, 1],
    [{ shards: 'auto', requestsPerShard: 50_000, maxShards: 16 }, 50_001, 2],
    [{ shards: 'auto', requestsPerShard: 10_000, maxShards: 16 }, 1_000_000, 16],
    [{ shards: 'auto', requestsPerShard: 10, maxShards: 16 }, 0, 1],
    [{ shards: 4, requestsPerShard: 50_000, maxShards: 16 }, 400, 4],
    [{ shards: 32, requestsPerShard: 50_000, maxShards: 16 }, 400, 32],
    [{ shards: 4, requestsPerShard: 50_000, maxShards: 16 }, 3, 3],
    [{ shards: 4, requestsPerShard: 50_000, maxShards: 16 }, 0, 1],
  ];
  for (const [sharding, requests, want] of cases) assert.equal(shardCount(sharding, requests), want, `${JSON.stringify(sharding)} × ${requests}`);
});

test('shardRanges: contiguous, covering every row once, sizes within one of each other, the larger first', () => {
  const cases: Array<[number, number, Array<[number, number]>]> = [
    [10, 1, [[0, 10]]],
    [10, 3, [[0, 4], [4, 7], [7, 10]]],
    [9, 3, [[0, 3], [3, 6], [6, 9]]],
    [2, 2, [[0, 1], [1, 2]]],
    [100_001, 4, [[0, 25_001], [25_001, 50_001], [50_001, 75_001], [75_001, 100_001]]],
  ];
  for (const [rows, shards, want] of cases) assert.deepEqual(shardRanges(rows, shards), want, `${rows} rows in ${shards}`);
});

test('shard locations: requests, jobs and the merged judgments, beside the unsharded ones', () => {
  assert.equal(shardRequestsUri('s3://b/runs/r/iter-1/sample/requests/data', 2), 's3://b/runs/r/iter-1/sample/requests/shards/002/data');
  assert.equal(shardRequestsUri('s3://b/runs/r/iter-1/evaluate/relative/requests/data/', 12), 's3://b/runs/r/iter-1/evaluate/relative/requests/shards/012/data');
  assert.equal(shardJobUri('s3://b/runs/r/iter-1/evaluate/baselines/job', 0), 's3://b/runs/r/iter-1/evaluate/baselines/shards/000/job');
  assert.equal(mergedShardsUri('s3://b/runs/r/iter-1/evaluate/baselines/shards/000/job/model'), 's3://b/runs/r/iter-1/evaluate/baselines/shards/merged');
  // SageMaker puts a job's model folder under its training job's name.
  assert.equal(mergedShardsUri('s3://b/runs/r/iter-1/sample/shards/002/job/judgeloop-r-i1-sample-shard-002/output/model'), 's3://b/runs/r/iter-1/sample/shards/merged');
  assert.throws(() => mergedShardsUri('s3://b/runs/r/iter-1/sample/job/model'), /not a shard's output folder/);
  assert.throws(() => mergedShardsUri('s3://b/runs/r/iter-1/sample/job/judgeloop-r-i1-sample/output/model'), /not a shard's output folder/);
  assert.throws(() => mergedShardsUri('s3://b/runs/r/iter-1/sample/shards/002/job/a/b/output/model'), /not a shard's output folder/);
});

test('inPool: results in task order, at most `limit` running, every task run once', async () => {
  for (const [tasks, limit] of [[0, 2], [1, 4], [5, 2], [7, 3], [4, 10]] as const) {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await inPool(
      Array.from({ length: tasks }, (_, i) => async () => {
        started.push(i);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, (tasks - i) * 2));
        running--;
        return i * 10;
      }),
      limit,
    );
    assert.deepEqual(results, Array.from({ length: tasks }, (_, i) => i * 10), `${tasks} tasks`);
    assert.deepEqual(started, Array.from({ length: tasks }, (_, i) => i), 'started in order');
    assert.equal(most, Math.min(tasks, limit), `${tasks} tasks, limit ${limit}`);
  }
});

test('shardedJob: a shard gets its own name, output folder and, when it samples, its own seed', () => {
  const spec = (temperature: number): JobSpec => ({
    jobName: 'run-i1-sample',
    entryPoint: 'generate.py',
    channels: { model: 's3://b/m', requests: 's3://b/runs/run/iter-1/sample/requests/shards/001/data' },
    hyperparameters: { num_samples: 8, temperature, seed: 41 },
    outputUri: 's3://b/runs/run/iter-1/sample/job',
  });
  assert.deepEqual(shardedJob(spec(1), { runId: 'run', iteration: 1 }, 'sample'), spec(1), 'no shard: the spec as it is');
  const sampled = shardedJob(spec(1), { runId: 'run', iteration: 1, shard: { index: 1, count: 4 } }, 'sample');
  assert.equal(sampled.jobName, 'run-i1-sample-shard-001');
  assert.equal(sampled.outputUri, 's3://b/runs/run/iter-1/sample/shards/001/job');
  assert.equal(sampled.hyperparameters.seed, deriveSeed(41, 'shard', 1));
  assert.notEqual(sampled.hyperparameters.seed, shardedJob(spec(1), { runId: 'run', iteration: 1, shard: { index: 2, count: 4 } }, 'sample').hyperparameters.seed);
  const greedy = shardedJob(spec(0), { runId: 'run', iteration: 1, shard: { index: 1, count: 4 } }, 'evaluate');
  assert.equal(greedy.hyperparameters.seed, 41, 'greedy decoding: the seed does not matter, and stays the same across shards');
  assert.equal(greedy.jobName, 'run-i1-evaluate-shard-001');
});

function shardActivities(store: ReturnType<typeof memoryStore>) {
  const deps: ActivityDeps = {
    projectRoot: '/nowhere',
    codeVersion: 'test',
    storeFor: () => store as unknown as ObjectStore,
    runnerFor: () => {
      throw new Error('splitting and merging run no job');
    },
  };
  return createShardActivities(deps);
}

const config = { storage: { bucket: 'b', prefix: 'runs', forcePathStyle: true } } as unknown as Parameters<ReturnType<typeof shardActivities>['splitRequests']>[0]['config'];
const DATA = 's3://b/runs/r/iter-1/sample/requests/data';

test('splitRequests: contiguous shards in order, every request once; a count that does not match the file is an error', async () => {
  const store = memoryStore();
  const rows = Array.from({ length: 10 }, (_, i) => ({ request_id: `r${i}` }));
  store.seedRows(`${DATA}/requests.jsonl`, rows);
  const { splitRequests } = shardActivities(store);
  const shards = await splitRequests({ config, requests: { dataUri: DATA, requests: 10 }, shards: 3 });
  assert.deepEqual(shards, [0, 1, 2].map((i) => ({ dataUri: shardRequestsUri(DATA, i), requests: [4, 3, 3][i] })));
  assert.deepEqual(shards.flatMap((s) => store.rows(`${s.dataUri}/requests.jsonl`)), rows, 'every request once, in order');
  // The same input again writes the same objects (a retry).
  const again = await splitRequests({ config, requests: { dataUri: DATA, requests: 10 }, shards: 3 });
  assert.deepEqual(again, shards);
  for (const [counted, why] of [[12, /holds 10 requests, not the 12/], [8, /holds more than the 8 requests/]] as const) {
    await assert.rejects(splitRequests({ config, requests: { dataUri: DATA, requests: counted }, shards: 2 }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable, String(err));
      assert.match(err.message, why);
      return true;
    });
  }
});

test('mergeShardJudgments: the shards\' judgments in shard order in one file beside them, their seconds summed', async () => {
  const store = memoryStore();
  const shard = (i: number, rows: number, how: GeneratedJudgments['how'] = 'ran'): GeneratedJudgments => {
    const outputUri = `${shardJobUri('s3://b/runs/r/iter-1/sample/job', i)}/model`;
    store.seedRows(`${outputUri}/judgments.jsonl`, Array.from({ length: rows }, (_, k) => ({ request_id: `s${i}-${k}` })));
    return { outputUri, judgmentsUri: `${outputUri}/judgments.jsonl`, jobName: `r-i1-sample-shard-00${i}`, how, seconds: i + 1 };
  };
  const { mergeShardJudgments } = shardActivities(store);
  const merged = await mergeShardJudgments({ config, shards: [shard(0, 2), shard(1, 3, 'reused'), shard(2, 1)] });
  assert.equal(merged.outputUri, 's3://b/runs/r/iter-1/sample/shards/merged');
  assert.equal(merged.judgmentsUri, `${merged.outputUri}/judgments.jsonl`);
  assert.deepEqual(
    store.rows<{ request_id: string }>(merged.judgmentsUri).map((r) => r.request_id),
    ['s0-0', 's0-1', 's1-0', 's1-1', 's1-2', 's2-0'],
  );
  assert.deepEqual([merged.seconds, merged.how, merged.jobName], [6, 'ran', 'r-i1-sample-shard-000,r-i1-sample-shard-001,r-i1-sample-shard-002']);
  const allReused = await mergeShardJudgments({ config, shards: [shard(0, 1, 'reused'), shard(1, 1, 'reused')] });
  assert.equal(allReused.how, 'reused');
  await assert.rejects(mergeShardJudgments({ config, shards: [] }), /no shard/);
});

test('config: backend.sharding defaults per backend, and a clear error naming the key for a bad value', () => {
  const base = { ...localConfig, backend: { kind: 'local' } };
  const cases: Array<[Record<string, unknown>, string | null]> = [
    [{}, null],
    [{ shards: 4, concurrency: 1 }, null],
    [{ shards: 'auto', requestsPerShard: 1000, maxShards: 64 }, null],
    [{ shards: 0 }, 'backend.sharding.shards'],
    [{ shards: 'all' }, 'backend.sharding.shards'],
    [{ shards: 1000 }, 'backend.sharding.shards'],
    [{ requestsPerShard: 0 }, 'backend.sharding.requestsPerShard'],
    [{ concurrency: 2.5 }, 'backend.sharding.concurrency'],
    [{ shard: 4 }, 'backend.sharding'],
  ];
  for (const [sharding, badPath] of cases) {
    const r = validateConfig({ ...base, backend: { kind: 'local', sharding } });
    if (badPath === null) {
      assert.ok(r.ok, `${JSON.stringify(sharding)}: ${JSON.stringify(!r.ok && r.problems)}`);
      continue;
    }
    assert.ok(!r.ok, `${JSON.stringify(sharding)} is refused`);
    assert.ok(r.problems.some((p) => p.path === badPath), `${JSON.stringify(sharding)}: ${JSON.stringify(r.problems)}`);
  }
});

test('shard jobs on SageMaker: 16 shards of a long run id get 16 distinct training-job names within its 63 characters', () => {
  const runId = 'weekly-retrain-of-the-customer-support-judge-2026-12-03t0300z';
  const spec: JobSpec = { jobName: 'x', entryPoint: 'generate.py', channels: {}, hyperparameters: { temperature: 1, seed: 3 }, outputUri: 's3://b/runs/r/iter-1/sample/job' };
  const names = Array.from({ length: 16 }, (_, index) => sagemakerJobName(shardedJob(spec, { runId, iteration: 1, shard: { index, count: 16 } }, 'sample').jobName));
  assert.equal(new Set(names).size, 16, names.join('\n'));
  for (const name of names) assert.ok(name.length <= 63 && /^[A-Za-z0-9](-*[A-Za-z0-9])*$/.test(name), name);
});
