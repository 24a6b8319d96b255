/**
 * A suite's evaluation in two parts: the headline that travels through Temporal (the figures the gate, the
 * progress lines and the registry read, with their intervals) and the detail that stays in S3, in the
 * iteration's `metrics/report.json` (per group, per gold column, the baselines, the paired comparison with
 * iteration 0, the confusion matrix and the score distribution). The detail is most of a suite's size and
 * grows with groups and baselines, so payloads carry the headline only; the report step and the CLI read
 * the detail back (`withEvaluationDetail`).
 */
import { z } from 'zod';
import type { RunSummary, SuiteMetrics } from './run-types';

/** The fields of a suite's metrics that stay in report.json (every one optional in SuiteMetrics). */
export const EVALUATION_DETAIL_KEYS = ['confusion', 'scoreDistribution', 'goldColumns', 'groups', 'baselines', 'vsIteration0'] as const;
export type EvaluationDetailKey = (typeof EVALUATION_DETAIL_KEYS)[number];

function isDetailKey(key: string): key is EvaluationDetailKey {
  return (EVALUATION_DETAIL_KEYS as readonly string[]).includes(key);
}

/** A suite's metrics without the detail fields: what the evaluate step returns to the workflow. */
export function evaluationHeadline<M extends SuiteMetrics>(metrics: M): M {
  const headline: Record<string, unknown> = { ...metrics };
  for (const key of EVALUATION_DETAIL_KEYS) delete headline[key];
  return headline as M;
}

export function evaluationHeadlines(suites: Record<string, SuiteMetrics>): Record<string, SuiteMetrics> {
  return Object.fromEntries(Object.entries(suites).map(([name, m]) => [name, evaluationHeadline(m)]));
}

const figures = z.record(z.string(), z.looseObject({ n: z.number() }));
const matrixRow = z.array(z.number());

/**
 * The shape each detail field must have to be merged back. report.json is our own artifact, but an old or
 * hand-edited one must not break a table or the page: a field that does not fit is left out, not guessed.
 */
const DETAIL_SHAPES: Record<EvaluationDetailKey, z.ZodType> = {
  confusion: z.union([z.null(), z.object({ levels: matrixRow, counts: z.array(matrixRow), unparseable: matrixRow })]),
  scoreDistribution: z.union([z.null(), z.object({ levels: matrixRow, counts: matrixRow, unparseable: z.number() })]),
  goldColumns: figures,
  groups: z.looseObject({ by: z.string(), ungrouped: z.number(), metrics: figures }),
  baselines: z.looseObject({ samples: z.number(), temperature: z.number(), metrics: figures }),
  vsIteration0: z.looseObject({ baseline: z.number(), n: z.number(), diffs: z.record(z.string(), z.looseObject({})) }),
};

/**
 * `metrics` with the detail fields it lacks taken from its entry in report.json (`suites[name]`); fields it
 * has are kept (summaries recorded before the split carry their own), and an entry of another kind adds nothing.
 */
export function mergeEvaluationDetail(metrics: SuiteMetrics, reported: unknown): SuiteMetrics {
  if (!reported || typeof reported !== 'object' || (reported as { kind?: unknown }).kind !== metrics.kind) return metrics;
  const own = metrics as unknown as Record<string, unknown>;
  const fromReport = reported as Record<string, unknown>;
  const merged: Record<string, unknown> = {};
  // In report.json's key order, which is the evaluate step's: the merged summary is the one it computed.
  for (const key of new Set([...Object.keys(fromReport), ...Object.keys(own)])) {
    if (own[key] !== undefined) merged[key] = own[key];
    else if (isDetailKey(key) && fromReport[key] !== undefined && DETAIL_SHAPES[key].safeParse(fromReport[key]).success) merged[key] = fromReport[key];
  }
  return merged as unknown as SuiteMetrics;
}

/** The distinct report.json objects a summary's suites point at, in iteration order. */
export function evaluationReportUris(summary: RunSummary): string[] {
  const uris = new Set<string>();
  for (const it of [...(summary.iterations ?? [])].sort((a, b) => a.iteration - b.iteration)) {
    for (const m of Object.values(it.eval ?? {})) if (m.reportUri) uris.add(m.reportUri);
  }
  return [...uris];
}

/**
 * The summary with every suite's detail merged back from the report.json files read (`reports`: URI → the
 * parsed file; a URI missing from it leaves its suites as they are).
 */
export function withEvaluationDetail(summary: RunSummary, reports: ReadonlyMap<string, unknown>): RunSummary {
  return {
    ...summary,
    iterations: (summary.iterations ?? []).map((it) => ({
      ...it,
      eval: Object.fromEntries(
        Object.entries(it.eval ?? {}).map(([suite, m]) => {
          const file = m.reportUri ? reports.get(m.reportUri) : undefined;
          const suites = file && typeof file === 'object' ? (file as { suites?: unknown }).suites : undefined;
          const reported = suites && typeof suites === 'object' ? (suites as Record<string, unknown>)[suite] : undefined;
          return [suite, mergeEvaluationDetail(m, reported)];
        }),
      ),
    })),
  };
}
