/**
 * Step 5, Evaluate: score the judge M(i) on every held-out suite with greedy decoding, then compute the suite
 * metrics: correlations, exact agreement and MAE against the gold score for pointwise suites; for pairwise
 * suites, by `data.evalSuites[].mode`:
 * - `pointwise` (the default): both responses are scored with the pointwise template and compared (correct
 *   when chosen scores higher; a tie or an unparseable judgment counts 0.5);
 * - `relative`: each pair is rendered twice with the pairwise template (`judge.pairwiseTemplate`), chosen as A
 *   and chosen as B, the first of the two by a seeded coin (core/evaluation/relative.ts); the verdict `A`/`B` is decoded
 *   by a second generation job (`choices: A,B`) and parsed with `parsePairwiseVerdict`;
 * - `both`: the two, the relative figures under `relative` in the suite's metrics.
 * One generation job for every pointwise request (every suite's), one for every relative request; each runs
 * only when it has requests.
 */
import type { ConfigFor } from '../../core/config/sections';
import { pairwiseMode, type PairwiseMode, type RunConfig } from '../../core/config/config';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { parsePairwiseVerdict } from '../../core/judging/judgment';
import type { BootstrapOptions } from '../../core/evaluation/bootstrap';
import { baselineScores, type BaselineScores, type SampledScore } from '../../core/evaluation/baselines';
import { pairOutcome, pairwiseFigures, pairwiseReport, pointwiseReport, type PairItem, type PointwiseItem } from '../../core/evaluation/suite-report';
import { PAIRWISE_CHOICES, renderPairwise } from '../../core/judging/prompt';
import { OwnParseTally, type MarkerSource, type PairwiseExample, type PointwiseExample, type Rubric } from '../../core/data/records';
import {
  pickedSide,
  relativeOrderSeed,
  relativeOrders,
  relativeResponses,
  relativeIntervals,
  relativeSuiteMetrics,
  type RelativeOrder,
  type RelativeVerdictRow,
} from '../../core/evaluation/relative';
import type { PairwiseMetrics, RelativeMetrics, SuiteMetrics } from '../../core/run/run-types';
import { evaluationHeadlines } from '../../core/run/evaluation-detail';
import { deriveSeed } from '../../core/common/rng';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, currentJobContext, storageSettings, throttledHeartbeat } from '../context';
import { generationHyperparameters, loadTemplate, loadTemplateFile, promptHash, renderForJudge, type LoadedTemplate } from './prompts';
import type { EvalJudgment, EvalRequest, RelativeJudgment, RelativeOutputRow, RelativeRequest } from '../../core/run/formats';
import { scoreRawJudgment } from './score';
import { readRows } from './rows';
import type { PreparedDataset } from './prepare';
import type { ObjectStore, WrittenObject } from '../storage/object-store';
import type { JobResult, JobSpec } from '../jobs/types';
import { type GeneratedJudgments, type GenerationInput, type RequestSet, generated, requestSet, shardedJob } from './generation';

/** Pairwise suites without a rubric of their own are judged on overall quality. */
export const DEFAULT_PAIRWISE_RUBRIC: Rubric = {
  criteria: 'Does the response follow the instruction precisely, helpfully and correctly?',
  score1: 'The response ignores or contradicts the instruction, or is wrong.',
  score2: 'The response addresses the instruction only in part, with major errors or omissions.',
  score3: 'The response follows the instruction with some errors or omissions.',
  score4: 'The response follows the instruction well, with minor flaws.',
  score5: 'The response follows the instruction precisely, helpfully and correctly.',
};

export interface EvaluateInput {
  config: ConfigFor<'evaluation'>;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  modelUri: string;
  suites: PreparedDataset[];
}

/** The default grouping field of a suite (`data.evalSuites[].groupBy`). */
export function suiteGroupBy(config: Pick<RunConfig, 'data'>, suite: Pick<PreparedDataset, 'name' | 'kind'>): string {
  const configured = config.data.evalSuites.find((s) => s.name === suite.name)?.groupBy;
  return configured ?? (suite.kind === 'pairwise' ? 'subset' : 'meta.capability');
}

