/**
 * Agreement metrics between a judge's scores and gold scores (docs/method.md, "Evaluation protocol").
 *
 * Pure and deterministic. Conventions:
 * - A statistic that is undefined for its input (no items; a correlation over fewer than two items or over
 *   a constant series) is `null`, never NaN, so it survives JSON and cannot poison an average silently.
 * - Paired inputs must have equal lengths and finite numbers; anything else is a caller bug and throws a
 *   RangeError.
 */
import type { PointwiseMetrics } from '../run/run-types';

function checkPaired(name: string, xs: readonly number[], ys: readonly number[]): void {
  if (xs.length !== ys.length) throw new RangeError(`${name}: lengths differ (${xs.length} vs ${ys.length})`);
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) {
      throw new RangeError(`${name}: non-finite value at index ${i} (${xs[i]}, ${ys[i]})`);
    }
  }
}

/** Exactly constant; a float-tolerance test would misclassify genuinely tiny variations. */
function isConstant(xs: readonly number[]): boolean {
  return xs.every((x) => x === xs[0]);
}

function clampUnit(r: number): number {
  // Rounding can push a perfect correlation a hair past ±1.
  return Math.max(-1, Math.min(1, r));
}

function mean(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += x;
  return sum / xs.length;
}

/** Pearson's r; null for fewer than two items or a constant series. */
export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  checkPaired('pearson', xs, ys);
  if (xs.length < 2 || isConstant(xs) || isConstant(ys)) return null;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    const dx = xs[i] - mx;
    const dy = ys[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return clampUnit(sxy / Math.sqrt(sxx * syy));
}

/** 1-based ranks; tied values share the average of the ranks they span (the "fractional" ranking). */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const ranks = new Array<number>(xs.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && xs[order[end]] === xs[order[start]]) end++;
    // Positions start..end-1 hold equal values: ranks start+1..end, average (start + 1 + end) / 2.
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/** Spearman's rho: Pearson's r of the average ranks (the tie-correct definition). */
export function spearman(xs: readonly number[], ys: readonly number[]): number | null {
  checkPaired('spearman', xs, ys);
  return pearson(averageRanks(xs), averageRanks(ys));
}

/** Number of pairs within groups of equal values of a sorted array: sum of t(t-1)/2 over tie groups. */
function tiedPairs<T>(sorted: readonly T[], equal: (a: T, b: T) => boolean): number {
  let pairs = 0;
  for (let start = 0; start < sorted.length; ) {
    let end = start + 1;
    while (end < sorted.length && equal(sorted[end], sorted[start])) end++;
    const t = end - start;
    pairs += (t * (t - 1)) / 2;
    start = end;
  }
  return pairs;
}

/** Sorts `values` in place (stable merge sort) and returns how many pairs i < j had values[i] > values[j]. */
function countInversions(values: number[]): number {
  const buffer = new Array<number>(values.length);
  let inversions = 0;
  for (let width = 1; width < values.length; width *= 2) {
    for (let lo = 0; lo < values.length - width; lo += 2 * width) {
      const mid = lo + width;
      const hi = Math.min(lo + 2 * width, values.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        // Equal values are not inversions: take from the left first.
        if (values[i] <= values[j]) buffer[k++] = values[i++];
        else {
          inversions += mid - i;
          buffer[k++] = values[j++];
        }
      }
      while (i < mid) buffer[k++] = values[i++];
      while (j < hi) buffer[k++] = values[j++];
      for (let m = lo; m < hi; m++) values[m] = buffer[m];
    }
  }
  return inversions;
}

/**
 * Kendall's tau-b, with the tie correction: (C - D) / sqrt((n0 - n1)(n0 - n2)), where n0 = n(n-1)/2 and
 * n1, n2 count pairs tied in x and in y. Null for fewer than two items or a constant series.
 * Knight's O(n log n) algorithm (as in scipy): sort by (x, y), count discordant pairs as inversions of y.
 */
