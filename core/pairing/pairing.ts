/**
 * Preference-pair curation from a judge's own sampled judgments (docs/method.md, "Pair", "Pair
 * curation", "Pair hygiene" and "Rationale–score consistency").
 *
 * Pure and deterministic: every random choice comes from a generator seeded with
 * `deriveSeed(seed, <strategy>, exampleId)`, so the pairs of one input do not depend on which other
 * inputs were processed, or in what order, and the judgments' input order does not matter either (pools
 * are sorted by sample index before the seeded shuffle).
 *
 * - `buildGoldMarginPairs`, `buildMajorityVotePairs`, `buildMetaJudgePairs`: one strategy on one input.
 * - `curateInputPairs`: one input through the whole per-input pipeline: consistency filter, every listed
 *   strategy, pooling with cross-strategy de-duplication, and the per-pair hygiene switches. Every drop is
 *   counted by reason.
 * - `selectBalanced`: the one global hygiene step (balancing pairs across gold levels), on compact
 *   `{level, key}` entries so the caller can stream the pairs themselves.
 */
import type { PairingStrategy } from '../config/config';
import type { IterationPairingStrategy } from '../config/per-iteration';
import { createRng, deriveSeed, shuffle } from '../common/rng';

/** The fields pairing needs from a judgment; callers may pass richer objects and get them back in pairs. */
export interface PairableJudgment {
  sampleIndex: number;
  text: string;
  /** The parsed score; null when the judgment did not parse. */
  score: number | null;
  status: 'ok' | 'unparseable';
}

/** All sampled judgments of one input, with the input's gold score. */
export interface JudgmentGroup<J extends PairableJudgment = PairableJudgment> {
  exampleId: string;
  /** Missing or null when the input has no label (gold-margin pairing then cannot use it). */
  goldScore?: number | null;
  judgments: readonly J[];
}


/** A judgment that parsed: what both sides of every pair are. */
export type ScoredSample<J extends PairableJudgment = PairableJudgment> = J & { score: number };

/** Options every strategy takes. */
export interface StrategyOptions {
  /** The score (or, for meta_judge, rating) gap a pair must span (integer >= 1); see each strategy. */
  margin: number;
  /** At most this many pairs per input (integer >= 1). */
  maxPairsPerInput: number;
  /** The run's (or iteration's) pairing seed. */
  seed: number;
}

export type GoldMarginOptions = StrategyOptions;
export type MetaJudgeOptions = StrategyOptions;

export interface MajorityVoteOptions extends StrategyOptions {
  /** The modal score must hold at least this share (0 < share <= 1) of the input's parsed samples. */
  minMajorityShare: number;
}

export interface JudgmentPair<J extends PairableJudgment = PairableJudgment> {
  exampleId: string;
  chosen: ScoredSample<J>;
  rejected: ScoredSample<J>;
}

/**
 * Why a strategy produced no pair for an input. Each strategy checks its own reasons in the order given
 * in its documentation; shared ones:
 * - `no_judgments`: the input has no judgments at all;
 * - `all_unparseable`: none of its judgments parsed;
 * - `identical_texts`: every candidate pair had the same text on both sides (only possible with
 *   inconsistent records, since equal texts parse to equal scores).
 * gold_margin: `no_gold`, `no_correct`, `no_wrong_by_margin`. majority_vote: `tied_majority`,
 * `weak_majority`, `no_wrong_by_margin`. meta_judge: `no_ratings`, `no_rated_margin`.
 * `all_inconsistent` is set by `curateInputPairs` (never by a strategy itself) when the input had judgments
 * but the consistency filter excluded every parsed one.
 */
export type NoPairReason =
  | 'no_gold'
  | 'no_judgments'
  | 'all_unparseable'
  | 'all_inconsistent'
  | 'no_correct'
  | 'no_wrong_by_margin'
  | 'tied_majority'
  | 'weak_majority'
  | 'no_ratings'
  | 'no_rated_margin'
  | 'identical_texts';

export interface GoldMarginResult<J extends PairableJudgment = PairableJudgment> {
  pairs: JudgmentPair<J>[];
  /** Set exactly when `pairs` is empty. */
  reason?: NoPairReason;
  /** Distinct texts available on each side; shows when an iteration is running out of pairs. */
  candidates: { correct: number; wrongByMargin: number };
}

