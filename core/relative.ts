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
import { deriveSeed } from './rng';
import type { RelativeMetrics } from './run-types';

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

/** Folds one suite's relative verdict rows into its metrics (two rows per pair; order of rows is free). */
export function relativeSuiteMetrics(rows: readonly RelativeVerdictRow[], orderSeed: number): RelativeMetrics {
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

  let credit = 0;
  let unparseable = 0;
  let bothParsed = 0;
  let consistent = 0;
  let parsed = 0;
  let saidA = 0;
  let goldTies = 0;
  for (const pair of pairs.values()) {
    const picks = RELATIVE_ORDERS.map((order) => {
      const verdict = pair.verdicts[order] ?? null;
      if (verdict === null) unparseable++;
      else {
        parsed++;
        if (verdict === 'A') saidA++;
      }
      return pickedSide(order, verdict);
    });
    const [first, second] = picks;
    const complete = first !== null && second !== null;
    if (complete) {
      bothParsed++;
      if (first === second) consistent++;
    }
    if (pair.goldTie) {
      goldTies++;
      credit += !complete ? 1 : first !== second ? 2 : 0;
    } else {
      for (const pick of picks) credit += pick === 'chosen' ? 1 : pick === null ? 0.5 : 0;
    }
  }
  const requests = pairs.size * RELATIVE_ORDERS.length;
  return {
    n: pairs.size,
    requests,
    accuracy: requests === 0 ? 0 : credit / requests,
    positionConsistency: bothParsed === 0 ? null : consistent / bothParsed,
    unparseable,
    preferA: parsed === 0 ? null : saidA / parsed,
    goldTies,
    orderSeed,
  };
}
