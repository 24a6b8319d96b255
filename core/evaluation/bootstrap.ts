/**
 * Bootstrap confidence intervals for the evaluation metrics (docs/method.md, "Evaluation protocol": every
 * compared figure carries a bootstrap confidence interval).
 *
 * Pure and deterministic (workflow-safe): no `node:` imports, no `Math.random()`, no clocks. All randomness
 * comes from `createRng(seed)` (core/common/rng.ts), so the same items, statistic and options always give the
 * same interval.
 *
 * Method: the percentile bootstrap. Resample r (r = 0..resamples-1) draws n item indices with replacement,
 * `rng.int(n)` n times in order from one generator seeded with `seed`, and evaluates the statistic on those
 * items. Because the draws depend only on (seed, n, resamples), every statistic computed with the same seed
 * over the same n items sees the same resamples: the wrappers below are consistent with `bootstrapCI`
 * over the matching `core/evaluation/metrics.ts` statistic, and paired differences use one draw for both judges.
 *
 * - The estimate is the statistic on the full sample, not the mean of the resamples.
 * - A resample where the statistic is undefined (`null`, e.g. a correlation over a constant resample) is
 *   counted in `undefinedResamples` and left out of the percentiles.
 * - When the full-sample statistic is null, or every resample is undefined, `low` and `high` are null.
 *   Nothing returned is ever NaN. A statistic that returns NaN or ±Infinity is a caller bug: RangeError.
 * - Percentiles by linear interpolation between order statistics (Hyndman & Fan type 7, numpy's default):
 *   for the m defined values sorted ascending v[0..m-1] and probability p, h = (m - 1) p and
 *   q(p) = v[floor h] + (h - floor h) (v[floor h + 1] - v[floor h]). The interval is
 *   [q((1 - confidence) / 2), q((1 + confidence) / 2)].
 *
 * Cost: resampling draws resamples x n random indices (about 5M for 1000 x 5,000, tens of milliseconds).
 * Mean-type metrics (exact agreement, MAE, pairwise accuracy) are then O(n) per resample with no
 * allocation. Correlations go through the `core/evaluation/metrics.ts` functions per resample: Pearson is O(n),
 * Spearman and Kendall sort (O(n log n) with allocation), so `pointwiseMetricCIs` on 5,000 items with 1000
 * resamples takes seconds, not milliseconds; use `exactAgreementCI` / `maeCI` when only those are needed.
 */
import { createRng, toSeed32 } from '../common/rng';
import {
  kendallTauB,
  pairwiseAccuracy,
  pearson,
  spearman,
  summarizePointwise,
  type PairwiseOutcome,
  type ScoredItem,
} from './metrics';

export interface BootstrapOptions {
  /** Number of resamples, an integer >= 1 (default 1000). */
  resamples?: number;
  /** Seed of the resampling generator (an integer; recorded in the result). */
  seed: number;
  /** Coverage of the interval, strictly between 0 and 1 (default 0.95). */
  confidence?: number;
}

export interface BootstrapCI {
  /** The statistic on the full sample (null when undefined). */
  estimate: number | null;
  /** Lower and upper percentile bounds; null when the estimate or every resample is undefined. */
  low: number | null;
  high: number | null;
  resamples: number;
  seed: number;
  confidence: number;
  /** Resamples on which the statistic was undefined (null), left out of the percentiles. */
  undefinedResamples: number;
}

/** A paired comparison of judge B against judge A on the same items: the statistic of B minus that of A. */
export interface PairedBootstrapDiff extends BootstrapCI {
  /** The statistic of each judge on the full sample. */
  estimateA: number | null;
  estimateB: number | null;
  /**
   * Two-sided bootstrap p-value for "no difference": with d the estimate and D the defined resampled
   * differences, 2 x (share of D with D <= 0 when d > 0, or D >= 0 when d < 0), capped at 1; 1 when d = 0;
   * null when d is null or no resample is defined. A resampled difference of exactly 0 counts as the other
   * side (conservative). Its resolution is limited to 2 / (defined resamples).
   */
  pValueTwoSided: number | null;
  /** Share of the defined resamples where B's statistic is strictly above A's; null when none is defined. */
  probabilityBetter: number | null;
}

