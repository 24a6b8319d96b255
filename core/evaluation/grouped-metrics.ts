/**
 * Metrics overall, per group and against every gold column (docs/method.md, "Evaluation protocol":
 * correlations with each gold column (human, GPT-4), over the suite and per capability, exact agreement,
 * MAE and a confusion matrix; pairwise accuracy per subset).
 *
 * Pure and deterministic; the statistics are core/evaluation/metrics.ts's (`summarizePointwise`, `confusionMatrix`,
 * `pairwiseAccuracy`), with their conventions: exact agreement is over every row that has the gold column
 * (an unparseable judgment is a disagreement), MAE and correlations over the parsed ones; a statistic that
 * is undefined (no rows; a correlation over < 2 rows or a constant series) is null, never NaN. Groups and
 * gold columns are listed in sorted order (the primary column first), so the output serialises the same way
 * whatever the row order.
 */
import { confusionMatrix, pairwiseAccuracy, summarizePointwise, type PairwiseOutcome, type ScoredItem } from './metrics';

export interface PointwiseRow {
  /** The judge's score; null when the judgment did not parse. */
  score: number | null;
  /** The primary gold score. */
  gold: number;
  /** Other gold columns present on this row, e.g. `{human: 4, gpt4: 3.67}`; a row may lack any of them. */
  golds?: Readonly<Record<string, number>>;
  /** E.g. the BiGGen capability; a row without one counts only in `overall`. */
  group?: string;
}

export interface Scale {
  min: number;
  max: number;
}

export interface GoldColumnMetrics {
  /** Rows that have this gold column. */
  n: number;
  /** Of those, rows whose judgment parsed. */
  parsed: number;
  parseRate: number | null;
  exactAgreement: number | null;
  mae: number | null;
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
  /**
   * Gold (rows) x judge score (columns) over the scale's levels, plus unparseable judgments per gold level.
   * Null when a gold value or a parsed score of these rows is not an integer on the scale (e.g. a mean of
   * three GPT-4 scores, 3.67, or a mean-of-N judge score); `notes` then says why.
   */
  confusion: { levels: number[]; counts: number[][]; unparseable: number[] } | null;
  /** Judge scores of these rows per scale level, plus the unparseable count; null as for `confusion`. */
  scoreDistribution: { levels: number[]; counts: number[]; unparseable: number } | null;
  notes: string[];
}

export interface PointwiseGroupMetrics {
  /** Rows in the group (whatever gold columns they have). */
  n: number;
  /** Keyed by gold column: the primary one (`primaryGold`, default "gold") first, then the others sorted. */
  golds: Record<string, GoldColumnMetrics>;
}

export interface GroupedPointwiseMetrics {
  kind: 'pointwise';
  scale: Scale;
  /** Every gold column seen, in output order. */
  goldColumns: string[];
  overall: PointwiseGroupMetrics;
  /** Sorted by group name. */
  groups: Record<string, PointwiseGroupMetrics>;
  /** Rows with no group (counted in `overall` only). */
  ungrouped: number;
}

export interface GroupedPointwiseOptions {
  /** Default 1..5. */
  scale?: Scale;
  /** The name of the primary `gold` column in the output; default "gold". */
  primaryGold?: string;
}

function checkScale(scale: Scale): void {
  if (!Number.isInteger(scale.min) || !Number.isInteger(scale.max) || scale.min > scale.max) {
    throw new RangeError(`groupedPointwiseMetrics: invalid scale ${scale.min}..${scale.max}`);
  }
}

function onScale(v: number, scale: Scale): boolean {
  return Number.isInteger(v) && v >= scale.min && v <= scale.max;
}

function columnMetrics(items: readonly ScoredItem[], scale: Scale): GoldColumnMetrics {
  const s = summarizePointwise(items);
  const empty = items.length === 0;
  const notes: string[] = [];
  const offGold = items.find((it) => !onScale(it.gold, scale));
  const offScore = items.find((it) => it.score !== null && !onScale(it.score, scale));
  if (offGold) notes.push(`gold ${offGold.gold} is not an integer on the scale ${scale.min}..${scale.max}: no confusion matrix`);
  if (offScore) {
    notes.push(`judge score ${offScore.score} is not an integer on the scale ${scale.min}..${scale.max}: no confusion matrix or score distribution`);
  }
  const confusion = offGold || offScore ? null : confusionMatrix(items, scale);
  let scoreDistribution: GoldColumnMetrics['scoreDistribution'] = null;
  if (!offScore) {
    const levels = Array.from({ length: scale.max - scale.min + 1 }, (_, i) => scale.min + i);
    const counts = levels.map(() => 0);
    let unparseable = 0;
    for (const it of items) {
      if (it.score === null) unparseable++;
      else counts[it.score - scale.min]++;
    }
    scoreDistribution = { levels, counts, unparseable };
  }
  return {
    n: s.n,
    parsed: s.parsed,
    parseRate: empty ? null : s.parseRate,
    exactAgreement: empty ? null : s.exactAgreement,
    mae: s.mae,
    pearson: s.pearson,
    spearman: s.spearman,
    kendall: s.kendall,
    confusion,
    scoreDistribution,
    notes,
  };
}

