/**
 * Aggregating the answers of several annotators to a blind review (core/review/human-review.ts). Pure.
 *
 * Each answer is un-blinded with the key: A or B becomes the judge shown in that position on that item, so an
 * answer is a **win** (the challenger's rationale preferred), a **loss** (the baseline's) or a **tie**.
 * Every (annotator, item) answer is one vote. Rates over the votes:
 * - `winRate`, the headline: (wins + ties / 2) / votes, a tie counting half. 0.5 means no preference whatever
 *   the tie rate, and with no ties it equals the other two.
 * - `strictWinRate`: wins / votes, the paper's "wins X%" read literally (ties count as not winning).
 * - `decisiveWinRate`: wins / (wins + losses), ties left out; null without a decisive vote.
 * - `tieRate`: ties / votes.
 * Intervals: a percentile bootstrap over **items** (core/evaluation/bootstrap.ts `bootstrapCI`; an item carries all its
 * annotators' votes, since answers about the same item are not independent), seeded from the key's seed.
 *
 * Agreement: Fleiss' kappa over the items every annotator answered, with the categories baseline /
 * challenger / tie after un-blinding. Undefined (null, with the reason in `note`, never NaN) with fewer than
 * two annotators, with no item answered by all, or when every answer is in one category (then P_e = 1 and
 * kappa is 0/0 by the usual convention: the raters agree perfectly, but not beyond what chance predicts).
 */
import { bootstrapCI, type BootstrapCI } from '../evaluation/bootstrap';
import { reviewSeed, type JudgeRole, type ReviewJudge, type ReviewKey } from './human-review';
import type { AnswerSheet, ReviewChoice } from './human-review-answers';

export type ReviewOutcome = JudgeRole | 'tie';
/** Fleiss' categories, in this order. */
export const OUTCOMES: readonly ReviewOutcome[] = ['challenger', 'baseline', 'tie'];

/** What an A/B/tie answer means for the judges, given which judge was shown as A. */
export function unblind(choice: ReviewChoice, aSide: JudgeRole): ReviewOutcome {
  if (choice === 'tie') return 'tie';
  const other: JudgeRole = aSide === 'baseline' ? 'challenger' : 'baseline';
  return choice === 'A' ? aSide : other;
}

export interface VoteCounts {
  wins: number;
  losses: number;
  ties: number;
}

export interface WinRates {
  votes: number;
  /** (wins + ties/2) / votes; null without votes. The headline figure. */
  winRate: number | null;
  /** wins / votes. */
  strictWinRate: number | null;
  /** wins / (wins + losses); null without a decisive vote. */
  decisiveWinRate: number | null;
  tieRate: number | null;
}

export function winRates(c: VoteCounts): WinRates {
  const votes = c.wins + c.losses + c.ties;
  const decisive = c.wins + c.losses;
  return {
    votes,
    winRate: votes ? (c.wins + c.ties / 2) / votes : null,
    strictWinRate: votes ? c.wins / votes : null,
    decisiveWinRate: decisive ? c.wins / decisive : null,
    tieRate: votes ? c.ties / votes : null,
  };
}

export interface FleissKappa {
  /** null when undefined (see `note`). */
  kappa: number | null;
  /** Mean per-subject agreement P̄ (null without subjects or with fewer than two raters). */
  observedAgreement: number | null;
  /** Chance agreement P_e = Σ p_j². */
  expectedAgreement: number | null;
  subjects: number;
  raters: number;
  /** Why kappa is undefined, when it is. */
  note?: string;
}

/**
 * Fleiss' kappa of a subjects × categories table of counts (`counts[i][j]`: raters who put subject i in
 * category j); every subject must have the same number of raters. P_i = (Σ_j n_ij² − n) / (n (n − 1)),
 * P̄ = mean P_i, p_j = Σ_i n_ij / (N n), P_e = Σ p_j², κ = (P̄ − P_e) / (1 − P_e).
 */
export function fleissKappa(counts: ReadonlyArray<ReadonlyArray<number>>): FleissKappa {
  const subjects = counts.length;
  if (subjects === 0) return { kappa: null, observedAgreement: null, expectedAgreement: null, subjects: 0, raters: 0, note: 'no subject was rated by every rater' };
  const raters = counts[0].reduce((a, b) => a + b, 0);
  const k = counts[0].length;
  counts.forEach((row, i) => {
    if (row.length !== k) throw new RangeError(`fleissKappa: subject ${i} has ${row.length} categories, subject 0 has ${k}`);
    if (row.some((v) => !Number.isInteger(v) || v < 0)) throw new RangeError(`fleissKappa: subject ${i} has a count that is not a non-negative integer`);
    const n = row.reduce((a, b) => a + b, 0);
    if (n !== raters) throw new RangeError(`fleissKappa: subject ${i} has ${n} ratings, subject 0 has ${raters} (every subject needs the same raters)`);
  });
  if (raters < 2) {
    return { kappa: null, observedAgreement: null, expectedAgreement: null, subjects, raters, note: 'agreement needs at least two raters per subject' };
  }
  let pBar = 0;
  const totals = new Array<number>(k).fill(0);
  for (const row of counts) {
    let sq = 0;
    row.forEach((v, j) => {
      sq += v * v;
      totals[j] += v;
    });
    pBar += (sq - raters) / (raters * (raters - 1));
  }
  pBar /= subjects;
  const pE = totals.reduce((acc, t) => acc + (t / (subjects * raters)) ** 2, 0);
  // Floating point: Σ p_j² of a single category is exactly 1 (t / (N n) = 1).
  if (pE >= 1) {
    return {
      kappa: null,
      observedAgreement: pBar,
      expectedAgreement: pE,
      subjects,
      raters,
      note: 'every answer is in one category: agreement is total but kappa is undefined (P_e = 1)',
    };
  }
  return { kappa: (pBar - pE) / (1 - pE), observedAgreement: pBar, expectedAgreement: pE, subjects, raters };
}