/** The row's value of a `groupBy` field (`subset` or `meta.<key>`); a number is used as its decimal text. */
export function groupOf(row: { subset?: string; meta?: Record<string, unknown> }, groupBy: string): string | undefined {
  const value = groupBy === 'subset' ? row.subset : row.meta?.[groupBy.slice('meta.'.length)];
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

// The relative-eval tests (test/integration/, test/unit/) import these from here; core/run/formats.ts owns them.
export type { RelativeJudgment, RelativeRequest } from '../../core/run/formats';

/** Where the relative requests and job live: `iter-K/evaluate/relative/` (their verdicts go under metrics/). */
export function relativePrefix(evaluatePrefix: string): string {
  return joinUri(evaluatePrefix, 'relative');
}

/** The suite's mode from the config (`pointwise` for pointwise suites and for suites the config lacks). */
export function suiteMode(config: Pick<RunConfig, 'data'>, suite: Pick<PreparedDataset, 'name' | 'kind'>): PairwiseMode {
  const configured = config.data.evalSuites.find((s) => s.name === suite.name);
  return pairwiseMode({ kind: suite.kind, mode: configured?.mode });
}

/** Renders one pair in one order with the pairwise template. */
export function buildRelativeRequest(
  template: Pick<LoadedTemplate, 'template' | 'hash'>,
  config: Pick<RunConfig, 'judge'>,
  suite: string,
  example: PairwiseExample,
  order: RelativeOrder,
  first: boolean,
): RelativeRequest {
  const messages = renderPairwise(
    template.template,
    { instruction: example.instruction, ...relativeResponses(example, order), criteria: example.rubric?.criteria },
    { marker: config.judge.marker, systemPlacement: config.judge.systemPromptPlacement },
  );
  return {
    request_id: `${suite}::${example.id}::${order}`,
    example_id: example.id,
    suite,
    relative_order: order,
    relative_first: first,
    messages,
    prompt_hash: promptHash(messages),
    template_hash: template.hash,
    ...(example.tie ? { gold_tie: true as const } : {}),
  };
}

/** Parses the judge's output for one relative request (generate.py's row: the request's fields plus `text`). */
export function relativeJudgmentRow(
  raw: RelativeOutputRow,
  marker: string,
  modelId: string,
): RelativeJudgment {
  const parsed = parsePairwiseVerdict(raw.text, { marker });
  const base = {
    request_id: raw.request_id,
    example_id: raw.example_id,
    suite: raw.suite,
    model_id: modelId,
    prompt_hash: raw.prompt_hash,
    ...(raw.template_hash !== undefined ? { template_hash: raw.template_hash } : {}),
    text: raw.text,
    seed: raw.seed,
    relative_order: raw.relative_order,
    relative_first: raw.relative_first,
    ...(raw.gold_tie === true ? { gold_tie: true as const } : {}),
  };
  return parsed.status === 'ok'
    ? { ...base, status: 'ok', rationale: parsed.rationale, verdict: parsed.verdict, picked: pickedSide(raw.relative_order, parsed.verdict) }
    : { ...base, status: 'unparseable', picked: null, reason: parsed.reason };
}

/** A pairwise suite's metrics for its mode: the pointwise comparison, the relative grading, or both. */
export function pairwiseMetricsForMode(mode: PairwiseMode, pointwise: PairSides[], relative: RelativeMetrics | undefined): PairwiseMetrics {
  if (mode === 'pointwise') return pairwiseSuiteMetrics(pointwise);
  if (!relative) throw new Error(`pairwise mode ${mode} without relative metrics`);
  if (mode === 'both') return { ...pairwiseSuiteMetrics(pointwise), mode, relative };
  return {
    kind: 'pairwise',
    n: relative.n,
    accuracy: relative.accuracy,
    ties: 0,
    unparseable: relative.unparseable,
    goldTies: relative.goldTies,
    mode,
    relative,
  };
}

/** What renderEvaluationRequests wrote: each set only when it has requests (no request, no job). */
export interface EvaluationRequests {
  pointwise: RequestSet | null;
  relative: RequestSet | null;
}

/** The three generations of an evaluation, each its own job (`<run>-i<K>-<job>`) and activity. */
export type EvaluationGeneration = 'pointwise' | 'baselines' | 'relative';

/** Where each generation's job left its outputs (its `model/` folder); null when it did not run. */
export type EvaluationOutputs = Record<EvaluationGeneration, string | null>;

export interface MetricsInput extends EvaluateInput {
  /** What renderEvaluationRequests wrote. */
  requests: EvaluationRequests;
  outputs: EvaluationOutputs;
}

/** Per generation: the job's name part, where its outputs go, and its decoding settings. */
const GENERATIONS: Record<
  EvaluationGeneration,
  { job: string; outputUri(evaluatePrefix: string): string; hyperparameters(config: Pick<RunConfig, 'evaluation' | 'loop'>, iteration: number): Record<string, string | number> }
> = {
  pointwise: {
    job: 'evaluate',
    outputUri: (prefix) => joinUri(prefix, 'job'),
    // Greedy decoding ignores the seed. A fixed one makes the job the same for runs that differ only in
    // loop.seed, so `judgeloop seeds` evaluates the shared seed judge once and the other seeds reuse it.
    hyperparameters: () => ({ num_samples: 1, temperature: 0, seed: 0 }),
  },
  // Inference-time baselines: N samples per pointwise request at temperature T (same requests, same prompts).
  baselines: {
    job: 'evaluate-baselines',
    outputUri: (prefix) => joinUri(prefix, 'baselines', 'job'),
    hyperparameters: (config, iteration) => ({
      num_samples: config.evaluation.baselines.samples,
      temperature: config.evaluation.baselines.temperature,
      seed: deriveSeed(config.loop.seed, 'evaluate-baselines', iteration),
    }),
  },
  relative: {
    job: 'evaluate-relative',
    outputUri: (prefix) => joinUri(relativePrefix(prefix), 'job'),
    // The verdict after the marker is one of A, B (generate.py's grammar), not a score.
    hyperparameters: (config) => ({ choices: PAIRWISE_CHOICES.join(','), num_samples: 1, temperature: 0, seed: config.loop.seed }),
  },
};

/** The requests the inference-time baselines sample, the pointwise ones; null when the config samples none. */
export function baselineRequests(config: Pick<RunConfig, 'evaluation'>, requests: EvaluationRequests): RequestSet | null {
  return config.evaluation.baselines.samples > 0 ? requests.pointwise : null;
}

/** The suites judged pointwise (pointwise suites, and pairwise suites whose two sides are scored) and with A/B. */
function suitesByMode(config: Pick<RunConfig, 'data'>, suites: PreparedDataset[]) {
  const modes = new Map(suites.map((s) => [s.name, suiteMode(config, s)]));
  return {
    modes,
    pointwise: suites.filter((s) => modes.get(s.name) !== 'relative'),
    relative: suites.filter((s) => s.kind === 'pairwise' && modes.get(s.name) !== 'pointwise'),
  };
}

function relativeOrderSeeds(config: Pick<RunConfig, 'loop'>, relativeSuites: PreparedDataset[]): Record<string, number> {
  return Object.fromEntries(relativeSuites.map((s) => [s.name, relativeOrderSeed(config.loop.seed, s.name)]));
}

export function createEvaluateActivities(deps: ActivityDeps) {
  /** Renders every suite's requests: the pointwise template's, and the pairwise template's in both orders. */
  async function renderEvaluationRequests(input: EvaluateInput): Promise<EvaluationRequests> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    const prefix = stepPrefix(input.runPrefixUri, iteration, 'evaluate');
    const heartbeat = throttledHeartbeat();
    const suites = suitesByMode(config, input.suites);
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);

    let pointwise: RequestSet | null = null;
    if (suites.pointwise.length > 0) {
      const template = await loadTemplate(deps.projectRoot, config);
      const requestsPrefix = joinUri(prefix, 'requests');
      const rendered = await once(
        {
          prefixUri: requestsPrefix,
          step: 'evaluate:requests',
          inputs: {
            suites: suites.pointwise.map((s) => s.uri),
            template: template.hash,
            judge: config.judge,
            groupBy: suites.pointwise.map((s) => suiteGroupBy(config, s)),
          },
        },
        async () => {
          const written = await store.writeJsonl(
            joinUri(requestsPrefix, 'data', 'requests.jsonl'),
            pointwiseRequests(store, config, template, suites.pointwise, heartbeat),
          );
          return { objects: [written], summary: { requests: written.rows ?? 0 } };
        },
      );
      pointwise = requestSet(joinUri(requestsPrefix, 'data'), rendered.summary.requests);
    }

    let relative: RequestSet | null = null;
    if (suites.relative.length > 0) {
      const pairwiseTemplate = await loadTemplateFile(deps.projectRoot, config.judge.pairwiseTemplate, 'pairwise', 'judge.pairwiseTemplate');
      const orderSeeds = relativeOrderSeeds(config, suites.relative);
      const relRequestsPrefix = joinUri(relativePrefix(prefix), 'requests');
      const rendered = await once(
        {
          prefixUri: relRequestsPrefix,
          step: 'evaluate:relative-requests',
          inputs: {
            suites: suites.relative.map((s) => s.uri),
            template: pairwiseTemplate.hash,
            marker: config.judge.marker,
            systemPromptPlacement: config.judge.systemPromptPlacement,
            orderSeeds,
          },
        },
        async () => {
          async function* requests(): AsyncGenerator<RelativeRequest> {
            for (const suite of suites.relative) {
              for await (const ex of store.readJsonl<PairwiseExample>(suite.uri)) {
                heartbeat({ phase: 'rendering relative requests', suite: suite.name });
                const orders = relativeOrders(orderSeeds[suite.name], ex.id);
                for (const [i, order] of orders.entries()) {
                  yield buildRelativeRequest(pairwiseTemplate, config, suite.name, ex, order, i === 0);
                }
              }
            }
          }
          const written = await store.writeJsonl(joinUri(relRequestsPrefix, 'data', 'requests.jsonl'), requests());
          return { objects: [written], summary: { requests: written.rows ?? 0 } };
        },
      );
      relative = requestSet(joinUri(relRequestsPrefix, 'data'), rendered.summary.requests);
    }
    return { pointwise, relative };
  }

  /** One generate.py job of this evaluation over a requests folder; returns where its outputs are. */
  async function generate(generation: EvaluationGeneration, input: GenerationInput): Promise<JobResult> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    const kind = GENERATIONS[generation];
    const spec: JobSpec = {
      jobName: jobName(input.runId, iteration, kind.job),
      entryPoint: 'generate.py',
      channels: { model: input.modelUri, requests: input.requests.dataUri },
      hyperparameters: { ...generationHyperparameters(config), ...kind.hyperparameters(config, iteration) },
      outputUri: kind.outputUri(stepPrefix(input.runPrefixUri, iteration, 'evaluate')),
    };
    return deps.runnerFor(config, store).run(shardedJob(spec, input, kind.job), currentJobContext());
  }

  /** Scores the generations' outputs, parses the verdicts and computes every suite's metrics (`metrics/`). */
  async function computeEvaluationMetrics(input: MetricsInput): Promise<Record<string, SuiteMetrics>> {
    const { config, iteration, requests, outputs } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const prefix = stepPrefix(input.runPrefixUri, iteration, 'evaluate');
    const heartbeat = throttledHeartbeat();
    const { modes, relative: relativeSuites } = suitesByMode(config, input.suites);
    const orderSeeds = relativeOrderSeeds(config, relativeSuites);
    const { samples: baselineSamples, temperature: baselineTemperature } = config.evaluation.baselines;
    const iteration0Uri = iteration > 0 ? joinUri(stepPrefix(input.runPrefixUri, 0, 'evaluate'), 'metrics', 'judgments.jsonl') : null;
    const metrics = await once(
      {
        prefixUri: joinUri(prefix, 'metrics'),
        step: 'evaluate:metrics',
        inputs: {
          judgments: outputs.pointwise,
          requests: requests.pointwise?.requests ?? 0,
          suites: input.suites.map((s) => s.name),
          modes: Object.fromEntries(modes),
          relativeJudgments: outputs.relative,
          relativeRequests: requests.relative?.requests ?? 0,
          orderSeeds,
          bootstrap: config.evaluation.bootstrap,
          baselines: outputs.baselines,
          iteration0: iteration0Uri,
          groupBy: input.suites.map((s) => suiteGroupBy(config, s)),
          scale: config.judge.scale,
          seed: config.loop.seed,
        },
      },
      async () => {
        const baselines = outputs.baselines ? await readBaselineScores(store, outputs.baselines, config, input.modelUri, heartbeat) : null;
        const collected = new SuiteItems();
        async function* scored(): AsyncGenerator<EvalJudgment> {
          if (!outputs.pointwise) return;
          for await (const raw of readRows(store, joinUri(outputs.pointwise, 'judgments.jsonl'), 'evaluation output row', { job: 'evaluate' })) {
            heartbeat({ phase: 'scoring' });
            const j = scoreRawJudgment(raw, config, input.modelUri);
            const score = j.status === 'ok' ? (j.score ?? null) : null;
            collected.add(raw, score, baselines?.get(raw.request_id));
            collected.countParse(raw.suite, j);
            // The scored row is this row's own: its evaluation fields are added to it, in this order, rather than
            // spread into a copy (the score step's lesson, bench/data-steps.ts).
            const row: EvalJudgment = Object.assign(j, { suite: raw.suite });
            if (raw.side) row.side = raw.side;
            if (raw.group !== undefined) row.group = raw.group;
            if (raw.golds) row.golds = raw.golds;
            if (raw.gold_tie) row.gold_tie = true;
            yield row;
          }
        }
        const objects: WrittenObject[] = [await store.writeJsonl(joinUri(prefix, 'metrics', 'judgments.jsonl'), scored())];

        // Iteration 0's judgments of the same requests, for the paired comparison.
        const before = new SuiteItems();
        if (iteration0Uri && (await store.exists(iteration0Uri))) {
          for await (const row of readRows(store, iteration0Uri, 'evaluation judgment', { step: 'evaluate' })) {
            heartbeat({ phase: 'reading iteration 0' });
            before.add(row, row.status === 'ok' ? (row.score ?? null) : null, undefined);
          }
        }

        const verdicts = new Map<string, RelativeVerdictRow[]>();
        if (outputs.relative) {
          objects.push(await writeRelativeJudgments(store, outputs.relative, prefix, config, input.modelUri, verdicts, heartbeat));
        }

        const reportUri = joinUri(prefix, 'metrics', 'report.json');
        const baselineSettings = outputs.baselines ? { samples: baselineSamples, temperature: baselineTemperature } : undefined;
        const result: Record<string, SuiteMetrics> = {};
        const detail: Record<string, unknown> = {};
        for (const suite of input.suites) {
          heartbeat({ phase: 'metrics', suite: suite.name });
          const bootstrap = bootstrapOptions(config, suite.name);
          const groupBy = suiteGroupBy(config, suite);
          if (suite.kind === 'pointwise') {
            const report = pointwiseReport(collected.pointwise(suite.name), {
              scale: config.judge.scale,
              groupBy,
              bootstrap,
              ...(iteration0Uri && before.has(suite.name) ? { iteration0: before.pointwise(suite.name) } : {}),
              ...(baselineSettings ? { baselines: baselineSettings } : {}),
            });
            result[suite.name] = { ...report.metrics, ...collected.ownParse(suite.name), reportUri };
            detail[suite.name] = report.detail;
            continue;
          }
          const mode = modes.get(suite.name) ?? 'pointwise';
          const rows = verdicts.get(suite.name) ?? [];
          const relative =
            mode === 'pointwise'
              ? undefined
              : { ...relativeSuiteMetrics(rows, orderSeeds[suite.name]), ...(bootstrap ? { ci: relativeIntervals(rows, bootstrap) } : {}) };
          const pairs = collected.pairs(suite.name);
          const headline = pairwiseMetricsForMode(mode, pairs, relative);
          if (mode === 'relative') {
            result[suite.name] = headline;
            continue;
          }
          const report = pairwiseReport(pairs, {
            groupBy,
            bootstrap,
            rewardbench: config.data.evalSuites.find((s) => s.name === suite.name)?.adapter === 'rewardbench',
            ...(iteration0Uri && before.has(suite.name) ? { iteration0: before.pairs(suite.name) } : {}),
            ...(baselineSettings ? { baselines: baselineSettings } : {}),
          });
          const { figures, ...extras } = report;
          result[suite.name] = { ...headline, ...(figures.ci ? { ci: figures.ci } : {}), ...extras, ...collected.ownParse(suite.name), reportUri };
          detail[suite.name] = report;
        }
        objects.push(await store.putJson(reportUri, { iteration, modelUri: input.modelUri, suites: result, detail }));
        objects.push(await store.putJson(joinUri(prefix, 'metrics', 'metrics.json'), result));
        return { objects, summary: result };
      },
    );
    // What travels through Temporal is each suite's headline, rounded (claim check: the detail grows with
    // groups, gold columns and baselines, and 4 decimals is finer than any report prints). metrics.json and
    // report.json keep every figure at full precision; the report step and the CLI read the detail back.
    return roundNumbers(evaluationHeadlines(metrics.summary), 4);
  }

  return {
    renderEvaluationRequests,
    computeEvaluationMetrics,
    /** The judge's greedy judgment of every pointwise request (job `evaluate`). */
    async generateEvaluationJudgments(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await generate('pointwise', input));
    },
    /** N samples per pointwise request at the baselines' temperature (job `evaluate-baselines`). */
    async generateBaselineJudgments(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await generate('baselines', input));
    },
    /** The judge's A/B verdict on every relative request (job `evaluate-relative`). */
    async generateRelativeVerdicts(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await generate('relative', input));
    },
    /**
     * The whole evaluation in one activity, as runs started before the evaluation's jobs became activities
     * of their own schedule it (workflows/iteration.ts, JOB_ACTIVITIES_PATCH): the same steps in sequence.
     */
    async evaluateJudge(input: EvaluateInput & { config: ConfigFor<'generation'> }): Promise<Record<string, SuiteMetrics>> {
      const requests = await renderEvaluationRequests(input);
      const common = { config: input.config, runId: input.runId, runPrefixUri: input.runPrefixUri, iteration: input.iteration, modelUri: input.modelUri };
      /** The generation's job over its requests, if it has any; where its outputs are. */
      const outputOf = async (generation: EvaluationGeneration, set: RequestSet | null) =>
        set ? (await generate(generation, { ...common, requests: set })).modelUri : null;
      const outputs: EvaluationOutputs = {
        pointwise: await outputOf('pointwise', requests.pointwise),
        baselines: await outputOf('baselines', baselineRequests(input.config, requests)),
        relative: await outputOf('relative', requests.relative),
      };
      return computeEvaluationMetrics({ ...input, requests, outputs });
    },
  };
}

