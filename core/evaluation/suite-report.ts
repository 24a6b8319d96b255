/**
 * A suite's evaluation figures from its judged items: the headline metrics with bootstrap intervals, the
 * same per group and per gold column, the confusion matrix and score distribution, the inference-time
 * baselines and the paired comparison with iteration 0. Pure: the evaluate activity collects the items
 * from S3 and hands them here; `test/unit/suite-report.test.ts` checks it on hand-computed tables.
 */
import {
  pairedPairwiseAccuracyDiff,
  pairedPointwiseMetricDiffs,
  pairwiseAccuracyCI,
  pointwiseMetricCIs,
  type BootstrapOptions,
  type PairedBootstrapDiff,
} from './bootstrap';
import { BASELINES, agreementScore, type BaselineName, type BaselineScores } from './baselines';
import { groupedPairwiseMetrics, groupedPointwiseMetrics, pairwiseGroupCounts, type GoldColumnMetrics, type Scale } from './grouped-metrics';
import { constantScoreBaseline, pairwiseAccuracy, summarizePointwise, type PairwiseOutcome, type ScoredItem } from './metrics';
import { rewardBenchRollup, type SubsetResult } from './rewardbench';
import type {
  Baselines,
  GroupedFigures,
  PairedComparison,
  PairwiseFigures,
  PairwiseMetrics,
  PointwiseFigures,
  PointwiseMetrics,
  RewardBenchSummary,
} from '../run/run-types';

export type Bootstrap = Required<BootstrapOptions> | undefined;

/** One judged item of a pointwise suite. */
export interface PointwiseItem {
  /** Identifies the item across iterations (the request id). */
  key: string;
  score: number | null;
  gold: number;
  /** Other gold columns of the row. */
  golds?: Readonly<Record<string, number>>;
  group?: string;
  /** From the baseline samples, when evaluation.baselines is on. */
  baselines?: BaselineScores;
}

/** The judge's scores of one pair's two responses. */
export interface PairItem {
  key: string;
  chosen: number | null;
  rejected: number | null;
  /** The gold says neither response is better (PandaLM). */
  goldTie?: boolean;
  group?: string;
  baselines?: { chosen: BaselineScores; rejected: BaselineScores };
}

const POINTWISE_KEYS = ['exactAgreement', 'mae', 'pearson', 'spearman', 'kendall'] as const;

function interval(low: number | null, high: number | null): [number | null, number | null] {
  return [low, high];
}

/** summarizePointwise plus its intervals; `agreement` overrides the scores exact agreement compares. */
export function pointwiseFigures(items: readonly ScoredItem[], bootstrap: Bootstrap, agreement?: readonly ScoredItem[]): PointwiseFigures {
  const { kind: _kind, ...m } = summarizePointwise(items);
  if (agreement) m.exactAgreement = summarizePointwise(agreement).exactAgreement;
  if (!bootstrap) return m;
  const cis = pointwiseMetricCIs(items, bootstrap);
  if (agreement) {
    const a = pointwiseMetricCIs(agreement, bootstrap).exactAgreement;
    cis.exactAgreement = a;
  }
  const intervals = Object.fromEntries(POINTWISE_KEYS.map((k) => [k, interval(cis[k].low, cis[k].high)])) as NonNullable<
    PointwiseFigures['ci']
  >['intervals'];
  return { ...m, ci: { ...bootstrap, intervals } };
}

/** How a pair's two scores compare with its gold (ties and unparseable count 0.5 in the accuracy). */
export function pairOutcome(p: { chosen?: number | null; rejected?: number | null; goldTie?: boolean }): PairwiseOutcome {
  if (p.chosen == null || p.rejected == null) return 'unparseable';
  // A gold tie is judged right when the judge scores both responses the same, wrong otherwise.
  if (p.goldTie) return p.chosen === p.rejected ? 'correct' : 'wrong';
  if (p.chosen > p.rejected) return 'correct';
  if (p.chosen < p.rejected) return 'wrong';
  return 'tie';
}

export function pairwiseFigures(outcomes: readonly PairwiseOutcome[], bootstrap: Bootstrap): PairwiseFigures {
  const m: PairwiseFigures = {
    n: outcomes.length,
    accuracy: pairwiseAccuracy(outcomes) ?? 0,
    ties: outcomes.filter((o) => o === 'tie').length,
    unparseable: outcomes.filter((o) => o === 'unparseable').length,
  };
  if (!bootstrap) return m;
  const ci = pairwiseAccuracyCI(outcomes, bootstrap);
  return { ...m, ci: { ...bootstrap, intervals: { accuracy: interval(ci.low, ci.high) } } };
}

