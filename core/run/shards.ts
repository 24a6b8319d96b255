/**
 * Sharded generation: how many jobs a generation runs in, which requests each takes, and where each shard's
 * requests and job live. A generation's requests are one JSONL file under `<requests>/data/`; shard i of n
 * takes a contiguous range of its rows into `<requests>/shards/<i>/data/`, and its job writes under
 * `<step>/shards/<i>/job` (the unsharded job's `<step>/job`). Pure: the workflows decide the count with it.
 */
import { joinUri } from './artifacts';

export interface ShardingSettings {
  shards: 'auto' | number;
  requestsPerShard: number;
  maxShards: number;
  concurrency: number;
}

/** One shard of a generation of `count` shards (0-based). */
export interface ShardRef {
  index: number;
  count: number;
}

/**
 * Shards for a generation of `requests` requests: the configured number, or with `auto` one per
 * `requestsPerShard` up to `maxShards`; never more than there are requests, and at least one.
 */
export function shardCount(sharding: Pick<ShardingSettings, 'shards' | 'requestsPerShard' | 'maxShards'>, requests: number): number {
  const wanted = sharding.shards === 'auto' ? Math.min(Math.ceil(requests / sharding.requestsPerShard), sharding.maxShards) : sharding.shards;
  return Math.max(1, Math.min(wanted, requests));
}

/** Row ranges [start, end) of `shards` contiguous shards of `rows` rows; sizes differ by at most one, the larger first. */
export function shardRanges(rows: number, shards: number): Array<[number, number]> {
  const base = Math.floor(rows / shards);
  const extra = rows % shards;
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 0; i < shards; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push([start, start + size]);
    start += size;
  }
  return out;
}

/** A shard's folder name: zero-padded, so listings sort in shard order. */
export function shardName(index: number): string {
  return String(index).padStart(3, '0');
}

/** Where shard `index` of the requests under `dataUri` (`<requests>/data`) goes: `<requests>/shards/<i>/data`. */
export function shardRequestsUri(dataUri: string, index: number): string {
  const requests = dataUri.replace(/\/+$/, '').replace(/\/data$/, '');
  return joinUri(requests, 'shards', shardName(index), 'data');
}

/** Where a shard's job writes, from where the generation's single job would (`<step>/job` → `<step>/shards/<i>/job`). */
export function shardJobUri(jobUri: string, index: number): string {
  const step = jobUri.replace(/\/+$/, '').replace(/\/job$/, '');
  return joinUri(step, 'shards', shardName(index), 'job');
}

/**
 * Where the merged judgments of a sharded generation go, from a shard's output folder: `<step>/shards/merged`,
 * a folder holding judgments.jsonl. A local job writes its model folder at `<step>/shards/<i>/job/model`; a
 * SageMaker job at `<step>/shards/<i>/job/<training job name>/output/model` (activities/jobs/sagemaker-request.ts).
 */
export function mergedShardsUri(shardOutputUri: string): string {
  const m = /^(.*)\/shards\/\d+\/job\/(?:[^/]+\/output\/)?model\/?$/.exec(shardOutputUri);
  if (!m) throw new Error(`${shardOutputUri} is not a shard's output folder (<step>/shards/<i>/job/model, or .../job/<name>/output/model on SageMaker)`);
  return joinUri(m[1], 'shards', 'merged');
}