/** The pointwise template's request for every pointwise example, and for each side of every pairwise pair. */
async function* pointwiseRequests(
  store: ObjectStore,
  config: Pick<RunConfig, 'data' | 'judge'>,
  template: LoadedTemplate,
  suites: PreparedDataset[],
  heartbeat: (details?: unknown) => void,
): AsyncGenerator<EvalRequest> {
  for (const suite of suites) {
    const by = suiteGroupBy(config, suite);
    if (suite.kind === 'pointwise') {
      for await (const ex of store.readJsonl<PointwiseExample>(suite.uri)) {
        heartbeat();
        const messages = renderForJudge(template, config, ex);
        yield {
          request_id: `${suite.name}::${ex.id}`,
          example_id: ex.id,
          suite: suite.name,
          messages,
          prompt_hash: promptHash(messages),
          template_hash: template.hash,
          ...(ex.gold_score !== undefined ? { gold_score: ex.gold_score } : {}),
          ...(ex.gold && Object.keys(ex.gold).length > 0 ? { golds: ex.gold } : {}),
          ...withGroup(groupOf(ex, by)),
        };
      }
      continue;
    }
    for await (const ex of store.readJsonl<PairwiseExample>(suite.uri)) {
      heartbeat();
      for (const side of ['chosen', 'rejected'] as const) {
        const messages = renderForJudge(template, config, { instruction: ex.instruction, response: ex[side], rubric: ex.rubric ?? DEFAULT_PAIRWISE_RUBRIC });
        yield {
          request_id: `${suite.name}::${ex.id}::${side}`,
          example_id: ex.id,
          suite: suite.name,
          side,
          messages,
          prompt_hash: promptHash(messages),
          template_hash: template.hash,
                  ...(ex.tie ? { gold_tie: true as const } : {}),
          ...withGroup(groupOf(ex, by)),
        };
      }
    }
  }
}

