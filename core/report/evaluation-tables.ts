/**
 * The evaluation sections of the results: per suite and iteration every headline metric with its sample
 * count, bootstrap interval and paired change against iteration 0; the inference-time baselines beside the
 * greedy score; metrics per group and per extra gold column; RewardBench's roll-up. Pure text, like
 * summary-tables.ts; the CLI prints them and the HTML report shows the same tables.
 */
import type {
  Baselines,
  GroupedFigures,
  IterationSummary,
  PairedComparison,
  PairwiseFigures,
  PairwiseMetrics,
  PointwiseFigures,
  PointwiseMetrics,
  RunSummary,
} from '../run/run-types';
import { NONE, num, pct, points, renderTable, suitesOf, type Table } from './summary-tables';

type Interval = [number | null, number | null] | undefined;

/** `37.5 [28.1, 47.0]`: a fraction as a percentage with its interval (when there is one). */
export function pctCI(value: number | null | undefined, ci: Interval): string {
  const v = pct(value);
  if (!ci || ci[0] === null || ci[1] === null || v === NONE) return v;
  return `${v} [${pct(ci[0])}, ${pct(ci[1])}]`;
}

/** `0.412 [0.201, 0.580]`: a correlation or MAE with its interval. */
export function numCI(value: number | null | undefined, ci: Interval): string {
  const v = num(value);
  if (!ci || ci[0] === null || ci[1] === null || v === NONE) return v;
  return `${v} [${num(ci[0])}, ${num(ci[1])}]`;
}

/** `+12.0 [+4.0, +20.0] p=0.004`: a paired difference of fractions, in points. */
export function diffPoints(d: PairedComparison<string>['diffs'][string] | undefined): string {
  if (!d || d.diff === null) return NONE;
  const ci = d.low !== null && d.high !== null ? ` [${points(d.low * 100)}, ${points(d.high * 100)}]` : '';
  const p = d.pValue !== null ? ` p=${num(d.pValue)}` : '';
  return `${points(d.diff * 100)}${ci}${p}`;
}

function sorted(summary: RunSummary): IterationSummary[] {
  return [...(summary.iterations ?? [])].sort((a, b) => a.iteration - b.iteration);
}

/** The first and the last of the iterations (the one when there is one): iteration 0 against the final judge. */
function firstAndLast(its: IterationSummary[]): IterationSummary[] {
  return its.length === 1 ? its : [its[0], its[its.length - 1]];
}

/** A label column on the left, numbers on the right. */
function labelThenNumbers(header: string[]): Table['align'] {
  return ['left', ...header.slice(1).map(() => 'right' as const)];
}

function pointwiseOf(it: IterationSummary, suite: string): PointwiseMetrics | undefined {
  const m = it.eval?.[suite];
  return m?.kind === 'pointwise' ? m : undefined;
}

function pairwiseOf(it: IterationSummary, suite: string): PairwiseMetrics | undefined {
  const m = it.eval?.[suite];
  return m?.kind === 'pairwise' ? m : undefined;
}

