/**
 * Preference-pair curation from a judge's own sampled judgments (METHOD.md, step 3 "Pair").
 *
 * Pure and deterministic: every random choice comes from a generator seeded with
 * `deriveSeed(seed, 'gold_margin', exampleId)`, so the pairs of one input do not depend on which other
 * inputs were processed, or in what order, and the judgments' input order does not matter either (pools
 * are sorted by sample index before the seeded shuffle).
 */
import { createRng, deriveSeed, shuffle } from './rng';

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

export interface GoldMarginOptions {
  /** A rejected judgment's score differs from the gold score by at least this much (integer >= 1). */
  margin: number;
  /** At most this many pairs per input (integer >= 1). */
  maxPairsPerInput: number;
  /** The run's (or iteration's) pairing seed. */
  seed: number;
}

export interface JudgmentPair<J extends PairableJudgment = PairableJudgment> {
  exampleId: string;
  chosen: J;
  rejected: J;
}

/**
 * Why an input produced no pair, checked in this order:
 * - `no_gold`: the input has no gold score;
 * - `no_judgments`: it has no judgments at all;
 * - `all_unparseable`: none of its judgments parsed;
 * - `no_correct`: no parsed judgment matches the gold score;
 * - `no_wrong_by_margin`: no parsed judgment is off by at least the margin;
 * - `identical_texts`: every candidate pair had the same text on both sides (only possible with
 *   inconsistent records, since equal texts parse to equal scores).
 */
export type NoPairReason =
  | 'no_gold'
  | 'no_judgments'
  | 'all_unparseable'
  | 'no_correct'
  | 'no_wrong_by_margin'
  | 'identical_texts';

export interface GoldMarginResult<J extends PairableJudgment = PairableJudgment> {
  pairs: JudgmentPair<J>[];
  /** Set exactly when `pairs` is empty. */
  reason?: NoPairReason;
  /** Distinct texts available on each side; shows when an iteration is running out of pairs. */
  candidates: { correct: number; wrongByMargin: number };
}

function isParsed<J extends PairableJudgment>(j: J): j is J & { score: number } {
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

function checkOptions({ margin, maxPairsPerInput, seed }: GoldMarginOptions): void {
  if (!Number.isInteger(margin) || margin < 1) throw new RangeError(`margin must be an integer >= 1, got ${margin}`);
  if (!Number.isInteger(maxPairsPerInput) || maxPairsPerInput < 1) {
    throw new RangeError(`maxPairsPerInput must be an integer >= 1, got ${maxPairsPerInput}`);
  }
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
}

/**
 * The `gold_margin` strategy: chosen = a parsed judgment whose score equals the gold score; rejected = a
 * parsed judgment whose score differs from it by at least `margin`.
 *
 * - Unparseable judgments are never used, on either side. METHOD.md keeps them (marked) for counting, but
 *   as rejected they would teach the judge the output format rather than better grading, and the grammar-
 *   constrained decoder already prevents most of them.
 * - Judgments with identical text are one candidate (duplicates are common at low temperature), and a pair
 *   never has the same text on both sides.
 * - At most `maxPairsPerInput` pairs, distinct (chosen, rejected) combinations, chosen by a seeded shuffle
 *   of each side followed by an order that uses every distinct chosen and every distinct rejected judgment
 *   before reusing any (use counts on each side differ by at most one).
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

  const rng = createRng(deriveSeed(seed, 'gold_margin', group.exampleId));
  const chosenPool = shuffle(rng, correct);
  const rejectedPool = shuffle(rng, wrong);

  const pairs: JudgmentPair<J>[] = [];
  for (const [i, j] of spreadCells(chosenPool.length, rejectedPool.length)) {
    if (pairs.length >= maxPairsPerInput) break;
    const chosen = chosenPool[i];
    const rejected = rejectedPool[j];
    if (chosen.text === rejected.text) continue;
    pairs.push({ exampleId: group.exampleId, chosen, rejected });
  }
  return pairs.length ? { pairs, candidates } : none('identical_texts');
}
