/**
 * The per-iteration curation report (`iter-K/pair/curation.json`): what the judge's samples looked like
 * and what pair curation made of them.
 *
 * Pure and stream-friendly: a `CurationAccumulator` receives one input's judgments, outcomes and kept pairs
 * at a time and keeps only counts (memory grows with the number of distinct score levels, strategies,
 * reasons and distinct length differences, never with the number of judgments or pairs); `report()` turns
 * them into the report. Statistics that are undefined (no items) are `null`, never NaN.
 */
import type { PairCurationSummary } from '../run/run-types';
import { charLength } from './pairing';

/** What the report needs from one sampled judgment (a `ScoredJudgment` fits). */
export interface CurationJudgment {
  status: 'ok' | 'unparseable';
  /** Present when the judgment parsed. */
  score?: number | null;
  /** Why it did not parse (`core/judging/judgment.ts`); `unknown` when absent. */
  reason?: string;
}

/** What the report needs from one kept pair. */
export interface CurationPair {
  strategy: string;
  chosen: string;
  rejected: string;
  chosenScore: number;
  rejectedScore: number;
  /** The balance level: the input's gold score, else the chosen score (`CuratedPair.level`). */
  level: number;
}

export interface CurationOptions {
  /** The judge's scale: every level gets a (possibly zero) column in the histograms. */
  scale: { min: number; max: number };
  /** The listed strategies, so each appears in the report even with no pair. */
  strategies: readonly string[];
}

export interface LengthStats {
  /** Kept pairs measured. */
  pairs: number;
  /** Mean length of the chosen and of the rejected judgments, in characters (code points). */
  meanChosen: number | null;
  meanRejected: number | null;
  /** Statistics of length(chosen) - length(rejected), signed, in characters. */
  meanDifference: number | null;
  medianDifference: number | null;
  /** 90th percentile (linear interpolation between order statistics, numpy's default). */
  p90Difference: number | null;
  meanAbsDifference: number | null;
}

export interface StrategyReport {
  /** Inputs for which the strategy produced at least one pair (before de-duplication and hygiene). */
  inputsWithPair: number;
  /** Pairs it produced, before de-duplication and hygiene. */
  pairsProduced: number;
  /** Pairs of it that were kept (after de-duplication, hygiene and balancing). */
  pairsKept: number;
  /** Inputs for which it produced no pair, by `NoPairReason`. */
  noPairReasons: Record<string, number>;
}

export interface CurationReport {
  judgments: {
    inputs: number;
    samples: number;
    parsed: number;
    unparseable: number;
    /** unparseable / samples; null without samples. */
    parseFailureRate: number | null;
    unparseableByReason: Record<string, number>;
  };
  scores: {
    scale: { min: number; max: number };
    /** Parsed samples per score (every scale level present). */
    histogram: Record<string, number>;
    /** Inputs with a gold score, and their samples. */
    inputsWithGold: number;
    samplesWithGold: number;
    /** gold -> (score | "unparseable") -> samples, over inputs with a gold score. */
    goldByScore: Record<string, Record<string, number>>;
    /** Fraction of parsed samples with gold whose score equals it; null when there are none. */
    exactAgreementWithGold: number | null;
  };
  agreement: {
    /** Inputs with at least one parsed sample (the others are left out of both figures). */
    inputs: number;
    /** Mean over inputs of the modal score's share of the input's parsed samples. */
    meanModalShare: number | null;
    /** Inputs whose parsed samples all have the same score, and their fraction. */
    unanimousInputs: number;
    unanimousFraction: number | null;
  };
  strategies: Record<string, StrategyReport>;
  pairs: {
    total: number;
    byStrategy: Record<string, number>;
  };
  dropped: {
    /** Samples excluded before pairing (the consistency filter), by reason. */
    samples: Record<string, number>;
    /** Produced pairs dropped, by reason (`PAIR_DROP_REASONS`). */
    pairs: Record<string, number>;
  };
  inputs: {
    total: number;
    withPair: number;
    withoutPair: number;
    /** Inputs left without any pair, by input-level reason (`InputCuration.reason`, `dropped_by_balance`). */
    withoutPairByReason: Record<string, number>;
  };
  length: LengthStats;
  balance: {
    /** Kept pairs per balance level (gold score, else chosen score), per chosen score and per rejected score. */
    byLevel: Record<string, number>;
    byChosenScore: Record<string, number>;
    byRejectedScore: Record<string, number>;
  };
}

function bump(counts: Record<string, number>, key: string | number, by = 1): void {
  const k = String(key);
  counts[k] = (counts[k] ?? 0) + by;
}