/**
 * Parses the relative job's outputs into `metrics/relative-judgments.jsonl` and collects each suite's
 * verdict rows into `verdicts`.
 */
async function writeRelativeJudgments(
  store: ObjectStore,
  outputUri: string,
  evaluatePrefix: string,
  config: Pick<RunConfig, 'judge'>,
  modelId: string,
  verdicts: Map<string, RelativeVerdictRow[]>,
  heartbeat: (details?: unknown) => void,
): Promise<WrittenObject> {
  async function* parsed(): AsyncGenerator<RelativeJudgment> {
    for await (const raw of readRows(store, joinUri(outputUri, 'judgments.jsonl'), 'relative output row', { job: 'evaluate-relative' })) {
      heartbeat({ phase: 'parsing verdicts' });
      const row = relativeJudgmentRow(raw, config.judge.marker, modelId);
      const list = verdicts.get(row.suite) ?? [];
      list.push({
        exampleId: row.example_id,
        order: row.relative_order,
        verdict: row.verdict ?? null,
        ...(row.gold_tie ? { goldTie: true } : {}),
      });
      verdicts.set(row.suite, list);
      yield row;
    }
  }
  return store.writeJsonl(joinUri(evaluatePrefix, 'metrics', 'relative-judgments.jsonl'), parsed());
}