function groupBy<T extends { group?: string }>(items: readonly T[]): { groups: Map<string, T[]>; ungrouped: number } {
  const groups = new Map<string, T[]>();
  let ungrouped = 0;
  for (const item of items) {
    if (item.group === undefined) {
      ungrouped++;
      continue;
    }
    const list = groups.get(item.group);
    if (list) list.push(item);
    else groups.set(item.group, [item]);
  }
  return { groups, ungrouped };
}

function grouped<T extends { group?: string }, F>(items: readonly T[], by: string, figures: (items: T[]) => F): GroupedFigures<F> | undefined {
  const { groups, ungrouped } = groupBy(items);
  if (groups.size === 0) return undefined;
  const metrics: Record<string, F> = {};
  for (const g of [...groups.keys()].sort()) metrics[g] = figures(groups.get(g)!);
  return { by, ungrouped, metrics };
}

function compactDiff(d: PairedBootstrapDiff): PairedComparison<string>['diffs'][string] {
  const diff = d.estimateA === null || d.estimateB === null ? null : d.estimateB - d.estimateA;
  return { diff, low: d.low, high: d.high, pValue: d.pValueTwoSided };
}

/** Items of `current` that `baseline` also has, aligned by key (same gold), for a paired comparison. */
function aligned<T extends { key: string }>(baseline: ReadonlyMap<string, T>, current: readonly T[]): Array<[T, T]> {
  const out: Array<[T, T]> = [];
  for (const item of current) {
    const before = baseline.get(item.key);
    if (before) out.push([before, item]);
  }
  return out;
}

export interface PointwiseReportOptions {
  scale: Scale;
  groupBy: string;
  bootstrap: Bootstrap;
  /** Iteration 0's items of this suite, for the paired comparison (iterations >= 1). */
  iteration0?: readonly PointwiseItem[];
  /** Samples and temperature of the baselines, when the items carry them. */
  baselines?: { samples: number; temperature: number };
}

export interface PointwiseReport {
  metrics: Omit<PointwiseMetrics, 'reportUri'>;
  /** Everything per group and gold column, with matrices (core/evaluation/grouped-metrics.ts), for `report.json`. */
  detail: ReturnType<typeof groupedPointwiseMetrics>;
}

function baselineItems(items: readonly PointwiseItem[], b: BaselineName): { scored: ScoredItem[]; agreement: ScoredItem[] } {
  const scored = items.map((i) => ({ score: i.baselines?.[b] ?? null, gold: i.gold }));
  return { scored, agreement: scored.map((s) => ({ score: agreementScore(b, s.score), gold: s.gold })) };
}

export function pointwiseReport(items: readonly PointwiseItem[], options: PointwiseReportOptions): PointwiseReport {
  const { bootstrap } = options;
  const headline = pointwiseFigures(items, bootstrap);
  const detail = groupedPointwiseMetrics(
    items.map((i) => ({ score: i.score, gold: i.gold, ...(i.golds ? { golds: i.golds } : {}), ...(i.group !== undefined ? { group: i.group } : {}) })),
    { scale: options.scale },
  );
  const primary = detail.overall.golds[detail.goldColumns[0]] as GoldColumnMetrics | undefined;

  const goldColumns: Record<string, PointwiseFigures> = {};
  for (const column of detail.goldColumns.slice(1)) {
    const rows = items.flatMap((i) => (i.golds?.[column] === undefined ? [] : [{ score: i.score, gold: i.golds[column] }]));
    goldColumns[column] = pointwiseFigures(rows, bootstrap);
  }

  let baselines: Baselines<PointwiseFigures> | undefined;
  if (options.baselines && items.some((i) => i.baselines)) {
    const metrics: Record<string, PointwiseFigures> = { greedy: headline };
    for (const b of BASELINES) {
      const { scored, agreement } = baselineItems(items, b);
      metrics[b] = pointwiseFigures(scored, bootstrap, agreement);
    }
    baselines = { ...options.baselines, metrics };
  }

  let vsIteration0: PairedComparison<(typeof POINTWISE_KEYS)[number]> | undefined;
  if (options.iteration0 && bootstrap) {
    const pairs = aligned(new Map(options.iteration0.map((i) => [i.key, i])), items).filter(([a, b]) => a.gold === b.gold);
    const d = pairedPointwiseMetricDiffs(
      pairs.map(([a]) => ({ score: a.score, gold: a.gold })),
      pairs.map(([, b]) => ({ score: b.score, gold: b.gold })),
      bootstrap,
    );
    vsIteration0 = {
      baseline: 0,
      n: pairs.length,
      resamples: bootstrap.resamples,
      confidence: bootstrap.confidence,
      seed: bootstrap.seed,
      diffs: Object.fromEntries(POINTWISE_KEYS.map((k) => [k, compactDiff(d[k])])) as PairedComparison<(typeof POINTWISE_KEYS)[number]>['diffs'],
    };
  }

  const groups = grouped(items, options.groupBy, (g) => pointwiseFigures(g, bootstrap));
  return {
    metrics: {
      kind: 'pointwise',
      ...headline,
      chance: constantScoreBaseline(items.map((i) => i.gold)),
      confusion: primary?.confusion ?? null,
      scoreDistribution: primary?.scoreDistribution ?? null,
      ...(Object.keys(goldColumns).length > 0 ? { goldColumns } : {}),
      ...(groups ? { groups } : {}),
      ...(baselines ? { baselines } : {}),
      ...(vsIteration0 ? { vsIteration0 } : {}),
    },
    detail,
  };
}