function groupMetrics(rows: readonly PointwiseRow[], columns: readonly string[], primary: string, scale: Scale): PointwiseGroupMetrics {
  const golds: Record<string, GoldColumnMetrics> = {};
  for (const col of columns) {
    const items: ScoredItem[] = [];
    for (const r of rows) {
      const gold = col === primary ? r.gold : r.golds?.[col];
      if (gold !== undefined) items.push({ score: r.score, gold });
    }
    golds[col] = columnMetrics(items, scale);
  }
  return { n: rows.length, golds };
}

/**
 * Pointwise metrics overall and per group, against the primary gold and every column of `golds`. A gold
 * column present on only some rows is measured over those rows (its `n` says how many). Throws a RangeError
 * on a non-finite score or gold, an empty group name, or a `golds` key equal to the primary column's name.
 */
export function groupedPointwiseMetrics(rows: readonly PointwiseRow[], options: GroupedPointwiseOptions = {}): GroupedPointwiseMetrics {
  const scale = options.scale ?? { min: 1, max: 5 };
  checkScale(scale);
  const primary = options.primaryGold ?? 'gold';
  const others = new Set<string>();
  const byGroup = new Map<string, PointwiseRow[]>();
  let ungrouped = 0;
  rows.forEach((r, i) => {
    if (r.score !== null && !Number.isFinite(r.score)) throw new RangeError(`groupedPointwiseMetrics: row ${i}: non-finite score ${r.score}`);
    if (!Number.isFinite(r.gold)) throw new RangeError(`groupedPointwiseMetrics: row ${i}: non-finite gold ${r.gold}`);
    for (const [k, v] of Object.entries(r.golds ?? {})) {
      if (k === primary) throw new RangeError(`groupedPointwiseMetrics: row ${i}: golds.${k} has the primary column's name`);
      if (!Number.isFinite(v)) throw new RangeError(`groupedPointwiseMetrics: row ${i}: non-finite golds.${k} ${v}`);
      others.add(k);
    }
    if (r.group === undefined) {
      ungrouped++;
      return;
    }
    if (typeof r.group !== 'string' || r.group === '') throw new RangeError(`groupedPointwiseMetrics: row ${i}: group must be a non-empty string`);
    const list = byGroup.get(r.group);
    if (list) list.push(r);
    else byGroup.set(r.group, [r]);
  });
  const columns = [primary, ...[...others].sort()];
  const groups: Record<string, PointwiseGroupMetrics> = {};
  for (const g of [...byGroup.keys()].sort()) groups[g] = groupMetrics(byGroup.get(g)!, columns, primary, scale);
  return { kind: 'pointwise', scale, goldColumns: columns, overall: groupMetrics(rows, columns, primary, scale), groups, ungrouped };
}

export interface PairwiseRow {
  outcome: PairwiseOutcome;
  /** E.g. the RewardBench subset; a row without one counts only in `overall`. */
  group?: string;
}

export interface PairwiseGroupMetrics {
  n: number;
  correct: number;
  wrong: number;
  tie: number;
  unparseable: number;
  /** correct + 0.5 x (tie + unparseable): the numerator of `accuracy`. */
  credit: number;
  /** `pairwiseAccuracy`: credit / n; null when n = 0. */
  accuracy: number | null;
}

export interface GroupedPairwiseMetrics {
  kind: 'pairwise';
  overall: PairwiseGroupMetrics;
  /** Sorted by group name. */
  groups: Record<string, PairwiseGroupMetrics>;
  ungrouped: number;
}

function pairwiseGroup(outcomes: readonly PairwiseOutcome[]): PairwiseGroupMetrics {
  const accuracy = pairwiseAccuracy(outcomes); // validates every outcome
  const count = (o: PairwiseOutcome) => outcomes.filter((x) => x === o).length;
  const m = { n: outcomes.length, correct: count('correct'), wrong: count('wrong'), tie: count('tie'), unparseable: count('unparseable') };
  return { ...m, credit: m.correct + 0.5 * (m.tie + m.unparseable), accuracy };
}

/** Pairwise accuracy (ties and unparseable judgments 0.5) overall and per group. */
export function groupedPairwiseMetrics(rows: readonly PairwiseRow[]): GroupedPairwiseMetrics {
  const byGroup = new Map<string, PairwiseOutcome[]>();
  let ungrouped = 0;
  rows.forEach((r, i) => {
    if (r.group === undefined) {
      ungrouped++;
      return;
    }
    if (typeof r.group !== 'string' || r.group === '') throw new RangeError(`groupedPairwiseMetrics: row ${i}: group must be a non-empty string`);
    const list = byGroup.get(r.group);
    if (list) list.push(r.outcome);
    else byGroup.set(r.group, [r.outcome]);
  });
  const groups: Record<string, PairwiseGroupMetrics> = {};
  for (const g of [...byGroup.keys()].sort()) groups[g] = pairwiseGroup(byGroup.get(g)!);
  return { kind: 'pairwise', overall: pairwiseGroup(rows.map((r) => r.outcome)), groups, ungrouped };
}

/**
 * Per-group `{correct: credit, n}`, the input `rewardBenchRollup` (core/evaluation/rewardbench.ts) takes when the groups
 * are RewardBench subsets.
 */
export function pairwiseGroupCounts(metrics: GroupedPairwiseMetrics): Record<string, { correct: number; n: number }> {
  const out: Record<string, { correct: number; n: number }> = {};
  for (const [g, m] of Object.entries(metrics.groups)) out[g] = { correct: m.credit, n: m.n };
  return out;
}