export interface MajorityVoteResult<J extends PairableJudgment = PairableJudgment> {
  pairs: JudgmentPair<J>[];
  /** Set exactly when `pairs` is empty. */
  reason?: NoPairReason;
  /** The unique modal score of the parsed samples (null: none parsed, or a tie between modes). */
  majorityScore: number | null;
  /** The modal score's share of the parsed samples (null: none parsed). */
  majorityShare: number | null;
  /** Distinct texts with the majority score, and distinct texts at least `margin` away from it. */
  candidates: { majority: number; wrongByMargin: number };
}

export interface MetaJudgeResult<J extends PairableJudgment = PairableJudgment> {
  pairs: JudgmentPair<J>[];
  /** Set exactly when `pairs` is empty. */
  reason?: NoPairReason;
  /** Distinct parsed texts with a numeric rating, and the (chosen, rejected) combinations rated `margin` apart. */
  candidates: { rated: number; pairsByMargin: number };
}

function isParsed<J extends PairableJudgment>(j: J): j is ScoredSample<J> {
  // A judgment marked ok without a numeric score is treated as unparseable rather than trusted.
  return j.status === 'ok' && typeof j.score === 'number' && Number.isFinite(j.score);
}

/** One judgment per distinct text (the lowest sample index), sorted by sample index. */
function distinctByText<J extends PairableJudgment>(judgments: readonly J[]): J[] {
  const sorted = [...judgments].sort((a, b) => a.sampleIndex - b.sampleIndex || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const seen = new Set<string>();
  const out: J[] = [];
  for (const j of sorted) {
    if (seen.has(j.text)) continue;
    seen.add(j.text);
    out.push(j);
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Cells (i, j) of a rows x cols grid in an order that spreads over rows and columns: the first
 * max(rows, cols) cells use every row and every column, and at any prefix the use counts of any two rows
 * (and of any two columns) differ by at most one. Built from the torus diagonals (t mod rows,
 * (t + b) mod cols): for a fixed b, t = 0 .. lcm-1 visits lcm distinct cells (Chinese remainder theorem),
 * and the gcd offsets b = 0 .. gcd-1 partition the grid.
 */
function* spreadCells(rows: number, cols: number): Generator<[number, number]> {
  const g = gcd(rows, cols);
  const lcm = (rows / g) * cols;
  for (let b = 0; b < g; b++) {
    for (let t = 0; t < lcm; t++) yield [t % rows, (t + b) % cols];
  }
}

/**
 * Scores are integers, so a score margin is a whole number >= 1; meta-judge ratings are means of several
 * ratings, so a rating margin may be any positive number (the config's schema says the same).
 */
function checkOptions({ margin, maxPairsPerInput, seed }: StrategyOptions, marginOf: 'scores' | 'ratings' = 'scores'): void {
  if (marginOf === 'scores' && (!Number.isInteger(margin) || margin < 1)) {
    throw new RangeError(`margin must be an integer >= 1, got ${margin}`);
  }
  if (marginOf === 'ratings' && !(Number.isFinite(margin) && margin > 0)) {
    throw new RangeError(`margin must be a number > 0, got ${margin}`);
  }
  if (!Number.isInteger(maxPairsPerInput) || maxPairsPerInput < 1) {
    throw new RangeError(`maxPairsPerInput must be an integer >= 1, got ${maxPairsPerInput}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
}

/**
 * Pairs from a chosen pool and a rejected pool (each distinct by text): a seeded shuffle of each side,
 * then the spread order of `spreadCells`, skipping same-text combinations, up to `cap` pairs.
 */
function gridPairs<J extends PairableJudgment>(
  exampleId: string,
  chosenPool: readonly ScoredSample<J>[],
  rejectedPool: readonly ScoredSample<J>[],
  cap: number,
  rngSeed: number,
): JudgmentPair<J>[] {
  const rng = createRng(rngSeed);
  const chosenOrder = shuffle(rng, chosenPool);
  const rejectedOrder = shuffle(rng, rejectedPool);
  const pairs: JudgmentPair<J>[] = [];
  for (const [i, j] of spreadCells(chosenOrder.length, rejectedOrder.length)) {
    if (pairs.length >= cap) break;
    const chosen = chosenOrder[i];
    const rejected = rejectedOrder[j];
    if (chosen.text === rejected.text) continue;
    pairs.push({ exampleId, chosen, rejected });
  }
  return pairs;
}

/**
 * The `gold_margin` strategy: chosen = a parsed judgment whose score equals the gold score; rejected = a
 * parsed judgment whose score differs from it by at least `margin`.
 *
 * - Unparseable judgments are never used, on either side. docs/method.md ("Score") keeps them, marked, for counting, but
 *   as rejected they would teach the judge the output format rather than better grading, and the grammar-
 *   constrained decoder already prevents most of them.
 * - Judgments with identical text are one candidate (duplicates are common at low temperature), and a pair
 *   never has the same text on both sides.
 * - At most `maxPairsPerInput` pairs, distinct (chosen, rejected) combinations, chosen by a seeded shuffle
 *   of each side followed by an order that uses every distinct chosen and every distinct rejected judgment
 *   before reusing any (use counts on each side differ by at most one).
 *
 * No-pair reasons, checked in this order: `no_gold`, `no_judgments`, `all_unparseable`, `no_correct`,
 * `no_wrong_by_margin`, `identical_texts`.
 */
export function buildGoldMarginPairs<J extends PairableJudgment>(
  group: JudgmentGroup<J>,
  options: GoldMarginOptions,
): GoldMarginResult<J> {
  checkOptions(options);
  const { margin, maxPairsPerInput, seed } = options;
  const gold = group.goldScore;

  const parsed = group.judgments.filter(isParsed);
  const correct = gold == null ? [] : distinctByText(parsed.filter((j) => j.score === gold));
  const wrong = gold == null ? [] : distinctByText(parsed.filter((j) => Math.abs(j.score - gold) >= margin));
  const candidates = { correct: correct.length, wrongByMargin: wrong.length };
  const none = (reason: NoPairReason): GoldMarginResult<J> => ({ pairs: [], reason, candidates });

  if (gold == null) return none('no_gold');
  if (group.judgments.length === 0) return none('no_judgments');
  if (parsed.length === 0) return none('all_unparseable');
  if (correct.length === 0) return none('no_correct');
  if (wrong.length === 0) return none('no_wrong_by_margin');

  const pairs = gridPairs(group.exampleId, correct, wrong, maxPairsPerInput, deriveSeed(seed, 'gold_margin', group.exampleId));
  return pairs.length ? { pairs, candidates } : none('identical_texts');
}

/**
 * The `majority_vote` strategy (label-free; a gold score, if any, is ignored): the majority score is the
 * modal score of the input's parsed samples, counted per sample (duplicated texts vote once each). Chosen =
 * a parsed judgment with the majority score; rejected = one whose score is at least `margin` away from it.
 * Distinct texts, seeded selection and the cap work as in `buildGoldMarginPairs`
 * (seed `deriveSeed(seed, 'majority_vote', exampleId)`).
 *
 * No-pair reasons, checked in this order: `no_judgments`, `all_unparseable`, `tied_majority` (two or more
 * scores share the top count), `weak_majority` (the mode's share of the parsed samples is below
 * `minMajorityShare`), `no_wrong_by_margin`, `identical_texts`.
 */
export function buildMajorityVotePairs<J extends PairableJudgment>(
  group: JudgmentGroup<J>,
  options: MajorityVoteOptions,
): MajorityVoteResult<J> {
  checkOptions(options);
  const { margin, maxPairsPerInput, seed, minMajorityShare } = options;
  if (!(minMajorityShare > 0 && minMajorityShare <= 1)) {
    throw new RangeError(`minMajorityShare must be in (0, 1], got ${minMajorityShare}`);
  }

  const parsed = group.judgments.filter(isParsed);
  const counts = new Map<number, number>();
  for (const j of parsed) counts.set(j.score, (counts.get(j.score) ?? 0) + 1);
  let top = 0;
  let modes: number[] = [];
  for (const [score, count] of counts) {
    if (count > top) [top, modes] = [count, [score]];
    else if (count === top) modes.push(score);
  }
  const majorityScore = modes.length === 1 ? modes[0] : null;
  const majorityShare = parsed.length ? top / parsed.length : null;
  const majority = majorityScore === null ? [] : distinctByText(parsed.filter((j) => j.score === majorityScore));
  const wrong = majorityScore === null ? [] : distinctByText(parsed.filter((j) => Math.abs(j.score - majorityScore) >= margin));
  const candidates = { majority: majority.length, wrongByMargin: wrong.length };
  const none = (reason: NoPairReason): MajorityVoteResult<J> => ({ pairs: [], reason, majorityScore, majorityShare, candidates });

  if (group.judgments.length === 0) return none('no_judgments');
  if (parsed.length === 0) return none('all_unparseable');
  if (majorityScore === null) return none('tied_majority');
  if ((majorityShare ?? 0) < minMajorityShare) return none('weak_majority');
  if (wrong.length === 0) return none('no_wrong_by_margin');

  const pairs = gridPairs(group.exampleId, majority, wrong, maxPairsPerInput, deriveSeed(seed, 'majority_vote', group.exampleId));
  return pairs.length ? { pairs, majorityScore, majorityShare, candidates } : none('identical_texts');
}

/**
 * The `meta_judge` strategy (label-free): the judge has rated its own sampled judgments (`metaScores`:
 * sample index -> rating, null when the rating did not parse). Chosen and rejected are parsed judgments
 * with numeric ratings, the chosen rated at least `margin` above the rejected; their own scores may be
 * equal (the pair then teaches the rationale, not the score).
 *
 * - Judgments with identical text are one candidate: the lowest sample index that has a rating.
 * - Selection: every qualifying (chosen, rejected) combination, shuffled with
 *   `deriveSeed(seed, 'meta_judge', exampleId)`; then, up to `maxPairsPerInput` times, the combination
 *   whose two judgments have been used least so far (fewest uses of the more-used one, then fewest in
 *   total), earliest in the shuffled order on ties. So distinct judgments are spread over the pairs before
 *   any is reused.
 *
 * No-pair reasons, checked in this order: `no_judgments`, `all_unparseable`, `no_ratings` (no parsed
 * judgment has a numeric rating), `no_rated_margin` (no two distinct rated texts are `margin` apart).
 */
export function buildMetaJudgePairs<J extends PairableJudgment>(
  group: JudgmentGroup<J>,
  metaScores: ReadonlyMap<number, number | null> | undefined,
  options: MetaJudgeOptions,
): MetaJudgeResult<J> {
  checkOptions(options, 'ratings');
  const { margin, maxPairsPerInput, seed } = options;
  const rating = (j: PairableJudgment): number | null => {
    const r = metaScores?.get(j.sampleIndex);
    return typeof r === 'number' && Number.isFinite(r) ? r : null;
  };

  const parsed = group.judgments.filter(isParsed);
  const rated = distinctByText(parsed.filter((j) => rating(j) !== null));
  const combos: Array<[ScoredSample<J>, ScoredSample<J>]> = [];
  for (const a of rated) {
    for (const b of rated) {
      if (a !== b && a.text !== b.text && (rating(a) as number) - (rating(b) as number) >= margin) combos.push([a, b]);
    }
  }
  const candidates = { rated: rated.length, pairsByMargin: combos.length };
  const none = (reason: NoPairReason): MetaJudgeResult<J> => ({ pairs: [], reason, candidates });

  if (group.judgments.length === 0) return none('no_judgments');
  if (parsed.length === 0) return none('all_unparseable');
  if (rated.length === 0) return none('no_ratings');
  if (combos.length === 0) return none('no_rated_margin');

  const order = shuffle(createRng(deriveSeed(seed, 'meta_judge', group.exampleId)), combos);
  const uses = new Map<number, number>();
  const taken = new Array<boolean>(order.length).fill(false);
  const pairs: JudgmentPair<J>[] = [];
  while (pairs.length < Math.min(maxPairsPerInput, order.length)) {
    let best = -1;
    let bestMax = Infinity;
    let bestSum = Infinity;
    for (let k = 0; k < order.length; k++) {
      if (taken[k]) continue;
      const ua = uses.get(order[k][0].sampleIndex) ?? 0;
      const ub = uses.get(order[k][1].sampleIndex) ?? 0;
      const hi = Math.max(ua, ub);
      if (hi < bestMax || (hi === bestMax && ua + ub < bestSum)) [best, bestMax, bestSum] = [k, hi, ua + ub];
    }
    taken[best] = true;
    const [chosen, rejected] = order[best];
    uses.set(chosen.sampleIndex, (uses.get(chosen.sampleIndex) ?? 0) + 1);
    uses.set(rejected.sampleIndex, (uses.get(rejected.sampleIndex) ?? 0) + 1);
    pairs.push({ exampleId: group.exampleId, chosen, rejected });
  }
  return { pairs, candidates };
}

// ---------------------------------------------------------------------------------------------------------
// Pair hygiene and the per-input pipeline

/**
 * Characters per token assumed when truncating without a tokenizer. The TypeScript side has none, so
 * "identical after truncation to training.maxLength tokens" is approximated by cutting both completions to
 * `maxLength * 4` characters (code points): about the English average for BPE tokenizers. It is an
 * approximation in both directions (the prompt's share of the budget is ignored, which drops fewer pairs;
 * text with long tokens is cut shorter than the trainer would, which could drop more), and it matters only
 * for judgments longer than the training budget.
 */
export const CHARS_PER_TOKEN = 4;

/** Characters both sides are compared on by the truncation check, for `training.maxLength` tokens. */
export function truncationChars(maxLengthTokens: number): number {
  return maxLengthTokens * CHARS_PER_TOKEN;
}

/** Runs of whitespace become one space; leading and trailing whitespace goes. */
export function normalizeWhitespace(text: string): string {
  // Most judgments are already normalised (single spaces, no space at either end): one search says so, where
  // the replace rebuilt every such text (the pair step calls this for every judgment; bench/data-steps.ts).
  return NOT_NORMALISED.test(text) ? text.replace(/\s+/g, ' ').trim() : text;
}

/** Whitespace other than a lone inner space: another kind, two in a row, or any at either end. */
const NOT_NORMALISED = /[^\S ]|\s{2}|^\s|\s$/;

const SURROGATE = /[\uD800-\uDFFF]/;

/** Length in characters (Unicode code points, as Python's `len`). */
export function charLength(text: string): number {
  // Without surrogates every UTF-16 unit is a code point: one search instead of a loop over the text.
  if (!SURROGATE.test(text)) return text.length;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low surrogate is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The first `chars` code points of `text`. */
export function truncateChars(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let out = '';
  let n = 0;
  for (const cp of text) {
    if (n++ >= chars) break;
    out += cp;
  }
  return out;
}

export type StrategyName = PairingStrategy['name'];

/** Why a sample was excluded before pairing (the consistency filter). */
export const SAMPLE_DROP_REASONS = ['inconsistent', 'consistency_missing'] as const;
export type SampleDropReason = (typeof SAMPLE_DROP_REASONS)[number];

/**
 * Why a produced pair was dropped, in the order the checks run (a pair is counted under the first):
 * - `cross_strategy_duplicate`: the same (prompt, chosen, rejected) was produced by an earlier-listed
 *   strategy for the same input (always on);
 * - `identical_after_whitespace`: chosen and rejected are equal after whitespace normalisation;
 * - `identical_after_truncation`: they are equal once both are cut to the truncation length (then
 *   whitespace-normalised);
 * - `duplicate_after_whitespace`: the same (chosen, rejected), after whitespace normalisation, as a pair
 *   already kept for this input;
 *   (those three: `hygiene.dropIdenticalAfterTruncation`)
 * - `length_difference`: |length(chosen) - length(rejected)| in characters exceeds
 *   `hygiene.maxLengthDifference`;
 * - `balance`: subsampled away by `hygiene.balanceGoldLevels` (global: `selectBalanced`).
 */
export const PAIR_DROP_REASONS = [
  'cross_strategy_duplicate',
  'identical_after_whitespace',
  'identical_after_truncation',
  'duplicate_after_whitespace',
  'length_difference',
  'balance',
] as const;
export type PairDropReason = (typeof PAIR_DROP_REASONS)[number];

/** Input-level reasons beyond the strategies' own (see `InputCuration.reason`). */
export const DROPPED_BY_HYGIENE = 'dropped_by_hygiene';
export const DROPPED_BY_BALANCE = 'dropped_by_balance';

export interface PairHygieneOptions {
  dropIdenticalAfterTruncation: boolean;
  /** Characters both completions are cut to by the truncation check (`truncationChars(training.maxLength)`). */
  truncateChars: number;
  /** Drop pairs whose lengths differ by more than this many characters; undefined = no cap. */
  maxLengthDifference?: number;
}

export interface InputCurationOptions {
  /** The listed strategies, in order (their pairs are pooled in this order), each with its iteration's margin. */
  strategies: readonly IterationPairingStrategy[];
  seed: number;
  /** Exclude parsed samples whose rationale–score consistency check failed (or is missing). */
  consistencyFilter: boolean;
  hygiene: PairHygieneOptions;
}

/** One input with its side tables. */
export interface CurationGroup<J extends PairableJudgment = PairableJudgment> extends JudgmentGroup<J> {
  /** meta_judge ratings by sample index (null: the rating did not parse); absent = none. */
  metaScores?: ReadonlyMap<number, number | null>;
  /** Consistency verdicts by sample index; read only when the filter is on (absent = none). */
  consistency?: ReadonlyMap<number, boolean>;
}

export interface CuratedPair<J extends PairableJudgment = PairableJudgment> extends JudgmentPair<J> {
  strategy: StrategyName;
  /** The balance level: the input's gold score, else the chosen judgment's score. */
  level: number;
  /** Seeded sort key for `selectBalanced`, independent of the order in which inputs are processed. */
  balanceKey: number;
}

export interface StrategyOutcome {
  strategy: StrategyName;
  /** Pairs the strategy produced, before de-duplication and hygiene. */
  produced: number;
  /** Set exactly when `produced` is 0. */
  reason?: NoPairReason;
}

export interface InputCuration<J extends PairableJudgment = PairableJudgment> {
  /** The pairs kept, strategies in listed order. */
  pairs: CuratedPair<J>[];
  /** One entry per listed strategy, in order. */
  strategies: StrategyOutcome[];
  /** Samples excluded by the consistency filter (non-zero counts only). */
  sampleDrops: Partial<Record<SampleDropReason, number>>;
  /** Produced pairs dropped, by reason (non-zero counts only; never `balance` here). */
  pairDrops: Partial<Record<PairDropReason, number>>;
  /**
   * Set exactly when `pairs` is empty: `dropped_by_hygiene` when some strategy produced pairs but every one
   * was dropped; otherwise the strategies' reason (see `combineNoPairReasons`).
   */
  reason?: string;
}

/**
 * The input-level reason when no strategy produced a pair: the strategies' reason when they all agree
 * (always so with one strategy), else `strategy:reason` for each, joined with `+` in listed order, e.g.
 * `gold_margin:no_correct+majority_vote:tied_majority`.
 */
export function combineNoPairReasons(outcomes: readonly { strategy: string; reason?: string }[]): string {
  const reasons = outcomes.map((o) => o.reason ?? 'none');
  if (reasons.length > 0 && reasons.every((r) => r === reasons[0])) return reasons[0];
  return outcomes.map((o, i) => `${o.strategy}:${reasons[i]}`).join('+');
}

function runStrategy<J extends PairableJudgment>(
  strategy: IterationPairingStrategy,
  group: CurationGroup<J>,
  seed: number,
): { pairs: JudgmentPair<J>[]; reason?: NoPairReason } {
  const base = { margin: strategy.margin, maxPairsPerInput: strategy.maxPairsPerInput, seed };
  switch (strategy.name) {
    case 'gold_margin':
      return buildGoldMarginPairs(group, base);
    case 'majority_vote':
      return buildMajorityVotePairs(group, { ...base, minMajorityShare: strategy.minMajorityShare });
    case 'meta_judge':
      return buildMetaJudgePairs(group, group.metaScores, base);
    default: {
      const unknown: never = strategy;
      throw new RangeError(`unknown pairing strategy ${JSON.stringify(unknown)}`);
    }
  }
}

function bump<K extends string>(counts: Partial<Record<K, number>>, key: K, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/**
 * One input through the per-input curation pipeline:
 * 1. consistency filter (when on): parsed samples whose verdict is `false` are excluded (`inconsistent`),
 *    and so are parsed samples without a verdict (`consistency_missing`); unparseable samples are never
 *    paired, so the filter leaves them alone. A strategy that is left with no parsed sample reports
 *    `all_inconsistent`;
 * 2. every listed strategy on what remains, each with its own seed stream;
 * 3. pooling in listed order with the drops of `PAIR_DROP_REASONS` (all but `balance`).
 * Every produced pair is either kept or counted under exactly one drop reason.
 */
export function curateInputPairs<J extends PairableJudgment>(group: CurationGroup<J>, options: InputCurationOptions): InputCuration<J> {
  const { hygiene, seed } = options;
  if (options.strategies.length === 0) throw new RangeError('at least one pairing strategy is needed');
  if (!Number.isInteger(hygiene.truncateChars) || hygiene.truncateChars < 1) {
    throw new RangeError(`hygiene.truncateChars must be an integer >= 1, got ${hygiene.truncateChars}`);
  }
  const sampleDrops: Partial<Record<SampleDropReason, number>> = {};
  let judgments: readonly J[] = group.judgments;
  if (options.consistencyFilter) {
    judgments = group.judgments.filter((j) => {
      if (!isParsed(j)) return true;
      const verdict = group.consistency?.get(j.sampleIndex);
      if (verdict === true) return true;
      bump(sampleDrops, verdict === false ? 'inconsistent' : 'consistency_missing');
      return false;
    });
  }
  const excludedAny = judgments.length < group.judgments.length;
  const filtered: CurationGroup<J> = { ...group, judgments };

  const strategies: StrategyOutcome[] = [];
  const pairDrops: Partial<Record<PairDropReason, number>> = {};
  const pairs: CuratedPair<J>[] = [];
  const produced = new Set<string>();
  const keptNormalised = new Set<string>();
  const gold = group.goldScore;
  // Pairs are compared by small ids of their texts, not by the texts joined into one key: joining two
  // judgments copied a thousand characters per pair to hash them (bench/data-steps.ts). Equal ids, equal texts.
  const textIds = new Map<string, number>();
  const textId = (text: string): number => idIn(textIds, text);
  // A text is in many candidate pairs (each sample against each other): normalised once, to an id of its own.
  const normalizedIds = new Map<string, number>();
  const normalizedById = new Map<string, number>();
  const normalized = (text: string): number => {
    let n = normalizedById.get(text);
    if (n === undefined) {
      n = idIn(normalizedIds, normalizeWhitespace(text));
      normalizedById.set(text, n);
    }
    return n;
  };
  for (const strategy of options.strategies) {
    const result = runStrategy(strategy, filtered, seed);
    let reason = result.reason;
    if (excludedAny && !judgments.some(isParsed) && (reason === 'no_judgments' || reason === 'all_unparseable')) {
      reason = 'all_inconsistent';
    }
    strategies.push(reason === undefined ? { strategy: strategy.name, produced: result.pairs.length } : { strategy: strategy.name, produced: 0, reason });
    const mine = new Set<string>();
    for (const p of result.pairs) {
      const key = `${textId(p.chosen.text)},${textId(p.rejected.text)}`;
      mine.add(key);
      if (produced.has(key)) {
        bump(pairDrops, 'cross_strategy_duplicate');
        continue;
      }
      if (hygiene.dropIdenticalAfterTruncation) {
        const c = normalized(p.chosen.text);
        const r = normalized(p.rejected.text);
        if (c === r) {
          bump(pairDrops, 'identical_after_whitespace');
          continue;
        }
        if (normalized(truncateChars(p.chosen.text, hygiene.truncateChars)) === normalized(truncateChars(p.rejected.text, hygiene.truncateChars))) {
          bump(pairDrops, 'identical_after_truncation');
          continue;
        }
        const normalisedKey = `${c},${r}`;
        if (keptNormalised.has(normalisedKey)) {
          bump(pairDrops, 'duplicate_after_whitespace');
          continue;
        }
        keptNormalised.add(normalisedKey);
      }
      if (
        hygiene.maxLengthDifference !== undefined &&
        Math.abs(charLength(p.chosen.text) - charLength(p.rejected.text)) > hygiene.maxLengthDifference
      ) {
        bump(pairDrops, 'length_difference');
        continue;
      }
      pairs.push({
        exampleId: p.exampleId,
        chosen: p.chosen,
        rejected: p.rejected,
        strategy: strategy.name,
        level: gold ?? p.chosen.score,
        balanceKey: deriveSeed(seed, 'balance', group.exampleId, strategy.name, p.chosen.sampleIndex, p.rejected.sampleIndex),
      });
    }
    // Pairs of one strategy are distinct; only later strategies can duplicate them.
    for (const key of mine) produced.add(key);
  }

  const out: InputCuration<J> = { pairs, strategies, sampleDrops, pairDrops };
  if (pairs.length === 0) {
    out.reason = strategies.some((s) => s.produced > 0) ? DROPPED_BY_HYGIENE : combineNoPairReasons(strategies);
  }
  return out;
}

/** The id of `key` in `ids`: its insertion number, given at its first lookup. */
function idIn(ids: Map<string, number>, key: string): number {
  let id = ids.get(key);
  if (id === undefined) {
    id = ids.size;
    ids.set(key, id);
  }
  return id;
}

/** What balancing needs to know of a pair. */
export interface BalanceEntry {
  level: number;
  key: number;
}

export interface BalanceSelection {
  /** keep[i]: whether entries[i] stays. */
  keep: boolean[];
  /** Pairs kept per level: the size of the smallest level (0 without entries). */
  quota: number;
  /** Pairs per level before and after balancing. */
  before: Record<string, number>;
  after: Record<string, number>;
  dropped: number;
}

/**
 * Balancing across gold levels (`hygiene.balanceGoldLevels`): every level keeps as many pairs as the
 * smallest level has (levels without pairs do not count), namely its pairs with the smallest seeded keys
 * (`CuratedPair.balanceKey`; ties by position). The result does not depend on the order of the inputs,
 * only on the keys, and works on two numbers per pair so that the pairs themselves can be streamed.
 */
export function selectBalanced(entries: readonly BalanceEntry[]): BalanceSelection {
  const byLevel = new Map<number, number[]>();
  entries.forEach((e, i) => {
    const list = byLevel.get(e.level);
    if (list) list.push(i);
    else byLevel.set(e.level, [i]);
  });
  const quota = byLevel.size ? Math.min(...[...byLevel.values()].map((l) => l.length)) : 0;
  const keep = new Array<boolean>(entries.length).fill(false);
  const before: Record<string, number> = {};
  const after: Record<string, number> = {};
  for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
    const indices = byLevel.get(level) as number[];
    indices.sort((a, b) => entries[a].key - entries[b].key || a - b);
    for (const i of indices.slice(0, quota)) keep[i] = true;
    before[String(level)] = indices.length;
    after[String(level)] = Math.min(quota, indices.length);
  }
  return { keep, quota, before, after, dropped: entries.length - quota * byLevel.size };
}

/** `selectBalanced` on in-memory pairs: the kept ones, in their original order. */
export function balancePairs<P extends { level: number; balanceKey: number }>(pairs: readonly P[]): P[] {
  const { keep } = selectBalanced(pairs.map((p) => ({ level: p.level, key: p.balanceKey })));
  return pairs.filter((_, i) => keep[i]);
}

/** One row of the meta-judge ratings file (docs/CONTRACTS.md). */
export interface MetaRatingRow {
  request_id: string;
  sample_index: number;
  meta_score: number | null;
  meta_status: 'ok' | 'unparseable';
  reason?: string;
}

/** One row of the consistency (re-score) file (docs/CONTRACTS.md). */
export interface ConsistencyRow {
  request_id: string;
  sample_index: number;
  rescore: number | null;
  consistent: boolean;
}

type RowResult<T> = { ok: true; row: T } | { ok: false; reason: string };

function rowKeys(raw: unknown): RowResult<{ request_id: string; sample_index: number; obj: Record<string, unknown> }> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const obj = raw as Record<string, unknown>;
  if (typeof obj.request_id !== 'string' || obj.request_id === '') return { ok: false, reason: 'request_id: a non-empty string is required' };
  if (typeof obj.sample_index !== 'number' || !Number.isInteger(obj.sample_index) || obj.sample_index < 0) {
    return { ok: false, reason: 'sample_index: a non-negative integer is required' };
  }
  return { ok: true, row: { request_id: obj.request_id, sample_index: obj.sample_index, obj } };
}

/** Validates a ratings row: `meta_score` is a finite number exactly when `meta_status` is `ok`. */
export function parseMetaRatingRow(raw: unknown): RowResult<MetaRatingRow> {
  const keys = rowKeys(raw);
  if (!keys.ok) return keys;
  const { obj, request_id, sample_index } = keys.row;
  const status = obj.meta_status;
  if (status !== 'ok' && status !== 'unparseable') return { ok: false, reason: 'meta_status: "ok" or "unparseable" is required' };
  const score = obj.meta_score;
  if (status === 'ok' && (typeof score !== 'number' || !Number.isFinite(score))) {
    return { ok: false, reason: 'meta_score: a number is required when meta_status is "ok"' };
  }
  if (status === 'unparseable' && score !== null && score !== undefined) {
    return { ok: false, reason: 'meta_score: must be null when meta_status is "unparseable"' };
  }
  if (obj.reason !== undefined && typeof obj.reason !== 'string') return { ok: false, reason: 'reason: must be a string' };
  return {
    ok: true,
    row: {
      request_id,
      sample_index,
      meta_score: status === 'ok' ? (score as number) : null,
      meta_status: status,
      ...(typeof obj.reason === 'string' ? { reason: obj.reason } : {}),
    },
  };
}

/** Validates a consistency row: `consistent` is a boolean, `rescore` a number or null. */
export function parseConsistencyRow(raw: unknown): RowResult<ConsistencyRow> {
  const keys = rowKeys(raw);
  if (!keys.ok) return keys;
  const { obj, request_id, sample_index } = keys.row;
  if (typeof obj.consistent !== 'boolean') return { ok: false, reason: 'consistent: a boolean is required' };
  const rescore = obj.rescore;
  if (rescore !== null && (typeof rescore !== 'number' || !Number.isFinite(rescore))) {
    return { ok: false, reason: 'rescore: a number or null is required' };
  }
  return { ok: true, row: { request_id, sample_index, rescore, consistent: obj.consistent } };
}