/** Per suite: one row per iteration with every metric, its n, its interval and the paired change vs 0. */
export function suiteDetailTable(summary: RunSummary, suite: string, kind: 'pointwise' | 'pairwise'): Table {
  const its = sorted(summary);
  if (kind === 'pointwise') {
    const chance = its.map((it) => pointwiseOf(it, suite)?.chance).find((c) => c);
    return {
      header: ['iter', 'n', 'parsed', 'exact %', 'pearson', 'spearman', 'kendall', 'MAE', 'Δ exact vs 0 (points)', 'Δ pearson vs 0'],
      rows: its.flatMap((it): string[][] => {
        const m = pointwiseOf(it, suite);
        if (!m) return [];
        const ci = m.ci?.intervals;
        const d = m.vsIteration0?.diffs;
        return [
          [
            String(it.iteration),
            String(m.n),
            String(m.parsed),
            pctCI(m.exactAgreement, ci?.exactAgreement),
            numCI(m.pearson, ci?.pearson),
            numCI(m.spearman, ci?.spearman),
            numCI(m.kendall, ci?.kendall),
            numCI(m.mae, ci?.mae),
            it.iteration === 0 ? NONE : diffPoints(d?.exactAgreement),
            it.iteration === 0 || !d || d.pearson.diff === null ? NONE : `${num(d.pearson.diff)} [${num(d.pearson.low)}, ${num(d.pearson.high)}]`,
          ],
        ];
      }).concat(chance ? [[`chance (always ${chance.score})`, NONE, NONE, pct(chance.exactAgreement), NONE, NONE, NONE, num(chance.mae), NONE, NONE]] : []),
    };
  }
  const chance = its.map((it) => pairwiseOf(it, suite)?.chance).find((c) => c);
  return {
    header: ['iter', 'n', 'accuracy %', 'ties', 'unparseable', 'A/B acc %', 'position consistency %', 'Δ accuracy vs 0 (points)'],
    rows: its.flatMap((it): string[][] => {
      const m = pairwiseOf(it, suite);
      if (!m) return [];
      const ci = m.mode === 'relative' ? undefined : (m.ci as NonNullable<PairwiseMetrics['ci']> | undefined)?.intervals.accuracy;
      return [
        [
          String(it.iteration),
          String(m.n),
          m.mode === 'relative' ? NONE : pctCI(m.accuracy, ci),
          m.mode === 'relative' ? NONE : String(m.ties),
          String(m.unparseable),
          pctCI(m.relative?.accuracy, m.relative?.ci?.intervals.accuracy),
          pctCI(m.relative?.positionConsistency, m.relative?.ci?.intervals.positionConsistency),
          it.iteration === 0 ? NONE : diffPoints(m.vsIteration0?.diffs.accuracy),
        ],
      ];
    }).concat(chance ? [['chance (all ties)', NONE, pct(chance.accuracy), NONE, NONE, NONE, NONE, NONE]] : []),
  };
}

const BASELINE_LABELS: Record<string, string> = {
  greedy: 'greedy (the judge)',
  one_sample: 'one sample',
  self_consistency: 'self-consistency (mode of N)',
  mean_of_n: 'mean of N',
  best_of_n: 'best-of-N (logprob)',
};

/** Baselines of one suite: one row per baseline, a column per iteration that has them. */
export function baselinesTable(summary: RunSummary, suite: string): { table: Table; samples: number; temperature: number } | null {
  const its = sorted(summary).filter((it) => it.eval?.[suite] && 'baselines' in it.eval[suite] && it.eval[suite].baselines);
  if (its.length === 0) return null;
  const kind = its[0].eval[suite].kind;
  const first = its[0].eval[suite].baselines as Baselines<PointwiseFigures | PairwiseFigures>;
  const names = Object.keys(first.metrics);
  const cell = (it: IterationSummary, name: string): string[] => {
    const b = it.eval[suite].baselines as Baselines<PointwiseFigures | PairwiseFigures> | undefined;
    const f = b?.metrics[name];
    if (!f) return kind === 'pointwise' ? [NONE, NONE] : [NONE];
    if (kind === 'pointwise') {
      const p = f as PointwiseFigures;
      return [pctCI(p.exactAgreement, p.ci?.intervals.exactAgreement), numCI(p.pearson, p.ci?.intervals.pearson)];
    }
    const q = f as PairwiseFigures;
    return [pctCI(q.accuracy, q.ci?.intervals.accuracy)];
  };
  const header = ['baseline', ...its.flatMap((it) => (kind === 'pointwise' ? [`iter ${it.iteration} exact %`, `iter ${it.iteration} pearson`] : [`iter ${it.iteration} accuracy %`]))];
  const rows = names.map((name) => [BASELINE_LABELS[name] ?? name, ...its.flatMap((it) => cell(it, name))]);
  return { table: { header, rows, align: labelThenNumbers(header) }, samples: first.samples, temperature: first.temperature };
}

/** One suite's groups: a row per group, the main metric (with n) of iteration 0 and of the last iteration. */
export function groupsTable(summary: RunSummary, suite: string): { table: Table; by: string } | null {
  const its = sorted(summary).filter((it) => (it.eval?.[suite] as { groups?: unknown } | undefined)?.groups);
  if (its.length === 0) return null;
  const shown = firstAndLast(its);
  const groupsOf = (it: IterationSummary) => (it.eval[suite] as { groups?: GroupedFigures<PointwiseFigures | PairwiseFigures> }).groups!;
  const names = [...new Set(shown.flatMap((it) => Object.keys(groupsOf(it).metrics)))].sort();
  const kind = its[0].eval[suite].kind;
  const value = (f: PointwiseFigures | PairwiseFigures | undefined): string => {
    if (!f) return NONE;
    if (kind === 'pointwise') {
      const p = f as PointwiseFigures;
      return `${pctCI(p.exactAgreement, p.ci?.intervals.exactAgreement)} r=${num(p.pearson)}`;
    }
    const q = f as PairwiseFigures;
    return pctCI(q.accuracy, q.ci?.intervals.accuracy);
  };
  const label = kind === 'pointwise' ? 'exact % (pearson)' : 'accuracy %';
  const header = ['group', 'n', ...shown.map((it) => `iter ${it.iteration} ${label}`)];
  const rows = names.map((g) => [g, String(groupsOf(shown[shown.length - 1]).metrics[g]?.n ?? groupsOf(shown[0]).metrics[g]?.n ?? NONE), ...shown.map((it) => value(groupsOf(it).metrics[g]))]);
  return { table: { header, rows, align: labelThenNumbers(header) }, by: groupsOf(shown[0]).by };
}