export interface PairwiseReportOptions {
  groupBy: string;
  bootstrap: Bootstrap;
  iteration0?: readonly PairItem[];
  baselines?: { samples: number; temperature: number };
  /** Roll the groups up as RewardBench subsets (suites read with the `rewardbench` adapter). */
  rewardbench?: boolean;
}

/** The pointwise-scored figures of a pairwise suite (mode `pointwise` or `both`). */
export interface PairwiseReport {
  figures: PairwiseFigures & { goldTies: number };
  chance: PairwiseMetrics['chance'];
  groups?: GroupedFigures<PairwiseFigures>;
  rewardbench?: RewardBenchSummary;
  baselines?: Baselines<PairwiseFigures>;
  vsIteration0?: PairedComparison<'accuracy'>;
}

export function compactRewardBench(perSubset: Readonly<Record<string, SubsetResult>>): RewardBenchSummary {
  const r = rewardBenchRollup(perSubset);
  const categories: RewardBenchSummary['categories'] = {};
  for (const [name, c] of Object.entries(r.categories)) {
    categories[name] = { score: c.score, scoreOverPresent: c.scoreOverPresent, missing: c.missing.length };
  }
  return { overall: r.overall, complete: r.complete, categories, missingSubsets: r.missing.length, unknownSubsets: r.unknown };
}

export function pairwiseReport(pairs: readonly PairItem[], options: PairwiseReportOptions): PairwiseReport {
  const { bootstrap } = options;
  const outcomes = pairs.map(pairOutcome);
  const figures = { ...pairwiseFigures(outcomes, bootstrap), goldTies: pairs.filter((p) => p.goldTie).length };
  const groups = grouped(pairs, options.groupBy, (g) => pairwiseFigures(g.map(pairOutcome), bootstrap));

  let rewardbench: RewardBenchSummary | undefined;
  if (options.rewardbench && groups) {
    const subsets = groupedPairwiseMetrics(pairs.map((p, i) => ({ outcome: outcomes[i], ...(p.group !== undefined ? { group: p.group } : {}) })));
    rewardbench = compactRewardBench(pairwiseGroupCounts(subsets));
  }

  let baselines: Baselines<PairwiseFigures> | undefined;
  if (options.baselines && pairs.some((p) => p.baselines)) {
    const metrics: Record<string, PairwiseFigures> = { greedy: pairwiseFigures(outcomes, bootstrap) };
    for (const b of BASELINES) {
      const baselineOutcomes = pairs.map((p) =>
        pairOutcome({ chosen: p.baselines?.chosen[b] ?? null, rejected: p.baselines?.rejected[b] ?? null, goldTie: p.goldTie }),
      );
      metrics[b] = pairwiseFigures(baselineOutcomes, bootstrap);
    }
    baselines = { ...options.baselines, metrics };
  }

  let vsIteration0: PairedComparison<'accuracy'> | undefined;
  if (options.iteration0 && bootstrap) {
    const both = aligned(new Map(options.iteration0.map((p) => [p.key, p])), pairs);
    const d = pairedPairwiseAccuracyDiff(
      both.map(([a]) => pairOutcome(a)),
      both.map(([, b]) => pairOutcome(b)),
      bootstrap,
    );
    vsIteration0 = {
      baseline: 0,
      n: both.length,
      resamples: bootstrap.resamples,
      confidence: bootstrap.confidence,
      seed: bootstrap.seed,
      diffs: { accuracy: compactDiff(d) },
    };
  }
  return {
    figures,
    chance: pairs.length > 0 ? { accuracy: pairwiseAccuracy(pairs.map((p) => pairOutcome({ chosen: 1, rejected: 1, goldTie: p.goldTie })))! } : null,
    ...(groups ? { groups } : {}),
    ...(rewardbench ? { rewardbench } : {}),
    ...(baselines ? { baselines } : {}),
    ...(vsIteration0 ? { vsIteration0 } : {}),
  };
}