/** The judge's scores of a pair's two responses; `goldTie` when the gold says neither is better (PandaLM). */
export interface PairSides {
  chosen?: number | null;
  rejected?: number | null;
  goldTie?: boolean;
}


/** A copy of a JSON value with every non-integer number rounded to `decimals` places. */
export function roundNumbers<T>(value: T, decimals: number): T {
  const f = 10 ** decimals;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isInteger(v) || !Number.isFinite(v) ? v : Math.round(v * f) / f;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function withGroup(group: string | undefined): { group?: string } {
  return group === undefined ? {} : { group };
}

/**
 * Collects one evaluation's judged items per suite from the job's rows (or `metrics/judgments.jsonl`):
 * pointwise items keyed by request id, pairs keyed by example id with both sides' scores.
 */
export class SuiteItems {
  private readonly pointwiseBySuite = new Map<string, PointwiseItem[]>();
  private readonly pairsBySuite = new Map<string, Map<string, PairItem>>();
  private readonly parseTallies = new Map<string, OwnParseTally>();

  /** Counts a scored judgment of `suite` towards its own parse rate (markers the judge wrote itself). */
  countParse(suite: string, j: { status: string; marker_source?: MarkerSource }): void {
    const tally = this.parseTallies.get(suite) ?? new OwnParseTally();
    tally.add(j);
    this.parseTallies.set(suite, tally);
  }

  /** The suite's own parse rate over its judgments (a pair has two) and its forced markers; {} if none counted. */
  ownParse(suite: string): { ownParseRate?: number; forcedMarkers?: number } {
    const tally = this.parseTallies.get(suite);
    return tally && tally.judgments > 0 ? tally.figures() : {};
  }

  add(
    row: Pick<EvalJudgment, 'request_id' | 'example_id' | 'suite' | 'side' | 'gold_score' | 'golds' | 'group' | 'gold_tie'>,
    score: number | null,
    baselines: BaselineScores | undefined,
  ): void {
    if (row.side) {
      const suite = this.pairsBySuite.get(row.suite) ?? new Map<string, PairItem>();
      this.pairsBySuite.set(row.suite, suite);
      const pair = suite.get(row.example_id) ?? { key: row.example_id, chosen: null, rejected: null, ...withGroup(row.group) };
      pair[row.side] = score;
      if (row.gold_tie === true) pair.goldTie = true;
      if (baselines) {
        const none: BaselineScores = { one_sample: null, self_consistency: null, mean_of_n: null, best_of_n: null };
        pair.baselines = { ...(pair.baselines ?? { chosen: none, rejected: none }), [row.side]: baselines };
      }
      suite.set(row.example_id, pair);
    } else if (row.gold_score !== undefined) {
      const list = this.pointwiseBySuite.get(row.suite) ?? [];
      this.pointwiseBySuite.set(row.suite, list);
      // Field by field: one object per judged row, no spread copies (bench/data-steps.ts).
      const item: PointwiseItem = { key: row.request_id, score, gold: row.gold_score };
      if (row.golds) item.golds = row.golds;
      if (row.group !== undefined) item.group = row.group;
      if (baselines) item.baselines = baselines;
      list.push(item);
    }
  }

  has(suite: string): boolean {
    return this.pointwiseBySuite.has(suite) || this.pairsBySuite.has(suite);
  }

  pointwise(suite: string): PointwiseItem[] {
    return this.pointwiseBySuite.get(suite) ?? [];
  }

  pairs(suite: string): PairItem[] {
    return [...(this.pairsBySuite.get(suite)?.values() ?? [])];
  }
}

/** The baseline job's N samples per request, reduced to each request's baseline scores (core/evaluation/baselines.ts). */
async function readBaselineScores(
  store: ObjectStore,
  outputUri: string,
  config: Pick<RunConfig, 'judge'>,
  modelId: string,
  heartbeat: (details?: unknown) => void,
): Promise<Map<string, BaselineScores>> {
  const samples = new Map<string, SampledScore[]>();
  for await (const raw of readRows(store, joinUri(outputUri, 'judgments.jsonl'), 'raw judgment', { job: 'evaluate-baselines' })) {
    heartbeat({ phase: 'scoring baseline samples' });
    const j = scoreRawJudgment(raw, config, modelId);
    const list = samples.get(raw.request_id) ?? [];
    list.push({ sampleIndex: raw.sample_index, score: j.status === 'ok' ? (j.score ?? null) : null, logprob: raw.logprob ?? null });
    samples.set(raw.request_id, list);
  }
  return new Map([...samples].map(([id, list]) => [id, baselineScores(list)]));
}

/** evaluation.bootstrap for one suite, with its own seed (from loop.seed); undefined when turned off. */
export function bootstrapOptions(config: Pick<RunConfig, 'evaluation' | 'loop'>, suite: string): Required<BootstrapOptions> | undefined {
  const { resamples, confidence } = config.evaluation.bootstrap;
  if (resamples === 0) return undefined;
  return { resamples, confidence, seed: deriveSeed(config.loop.seed, 'bootstrap', suite) };
}

export function pairwiseSuiteMetrics(pairs: PairSides[]): PairwiseMetrics {
  return { kind: 'pairwise', ...pairwiseFigures(pairs.map(pairOutcome), undefined), goldTies: pairs.filter((p) => p.goldTie).length };
}
