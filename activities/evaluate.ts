/**
 * Step 5, Evaluate: score the judge M(i) on every held-out suite with greedy decoding, then compute the suite
 * metrics: correlations, exact agreement and MAE against the gold score for pointwise suites; for pairwise
 * suites, by `data.evalSuites[].mode`:
 * - `pointwise` (the default): both responses are scored with the pointwise template and compared (correct
 *   when chosen scores higher; a tie or an unparseable judgment counts 0.5);
 * - `relative`: each pair is rendered twice with the pairwise template (`judge.pairwiseTemplate`), chosen as A
 *   and chosen as B, the first of the two by a seeded coin (core/relative.ts); the verdict `A`/`B` is decoded
 *   by a second generation job (`choices: A,B`) and parsed with `parsePairwiseVerdict`;
 * - `both`: the two, the relative figures under `relative` in the suite's metrics.
 * One generation job for every pointwise request (every suite's), one for every relative request; each runs
 * only when it has requests.
 */
import { pairwiseMode, type PairwiseMode, type RunConfig } from '../core/config';
import { jobName, joinUri, stepPrefix } from '../core/artifacts';
import { parsePairwiseVerdict } from '../core/judgment';
import { pairwiseAccuracy, summarizePointwise, type PairwiseOutcome, type ScoredItem } from '../core/metrics';
import { pairwiseAccuracyCI, pointwiseMetricCIs, type BootstrapOptions } from '../core/bootstrap';
import { PAIRWISE_CHOICES, renderPairwise } from '../core/prompt';
import type { PairwiseExample, PointwiseExample, Rubric } from '../core/records';
import {
  pickedSide,
  relativeOrderSeed,
  relativeOrders,
  relativeResponses,
  relativeSuiteMetrics,
  type RelativeOrder,
  type RelativeVerdictRow,
} from '../core/relative';
import type { PairwiseMetrics, PointwiseMetrics, RelativeMetrics, SuiteMetrics } from '../core/run-types';
import { deriveSeed } from '../core/rng';
import { runStepOnce } from './manifest';
import { type ActivityDeps, currentJobContext, storageSettings, throttledHeartbeat } from './context';
import { generationHyperparameters, loadTemplate, loadTemplateFile, promptHash, renderForJudge, type LoadedTemplate } from './prompts';
import type { GenerationRequest } from './sample';
import { scoreRawJudgment, type RawJudgment } from './score';
import type { PreparedDataset } from './prepare';
import type { ObjectStore, WrittenObject } from './storage';
import type { JobResult } from './jobs/types';

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
  config: RunConfig;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  modelUri: string;
  suites: PreparedDataset[];
}

type EvalRequest = GenerationRequest & { suite: string; side?: 'chosen' | 'rejected' };

/** A relative (A/B) request: one pair in one order. */
export type RelativeRequest = GenerationRequest & {
  suite: string;
  relative_order: RelativeOrder;
  /** Whether this is the pair's seeded first order (core/relative.ts `relativeOrders`). */
  relative_first: boolean;
  gold_tie?: true;
};

/** What the relative job writes per request (generate.py: the request's fields except messages, plus text). */
export interface RelativeOutputRow {
  request_id: string;
  example_id: string;
  suite: string;
  prompt_hash: string;
  template_hash?: string;
  relative_order: RelativeOrder;
  relative_first: boolean;
  gold_tie?: boolean;
  text: string;
  seed: number;
}

/** One row of `iter-K/evaluate/metrics/relative-judgments.jsonl`: a parsed relative judgment. */
export interface RelativeJudgment {
  request_id: string;
  example_id: string;
  suite: string;
  model_id: string;
  prompt_hash: string;
  template_hash?: string;
  text: string;
  seed: number;
  relative_order: RelativeOrder;
  relative_first: boolean;
  status: 'ok' | 'unparseable';
  rationale?: string;
  verdict?: 'A' | 'B';
  /** The response the verdict picks; null when unparseable. */
  picked: 'chosen' | 'rejected' | null;
  reason?: string;
  gold_tie?: true;
}