export type PointwiseCIMetric = 'exactAgreement' | 'mae' | 'pearson' | 'spearman' | 'kendall';
export type PointwiseMetricCIs = Record<PointwiseCIMetric, BootstrapCI>;
export type PointwiseMetricDiffs = Record<PointwiseCIMetric, PairedBootstrapDiff>;

interface Settings {
  resamples: number;
  seed: number;
  confidence: number;
}

function settings(options: BootstrapOptions): Settings {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`bootstrap: resamples must be an integer >= 1, got ${String(resamples)}`);
  }
  if (typeof confidence !== 'number' || !(confidence > 0 && confidence < 1)) {
    throw new RangeError(`bootstrap: confidence must be strictly between 0 and 1, got ${String(confidence)}`);
  }
  toSeed32(options.seed); // throws a RangeError for a non-integer seed
  return { resamples, seed: options.seed, confidence };
}

/**
 * A statistic over item indices: `null` asks for the full sample (indices 0..n-1 in order), otherwise the
 * indices of resample `r` (one buffer, overwritten by the next resample). Returns null when undefined.
 */
const UINT32 = 4294967296; // 2^32

type IndexStatistic = (idx: Uint32Array | null, r: number) => number | null;

function checkValue(value: number | null, where: string): number | null {
  if (value !== null && !Number.isFinite(value)) {
    throw new RangeError(`bootstrap: the statistic returned ${String(value)} on ${where} (return null when undefined)`);
  }
  return value;
}

/**
 * Evaluates every statistic on the full sample and on each resample (one shared index draw per resample).
 * Resampled values are stored with NaN marking "undefined" (internal only, never returned).
 */
function resampleAll(
  n: number,
  s: Settings,
  statistics: readonly IndexStatistic[],
): { estimates: Array<number | null>; values: Float64Array[] } {
  const estimates = statistics.map((stat) => checkValue(stat(null, -1), 'the full sample'));
  const values = statistics.map(() => new Float64Array(s.resamples));
  const rng = createRng(s.seed);
  const idx = new Uint32Array(n);
  // Exactly `rng.int(n)` (same rejection rule, same stream), inlined: about twice as fast in this loop.
  const limit = UINT32 - (UINT32 % Math.max(n, 1));
  for (let r = 0; r < s.resamples; r++) {
    for (let i = 0; i < n; i++) {
      let x = rng.nextUint32();
      while (x >= limit) x = rng.nextUint32();
      idx[i] = x % n;
    }
    for (let k = 0; k < statistics.length; k++) {
      const v = checkValue(statistics[k](idx, r), `resample ${r}`);
      values[k][r] = v === null ? NaN : v;
    }
  }
  return { estimates, values };
}

/** Linear-interpolation percentile (type 7) of an ascending, non-empty array. */
function percentile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

function defined(values: Float64Array): Float64Array {
  let m = 0;
  for (const v of values) if (!Number.isNaN(v)) m++;
  const out = new Float64Array(m);
  let j = 0;
  for (const v of values) if (!Number.isNaN(v)) out[j++] = v;
  return out;
}

function summarize(estimate: number | null, values: Float64Array, s: Settings): BootstrapCI {
  const kept = defined(values);
  const undefinedResamples = values.length - kept.length;
  let low: number | null = null;
  let high: number | null = null;
  if (estimate !== null && kept.length > 0) {
    kept.sort();
    const alpha = 1 - s.confidence;
    low = percentile(kept, alpha / 2);
    high = percentile(kept, 1 - alpha / 2);
  }
  return { estimate, low, high, resamples: s.resamples, seed: s.seed, confidence: s.confidence, undefinedResamples };
}

