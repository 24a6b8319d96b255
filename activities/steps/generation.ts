/**
 * What the steps that run generate.py share: a folder of rendered requests (written by a data activity), the
 * input of the job activity that generates over it, and what that activity returns. The job's rows stay in S3;
 * only these few fields travel through Temporal.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { jobName, joinUri } from '../../core/run/artifacts';
import { deriveSeed } from '../../core/common/rng';
import { shardJobUri, shardName, type ShardRef } from '../../core/run/shards';
import type { JobResult, JobSpec } from '../jobs/types';

/** The requests of one generation: the folder handed to generate.py and how many rows it holds. */
export interface RequestSet {
  dataUri: string;
  requests: number;
}

/** A set of requests, or null when there are none: no request, no job (generate.py would get an empty file). */
export function requestSet(dataUri: string, requests: number): RequestSet | null {
  return requests > 0 ? { dataUri, requests } : null;
}

/** The input of a job activity that generates over a request set. */
export interface GenerationInput {
  config: ConfigFor<'generation'>;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  /** The judge that generates. */
  modelUri: string;
  requests: RequestSet;
  /** One shard of a sharded generation (core/run/shards.ts); absent: the whole generation, one job. */
  shard?: ShardRef;
}

/**
 * The job of one shard, from the spec the whole generation's single job would have: its own name and output
 * folder (`<step>/shards/<i>/job`), and, when it samples, its own seed, so that shards do not draw the same
 * random numbers. Without a shard, the spec as it is.
 */
export function shardedJob(spec: JobSpec, input: Pick<GenerationInput, 'runId' | 'iteration' | 'shard'>, step: string): JobSpec {
  const { shard } = input;
  if (!shard) return spec;
  const { seed, temperature } = spec.hyperparameters;
  const sampled = typeof temperature === 'number' && temperature > 0 && typeof seed === 'number';
  return {
    ...spec,
    jobName: jobName(input.runId, input.iteration, `${step}-shard-${shardName(shard.index)}`),
    outputUri: shardJobUri(spec.outputUri, shard.index),
    hyperparameters: sampled ? { ...spec.hyperparameters, seed: deriveSeed(seed, 'shard', shard.index) } : spec.hyperparameters,
  };
}

/** A generation job's result as the workflow needs it (the full JobResult, with its usage, stays in S3). */
export interface GeneratedJudgments {
  /** The job's `model/` folder. */
  outputUri: string;
  /** Its `judgments.jsonl`: generate.py's rows, one per request and sample. */
  judgmentsUri: string;
  jobName: string;
  how: JobResult['how'];
  seconds: number;
}

export function generated(job: JobResult): GeneratedJudgments {
  return { outputUri: job.modelUri, judgmentsUri: joinUri(job.modelUri, 'judgments.jsonl'), jobName: job.jobName, how: job.how, seconds: job.seconds };
}