/** Extra gold columns of a pointwise suite: pearson / exact agreement per column, iteration 0 and last. */
export function goldColumnsTable(summary: RunSummary, suite: string): Table | null {
  const its = sorted(summary).filter((it) => pointwiseOf(it, suite)?.goldColumns);
  if (its.length === 0) return null;
  const shown = firstAndLast(its);
  const columns = [...new Set(shown.flatMap((it) => Object.keys(pointwiseOf(it, suite)!.goldColumns!)))].sort();
  const header = ['gold column', ...shown.flatMap((it) => [`iter ${it.iteration} n`, `iter ${it.iteration} pearson`, `iter ${it.iteration} exact %`])];
  const rows = columns.map((c) => [
    c,
    ...shown.flatMap((it) => {
      const f = pointwiseOf(it, suite)!.goldColumns![c];
      return f ? [String(f.n), numCI(f.pearson, f.ci?.intervals.pearson), pct(f.exactAgreement)] : [NONE, NONE, NONE];
    }),
  ]);
  return { header, rows, align: labelThenNumbers(header) };
}

/** RewardBench's roll-up per iteration (suites read with the `rewardbench` adapter). */
export function rewardBenchTable(summary: RunSummary, suite: string): Table | null {
  const its = sorted(summary).filter((it) => pairwiseOf(it, suite)?.rewardbench);
  if (its.length === 0) return null;
  const categories = ['Chat', 'Chat Hard', 'Safety', 'Reasoning'];
  return {
    header: ['iter', ...categories.map((c) => `${c} %`), 'score %', 'complete'],
    rows: its.map((it) => {
      const rb = pairwiseOf(it, suite)!.rewardbench!;
      return [
        String(it.iteration),
        ...categories.map((c) => {
          const cat = rb.categories[c];
          if (!cat) return NONE;
          // A partial file: the mean over the subsets present, marked with * (not RewardBench's figure).
          return cat.score !== null ? pct(cat.score) : cat.scoreOverPresent !== null ? `${pct(cat.scoreOverPresent)}*` : NONE;
        }),
        pct(rb.overall),
        rb.complete ? 'yes' : `no (${rb.missingSubsets} subsets missing)`,
      ];
    }),
  };
}

/** Every evaluation section, as lines, for `formatResults`. */
export function evaluationSections(summary: RunSummary): string[] {
  const lines: string[] = [];
  const level = sorted(summary).flatMap((it) => Object.values(it.eval ?? {})).find((m) => m.ci)?.ci?.confidence;
  const note = level ? `${Math.round(level * 100)}% bootstrap intervals in brackets; Δ by paired bootstrap on the same items` : 'no bootstrap intervals (evaluation.bootstrap.resamples is 0)';
  for (const s of suitesOf(summary)) {
    lines.push(`${s.name} (${s.kind}) — ${note}:`, renderTable(suiteDetailTable(summary, s.name, s.kind)), '');
    const baselines = baselinesTable(summary, s.name);
    if (baselines) {
      lines.push(`  inference-time baselines (N = ${baselines.samples} samples at temperature ${baselines.temperature}):`, indent(renderTable(baselines.table)), '');
    }
    const groups = groupsTable(summary, s.name);
    if (groups) lines.push(`  per group (${groups.by}):`, indent(renderTable(groups.table)), '');
    const golds = goldColumnsTable(summary, s.name);
    if (golds) lines.push('  against the other gold columns:', indent(renderTable(golds)), '');
    const rb = rewardBenchTable(summary, s.name);
    if (rb) lines.push('  RewardBench roll-up (* = mean over the subsets present, not the official figure):', indent(renderTable(rb)), '');
  }
  return lines;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