/** Keys in order: numeric keys numerically first, then the others alphabetically. */
function sortKeys(keys: readonly string[]): string[] {
  const numeric = (k: string): boolean => k.trim() !== '' && Number.isFinite(Number(k));
  return [...keys].sort((a, b) => {
    const an = numeric(a);
    const bn = numeric(b);
    if (an && bn) return Number(a) - Number(b);
    if (an !== bn) return an ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Sorted-keys copy (see `sortKeys`). */
function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(sortKeys(Object.keys(counts)).map((k) => [k, counts[k]]));
}

/**
 * The value at quantile q (0..1) of the multiset given as value -> count, by linear interpolation between
 * the order statistics at floor and ceil of q * (n - 1) (numpy's default). Null when empty.
 */
export function quantileOfCounts(counts: ReadonlyMap<number, number>, q: number): number | null {
  let n = 0;
  for (const c of counts.values()) n += c;
  if (n === 0) return null;
  const values = [...counts.keys()].sort((a, b) => a - b);
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const at = (rank: number): number => {
    let seen = 0;
    for (const v of values) {
      seen += counts.get(v) as number;
      if (rank < seen) return v;
    }
    return values[values.length - 1];
  };
  const a = at(lo);
  return hi === lo ? a : a + (at(hi) - a) * (pos - lo);
}

/** Accumulates the curation report one input at a time; see the module comment. */
export class CurationAccumulator {
  private readonly scale: { min: number; max: number };
  private readonly strategyNames: string[];

  private inputs = 0;
  private samples = 0;
  private parsed = 0;
  private readonly unparseableByReason: Record<string, number> = {};
  private readonly histogram: Record<string, number> = {};
  private inputsWithGold = 0;
  private samplesWithGold = 0;
  private parsedWithGold = 0;
  private agreeWithGold = 0;
  private readonly goldByScore: Record<string, Record<string, number>> = {};
  private agreementInputs = 0;
  private modalShareSum = 0;
  private unanimous = 0;

  private readonly strategies: Record<string, StrategyReport> = {};
  private readonly sampleDrops: Record<string, number> = {};
  private readonly pairDrops: Record<string, number> = {};
  private withPair = 0;
  private withoutPair = 0;
  private readonly withoutPairByReason: Record<string, number> = {};

  private pairs = 0;
  private readonly byStrategy: Record<string, number> = {};
  private chosenLengthSum = 0;
  private rejectedLengthSum = 0;
  private differenceSum = 0;
  private absDifferenceSum = 0;
  private readonly differences = new Map<number, number>();
  private readonly byLevel: Record<string, number> = {};
  private readonly byChosenScore: Record<string, number> = {};
  private readonly byRejectedScore: Record<string, number> = {};

  constructor(options: CurationOptions) {
    const { min, max } = options.scale;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) throw new RangeError(`invalid scale ${min}..${max}`);
    this.scale = { min, max };
    this.strategyNames = [...options.strategies];
    for (let s = min; s <= max; s++) this.histogram[String(s)] = 0;
    for (const name of this.strategyNames) this.strategy(name);
  }

  private strategy(name: string): StrategyReport {
    let report = this.strategies[name];
    if (!report) {
      report = { inputsWithPair: 0, pairsProduced: 0, pairsKept: 0, noPairReasons: {} };
      this.strategies[name] = report;
    }
    return report;
  }

  /** One input's sampled judgments (all of them, before any filter), with its gold score if it has one. */
  addInput(input: { goldScore?: number | null; judgments: readonly CurationJudgment[] }): void {
    this.inputs++;
    const gold = input.goldScore ?? null;
    let goldRow: Record<string, number> | undefined;
    if (gold !== null) {
      this.inputsWithGold++;
      goldRow = this.goldByScore[String(gold)];
      if (!goldRow) {
        goldRow = {};
        for (let s = this.scale.min; s <= this.scale.max; s++) goldRow[String(s)] = 0;
        goldRow.unparseable = 0;
        this.goldByScore[String(gold)] = goldRow;
      }
    }
    const counts = new Map<number, number>();
    for (const j of input.judgments) {
      this.samples++;
      const score = j.status === 'ok' && typeof j.score === 'number' && Number.isFinite(j.score) ? j.score : null;
      if (gold !== null) this.samplesWithGold++;
      if (score === null) {
        bump(this.unparseableByReason, j.reason ?? 'unknown');
        if (goldRow) bump(goldRow, 'unparseable');
        continue;
      }
      this.parsed++;
      bump(this.histogram, score);
      counts.set(score, (counts.get(score) ?? 0) + 1);
      if (goldRow) {
        bump(goldRow, score);
        this.parsedWithGold++;
        if (score === gold) this.agreeWithGold++;
      }
    }
    if (counts.size > 0) {
      let top = 0;
      let n = 0;
      for (const c of counts.values()) {
        n += c;
        top = Math.max(top, c);
      }
      this.agreementInputs++;
      this.modalShareSum += top / n;
      if (counts.size === 1) this.unanimous++;
    }
  }

  /** What one strategy did for one input: pairs produced (before hygiene), or why none. */
  addStrategyOutcome(strategy: string, produced: number, reason?: string): void {
    const report = this.strategy(strategy);
    report.pairsProduced += produced;
    if (produced > 0) report.inputsWithPair++;
    else bump(report.noPairReasons, reason ?? 'unknown');
  }

  /** Samples excluded before pairing (the consistency filter). */
  addSampleDrops(reason: string, count = 1): void {
    if (count > 0) bump(this.sampleDrops, reason, count);
  }

  /** Produced pairs dropped by de-duplication, hygiene or balancing. */
  addPairDrops(reason: string, count = 1): void {
    if (count > 0) bump(this.pairDrops, reason, count);
  }

  /** One input's final outcome: with at least one kept pair (no reason), or without, and why. */
  addInputOutcome(reason?: string): void {
    if (reason === undefined) {
      this.withPair++;
    } else {
      this.withoutPair++;
      bump(this.withoutPairByReason, reason);
    }
  }

  /** One kept pair (as written to pairs.jsonl). */
  addPair(pair: CurationPair): void {
    this.pairs++;
    bump(this.byStrategy, pair.strategy);
    this.strategy(pair.strategy).pairsKept++;
    const c = charLength(pair.chosen);
    const r = charLength(pair.rejected);
    this.chosenLengthSum += c;
    this.rejectedLengthSum += r;
    this.differenceSum += c - r;
    this.absDifferenceSum += Math.abs(c - r);
    this.differences.set(c - r, (this.differences.get(c - r) ?? 0) + 1);
    bump(this.byLevel, pair.level);
    bump(this.byChosenScore, pair.chosenScore);
    bump(this.byRejectedScore, pair.rejectedScore);
  }

  report(): CurationReport {
    const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);
    const strategies: Record<string, StrategyReport> = {};
    for (const [name, s] of Object.entries(this.strategies)) strategies[name] = { ...s, noPairReasons: sortedCounts(s.noPairReasons) };
    const goldByScore: Record<string, Record<string, number>> = {};
    for (const gold of sortKeys(Object.keys(this.goldByScore))) goldByScore[gold] = { ...this.goldByScore[gold] };
    const byStrategy: Record<string, number> = {};
    for (const name of this.strategyNames) byStrategy[name] = this.byStrategy[name] ?? 0;
    for (const [name, n] of Object.entries(this.byStrategy)) byStrategy[name] = n;
    return {
      judgments: {
        inputs: this.inputs,
        samples: this.samples,
        parsed: this.parsed,
        unparseable: this.samples - this.parsed,
        parseFailureRate: ratio(this.samples - this.parsed, this.samples),
        unparseableByReason: sortedCounts(this.unparseableByReason),
      },
      scores: {
        scale: { ...this.scale },
        histogram: sortedCounts(this.histogram),
        inputsWithGold: this.inputsWithGold,
        samplesWithGold: this.samplesWithGold,
        goldByScore,
        exactAgreementWithGold: ratio(this.agreeWithGold, this.parsedWithGold),
      },
      agreement: {
        inputs: this.agreementInputs,
        meanModalShare: ratio(this.modalShareSum, this.agreementInputs),
        unanimousInputs: this.unanimous,
        unanimousFraction: ratio(this.unanimous, this.agreementInputs),
      },
      strategies,
      pairs: { total: this.pairs, byStrategy },
      dropped: { samples: sortedCounts(this.sampleDrops), pairs: sortedCounts(this.pairDrops) },
      inputs: {
        total: this.inputs,
        withPair: this.withPair,
        withoutPair: this.withoutPair,
        withoutPairByReason: sortedCounts(this.withoutPairByReason),
      },
      length: {
        pairs: this.pairs,
        meanChosen: ratio(this.chosenLengthSum, this.pairs),
        meanRejected: ratio(this.rejectedLengthSum, this.pairs),
        meanDifference: ratio(this.differenceSum, this.pairs),
        medianDifference: quantileOfCounts(this.differences, 0.5),
        p90Difference: quantileOfCounts(this.differences, 0.9),
        meanAbsDifference: ratio(this.absDifferenceSum, this.pairs),
      },
      balance: {
        byLevel: sortedCounts(this.byLevel),
        byChosenScore: sortedCounts(this.byChosenScore),
        byRejectedScore: sortedCounts(this.byRejectedScore),
      },
    };
  }
}

/** The compact subset of the report that travels in `PairSummary.curation` (less the report's URI). */
export type CurationDigest = Omit<PairCurationSummary, 'uri'>;

export function curationDigest(report: CurationReport): CurationDigest {
  return {
    pairsByStrategy: { ...report.pairs.byStrategy },
    droppedByReason: sortedCounts({ ...report.dropped.samples, ...report.dropped.pairs }),
    withoutPairByReason: { ...report.inputs.withoutPairByReason },
    parseFailureRate: report.judgments.parseFailureRate,
    sampleAgreement: { meanModalShare: report.agreement.meanModalShare, unanimousFraction: report.agreement.unanimousFraction },
    meanLengthDifference: report.length.meanDifference,
  };
}