function summarizeDiff(
  estimateA: number | null,
  estimateB: number | null,
  valuesA: Float64Array,
  valuesB: Float64Array,
  s: Settings,
): PairedBootstrapDiff {
  const estimate = estimateA === null || estimateB === null ? null : estimateB - estimateA;
  const diffs = new Float64Array(valuesA.length);
  for (let r = 0; r < diffs.length; r++) diffs[r] = valuesB[r] - valuesA[r]; // NaN if either is undefined
  const ci = summarize(estimate, diffs, s);
  const kept = defined(diffs);
  let probabilityBetter: number | null = null;
  let pValueTwoSided: number | null = null;
  if (kept.length > 0) {
    let above = 0;
    let atOrBelow = 0;
    let atOrAbove = 0;
    for (const d of kept) {
      if (d > 0) above++;
      if (d <= 0) atOrBelow++;
      if (d >= 0) atOrAbove++;
    }
    probabilityBetter = above / kept.length;
    if (estimate !== null) {
      const otherSide = estimate > 0 ? atOrBelow : estimate < 0 ? atOrAbove : kept.length;
      pValueTwoSided = Math.min(1, (2 * otherSide) / kept.length);
    }
  }
  return { ...ci, estimateA, estimateB, pValueTwoSided, probabilityBetter };
}

/** A generic statistic as an index statistic; the resample buffer is reused across resamples. */
function overItems<T>(items: readonly T[], statistic: (sample: readonly T[]) => number | null): IndexStatistic {
  const buffer = new Array<T>(items.length);
  return (idx) => {
    if (idx === null) return statistic(items);
    for (let i = 0; i < idx.length; i++) buffer[i] = items[idx[i]];
    return statistic(buffer);
  };
}

/**
 * Percentile bootstrap confidence interval of `statistic` over `items` (see the file comment).
 * The sample passed to `statistic` on a resample is a buffer reused by the next resample: the statistic
 * must not keep a reference to it.
 */
export function bootstrapCI<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number | null,
  options: BootstrapOptions,
): BootstrapCI {
  const s = settings(options);
  const { estimates, values } = resampleAll(items.length, s, [overItems(items, statistic)]);
  return summarize(estimates[0], values[0], s);
}

function checkAligned(name: string, a: number, b: number): void {
  if (a !== b) {
    throw new RangeError(`${name}: the two judges must be scored on the same items, aligned by index; got ${a} items for A and ${b} for B`);
  }
}

/**
 * Paired bootstrap of statistic(B) - statistic(A) for two judges on the same items (`itemsA[i]` and
 * `itemsB[i]` are the same item): each resample draws one set of indices and applies it to both, so the
 * interval reflects the difference between the judges, not the variation between item sets.
 * Throws a RangeError when the lengths differ.
 */
export function pairedBootstrapDiff<T>(
  itemsA: readonly T[],
  itemsB: readonly T[],
  statistic: (sample: readonly T[]) => number | null,
  options: BootstrapOptions,
): PairedBootstrapDiff {
  checkAligned('pairedBootstrapDiff', itemsA.length, itemsB.length);
  const s = settings(options);
  const { estimates, values } = resampleAll(itemsA.length, s, [overItems(itemsA, statistic), overItems(itemsB, statistic)]);
  return summarizeDiff(estimates[0], estimates[1], values[0], values[1], s);
}

// ---------------------------------------------------------------------------------------------------------
// Wrappers for core/evaluation/metrics.ts. Full-sample estimates come from the metrics functions themselves; the
// mean-type metrics are resampled from per-item values without allocation (same numbers, summed in the same
// order, as the metrics functions on the resampled items).

/** Mean of `values` over the resampled items where `counted` is 1 (all items when `counted` is absent). */
function meanStatistic(values: Float64Array, counted?: Uint8Array): IndexStatistic {
  return (idx) => {
    if (idx === null) throw new Error('meanStatistic: the full-sample estimate comes from core/evaluation/metrics.ts');
    let sum = 0;
    let count = 0;
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i];
      if (counted !== undefined && counted[j] === 0) continue;
      sum += values[j];
      count++;
    }
    return count === 0 ? null : sum / count;
  };
}

