/**
 * Human evaluation of rationales (docs/method.md, "Human evaluation of rationales"): a blind A/B review of two
 * judges' judgments of the same inputs.
 *
 * Pure and deterministic (no I/O, no clocks, no Math.random): the caller passes the creation time and a seed.
 *
 * - The two judges are the **baseline** (the judge the user names first, `--a`) and the **challenger**
 *   (named second, `--b`, e.g. the trained iteration). "A" and "B" are only the positions an annotator sees:
 *   which judge is shown as A is decided per item, and recorded only in the key.
 * - `buildReview` returns two halves: `page`, everything the annotator sees (no judge names, iterations or
 *   model URIs; the page generator only ever receives this half), and `key`, the seed, each item's A-side
 *   judge and the judges' descriptions, kept in a separate file to un-blind the answers on import.
 * - Items are the judgments both judges made (matched by `request_id`: suite, example id and, for a pairwise
 *   suite judged pointwise, the judged response's side). Judgments only one judge has, and judgments whose
 *   example is missing from the prepared suite, are counted in `key.pairing`, never silently dropped.
 * - Randomness, each from its own `deriveSeed(seed, 'human-review', purpose)` stream so that one choice never
 *   shifts another: which items (`limit`), in what order (always shuffled, so suites and ids do not cluster),
 *   and which judge is A (balanced: exactly half of the items, the odd one by the same stream, show the
 *   baseline as A, so a position preference cannot favour either judge overall).
 */
import { createRng, deriveSeed, sampleWithoutReplacement, shuffle } from '../common/rng';

export const REVIEW_FORMAT = 'judgeloop-human-review/v1';

/** Which of the two judges: `baseline` was named first (`--a`), `challenger` second (`--b`). */
export type JudgeRole = 'baseline' | 'challenger';
export const JUDGE_ROLES: readonly JudgeRole[] = ['baseline', 'challenger'];

/** Who a judge is: only in the key file, never on the page. */
export interface ReviewJudge {
  role: JudgeRole;
  runId: string;
  iteration: number;
  modelUri: string;
  /** The `iter-K/evaluate/metrics/judgments.jsonl` the judgments came from. */
  judgmentsUri: string;
}

/** One judge's judgment of one item, as a review needs it (from a `judgments.jsonl` row). */
export interface ReviewJudgmentRow {
  /** The judgment's `request_id`: `suite::example` or `suite::example::side`. */
  itemId: string;
  suite: string;
  exampleId: string;
  /** For a pairwise suite judged pointwise: which response this judgment rated. */
  side?: 'chosen' | 'rejected';
  status: 'ok' | 'unparseable';
  /** The rationale; for an unparseable judgment, its whole text (an annotator still reads it). */
  rationale: string;
  score: number | null;
}

/** What an item shows besides the rationales: the input the judges rated. */
export interface ReviewExampleText {
  instruction: string;
  /** The response the judgments rate. */
  response: string;
  criteria: string;
  /** The rubric's descriptions of scores 1..5, when the example has a rubric. */
  scoreDescriptions?: string[];
}

/** One rationale as shown. `score` null means the judgment did not parse. */
export interface ShownJudgment {
  rationale: string;
  score: number | null;
}

/** One item of the page: no judge identity. */
export interface BlindItem extends ReviewExampleText {
  itemId: string;
  a: ShownJudgment;
  b: ShownJudgment;
}

/** What the annotator's page receives. */
export interface BlindReview {
  format: typeof REVIEW_FORMAT;
  id: string;
  created: string;
  items: BlindItem[];
}

export interface KeyItem {
  itemId: string;
  suite: string;
  exampleId: string;
  side?: 'chosen' | 'rejected';
  /** The judge shown as A on this item (the other one is B). */
  a: JudgeRole;
}

/** A count and the first few ids it counts (enough to look one up). */
export interface CountedIds {
  count: number;
  examples: string[];
}

export interface PairingReport {
  baselineJudgments: number;
  challengerJudgments: number;
  /** Items both judges judged whose example text was found. */
  paired: number;
  onlyBaseline: CountedIds;
  onlyChallenger: CountedIds;
  /** Judged by both, but the example is missing from the prepared suite (left out). */
  missingExample: CountedIds;
  /** Judgments left out by the suite filter. */
  otherSuites: number;
  /** Items in the review (`paired`, or `limit` of them). */
  reviewed: number;
  /** Items in the review per suite. */
  bySuite: Record<string, number>;
}

/** The un-blinding key: kept away from annotators, read by import. */
export interface ReviewKey {
  format: typeof REVIEW_FORMAT;
  reviewId: string;
  created: string;
  seed: number;
  limit: number | null;
  suites: string[] | null;
  judges: Record<JudgeRole, ReviewJudge>;
  pairing: PairingReport;
  /** In page order. */
  items: KeyItem[];
}

