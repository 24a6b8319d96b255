/**
 * What the two judge-side steps share (activities/steps/meta-judge.ts and activities/steps/consistency.ts;
 * docs/method.md, "Pair"): their input, the parsed sampled judgments they build their requests from, and the
 * greedy generation job each runs. Not a step itself.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { iterationPrefix, jobName, joinUri } from '../../core/run/artifacts';
import { parseJudgment } from '../../core/judging/judgment';
import { deriveSeed } from '../../core/common/rng';
import type { ParsedSample } from '../../core/run/formats';
import { type ActivityDeps, currentJobContext } from '../context';
import { generationHyperparameters } from './prompts';
import { readRows } from './rows';
import type { ObjectStore } from '../storage/object-store';
import type { JobResult, JobSpec } from '../jobs/types';
import { type GenerationInput, shardedJob } from './generation';

/** The input of both judge-side steps (their requests' rendering and collecting, and the one-activity forms). */
export interface JudgeSideInput {
  config: ConfigFor<'judgeSide'>;
  /** Names the generation job (core/run/artifacts jobName); defaults to the last segment of runPrefixUri. */
  runId?: string;
  runPrefixUri: string;
  iteration: number;
  /** The judge that sampled the judgments (and now rates or re-scores them). */
  modelUri: string;
  /** The sample step's requests JSONL: request_id, example_id, messages, prompt_hash, template_hash. */
  requestsUri: string;
  /** The sampled judgments: the score step's data/judgments.jsonl (or the raw job output); `text` is parsed. */
  judgmentsUri: string;
  /** Prepared training rows; default `<run>/data/train/data/rows.jsonl` (meta-judge only). */
  trainUri?: string;
}

/** The id of the request about one sampled judgment: unique per (request, sample). */
export function judgedRequestId(requestId: string, sampleIndex: number): string {
  return `${requestId}#${sampleIndex}`;
}

/**
 * The parsed ones among the sampled judgments (`text` parsed with the judge's scale and marker). Each row is
 * checked against the `sampled judgment` format (core/run/formats.ts) first.
 */
export async function* parsedSamples(store: Pick<ObjectStore, 'readJsonl'>, uri: string, config: Pick<RunConfig, 'judge'>): AsyncGenerator<ParsedSample> {
  const options = { ...config.judge.scale, marker: config.judge.marker };
  for await (const row of readRows(store, uri, 'sampled judgment', { step: 'score' })) {
    const parsed = parseJudgment(row.text, options);
    if (parsed.status !== 'ok') continue;
    yield {
      request_id: row.request_id,
      example_id: row.example_id,
      sample_index: row.sample_index,
      rationale: parsed.rationale,
      score: parsed.score,
    };
  }
}

export function stepRoot(runPrefixUri: string, iteration: number, step: 'meta-judge' | 'consistency'): string {
  return joinUri(iterationPrefix(runPrefixUri, iteration), step);
}

export function runIdOf(input: Pick<JudgeSideInput, 'runId' | 'runPrefixUri'>): string {
  return input.runId ?? input.runPrefixUri.replace(/\/+$/, '').split('/').pop() ?? 'run';
}

/**
 * The one generation job of a judge-side step over the requests under `requestsFolder`: greedy (one sample
 * at temperature 0) unless `sampling` says otherwise; `overrides` adjust the grammar (the rating scale).
 */
export async function runGreedyGeneration(
  deps: ActivityDeps,
  store: ObjectStore,
  input: Pick<JudgeSideInput, 'runId' | 'runPrefixUri' | 'iteration' | 'modelUri'> & Pick<GenerationInput, 'shard'> & { config: ConfigFor<'generation'> },
  step: 'meta-judge' | 'consistency',
  requestsFolder: string,
  overrides: Record<string, string | number | boolean> = {},
  sampling: { numSamples: number; temperature: number } = { numSamples: 1, temperature: 0 },
): Promise<JobResult> {
  const { config, iteration } = input;
  const spec: JobSpec = {
    jobName: jobName(runIdOf(input), iteration, step),
    entryPoint: 'generate.py',
    channels: { model: input.modelUri, requests: requestsFolder },
    hyperparameters: {
      ...generationHyperparameters(config),
      ...overrides,
      num_samples: sampling.numSamples,
      temperature: sampling.temperature,
      seed: deriveSeed(config.loop.seed, step, iteration),
    },
    outputUri: joinUri(stepRoot(input.runPrefixUri, iteration, step), 'job'),
  };
  return deps.runnerFor(config, store).run(shardedJob(spec, { ...input, runId: runIdOf(input) }, step), currentJobContext());
}