/** A fixed full-sample estimate, with resamples delegated. */
function withEstimate(estimate: number | null, resampled: IndexStatistic): IndexStatistic {
  return (idx, r) => (idx === null ? estimate : resampled(idx, r));
}

/** Per-item values behind the pointwise metrics (validates gold scores as summarizePointwise does). */
function pointwiseColumns(items: readonly ScoredItem[]): { agree: Float64Array; absError: Float64Array; parsed: Uint8Array } {
  const agree = new Float64Array(items.length);
  const absError = new Float64Array(items.length);
  const parsed = new Uint8Array(items.length);
  items.forEach((item, i) => {
    if (!Number.isFinite(item.gold)) throw new RangeError(`bootstrap: non-finite gold score ${item.gold} at index ${i}`);
    if (item.score === null) return;
    if (!Number.isFinite(item.score)) throw new RangeError(`bootstrap: non-finite judge score ${item.score} at index ${i}`);
    parsed[i] = 1;
    agree[i] = item.score === item.gold ? 1 : 0;
    absError[i] = Math.abs(item.score - item.gold);
  });
  return { agree, absError, parsed };
}

/** Index statistics for the five pointwise metrics, as `summarizePointwise` defines them. */
function pointwiseStatistics(items: readonly ScoredItem[]): Record<PointwiseCIMetric, IndexStatistic> {
  const full = summarizePointwise(items);
  const { agree, absError, parsed } = pointwiseColumns(items);
  // Parsed (judge, gold) columns of the current resample, rebuilt once per resample and shared by the
  // three correlations (buffers reused).
  const judge: number[] = [];
  const gold: number[] = [];
  let filledFor = -1;
  const correlation =
    (f: (xs: readonly number[], ys: readonly number[]) => number | null, estimate: number | null): IndexStatistic =>
    (idx, r) => {
      if (idx === null) return estimate;
      if (filledFor !== r) {
        judge.length = 0;
        gold.length = 0;
        for (let i = 0; i < idx.length; i++) {
          const j = idx[i];
          if (parsed[j] === 0) continue;
          judge.push(items[j].score as number);
          gold.push(items[j].gold);
        }
        filledFor = r;
      }
      return f(judge, gold);
    };
  return {
    exactAgreement: withEstimate(items.length === 0 ? null : full.exactAgreement, meanStatistic(agree)),
    mae: withEstimate(full.mae, meanStatistic(absError, parsed)),
    pearson: correlation(pearson, full.pearson),
    spearman: correlation(spearman, full.spearman),
    kendall: correlation(kendallTauB, full.kendall),
  };
}

const POINTWISE_METRICS: readonly PointwiseCIMetric[] = ['exactAgreement', 'mae', 'pearson', 'spearman', 'kendall'];

/**
 * Bootstrap CIs of a pointwise suite's metrics, defined as in `summarizePointwise`: exact agreement over all
 * items (an unparseable judgment is a disagreement), MAE and the correlations over the parsed items of each
 * resample. One set of resamples serves all five. With no items, every estimate is null (unlike
 * `summarizePointwise`'s exactAgreement of 0, which is a count convention, not an estimate).
 */
export function pointwiseMetricCIs(items: readonly ScoredItem[], options: BootstrapOptions): PointwiseMetricCIs {
  const s = settings(options);
  const stats = pointwiseStatistics(items);
  const { estimates, values } = resampleAll(items.length, s, POINTWISE_METRICS.map((m) => stats[m]));
  const out = {} as PointwiseMetricCIs;
  POINTWISE_METRICS.forEach((m, k) => (out[m] = summarize(estimates[k], values[k], s)));
  return out;
}

/** Bootstrap CI of exact agreement alone (the same interval as `pointwiseMetricCIs(...).exactAgreement`). */
export function exactAgreementCI(items: readonly ScoredItem[], options: BootstrapOptions): BootstrapCI {
  const s = settings(options);
  const full = summarizePointwise(items);
  const { agree } = pointwiseColumns(items);
  const { estimates, values } = resampleAll(items.length, s, [withEstimate(items.length === 0 ? null : full.exactAgreement, meanStatistic(agree))]);
  return summarize(estimates[0], values[0], s);
}