export interface BuildReviewInput {
  id: string;
  seed: number;
  /** ISO time of creation (the caller's clock: this module reads none). */
  created: string;
  judges: Record<JudgeRole, ReviewJudge>;
  judgments: Record<JudgeRole, readonly ReviewJudgmentRow[]>;
  /** The text of the example a judgment rates; undefined when the prepared suite lacks it. */
  example(row: ReviewJudgmentRow): ReviewExampleText | undefined;
  /** Review at most this many items, a seeded sample. */
  limit?: number;
  /** Only these suites. */
  suites?: readonly string[];
}

export interface BuiltReview {
  page: BlindReview;
  key: ReviewKey;
}

const EXAMPLE_IDS = 5;

function counted(ids: string[]): CountedIds {
  const sorted = [...ids].sort();
  return { count: sorted.length, examples: sorted.slice(0, EXAMPLE_IDS) };
}

/** Indexes one judge's rows by item id; a judge with two judgments of one item is an error (evaluate is greedy, one each). */
function byItem(role: JudgeRole, rows: readonly ReviewJudgmentRow[]): Map<string, ReviewJudgmentRow> {
  const map = new Map<string, ReviewJudgmentRow>();
  for (const row of rows) {
    if (map.has(row.itemId)) throw new Error(`the ${role} judge has two judgments of item "${row.itemId}"; an evaluation has one per item`);
    map.set(row.itemId, row);
  }
  return map;
}

export function reviewSeed(seed: number, purpose: string, ...parts: Array<string | number>): number {
  return deriveSeed(seed, 'human-review', purpose, ...parts);
}

export function buildReview(input: BuildReviewInput): BuiltReview {
  const { seed } = input;
  if (input.limit !== undefined && (!Number.isInteger(input.limit) || input.limit < 1)) {
    throw new RangeError(`limit must be a positive integer, got ${String(input.limit)}`);
  }
  const suiteFilter = input.suites && input.suites.length > 0 ? new Set(input.suites) : null;
  const baseline = byItem('baseline', input.judgments.baseline);
  const challenger = byItem('challenger', input.judgments.challenger);
  if (suiteFilter) {
    const known = new Set([...baseline.values(), ...challenger.values()].map((r) => r.suite));
    const unknown = [...suiteFilter].filter((s) => !known.has(s));
    if (unknown.length) {
      throw new Error(`no judgments of suite ${unknown.map((s) => `"${s}"`).join(', ')}; the judgments cover ${[...known].sort().join(', ') || 'no suite'}`);
    }
  }
  const inScope = (r: ReviewJudgmentRow) => !suiteFilter || suiteFilter.has(r.suite);
  let otherSuites = 0;
  for (const m of [baseline, challenger]) for (const r of m.values()) if (!inScope(r)) otherSuites++;

  const onlyBaseline: string[] = [];
  const onlyChallenger: string[] = [];
  const missingExample: string[] = [];
  const paired: Array<{ base: ReviewJudgmentRow; chal: ReviewJudgmentRow; text: ReviewExampleText }> = [];
  for (const [id, base] of baseline) {
    if (!inScope(base)) continue;
    const chal = challenger.get(id);
    if (!chal) {
      onlyBaseline.push(id);
      continue;
    }
    const text = input.example(base);
    if (!text) missingExample.push(id);
    else paired.push({ base, chal, text });
  }
  for (const [id, chal] of challenger) if (inScope(chal) && !baseline.has(id)) onlyChallenger.push(id);

  // Sorted first, so the sample and the order depend only on the seed and the item ids, not on file order.
  paired.sort((x, y) => (x.base.itemId < y.base.itemId ? -1 : x.base.itemId > y.base.itemId ? 1 : 0));
  const chosen =
    input.limit !== undefined && input.limit < paired.length
      ? sampleWithoutReplacement(createRng(reviewSeed(seed, 'sample')), paired, input.limit)
      : paired;
  const ordered = shuffle(createRng(reviewSeed(seed, 'order')), chosen);
  const aSides = balancedSides(ordered.length, reviewSeed(seed, 'a-side'));

  const bySuite: Record<string, number> = {};
  const pageItems: BlindItem[] = [];
  const keyItems: KeyItem[] = [];
  ordered.forEach(({ base, chal, text }, i) => {
    const a = aSides[i];
    const shown = (r: ReviewJudgmentRow): ShownJudgment => ({ rationale: r.rationale, score: r.score });
    const [first, second] = a === 'baseline' ? [base, chal] : [chal, base];
    pageItems.push({ itemId: base.itemId, ...text, a: shown(first), b: shown(second) });
    keyItems.push({ itemId: base.itemId, suite: base.suite, exampleId: base.exampleId, ...(base.side ? { side: base.side } : {}), a });
    bySuite[base.suite] = (bySuite[base.suite] ?? 0) + 1;
  });

  return {
    page: { format: REVIEW_FORMAT, id: input.id, created: input.created, items: pageItems },
    key: {
      format: REVIEW_FORMAT,
      reviewId: input.id,
      created: input.created,
      seed,
      limit: input.limit ?? null,
      suites: suiteFilter ? [...suiteFilter] : null,
      judges: input.judges,
      pairing: {
        baselineJudgments: baseline.size,
        challengerJudgments: challenger.size,
        paired: paired.length,
        onlyBaseline: counted(onlyBaseline),
        onlyChallenger: counted(onlyChallenger),
        missingExample: counted(missingExample),
        otherSuites,
        reviewed: pageItems.length,
        bySuite,
      },
      items: keyItems,
    },
  };
}

