/**
 * Judge-side step for the `meta_judge` pairing strategy (docs/method.md, "Pair"): the current judge, prompted as
 * a meta-judge (prompts/meta-judge-v1.txt), rates each of its own parsed sampled judgments — rationale and
 * score — on a 1–5 scale of how well the rationale justifies a correct score. One greedy generation job;
 * the pair step reads `iter-N/meta-judge/data/ratings.jsonl`.
 *
 * Also home of what the two judge-side steps share (this one and activities/steps/consistency.ts): their input,
 * streaming the parsed sampled judgments, and the greedy generation job.
 */
import type { RunConfig } from '../../core/config/config';
import { datasetPrefix, iterationPrefix, jobName, joinUri } from '../../core/run/artifacts';
import { parseJudgment } from '../../core/judging/judgment';
import { META_SCALE, renderMeta, type PointwisePromptInput, type Template } from '../../core/judging/prompt';
import type { ChatMessage, PointwiseExample } from '../../core/data/records';
import { deriveSeed } from '../../core/common/rng';
import type { MetaJudgeSummary } from '../../core/run/run-types';
import { runStepOnce } from '../storage/manifest';
import { acrossRunsFor } from '../storage/step-reuse';
import { type ActivityDeps, badInput, currentJobContext, storageSettings, throttledHeartbeat } from '../context';
import { DEFAULT_META_TEMPLATE, generationHyperparameters, loadTemplateFile, promptHash } from './prompts';
import type { GenerationRequest } from './sample';
import type { ObjectStore } from '../storage/object-store';
import type { JobResult } from '../jobs/types';