/** Bootstrap CI of MAE over the parsed items (the same interval as `pointwiseMetricCIs(...).mae`). */
export function maeCI(items: readonly ScoredItem[], options: BootstrapOptions): BootstrapCI {
  const s = settings(options);
  const full = summarizePointwise(items);
  const { absError, parsed } = pointwiseColumns(items);
  const { estimates, values } = resampleAll(items.length, s, [withEstimate(full.mae, meanStatistic(absError, parsed))]);
  return summarize(estimates[0], values[0], s);
}

/**
 * Paired bootstrap differences (B - A) of the five pointwise metrics for two judges on the same items.
 * Throws a RangeError when the lengths differ or an item's gold score differs between the two lists.
 */
export function pairedPointwiseMetricDiffs(
  itemsA: readonly ScoredItem[],
  itemsB: readonly ScoredItem[],
  options: BootstrapOptions,
): PointwiseMetricDiffs {
  checkAligned('pairedPointwiseMetricDiffs', itemsA.length, itemsB.length);
  for (let i = 0; i < itemsA.length; i++) {
    if (itemsA[i].gold !== itemsB[i].gold) {
      throw new RangeError(`pairedPointwiseMetricDiffs: item ${i} has gold ${itemsA[i].gold} for A but ${itemsB[i].gold} for B; the items must be aligned`);
    }
  }
  const s = settings(options);
  const statsA = pointwiseStatistics(itemsA);
  const statsB = pointwiseStatistics(itemsB);
  const { estimates, values } = resampleAll(itemsA.length, s, [
    ...POINTWISE_METRICS.map((m) => statsA[m]),
    ...POINTWISE_METRICS.map((m) => statsB[m]),
  ]);
  const k = POINTWISE_METRICS.length;
  const out = {} as PointwiseMetricDiffs;
  POINTWISE_METRICS.forEach((m, i) => (out[m] = summarizeDiff(estimates[i], estimates[k + i], values[i], values[k + i], s)));
  return out;
}

/** Per-pair credit under RewardBench's rule, taken from `pairwiseAccuracy` itself so the two cannot drift. */
function credits(outcomes: readonly PairwiseOutcome[]): Float64Array {
  const byOutcome = new Map<PairwiseOutcome, number>();
  const out = new Float64Array(outcomes.length);
  outcomes.forEach((o, i) => {
    let c = byOutcome.get(o);
    if (c === undefined) {
      c = pairwiseAccuracy([o]) as number; // throws a RangeError for an unknown outcome
      byOutcome.set(o, c);
    }
    out[i] = c;
  });
  return out;
}

/** Bootstrap CI of a pairwise suite's accuracy (`pairwiseAccuracy`: correct 1, tie or unparseable 0.5). */
export function pairwiseAccuracyCI(outcomes: readonly PairwiseOutcome[], options: BootstrapOptions): BootstrapCI {
  const s = settings(options);
  const values = credits(outcomes);
  const { estimates, values: resampled } = resampleAll(outcomes.length, s, [withEstimate(pairwiseAccuracy(outcomes), meanStatistic(values))]);
  return summarize(estimates[0], resampled[0], s);
}

/** Paired bootstrap of pairwise accuracy (B - A) for two judges on the same pairs, aligned by index. */
export function pairedPairwiseAccuracyDiff(
  outcomesA: readonly PairwiseOutcome[],
  outcomesB: readonly PairwiseOutcome[],
  options: BootstrapOptions,
): PairedBootstrapDiff {
  checkAligned('pairedPairwiseAccuracyDiff', outcomesA.length, outcomesB.length);
  const s = settings(options);
  const { estimates, values } = resampleAll(outcomesA.length, s, [
    withEstimate(pairwiseAccuracy(outcomesA), meanStatistic(credits(outcomesA))),
    withEstimate(pairwiseAccuracy(outcomesB), meanStatistic(credits(outcomesB))),
  ]);
  return summarizeDiff(estimates[0], estimates[1], values[0], values[1], s);
}