/** n A-sides, floor(n/2) of each judge (the odd one by coin), in a seeded random order. */
export function balancedSides(n: number, seed: number): JudgeRole[] {
  const rng = createRng(seed);
  const half = Math.floor(n / 2);
  const sides: JudgeRole[] = [...Array<JudgeRole>(half).fill('baseline'), ...Array<JudgeRole>(half).fill('challenger')];
  if (n % 2 === 1) sides.push(rng.next() < 0.5 ? 'baseline' : 'challenger');
  return shuffle(rng, sides);
}

/**
 * Reads one row of `iter-K/evaluate/metrics/judgments.jsonl` (activities/steps/evaluate.ts: a scored judgment plus
 * `suite` and, for pairwise suites, `side`). `where` names the file and line for errors.
 */
export function reviewJudgmentRow(value: unknown, where: string): ReviewJudgmentRow {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON object`);
  const row = value as Record<string, unknown>;
  const str = (field: string): string => {
    const v = row[field];
    if (typeof v !== 'string' || v === '') throw new Error(`${where}: "${field}" must be a non-empty string`);
    return v;
  };
  const itemId = str('request_id');
  const suite = str('suite');
  const exampleId = str('example_id');
  const status = row.status;
  if (status !== 'ok' && status !== 'unparseable') throw new Error(`${where}: "status" must be "ok" or "unparseable"`);
  const side = row.side;
  if (side !== undefined && side !== 'chosen' && side !== 'rejected') throw new Error(`${where}: "side" must be "chosen" or "rejected"`);
  if (status === 'ok') {
    const score = row.score;
    if (typeof score !== 'number' || !Number.isFinite(score)) throw new Error(`${where}: an "ok" judgment needs a numeric "score"`);
    if (typeof row.rationale !== 'string') throw new Error(`${where}: an "ok" judgment needs a string "rationale"`);
    return { itemId, suite, exampleId, ...(side ? { side } : {}), status, rationale: row.rationale, score };
  }
  if (typeof row.text !== 'string') throw new Error(`${where}: "text" must be a string`);
  return { itemId, suite, exampleId, ...(side ? { side } : {}), status, rationale: row.text, score: null };
}

/** Reads a review-key.json (what export wrote), checking what import relies on; `source` names the file. */
export function parseReviewKey(value: unknown, source: string): ReviewKey {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what} (is this the review-key.json that \`judgeloop review export\` wrote?)`);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('expected a JSON object');
  const key = value as Partial<ReviewKey> & Record<string, unknown>;
  if (key.format !== REVIEW_FORMAT) fail(`"format" is ${JSON.stringify(key.format)}, expected "${REVIEW_FORMAT}"`);
  if (typeof key.reviewId !== 'string' || !key.reviewId) fail('"reviewId" must be a non-empty string');
  if (typeof key.seed !== 'number' || !Number.isInteger(key.seed)) fail('"seed" must be an integer');
  if (!key.judges || typeof key.judges !== 'object') fail('"judges" is missing');
  for (const role of JUDGE_ROLES) if (!key.judges?.[role]) fail(`"judges.${role}" is missing`);
  if (!Array.isArray(key.items)) return fail('"items" must be an array');
  const seen = new Set<string>();
  key.items.forEach((item: unknown, i: number) => {
    const it = item as Partial<KeyItem> | null;
    if (!it || typeof it.itemId !== 'string' || !it.itemId) fail(`items[${i}].itemId must be a non-empty string`);
    if (it?.a !== 'baseline' && it?.a !== 'challenger') fail(`items[${i}].a must be "baseline" or "challenger"`);
    if (seen.has(it!.itemId!)) fail(`items[${i}]: item "${it!.itemId}" is listed twice`);
    seen.add(it!.itemId!);
  });
  return key as ReviewKey;
}