/** The input of both judge-side steps (rateJudgments, rescoreJudgments). */
export interface JudgeSideInput {
  config: RunConfig;
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

/** What the judge-side steps read from each sampled judgment row. */
interface SampledJudgmentRow {
  request_id: string;
  example_id: string;
  sample_index: number;
  text: string;
}

export interface ParsedSample {
  request_id: string;
  example_id: string;
  sample_index: number;
  rationale: string;
  score: number;
}

/**
 * Fields a judge-side request carries so its result maps back to the judgment it is about. (generate.py
 * writes its own `sample_index` on every output row, so the judged one travels under another name.)
 */
export interface JudgedRef {
  judged_request_id: string;
  judged_sample_index: number;
  judged_score: number;
}

/** The id of the request about one sampled judgment: unique per (request, sample). */
export function judgedRequestId(requestId: string, sampleIndex: number): string {
  return `${requestId}#${sampleIndex}`;
}

/** The parsed ones among the sampled judgments (`text` parsed with the judge's scale and marker). */
export async function* parsedSamples(store: ObjectStore, uri: string, config: RunConfig): AsyncGenerator<ParsedSample> {
  const options = { ...config.judge.scale, marker: config.judge.marker };
  for await (const row of store.readJsonl<SampledJudgmentRow>(uri)) {
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

function runIdOf(input: JudgeSideInput): string {
  return input.runId ?? input.runPrefixUri.replace(/\/+$/, '').split('/').pop() ?? 'run';
}

/**
 * The one generation job of a judge-side step over the requests under `requestsFolder`: greedy (one sample
 * at temperature 0) unless `sampling` says otherwise; `overrides` adjust the grammar (the rating scale).
 */
export async function runGreedyGeneration(
  deps: ActivityDeps,
  store: ObjectStore,
  input: JudgeSideInput,
  step: 'meta-judge' | 'consistency',
  requestsFolder: string,
  overrides: Record<string, string | number | boolean> = {},
  sampling: { numSamples: number; temperature: number } = { numSamples: 1, temperature: 0 },
): Promise<JobResult> {
  const { config, iteration } = input;
  return deps.runnerFor(config, store).run(
    {
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
    },
    currentJobContext(),
  );
}

/** A meta-judge request: the judged input and one of its judgments, rendered with the meta template. */
export type MetaRequest = GenerationRequest & JudgedRef;

/** What the meta-judge template reads from a training row. */
export type MetaInputRow = PointwisePromptInput & { id: string };

export function buildMetaRequest(
  template: { template: Template; hash: string },
  config: RunConfig,
  example: MetaInputRow,
  sample: ParsedSample,
): MetaRequest {
  const messages: ChatMessage[] = renderMeta(
    template.template,
    {
      instruction: example.instruction,
      response: example.response,
      rubric: example.rubric,
      reference_answer: example.reference_answer,
      judgment: { rationale: sample.rationale, score: sample.score },
    },
    {
      scale: config.judge.scale,
      ratingScale: META_SCALE,
      marker: config.judge.marker,
      systemPlacement: config.judge.systemPromptPlacement,
    },
  );
  return {
    request_id: judgedRequestId(sample.request_id, sample.sample_index),
    example_id: sample.example_id,
    messages,
    prompt_hash: promptHash(messages),
    template_hash: template.hash,
    judged_request_id: sample.request_id,
    judged_sample_index: sample.sample_index,
    judged_score: sample.score,
  };
}

/** One row of ratings.jsonl: a judgment's mean rating over the meta-judge's sampled ratings. */
export interface MetaRating {
  request_id: string;
  example_id: string;
  sample_index: number;
  meta_score: number | null;
  meta_status: 'ok' | 'unparseable';
  /** Every parsed rating (ratingSamples per judgment; fewer when some did not parse). */
  ratings?: number[];
  reason?: string;
}

/** Folds the per-sample rating rows of one judgment into its row: the mean of the parsed ratings. */
export function combineRatings(rows: MetaRating[]): MetaRating {
  const first = rows[0];
  const scores = rows.filter((r) => r.meta_status === 'ok' && r.meta_score !== null).map((r) => r.meta_score as number);
  const base = { request_id: first.request_id, example_id: first.example_id, sample_index: first.sample_index };
  if (scores.length === 0) {
    return { ...base, meta_score: null, meta_status: 'unparseable', reason: first.reason ?? 'no rating parsed' };
  }
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  return { ...base, meta_score: Math.round(mean * 1000) / 1000, meta_status: 'ok', ratings: scores };
}

/** Parses the meta-judge's output for one judgment (its rating on `META_SCALE`). */
export function metaRatingRow(raw: JudgedRef & { example_id: string; text: string }, marker: string): MetaRating {
  const parsed = parseJudgment(raw.text, { ...META_SCALE, marker });
  const base = { request_id: raw.judged_request_id, example_id: raw.example_id, sample_index: raw.judged_sample_index };
  return parsed.status === 'ok'
    ? { ...base, meta_score: parsed.score, meta_status: 'ok' }
    : { ...base, meta_score: null, meta_status: 'unparseable', reason: parsed.reason };
}

/** The meta_judge strategy's template, or the default one. */
export function metaTemplatePath(config: RunConfig): string {
  return metaStrategy(config)?.template ?? DEFAULT_META_TEMPLATE;
}

function metaStrategy(config: RunConfig) {
  for (const strategy of config.loop.pairing.strategies) {
    if (strategy.name === 'meta_judge') return strategy;
  }
  return undefined;
}

export function createMetaJudgeActivities(deps: ActivityDeps) {
  return {
    /**
     * Rates every parsed sampled judgment with the meta-judge template (greedy), writing
     * `iter-N/meta-judge/data/ratings.jsonl` rows `{request_id, example_id, sample_index, meta_score,
     * meta_status, reason?}`. Returns `{uri, rated, unparseable}`: `rated` counts every row written (one per
     * parsed sampled judgment), `unparseable` those whose rating did not parse (`meta_score: null`).
     */
    async rateJudgments(input: JudgeSideInput): Promise<MetaJudgeSummary> {
      const { config, iteration } = input;
      const store = deps.storeFor(storageSettings(config));
      const templateFile = metaTemplatePath(config);
      const template = await loadTemplateFile(deps.projectRoot, templateFile, 'meta', 'loop.pairing.strategies[meta_judge].template');
      const prefix = stepRoot(input.runPrefixUri, iteration, 'meta-judge');
      const requestsPrefix = joinUri(prefix, 'requests');
      const trainUri = input.trainUri ?? joinUri(datasetPrefix(input.runPrefixUri, 'train'), 'data', 'rows.jsonl');
      const heartbeat = throttledHeartbeat();
      const requestInputs = {
        requestsUri: input.requestsUri,
        judgmentsUri: input.judgmentsUri,
        trainUri,
        template: template.hash,
        judge: config.judge,
        ratingScale: META_SCALE,
      };

      const rendered = await runStepOnce(
        store,
        { prefixUri: requestsPrefix, step: 'meta-judge:requests', inputs: requestInputs, codeVersion: deps.codeVersion, acrossRuns: await acrossRunsFor(input.config, input.runPrefixUri) },
        async () => {
          // The sample step's requests say which training rows were judged; only those are kept in memory.
          const exampleOf = new Map<string, string>();
          for await (const r of store.readJsonl<GenerationRequest>(input.requestsUri)) {
            exampleOf.set(r.request_id, r.example_id);
            heartbeat({ phase: 'reading requests', requests: exampleOf.size });
          }
          const wanted = new Set(exampleOf.values());
          const examples = new Map<string, MetaInputRow>();
          for await (const ex of store.readJsonl<PointwiseExample>(trainUri)) {
            if (wanted.has(ex.id)) {
              examples.set(ex.id, { id: ex.id, instruction: ex.instruction, response: ex.response, rubric: ex.rubric, reference_answer: ex.reference_answer });
            }
            heartbeat({ phase: 'reading training rows' });
          }
          async function* requests(): AsyncGenerator<MetaRequest> {
            for await (const sample of parsedSamples(store, input.judgmentsUri, config)) {
              const exampleId = exampleOf.get(sample.request_id) ?? sample.example_id;
              const example = examples.get(exampleId);
              if (!example) {
                throw badInput(`meta-judge: judgment ${sample.request_id}#${sample.sample_index} is about example "${exampleId}", which is not in ${trainUri}`);
              }
              heartbeat({ phase: 'rendering' });
              yield buildMetaRequest(template, config, example, { ...sample, example_id: exampleId });
            }
          }
          const written = await store.writeJsonl(joinUri(requestsPrefix, 'data', 'requests.jsonl'), requests());
          return { objects: [written], summary: { requests: written.rows ?? 0 } };
        },
      );

      // No parsed judgment, nothing to rate: no job (generate.py would be handed an empty file).
      const strategy = metaStrategy(config);
      const sampling = { numSamples: strategy?.ratingSamples ?? 1, temperature: strategy?.ratingTemperature ?? 0 };
      const job =
        rendered.summary.requests > 0
          ? await runGreedyGeneration(
              deps,
              store,
              input,
              'meta-judge',
              joinUri(requestsPrefix, 'data'),
              { score_min: META_SCALE.min, score_max: META_SCALE.max },
              sampling,
            )
          : null;

      const outcome = await runStepOnce(
        store,
        {
          prefixUri: prefix,
          step: 'meta-judge',
          inputs: { requests: requestInputs, job: job?.modelUri ?? null, sampling },
          codeVersion: deps.codeVersion,
          acrossRuns: await acrossRunsFor(input.config, input.runPrefixUri),
        },
        async () => {
          let rated = 0;
          let unparseable = 0;
          async function* ratings(): AsyncGenerator<MetaRating> {
            if (!job) return;
            // generate.py writes a request's samples one after another: fold each run of rows into one.
            let group: MetaRating[] = [];
            const flush = (): MetaRating | null => {
              if (group.length === 0) return null;
              const row = combineRatings(group);
              group = [];
              rated++;
              if (row.meta_status === 'unparseable') unparseable++;
              heartbeat({ rated });
              return row;
            };
            for await (const raw of store.readJsonl<MetaRequest & { text: string }>(joinUri(job.modelUri, 'judgments.jsonl'))) {
              const row = metaRatingRow(raw, config.judge.marker);
              const current = group[0];
              if (current && (current.request_id !== row.request_id || current.sample_index !== row.sample_index)) {
                const done = flush();
                if (done) yield done;
              }
              group.push(row);
            }
            const last = flush();
            if (last) yield last;
          }
          const written = await store.writeJsonl(joinUri(prefix, 'data', 'ratings.jsonl'), ratings());
          const summary: MetaJudgeSummary = { uri: written.uri, rated, unparseable };
          return { objects: [written], summary };
        },
      );
      return outcome.summary;
    },
  };
}
