/**
 * Relative (A/B) grading of a pairwise suite (`data.evalSuites[].mode: relative | both`): each pair is
 * rendered twice with the pairwise template, once with `chosen` as response A (`chosen_a`) and once with
 * `chosen` as response B (`chosen_b`), so that the judge's position consistency can be measured. Which of the
 * two orders comes first in the requests is a seeded coin per (loop.seed, suite, example id); the suite's
 * seed (`orderSeed`) is recorded in its metrics.
 *
 * Pure and deterministic (workflow-safe): the evaluate activity renders and parses, this file decides the
 * order and turns verdict rows into metrics.
 */
import { bootstrapCI, type BootstrapOptions } from './bootstrap';
import { deriveSeed } from '../common/rng';
import type { RelativeMetrics } from '../run/run-types';

export type { RelativeMetrics };

/** Which response is shown as A: `chosen_a` = chosen is A (rejected is B), `chosen_b` = chosen is B. */
export type RelativeOrder = 'chosen_a' | 'chosen_b';
export const RELATIVE_ORDERS: readonly RelativeOrder[] = ['chosen_a', 'chosen_b'];

/** The suite's order seed: `deriveSeed(loop.seed, 'evaluate-relative', suite)`, recorded in its metrics. */
export function relativeOrderSeed(loopSeed: number, suite: string): number {
  return deriveSeed(loopSeed, 'evaluate-relative', suite);
}

/**
 * The pair's two orders, the seeded first one first: a fair coin from `deriveSeed(orderSeed, exampleId)`.
 * Independent of the file's row order and of the iteration, so every iteration sees the same order.
 */
export function relativeOrders(orderSeed: number, exampleId: string): [RelativeOrder, RelativeOrder] {
  return (deriveSeed(orderSeed, exampleId) & 1) === 0 ? ['chosen_a', 'chosen_b'] : ['chosen_b', 'chosen_a'];
}

/** The two responses as A and B for one order. */
export function relativeResponses(pair: { chosen: string; rejected: string }, order: RelativeOrder): { response_a: string; response_b: string } {
  return order === 'chosen_a'
    ? { response_a: pair.chosen, response_b: pair.rejected }
    : { response_a: pair.rejected, response_b: pair.chosen };
}

/** Which response a verdict picks in a given order (null for an unparseable verdict). */
export function pickedSide(order: RelativeOrder, verdict: 'A' | 'B' | null): 'chosen' | 'rejected' | null {
  if (verdict === null) return null;
  return (verdict === 'A') === (order === 'chosen_a') ? 'chosen' : 'rejected';
}

/** One parsed relative judgment: the pair, the order it was shown in, and the verdict (null = unparseable). */
export interface RelativeVerdictRow {
  exampleId: string;
  order: RelativeOrder;
  verdict: 'A' | 'B' | null;
  /** The gold says neither response is better (PandaLM's label 0). */
  goldTie?: boolean;
}

/** One pair's share of the relative metrics (sums of these over pairs give a suite's metrics). */
export interface RelativePairStats {
  /** Accuracy credit over the pair's two requests (0..2). */
  credit: number;
  unparseable: number;
  parsed: number;
  saidA: number;
  /** Both verdicts parsed. */
  complete: boolean;
  /** Both parsed and picking the same response. */
  consistent: boolean;
  goldTie: boolean;
}

/** Groups one suite's verdict rows by pair (two rows per pair; order of rows is free). */
export function relativePairStats(rows: readonly RelativeVerdictRow[]): RelativePairStats[] {
  const pairs = new Map<string, { verdicts: Partial<Record<RelativeOrder, 'A' | 'B' | null>>; goldTie: boolean }>();
  for (const row of rows) {
    const pair = pairs.get(row.exampleId) ?? { verdicts: {}, goldTie: false };
    if (row.order in pair.verdicts) {
      throw new RangeError(`relativeSuiteMetrics: two verdicts for example "${row.exampleId}" in order ${row.order}`);
    }
    pair.verdicts[row.order] = row.verdict;
    if (row.goldTie === true) pair.goldTie = true;
    pairs.set(row.exampleId, pair);
  }
  return [...pairs.values()].map((pair) => {
    const stats: RelativePairStats = { credit: 0, unparseable: 0, parsed: 0, saidA: 0, complete: false, consistent: false, goldTie: pair.goldTie };
    const picks = RELATIVE_ORDERS.map((order) => {
      const verdict = pair.verdicts[order] ?? null;
      if (verdict === null) stats.unparseable++;
      else {
        stats.parsed++;
        if (verdict === 'A') stats.saidA++;
      }
      return pickedSide(order, verdict);
    });
    const [first, second] = picks;
    stats.complete = first !== null && second !== null;
    stats.consistent = stats.complete && first === second;
    if (pair.goldTie) stats.credit = !stats.complete ? 1 : first !== second ? 2 : 0;
    else for (const pick of picks) stats.credit += pick === 'chosen' ? 1 : pick === null ? 0.5 : 0;
    return stats;
  });
}

/** The three rates of a set of pairs (null when undefined; accuracy 0 for no pair). */
export function relativeRates(pairs: readonly RelativePairStats[]): { accuracy: number; positionConsistency: number | null; preferA: number | null } {
  let credit = 0;
  let complete = 0;
  let consistent = 0;
  let parsed = 0;
  let saidA = 0;
  for (const p of pairs) {
    credit += p.credit;
    if (p.complete) complete++;
    if (p.consistent) consistent++;
    parsed += p.parsed;
    saidA += p.saidA;
  }
  const requests = pairs.length * RELATIVE_ORDERS.length;
  return {
    accuracy: requests === 0 ? 0 : credit / requests,
    positionConsistency: complete === 0 ? null : consistent / complete,
    preferA: parsed === 0 ? null : saidA / parsed,
  };
}

/** Folds one suite's relative verdict rows into its metrics (two rows per pair; order of rows is free). */
export function relativeSuiteMetrics(rows: readonly RelativeVerdictRow[], orderSeed: number): RelativeMetrics {
  const pairs = relativePairStats(rows);
  return {
    n: pairs.length,
    requests: pairs.length * RELATIVE_ORDERS.length,
    ...relativeRates(pairs),
    unparseable: pairs.reduce((sum, p) => sum + p.unparseable, 0),
    goldTies: pairs.filter((p) => p.goldTie).length,
    orderSeed,
  };
}

/** Bootstrap intervals of the relative rates, resampling pairs (a pair's two verdicts move together). */
export function relativeIntervals(
  rows: readonly RelativeVerdictRow[],
  options: Required<BootstrapOptions>,
): NonNullable<RelativeMetrics['ci']> {
  const pairs = relativePairStats(rows);
  const ci = (rate: 'accuracy' | 'positionConsistency' | 'preferA'): [number | null, number | null] => {
    const c = bootstrapCI(pairs, (sample) => (sample.length === 0 ? null : relativeRates(sample)[rate]), options);
    return [c.low, c.high];
  };
  return { ...options, intervals: { accuracy: ci('accuracy'), positionConsistency: ci('positionConsistency'), preferA: ci('preferA') } };
}