export interface AnnotatorRow extends VoteCounts, WinRates {
  annotator: string;
  source: string;
  answered: number;
  /** Items of the review this annotator did not answer (blank or absent). */
  unanswered: number;
}

export interface HumanReviewReport {
  reviewId: string;
  judges: Record<JudgeRole, ReviewJudge>;
  /** Items in the review. */
  items: number;
  /** Items at least one annotator answered. */
  itemsAnswered: number;
  annotators: number;
  counts: VoteCounts;
  rates: WinRates;
  /** Bootstrap intervals over items of the headline and decisive win rates. */
  ci: { winRate: BootstrapCI; decisiveWinRate: BootstrapCI };
  perAnnotator: AnnotatorRow[];
  agreement: FleissKappa & { categories: readonly ReviewOutcome[] };
  /** How the headline is defined, for readers of the JSON. */
  definitions: Record<'winRate' | 'strictWinRate' | 'decisiveWinRate' | 'tieRate' | 'kappa', string>;
}

export interface AggregateOptions {
  resamples?: number;
  confidence?: number;
}

export const DEFINITIONS: HumanReviewReport['definitions'] = {
  winRate: 'headline: (challenger wins + ties / 2) / answers',
  strictWinRate: 'challenger wins / answers',
  decisiveWinRate: 'challenger wins / (wins + losses), ties left out',
  tieRate: 'ties / answers',
  kappa: "Fleiss' kappa over the items every annotator answered; categories challenger, baseline, tie",
};

export function aggregateReview(key: ReviewKey, sheets: readonly AnswerSheet[], options: AggregateOptions = {}): HumanReviewReport {
  if (sheets.length === 0) throw new Error('no answer file to aggregate');
  const byName = new Map<string, string>();
  for (const s of sheets) {
    const earlier = byName.get(s.annotator);
    if (earlier !== undefined) {
      throw new Error(`annotator "${s.annotator}" has two answer files (${earlier} and ${s.source}); pass one file per annotator`);
    }
    byName.set(s.annotator, s.source);
  }
  const aSide = new Map(key.items.map((i) => [i.itemId, i.a]));
  // Per item, its votes per outcome, in key order.
  const perItem = new Map(key.items.map((i) => [i.itemId, { challenger: 0, baseline: 0, tie: 0, annotators: 0 }]));
  const perAnnotator: AnnotatorRow[] = sheets.map((sheet) => {
    const c: VoteCounts = { wins: 0, losses: 0, ties: 0 };
    for (const answer of sheet.answers) {
      const side = aSide.get(answer.itemId);
      const tally = perItem.get(answer.itemId);
      if (side === undefined || tally === undefined) throw new Error(`${sheet.source}: item "${answer.itemId}" is not in review ${key.reviewId}`);
      const outcome = unblind(answer.choice, side);
      tally[outcome]++;
      tally.annotators++;
      if (outcome === 'challenger') c.wins++;
      else if (outcome === 'baseline') c.losses++;
      else c.ties++;
    }
    return {
      annotator: sheet.annotator,
      source: sheet.source,
      answered: sheet.answers.length,
      unanswered: key.items.length - sheet.answers.length,
      ...c,
      ...winRates(c),
    };
  });

  const tallies = [...perItem.values()];
  const answered = tallies.filter((t) => t.annotators > 0);
  const totals: VoteCounts = {
    wins: answered.reduce((a, t) => a + t.challenger, 0),
    losses: answered.reduce((a, t) => a + t.baseline, 0),
    ties: answered.reduce((a, t) => a + t.tie, 0),
  };
  const bootstrap = { seed: reviewSeed(key.seed, 'bootstrap'), resamples: options.resamples ?? 1000, confidence: options.confidence ?? 0.95 };
  const sumRate = (items: readonly (typeof answered)[number][], decisive: boolean): number | null => {
    let num = 0;
    let den = 0;
    for (const t of items) {
      num += t.challenger + (decisive ? 0 : t.tie / 2);
      den += t.challenger + t.baseline + (decisive ? 0 : t.tie);
    }
    return den ? num / den : null;
  };
  const everyone = answered.filter((t) => t.annotators === sheets.length);
  const kappa =
    sheets.length < 2
      ? { kappa: null, observedAgreement: null, expectedAgreement: null, subjects: everyone.length, raters: sheets.length, note: 'agreement needs at least two annotators' }
      : fleissKappa(everyone.map((t) => OUTCOMES.map((o) => t[o])));
  return {
    reviewId: key.reviewId,
    judges: key.judges,
    items: key.items.length,
    itemsAnswered: answered.length,
    annotators: sheets.length,
    counts: totals,
    rates: winRates(totals),
    ci: {
      winRate: bootstrapCI(answered, (s) => sumRate(s, false), bootstrap),
      decisiveWinRate: bootstrapCI(answered, (s) => sumRate(s, true), bootstrap),
    },
    perAnnotator,
    agreement: { ...kappa, categories: OUTCOMES },
    definitions: DEFINITIONS,
  };
}
