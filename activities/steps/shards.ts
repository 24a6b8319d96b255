/**
 * Sharded generation's two data steps (core/run/shards.ts): splitting a generation's requests into contiguous
 * shards, each the requests folder of a job of its own, and merging the shards' judgments back into one
 * `judgments.jsonl`, in shard order, where the steps after it read a generation's output. Both are
 * idempotent: the same input writes the same objects.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ConfigFor } from '../../core/config/sections';
import { joinUri } from '../../core/run/artifacts';
import { mergedShardsUri, shardRanges, shardRequestsUri } from '../../core/run/shards';
import { type ActivityDeps, storageSettings, throttledHeartbeat } from '../context';
import type { GeneratedJudgments, RequestSet } from './generation';

export interface SplitRequestsInput {
  config: ConfigFor<'storage'>;
  requests: RequestSet;
  shards: number;
}

export interface MergeShardsInput {
  config: ConfigFor<'storage'>;
  /** Each shard's generation, in shard order. */
  shards: GeneratedJudgments[];
}

export function createShardActivities(deps: ActivityDeps) {
  return {
    /** Writes shard i's rows (a contiguous range) to `<requests>/shards/<i>/data/requests.jsonl`; returns the shards' request sets. */
    async splitRequests(input: SplitRequestsInput): Promise<RequestSet[]> {
      const store = deps.storeFor(storageSettings(input.config));
      const heartbeat = throttledHeartbeat();
      const source = joinUri(input.requests.dataUri, 'requests.jsonl');
      const rows = store.readJsonl<unknown>(source)[Symbol.asyncIterator]();
      const out: RequestSet[] = [];
      for (const [index, [start, end]] of shardRanges(input.requests.requests, input.shards).entries()) {
        async function* part(): AsyncGenerator<unknown> {
          for (let row = start; row < end; row++) {
            const next = await rows.next();
            if (next.done) {
              throw ApplicationFailure.nonRetryable(
                `${source} holds ${row} requests, not the ${input.requests.requests} its rendering step counted: render the requests again (reset the run to this iteration)`,
                'InvalidJobOutput',
              );
            }
            heartbeat({ phase: 'splitting requests', shard: index });
            yield next.value;
          }
        }
        const dataUri = shardRequestsUri(input.requests.dataUri, index);
        const written = await store.writeJsonl(joinUri(dataUri, 'requests.jsonl'), part());
        out.push({ dataUri, requests: written.rows ?? end - start });
      }
      if (!(await rows.next()).done) {
        throw ApplicationFailure.nonRetryable(
          `${source} holds more than the ${input.requests.requests} requests its rendering step counted: render the requests again (reset the run to this iteration)`,
          'InvalidJobOutput',
        );
      }
      return out;
    },

    /** Concatenates the shards' `judgments.jsonl` in shard order into `<step>/shards/merged/judgments.jsonl`. */
    async mergeShardJudgments(input: MergeShardsInput): Promise<GeneratedJudgments> {
      if (input.shards.length === 0) throw ApplicationFailure.nonRetryable('mergeShardJudgments was given no shard', 'InvalidInput');
      const store = deps.storeFor(storageSettings(input.config));
      const heartbeat = throttledHeartbeat();
      const outputUri = mergedShardsUri(input.shards[0].outputUri);
      async function* rows(): AsyncGenerator<unknown> {
        for (const [index, shard] of input.shards.entries()) {
          for await (const row of store.readJsonl<unknown>(shard.judgmentsUri)) {
            heartbeat({ phase: 'merging judgments', shard: index });
            yield row;
          }
        }
      }
      const written = await store.writeJsonl(joinUri(outputUri, 'judgments.jsonl'), rows());
      const how = input.shards.every((s) => s.how === input.shards[0].how) ? input.shards[0].how : 'ran';
      return {
        outputUri,
        judgmentsUri: written.uri,
        jobName: input.shards.map((s) => s.jobName).join(','),
        how,
        // The shards' own wall times, summed: what the generation used, not how long it took.
        seconds: input.shards.reduce((sum, s) => sum + s.seconds, 0),
      };
    },
  };
}
