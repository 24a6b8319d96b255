/**
 * Sharded generation in the iteration workflow (backend.sharding, core/run/shards.ts): the real workflow code
 * on the time-skipping server with stubbed activities. A large generation is split once, runs one job activity
 * per shard (at most `concurrency` at a time, a failed shard retried alone), and is merged before the step
 * that reads it; a small one runs one job, as before. The same with real jobs: test/integration/sharding.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import { mergeConfig } from '../../cli/config-file';
import localConfig from '../../configs/local.json';
import type { Activities } from '../../activities';
import type { GenerationInput } from '../../activities/steps/generation';
import { mergedShardsUri, shardJobUri } from '../../core/run/shards';
import { TINY_DATA } from '../support/judgeloop';
import { generationOutput, stubActivities, stubGenerated } from '../support/stub-activities';
import { stubbedWorker, useTimeSkippingEnv } from '../support/time-skipping';

const ts = useTimeSkippingEnv();
let queues = 0;

function config(sharding: Record<string, unknown>, over: Record<string, unknown> = {}): unknown {
  return mergeConfig(localConfig, {
    data: TINY_DATA,
    loop: { iterations: 1 },
    registry: { enabled: false },
    backend: { sharding },
    ...over,
  });
}

interface ShardCall {
  activity: keyof Activities;
  iteration: number;
  shard: number | null;
  attempt: number;
}

async function run(
  workflowId: string,
  cfg: unknown,
  overrides: (record: ShardCall[], activities: Partial<Activities>) => Partial<Activities> = () => ({}),
) {
  const { activities, record } = stubActivities();
  const calls: ShardCall[] = [];
  const worker = await stubbedWorker(ts.env, `sharding-${++queues}`, { ...activities, ...overrides(calls, activities) });
  await worker.runUntil(ts.env.client.workflow.execute(selfRationalizationRun, { taskQueue: `sharding-${queues}`, workflowId, args: [cfg] }));
  return { record, calls };
}

test('a large generation runs one job per shard, at most `concurrency` at once, a failed shard retried alone, merged before the step that reads it', async () => {
  const cfg = config({ shards: 3, concurrency: 2 }, { evaluation: { baselines: { samples: 2, temperature: 1 } } });
  let running = 0;
  let most = 0;
  let scored: string | undefined;
  let evaluated: unknown;
  const { record, calls } = await run('sharded', cfg, (calls, activities) => {
    const attempts = new Map<string, number>();
    /** A generation of workflow time 200 ms; shard 1 of iteration 1's sample fails its first attempt. */
    const generation = (activity: keyof Activities, step: string) => async (input: GenerationInput) => {
      const key = `${activity}@${input.iteration}#${input.shard?.index ?? '-'}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      calls.push({ activity, iteration: input.iteration, shard: input.shard?.index ?? null, attempt });
      running++;
      most = Math.max(most, running);
      try {
        await new Promise((r) => setTimeout(r, 200));
        if (activity === 'generateSampledJudgments' && input.shard?.index === 1 && attempt === 1) throw new Error('connection reset');
      } finally {
        running--;
      }
      assert.equal(input.shard?.count, 3, `${key}: a shard of three`);
      return stubGenerated(generationOutput(input, step), key);
    };
    return {
      generateSampledJudgments: generation('generateSampledJudgments', 'sample'),
      generateEvaluationJudgments: generation('generateEvaluationJudgments', 'evaluate'),
      generateBaselineJudgments: generation('generateBaselineJudgments', 'evaluate/baselines'),
      async computeEvaluationMetrics(input) {
        if (input.iteration === 1) evaluated = { outputs: input.outputs };
        return activities.computeEvaluationMetrics!(input);
      },
      async scoreJudgments(input) {
        scored = input.rawJudgmentsUri;
        return { inputs: 10, judgments: 40, parsed: 40, parseRate: 1, agreementWithGold: 0.5, uri: `${input.runPrefixUri}/iter-1/score/judgments.jsonl` };
      },
    };
  });
  const runPrefix = scored!.replace(/\/iter-1\/.*$/, '');
  const sampleShards = calls.filter((c) => c.activity === 'generateSampledJudgments').map((c) => `${c.shard}:${c.attempt}`).sort();
  assert.deepEqual(sampleShards, ['0:1', '1:1', '1:2', '2:1'], 'three shards, the failed one retried alone');
  for (const activity of ['generateEvaluationJudgments', 'generateBaselineJudgments'] as const) {
    for (const iteration of [0, 1]) {
      const shards = calls.filter((c) => c.activity === activity && c.iteration === iteration).map((c) => c.shard).sort();
      assert.deepEqual(shards, [0, 1, 2], `${activity} in iteration ${iteration}`);
    }
  }
  assert.ok(most >= 2, `shards overlapped (${most} at once)`);
  // Two generations of an evaluation (pointwise and baselines) each run two at a time.
  assert.ok(most <= 4, `at most concurrency (2) per generation: ${most} at once`);
  // Split once per request set (the baselines sample the pointwise requests), merged once per generation.
  assert.equal(record.calls.filter((c) => c.activity === 'splitRequests').length, 3, 'iteration 0: the pointwise requests; iteration 1: the sample and the pointwise requests');
  assert.equal(record.calls.filter((c) => c.activity === 'mergeShardJudgments').length, 5, 'iteration 0: pointwise, baselines; iteration 1: sample, pointwise, baselines');
  const merged = mergedShardsUri(`${shardJobUri(`${runPrefix}/iter-1/sample/job`, 0)}/model`);
  assert.equal(scored, `${merged}/judgments.jsonl`, 'the score step reads the merged judgments');
  const evaluatedWith = evaluated as { outputs: { pointwise: string; baselines: string } };
  assert.deepEqual(evaluatedWith.outputs, {
    pointwise: mergedShardsUri(`${shardJobUri(`${runPrefix}/iter-1/evaluate/job`, 0)}/model`),
    baselines: mergedShardsUri(`${shardJobUri(`${runPrefix}/iter-1/evaluate/baselines/job`, 0)}/model`),
    relative: null,
  }, 'the metrics step reads the merged judgments of each generation');
});

test('auto: a generation below requestsPerShard runs one job with no split or merge; above it, one shard per requestsPerShard up to maxShards', async () => {
  // The stub's sample has 10 requests and its evaluation 20.
  const small = await run('auto-small', config({ shards: 'auto', requestsPerShard: 50 }));
  assert.equal(small.record.calls.filter((c) => /splitRequests|mergeShardJudgments/.test(c.activity)).length, 0);
  assert.deepEqual(
    small.record.calls.filter((c) => c.activity === 'generateSampledJudgments').length,
    1,
    'one sample job',
  );
  const large = await run('auto-large', config({ shards: 'auto', requestsPerShard: 8, maxShards: 2 }), (calls) => ({
    async generateSampledJudgments(input) {
      calls.push({ activity: 'generateSampledJudgments', iteration: input.iteration, shard: input.shard?.index ?? null, attempt: 1 });
      assert.equal(input.shard?.count, 2, 'ceil(10 / 8) = 2 shards');
      return stubGenerated(generationOutput(input, 'sample'), 'sample');
    },
    async generateEvaluationJudgments(input) {
      calls.push({ activity: 'generateEvaluationJudgments', iteration: input.iteration, shard: input.shard?.index ?? null, attempt: 1 });
      assert.equal(input.shard?.count, 2, 'ceil(20 / 8) = 3 shards, at most maxShards (2)');
      return stubGenerated(generationOutput(input, 'evaluate'), 'evaluate');
    },
  }));
  assert.deepEqual(large.calls.filter((c) => c.activity === 'generateSampledJudgments').map((c) => c.shard).sort(), [0, 1]);
  assert.deepEqual(large.calls.filter((c) => c.activity === 'generateEvaluationJudgments').map((c) => c.shard).sort(), [0, 0, 1, 1]);
});