export function kendallTauB(xs: readonly number[], ys: readonly number[]): number | null {
  checkPaired('kendallTauB', xs, ys);
  const n = xs.length;
  if (n < 2 || isConstant(xs) || isConstant(ys)) return null;

  const byXThenY = xs.map((x, i) => [x, ys[i]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const tiedX = tiedPairs(byXThenY, (a, b) => a[0] === b[0]);
  const tiedXY = tiedPairs(byXThenY, (a, b) => a[0] === b[0] && a[1] === b[1]);
  // Within a run of equal x, y is ascending, so only pairs with x_i < x_j and y_i > y_j are inversions.
  const yInXOrder = byXThenY.map((p) => p[1]);
  const discordant = countInversions(yInXOrder); // also sorts yInXOrder by y
  const tiedY = tiedPairs(yInXOrder, (a, b) => a === b);

  const totalPairs = (n * (n - 1)) / 2;
  const concordant = totalPairs - tiedX - tiedY + tiedXY - discordant;
  const denominator = Math.sqrt((totalPairs - tiedX) * (totalPairs - tiedY));
  return clampUnit((concordant - discordant) / denominator);
}

/** Mean of |x - y|; null when empty. */
export function meanAbsoluteError(xs: readonly number[], ys: readonly number[]): number | null {
  checkPaired('meanAbsoluteError', xs, ys);
  if (xs.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += Math.abs(xs[i] - ys[i]);
  return sum / xs.length;
}

/** Fraction of items with x === y; null when empty. */
export function exactAgreement(xs: readonly number[], ys: readonly number[]): number | null {
  checkPaired('exactAgreement', xs, ys);
  if (xs.length === 0) return null;
  let same = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] === ys[i]) same++;
  return same / xs.length;
}

/**
 * Chance level of a pointwise suite: the judge that always answers the most common gold score (on a tie
 * between levels, the lower one). Its exact agreement is the share of that level; its MAE the mean distance
 * to it. Null when there is no gold.
 */
export function constantScoreBaseline(golds: readonly number[]): { score: number; exactAgreement: number; mae: number } | null {
  if (golds.length === 0) return null;
  const counts = new Map<number, number>();
  for (const g of golds) counts.set(g, (counts.get(g) ?? 0) + 1);
  let score = Number.POSITIVE_INFINITY;
  let most = 0;
  for (const [level, count] of counts) {
    if (count > most || (count === most && level < score)) [score, most] = [level, count];
  }
  const constant = golds.map(() => score);
  return { score, exactAgreement: exactAgreement(constant, golds)!, mae: meanAbsoluteError(constant, golds)! };
}

export type PairwiseOutcome = 'correct' | 'wrong' | 'tie' | 'unparseable';

/**
 * RewardBench's accuracy for generative judges: a correct pair counts 1, a tie or an unparseable judgment
 * 0.5, a wrong pair 0. Null when empty.
 */
export function pairwiseAccuracy(outcomes: readonly PairwiseOutcome[]): number | null {
  if (outcomes.length === 0) return null;
  let credit = 0;
  for (const o of outcomes) {
    if (o === 'correct') credit += 1;
    else if (o === 'tie' || o === 'unparseable') credit += 0.5;
    else if (o !== 'wrong') throw new RangeError(`pairwiseAccuracy: unknown outcome ${JSON.stringify(o)}`);
  }
  return credit / outcomes.length;
}

/** One judged item of a pointwise suite: the judge's score (null when unparseable) and the gold score. */
export interface ScoredItem {
  score: number | null;
  gold: number;
}

/**
 * A pointwise suite's metrics (core/run/run-types.ts `PointwiseMetrics`):
 * - `exactAgreement` is over all n items, an unparseable judgment counting as a disagreement, so a judge
 *   cannot look better by failing to answer;
 * - `mae` and the correlations are over the parsed items only (they need a number on both sides);
 * - with n = 0, `parseRate` and `exactAgreement` are 0 and the rest null.
 */
export function summarizePointwise(items: readonly ScoredItem[]): PointwiseMetrics {
  const judge: number[] = [];
  const gold: number[] = [];
  let agreeing = 0;
  for (const item of items) {
    if (!Number.isFinite(item.gold)) throw new RangeError(`summarizePointwise: non-finite gold score ${item.gold}`);
    if (item.score === null) continue;
    judge.push(item.score);
    gold.push(item.gold);
    if (item.score === item.gold) agreeing++;
  }
  const n = items.length;
  return {
    kind: 'pointwise',
    n,
    parsed: judge.length,
    parseRate: n === 0 ? 0 : judge.length / n,
    exactAgreement: n === 0 ? 0 : agreeing / n,
    mae: meanAbsoluteError(judge, gold),
    pearson: pearson(judge, gold),
    spearman: spearman(judge, gold),
    kendall: kendallTauB(judge, gold),
  };
}

/**
 * Confusion matrix of integer scores on a scale: `counts[g][s]` = items with gold `min + g` and judge score
 * `min + s`; `unparseable[g]` = items with gold `min + g` whose judgment did not parse. A gold or judge score
 * off the scale (or not an integer) throws: the metrics would otherwise hide it.
 */
export function confusionMatrix(
  items: readonly ScoredItem[],
  scale: { min: number; max: number },
): { levels: number[]; counts: number[][]; unparseable: number[] } {
  const { min, max } = scale;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) throw new RangeError(`confusionMatrix: invalid scale ${min}..${max}`);
  const levels = Array.from({ length: max - min + 1 }, (_, i) => min + i);
  const counts = levels.map(() => levels.map(() => 0));
  const unparseable = levels.map(() => 0);
  const index = (v: number, what: string): number => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`confusionMatrix: ${what} ${v} is off the scale ${min}..${max}`);
    return v - min;
  };
  for (const item of items) {
    const g = index(item.gold, 'gold score');
    if (item.score === null) unparseable[g]++;
    else counts[g][index(item.score, 'judge score')]++;
  }
  return { levels, counts, unparseable };
}
