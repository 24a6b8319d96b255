/**
 * Judge-side step for the `meta_judge` pairing strategy (docs/method.md, "Pair"): the current judge, prompted as
 * a meta-judge (prompts/meta-judge-v1.txt), rates each of its own parsed sampled judgments — rationale and
 * score — on a 1–5 scale of how well the rationale justifies a correct score. One greedy generation job;
 * the pair step reads `iter-N/meta-judge/data/ratings.jsonl`. What this step shares with the consistency step
 * (their input, the parsed sampled judgments, the generation job) is activities/steps/judge-side.ts.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { datasetPrefix, joinUri } from '../../core/run/artifacts';
import { parseJudgment } from '../../core/judging/judgment';
import { META_SCALE, renderMeta, type PointwisePromptInput, type Template } from '../../core/judging/prompt';
import type { ChatMessage, PointwiseExample } from '../../core/data/records';
import type { JudgedRef, MetaRating, MetaRequest, ParsedSample } from '../../core/run/formats';
import type { MetaJudgeSummary } from '../../core/run/run-types';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, badInput, storageSettings, throttledHeartbeat } from '../context';
import { DEFAULT_META_TEMPLATE, loadTemplateFile, promptHash } from './prompts';
import { type JudgeSideInput, judgedRequestId, parsedSamples, runGreedyGeneration, runIdOf, stepRoot } from './judge-side';
import { type GeneratedJudgments, type GenerationInput, type RequestSet, generated, requestSet } from './generation';
import type { JobResult } from '../jobs/types';
import { readRows } from './rows';

/** What the meta-judge template reads from a training row. */
export type MetaInputRow = PointwisePromptInput & { id: string };

export function buildMetaRequest(
  template: { template: Template; hash: string },
  config: Pick<RunConfig, 'judge'>,
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
export function metaTemplatePath(config: Pick<RunConfig, 'loop'>): string {
  return metaStrategy(config)?.template ?? DEFAULT_META_TEMPLATE;
}

function metaStrategy(config: Pick<RunConfig, 'loop'>) {
  for (const strategy of config.loop.pairing.strategies) {
    if (strategy.name === 'meta_judge') return strategy;
  }
  return undefined;
}

export function createMetaJudgeActivities(deps: ActivityDeps) {
  /** What the requests are made of: the manifest inputs of the rendering, and part of the collecting's. */
  async function requestInputs(input: JudgeSideInput) {
    const template = await loadTemplateFile(deps.projectRoot, metaTemplatePath(input.config), 'meta', 'loop.pairing.strategies[meta_judge].template');
    const trainUri = input.trainUri ?? joinUri(datasetPrefix(input.runPrefixUri, 'train'), 'data', 'rows.jsonl');
    const inputs = {
      requestsUri: input.requestsUri,
      judgmentsUri: input.judgmentsUri,
      trainUri,
      template: template.hash,
      judge: input.config.judge,
      ratingScale: META_SCALE,
    };
    return { template, trainUri, inputs };
  }

  /** The meta-judge's sampling of each rating: greedy unless the strategy asks for several samples. */
  function ratingSampling(config: Pick<RunConfig, 'loop'>) {
    const strategy = metaStrategy(config);
    return { numSamples: strategy?.ratingSamples ?? 1, temperature: strategy?.ratingTemperature ?? 0 };
  }

  /** Renders one meta-judge request per parsed sampled judgment; null when none parsed (nothing to rate). */
  async function renderMetaJudgeRequests(input: JudgeSideInput): Promise<RequestSet | null> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const { template, trainUri, inputs } = await requestInputs(input);
    const requestsPrefix = joinUri(stepRoot(input.runPrefixUri, iteration, 'meta-judge'), 'requests');
    const heartbeat = throttledHeartbeat();
    const rendered = await once(
      { prefixUri: requestsPrefix, step: 'meta-judge:requests', inputs },
      async () => {
        // The sample step's requests say which training rows were judged; only those are kept in memory.
        const exampleOf = new Map<string, string>();
        for await (const r of readRows(store, input.requestsUri, 'generation request', { step: 'sample' })) {
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
    return requestSet(joinUri(requestsPrefix, 'data'), rendered.summary.requests);
  }

  /** The judge rates each judgment on the meta scale (one job). */
  async function rate(input: GenerationInput): Promise<JobResult> {
    const store = deps.storeFor(storageSettings(input.config));
    return runGreedyGeneration(
      deps,
      store,
      input,
      'meta-judge',
      input.requests.dataUri,
      { score_min: META_SCALE.min, score_max: META_SCALE.max },
      ratingSampling(input.config),
    );
  }

  /**
   * Folds the job's rows into `iter-N/meta-judge/data/ratings.jsonl`, one row `{request_id, example_id,
   * sample_index, meta_score, meta_status, reason?}` per rated judgment. Returns `{uri, rated, unparseable}`:
   * `rated` counts every row written (one per parsed sampled judgment), `unparseable` those whose rating did
   * not parse (`meta_score: null`). `outputUri` null: there was nothing to rate.
   */
  async function collectMetaRatings(input: JudgeSideInput & { outputUri: string | null }): Promise<MetaJudgeSummary> {
    const { config, iteration, outputUri } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const prefix = stepRoot(input.runPrefixUri, iteration, 'meta-judge');
    const heartbeat = throttledHeartbeat();
    const { inputs: requestInputsOf } = await requestInputs(input);
    const outcome = await once(
      {
        prefixUri: prefix,
        step: 'meta-judge',
        inputs: { requests: requestInputsOf, job: outputUri, sampling: ratingSampling(config) },
      },
      async () => {
        let rated = 0;
        let unparseable = 0;
        async function* ratings(): AsyncGenerator<MetaRating> {
          if (!outputUri) return;
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
          for await (const raw of readRows(store, joinUri(outputUri, 'judgments.jsonl'), 'judge-side output row', { job: 'meta-judge' })) {
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
  }

  return {
    renderMetaJudgeRequests,
    /** The meta-judge's ratings of the requests (job `meta-judge`). */
    async generateMetaRatings(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await rate(input));
    },
    collectMetaRatings,
    /**
     * Render, rate and collect in one activity, as runs started before the meta-judge job became an activity
     * of its own schedule it (workflows/options.ts JOB_ACTIVITIES_PATCH).
     */
    async rateJudgments(input: JudgeSideInput & { config: ConfigFor<'generation'> }): Promise<MetaJudgeSummary> {
      const requests = await renderMetaJudgeRequests(input);
      const job = requests ? await rate({ ...input, runId: runIdOf(input), requests }) : null;
      return collectMetaRatings({ ...input, outputUri: job?.modelUri ?? null });
    },
  };
}