/** Where the relative requests and job live: `iter-K/evaluate/relative/` (their verdicts go under metrics/). */
export function relativePrefix(evaluatePrefix: string): string {
  return joinUri(evaluatePrefix, 'relative');
}

/** The suite's mode from the config (`pointwise` for pointwise suites and for suites the config lacks). */
export function suiteMode(config: RunConfig, suite: Pick<PreparedDataset, 'name' | 'kind'>): PairwiseMode {
  const configured = config.data.evalSuites.find((s) => s.name === suite.name);
  return pairwiseMode({ kind: suite.kind, mode: configured?.mode });
}

/** Renders one pair in one order with the pairwise template. */
export function buildRelativeRequest(
  template: Pick<LoadedTemplate, 'template' | 'hash'>,
  config: RunConfig,
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

export function createEvaluateActivities(deps: ActivityDeps) {
  return {
    async evaluateJudge(input: EvaluateInput): Promise<Record<string, SuiteMetrics>> {
      const { config, iteration } = input;
      const store = deps.storeFor(storageSettings(config));
      const prefix = stepPrefix(input.runPrefixUri, iteration, 'evaluate');
      const requestsPrefix = joinUri(prefix, 'requests');
      const heartbeat = throttledHeartbeat();
      const modes = new Map(input.suites.map((s) => [s.name, suiteMode(config, s)]));
      // Pointwise suites, and pairwise suites whose responses are scored pointwise and compared.
      const pointwiseSuites = input.suites.filter((s) => modes.get(s.name) !== 'relative');
      // Pairwise suites judged with the A/B template.
      const relativeSuites = input.suites.filter((s) => s.kind === 'pairwise' && modes.get(s.name) !== 'pointwise');

      let pointwiseJob: JobResult | null = null;
      let pointwiseRequests = 0;
      if (pointwiseSuites.length > 0) {
        const template = await loadTemplate(deps.projectRoot, config);
        const rendered = await runStepOnce(
          store,
          {
            prefixUri: requestsPrefix,
            step: 'evaluate:requests',
            inputs: { suites: pointwiseSuites.map((s) => s.uri), template: template.hash, judge: config.judge },
            codeVersion: deps.codeVersion,
          },
          async () => {
            async function* requests(): AsyncGenerator<EvalRequest> {
              for (const suite of pointwiseSuites) {
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
                    };
                  }
                } else {
                  for await (const ex of store.readJsonl<PairwiseExample>(suite.uri)) {
                    heartbeat();
                    for (const side of ['chosen', 'rejected'] as const) {
                      const messages = renderForJudge(template, config, {
                        instruction: ex.instruction,
                        response: ex[side],
                        rubric: ex.rubric ?? DEFAULT_PAIRWISE_RUBRIC,
                      });
                      yield {
                        request_id: `${suite.name}::${ex.id}::${side}`,
                        example_id: ex.id,
                        suite: suite.name,
                        side,
                        messages,
                        prompt_hash: promptHash(messages),
                        template_hash: template.hash,
                        ...(ex.tie ? { gold_tie: true } : {}),
                      };
                    }
                  }
                }
              }
            }
            const written = await store.writeJsonl(joinUri(requestsPrefix, 'data', 'requests.jsonl'), requests());
            return { objects: [written], summary: { requests: written.rows ?? 0 } };
          },
        );
        pointwiseRequests = rendered.summary.requests;
        // No request, no job (generate.py would be handed an empty file).
        if (pointwiseRequests > 0) {
          pointwiseJob = await deps.runnerFor(config, store).run(
            {
              jobName: jobName(input.runId, iteration, 'evaluate'),
              entryPoint: 'generate.py',
              channels: { model: input.modelUri, requests: joinUri(requestsPrefix, 'data') },
              hyperparameters: { ...generationHyperparameters(config), num_samples: 1, temperature: 0, seed: config.loop.seed },
              outputUri: joinUri(prefix, 'job'),
            },
            currentJobContext(),
          );
        }
      }

      // Relative grading: every pair in both orders, the seeded first order first (core/relative.ts).
      const orderSeeds = Object.fromEntries(relativeSuites.map((s) => [s.name, relativeOrderSeed(config.loop.seed, s.name)]));
      let relativeJob: JobResult | null = null;
      let relativeRequests = 0;
      if (relativeSuites.length > 0) {
        const pairwiseTemplate = await loadTemplateFile(deps.projectRoot, config.judge.pairwiseTemplate, 'pairwise', 'judge.pairwiseTemplate');
        const relPrefix = relativePrefix(prefix);
        const relRequestsPrefix = joinUri(relPrefix, 'requests');
        const rendered = await runStepOnce(
          store,
          {
            prefixUri: relRequestsPrefix,
            step: 'evaluate:relative-requests',
            inputs: {
              suites: relativeSuites.map((s) => s.uri),
              template: pairwiseTemplate.hash,
              marker: config.judge.marker,
              systemPromptPlacement: config.judge.systemPromptPlacement,
              orderSeeds,
            },
            codeVersion: deps.codeVersion,
          },
          async () => {
            async function* requests(): AsyncGenerator<RelativeRequest> {
              for (const suite of relativeSuites) {
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
        relativeRequests = rendered.summary.requests;
        if (relativeRequests > 0) {
          relativeJob = await deps.runnerFor(config, store).run(
            {
              jobName: jobName(input.runId, iteration, 'evaluate-relative'),
              entryPoint: 'generate.py',
              channels: { model: input.modelUri, requests: joinUri(relRequestsPrefix, 'data') },
              hyperparameters: {
                ...generationHyperparameters(config),
                // The verdict after the marker is one of A, B (generate.py's grammar), not a score.
                choices: PAIRWISE_CHOICES.join(','),
                num_samples: 1,
                temperature: 0,
                seed: config.loop.seed,
              },
              outputUri: joinUri(relPrefix, 'job'),
            },
            currentJobContext(),
          );
        }
      }

      const metrics = await runStepOnce(
        store,
        {
          prefixUri: joinUri(prefix, 'metrics'),
          step: 'evaluate:metrics',
          inputs: {
            judgments: pointwiseJob?.modelUri ?? null,
            requests: pointwiseRequests,
            suites: input.suites.map((s) => s.name),
            modes: Object.fromEntries(modes),
            relativeJudgments: relativeJob?.modelUri ?? null,
            relativeRequests,
            orderSeeds,
            bootstrap: config.evaluation.bootstrap,
            seed: config.loop.seed,
          },
          codeVersion: deps.codeVersion,
        },
        async () => {
          const pointwise = new Map<string, { score: number | null; gold: number }[]>();
          const pairSides = new Map<string, Map<string, PairSides>>();
          async function* scored() {
            if (!pointwiseJob) return;
            for await (const raw of store.readJsonl<RawJudgment & { suite: string; side?: 'chosen' | 'rejected'; gold_tie?: boolean }>(
              joinUri(pointwiseJob.modelUri, 'judgments.jsonl'),
            )) {
              heartbeat({ phase: 'scoring' });
              const j = scoreRawJudgment(raw, config, input.modelUri);
              const score = j.status === 'ok' ? (j.score ?? null) : null;
              if (raw.side) {
                const suite = pairSides.get(raw.suite) ?? new Map();
                pairSides.set(raw.suite, suite);
                const entry = suite.get(raw.example_id) ?? {};
                entry[raw.side] = score;
                if (raw.gold_tie === true) entry.goldTie = true;
                suite.set(raw.example_id, entry);
              } else if (raw.gold_score !== undefined) {
                const list = pointwise.get(raw.suite) ?? [];
                list.push({ score, gold: raw.gold_score });
                pointwise.set(raw.suite, list);
              }
              yield { ...j, suite: raw.suite, ...(raw.side ? { side: raw.side } : {}) };
            }
          }
          const objects: WrittenObject[] = [await store.writeJsonl(joinUri(prefix, 'metrics', 'judgments.jsonl'), scored())];

          const verdicts = new Map<string, RelativeVerdictRow[]>();
          if (relativeJob) {
            objects.push(await writeRelativeJudgments(store, relativeJob, prefix, config, input.modelUri, verdicts, heartbeat));
          }

          const result: Record<string, SuiteMetrics> = {};
          for (const suite of input.suites) {
            const bootstrap = bootstrapOptions(config, suite.name);
            if (suite.kind === 'pointwise') {
              const items = pointwise.get(suite.name) ?? [];
              result[suite.name] = { ...summarizePointwise(items), ...(bootstrap ? { ci: pointwiseIntervals(items, bootstrap) } : {}) };
              continue;
            }
            const mode = modes.get(suite.name) ?? 'pointwise';
            const relative =
              mode === 'pointwise' ? undefined : relativeSuiteMetrics(verdicts.get(suite.name) ?? [], orderSeeds[suite.name]);
            const sides = [...(pairSides.get(suite.name)?.values() ?? [])];
            const metrics = pairwiseMetricsForMode(mode, sides, relative);
            result[suite.name] = bootstrap && mode !== 'relative' ? { ...metrics, ci: pairwiseIntervals(sides, bootstrap) } : metrics;
          }
          objects.push(await store.putJson(joinUri(prefix, 'metrics', 'metrics.json'), result));
          return { objects, summary: result };
        },
      );
      return metrics.summary;
    },
  };
}

/**
 * Parses the relative job's outputs into `metrics/relative-judgments.jsonl` and collects each suite's
 * verdict rows into `verdicts`.
 */
async function writeRelativeJudgments(
  store: ObjectStore,
  job: JobResult,
  evaluatePrefix: string,
  config: RunConfig,
  modelId: string,
  verdicts: Map<string, RelativeVerdictRow[]>,
  heartbeat: (details?: unknown) => void,
): Promise<WrittenObject> {
  async function* parsed(): AsyncGenerator<RelativeJudgment> {
    for await (const raw of store.readJsonl<RelativeOutputRow>(
      joinUri(job.modelUri, 'judgments.jsonl'),
    )) {
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

/** How a pair's two pointwise scores compare with its gold (ties and unparseable count 0.5 downstream). */
export function pairOutcome(p: PairSides): PairwiseOutcome {
  if (p.chosen == null || p.rejected == null) return 'unparseable';
  // A gold tie is judged right when the judge scores both responses the same, wrong otherwise.
  if (p.goldTie) return p.chosen === p.rejected ? 'correct' : 'wrong';
  if (p.chosen > p.rejected) return 'correct';
  if (p.chosen < p.rejected) return 'wrong';
  return 'tie';
}

/** evaluation.bootstrap for one suite, with its own seed (from loop.seed); undefined when turned off. */
export function bootstrapOptions(config: RunConfig, suite: string): Required<BootstrapOptions> | undefined {
  const { resamples, confidence } = config.evaluation.bootstrap;
  if (resamples === 0) return undefined;
  return { resamples, confidence, seed: deriveSeed(config.loop.seed, 'bootstrap', suite) };
}

export function pointwiseIntervals(items: ScoredItem[], options: Required<BootstrapOptions>): NonNullable<PointwiseMetrics['ci']> {
  const cis = pointwiseMetricCIs(items, options);
  const pick = (k: keyof typeof cis): [number | null, number | null] => [cis[k].low, cis[k].high];
  return {
    ...options,
    intervals: { exactAgreement: pick('exactAgreement'), mae: pick('mae'), pearson: pick('pearson'), spearman: pick('spearman'), kendall: pick('kendall') },
  };
}

export function pairwiseIntervals(pairs: PairSides[], options: Required<BootstrapOptions>): NonNullable<PairwiseMetrics['ci']> {
  const ci = pairwiseAccuracyCI(pairs.map(pairOutcome), options);
  return { ...options, intervals: { accuracy: [ci.low, ci.high] } };
}

export function pairwiseSuiteMetrics(pairs: PairSides[]): PairwiseMetrics {
  const outcomes = pairs.map(pairOutcome);
  return {
    kind: 'pairwise',
    n: outcomes.length,
    accuracy: pairwiseAccuracy(outcomes) ?? 0,
    ties: outcomes.filter((o) => o === 'tie').length,
    unparseable: outcomes.filter((o) => o === 'unparseable').length,
    goldTies: pairs.filter((p) => p.goldTie).length,
  };
}
