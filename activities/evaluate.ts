/**
 * Step 5, Evaluate: score the judge M(i) on every held-out suite with greedy decoding (one generation job
 * for all suites), then compute the suite metrics: correlations, exact agreement and MAE against the gold
 * score for pointwise suites; accuracy (ties and unparseable count 0.5) for pairwise suites, by scoring
 * both responses pointwise and comparing.
 */
import type { RunConfig } from '../core/config';
import { jobName, joinUri, stepPrefix } from '../core/artifacts';
import { pairwiseAccuracy, summarizePointwise } from '../core/metrics';
import type { PairwiseExample, PointwiseExample, Rubric } from '../core/records';
import type { PairwiseMetrics, SuiteMetrics } from '../core/run-types';
import { runStepOnce } from './manifest';
import { type ActivityDeps, currentJobContext, storageSettings, throttledHeartbeat } from './context';
import { generationHyperparameters, loadTemplate, promptHash, renderForJudge } from './prompts';
import type { GenerationRequest } from './sample';
import { scoreRawJudgment, type RawJudgment } from './score';
import type { PreparedDataset } from './prepare';

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

export function createEvaluateActivities(deps: ActivityDeps) {
  return {
    async evaluateJudge(input: EvaluateInput): Promise<Record<string, SuiteMetrics>> {
      const { config, iteration } = input;
      const store = deps.storeFor(storageSettings(config));
      const template = await loadTemplate(deps.projectRoot, config);
      const prefix = stepPrefix(input.runPrefixUri, iteration, 'evaluate');
      const requestsPrefix = joinUri(prefix, 'requests');
      const heartbeat = throttledHeartbeat();

      const rendered = await runStepOnce(
        store,
        {
          prefixUri: requestsPrefix,
          step: 'evaluate:requests',
          inputs: { suites: input.suites.map((s) => s.uri), template: template.hash, judge: config.judge },
          codeVersion: deps.codeVersion,
        },
        async () => {
          async function* requests(): AsyncGenerator<EvalRequest> {
            for (const suite of input.suites) {
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

      const job = await deps.runnerFor(config, store).run(
        {
          jobName: jobName(input.runId, iteration, 'evaluate'),
          entryPoint: 'generate.py',
          channels: { model: input.modelUri, requests: joinUri(requestsPrefix, 'data') },
          hyperparameters: { ...generationHyperparameters(config), num_samples: 1, temperature: 0, seed: config.loop.seed },
          outputUri: joinUri(prefix, 'job'),
        },
        currentJobContext(),
      );

      const metrics = await runStepOnce(
        store,
        {
          prefixUri: joinUri(prefix, 'metrics'),
          step: 'evaluate:metrics',
          inputs: { judgments: job.modelUri, requests: rendered.summary.requests, suites: input.suites.map((s) => s.name) },
          codeVersion: deps.codeVersion,
        },
        async () => {
          const pointwise = new Map<string, { score: number | null; gold: number }[]>();
          const pairSides = new Map<string, Map<string, PairSides>>();
          async function* scored() {
            for await (const raw of store.readJsonl<RawJudgment & { suite: string; side?: 'chosen' | 'rejected'; gold_tie?: boolean }>(
              joinUri(job.modelUri, 'judgments.jsonl'),
            )) {
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
          const judgments = await store.writeJsonl(joinUri(prefix, 'metrics', 'judgments.jsonl'), scored());
          const result: Record<string, SuiteMetrics> = {};
          for (const suite of input.suites) {
            if (suite.kind === 'pointwise') {
              result[suite.name] = summarizePointwise(pointwise.get(suite.name) ?? []);
            } else {
              result[suite.name] = pairwiseSuiteMetrics([...(pairSides.get(suite.name)?.values() ?? [])]);
            }
          }
          const file = await store.putJson(joinUri(prefix, 'metrics', 'metrics.json'), result);
          return { objects: [judgments, file], summary: result };
        },
      );
      return metrics.summary;
    },
  };
}

/** The judge's scores of a pair's two responses; `goldTie` when the gold says neither is better (PandaLM). */
export interface PairSides {
  chosen?: number | null;
  rejected?: number | null;
  goldTie?: boolean;
}

export function pairwiseSuiteMetrics(pairs: PairSides[]): PairwiseMetrics {
  const outcomes = pairs.map((p) => {
    if (p.chosen == null || p.rejected == null) return 'unparseable' as const;
    // A gold tie is judged right when the judge scores both responses the same, wrong otherwise.
    if (p.goldTie) return p.chosen === p.rejected ? ('correct' as const) : ('wrong' as const);
    if (p.chosen > p.rejected) return 'correct' as const;
    if (p.chosen < p.rejected) return 'wrong' as const;
    return 'tie' as const;
  });
  return {
    kind: 'pairwise',
    n: outcomes.length,
    accuracy: pairwiseAccuracy(outcomes) ?? 0,
    ties: outcomes.filter((o) => o === 'tie').length,
    unparseable: outcomes.filter((o) => o === 'unparseable').length,
    goldTies: pairs.filter((p) => p.goldTie).length,
  };
}
