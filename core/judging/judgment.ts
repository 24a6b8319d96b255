/**
 * Parsing a judge's output into (rationale, score) — `parseJudgment`, for pointwise and meta-judge outputs —
 * or into (rationale, verdict A|B) — `parsePairwiseVerdict`, for relative grading (below).
 *
 * Pure and deterministic. Callers pass the generated completion only, never the prompt: the prompt itself
 * shows the marker (and a rubric full of numbers), so parsing prompt plus completion could read a score the
 * judge never wrote.
 *
 * The grammar is `<rationale> <marker> <integer>` (what the generation job enforces while decoding):
 * - the LAST occurrence of the marker is the one that counts (a rationale may quote the marker);
 * - after it: optional whitespace, an integer (optionally signed), then only optional whitespace and at most
 *   one period directly after the integer (`4`, ` 4 `, `4.`, `4.\n`). Anything else is rejected with a
 *   reason: a decimal (`4.5`) is `not_integer`, other text after the integer (`4 out of 5`, `4/5`) is
 *   `trailing_text`, no integer at all (`good`, `(4)`, `: 4`) is `no_score`. We stay strict there because
 *   leniency would silently turn malformed outputs into training labels;
 * - the score must lie in [min, max], else `score_out_of_range`;
 * - the rationale is the text before that marker, trimmed; an empty one is `empty_rationale`, because the
 *   method trains on rationales and a bare score teaches nothing.
 * Checks run in that order (marker, score, range, rationale) and the first failure is the reason reported.
 * The marker is matched exactly (case-sensitive).
 *
 * Before any of them: an output that is not a string, or holds a lone UTF-16 surrogate (JSON can carry
 * `"\ud800"`, no text can), is `invalid_text`. Such a rationale cannot be encoded as UTF-8, so the
 * training job's tokenizer would fail on it; it is counted as unparseable instead. Every check is a scan
 * or an anchored regular expression over the text after the marker, linear in the output's length.
 */

export const DEFAULT_MARKER = '[RESULT]';

export const UNPARSEABLE_REASONS = [
  'no_marker',
  'no_score',
  'not_integer',
  'trailing_text',
  'score_out_of_range',
  'empty_rationale',
  'invalid_text',
] as const;
export type UnparseableReason = (typeof UNPARSEABLE_REASONS)[number];

export interface ParseJudgmentOptions {
  /** The scale's bounds, inclusive. */
  min: number;
  max: number;
  marker: string;
}

export type ParsedJudgment =
  | { status: 'ok'; rationale: string; score: number }
  | {
      status: 'unparseable';
      reason: UnparseableReason;
      /** A short human-readable explanation (for logs and quarantine files). */
      detail: string;
    };

const INTEGER_WITH_OPTIONAL_PERIOD = /^([+-]?\d+)\.?$/;
const DECIMAL = /^[+-]?(\d+\.\d+|\.\d+)\.?$/;
const LEADING_INTEGER = /^[+-]?\d+/;

function unparseable(reason: UnparseableReason, detail: string): ParsedJudgment {
  return { status: 'unparseable', reason, detail };
}

function quote(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A lone (unpaired) UTF-16 surrogate: not a character, and not encodable as UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` is not text a judgment can be read from (not a string, a lone surrogate), or undefined. */
export function invalidTextDetail(text: unknown): string | undefined {
  if (typeof text !== 'string') return `the output is not text (got ${text === null ? 'null' : Array.isArray(text) ? 'an array' : typeof text})`;
  const m = LONE_SURROGATE.exec(text);
  if (m) {
    const code = m[0].charCodeAt(0).toString(16).toUpperCase();
    return `a lone UTF-16 surrogate (U+${code}) at character ${m.index + 1}: not text, and no tokenizer can encode it`;
  }
  return undefined;
}

function checkOptions({ min, max, marker }: ParseJudgmentOptions): void {
  if (!Number.isInteger(min) || !Number.isInteger(max) || min > max) {
    throw new RangeError(`parseJudgment: invalid scale ${min}..${max}`);
  }
  if (marker.trim() === '') throw new RangeError('parseJudgment: the marker must not be empty');
}

/** Parses one generated completion. Never throws for any `text`; throws only for invalid options. */
export function parseJudgment(text: string, options: ParseJudgmentOptions): ParsedJudgment {
  checkOptions(options);
  const { min, max, marker } = options;
  // Outputs come from JSON written by a job: the type says string, the file may say otherwise.
  const invalid = invalidTextDetail(text);
  if (invalid !== undefined) return unparseable('invalid_text', invalid);

  const at = text.lastIndexOf(marker);
  if (at < 0) return unparseable('no_marker', `no ${quote(marker)} in the output`);

  const after = text.slice(at + marker.length).trim();
  const integer = INTEGER_WITH_OPTIONAL_PERIOD.exec(after);
  if (!integer) {
    if (after === '') return unparseable('no_score', `nothing after the last ${marker}`);
    if (DECIMAL.test(after)) return unparseable('not_integer', `${quote(after)} after ${marker} is not an integer`);
    if (LEADING_INTEGER.test(after)) return unparseable('trailing_text', `text after the score: ${quote(after)}`);
    return unparseable('no_score', `no integer after the last ${marker}: ${quote(after)}`);
  }

  const score = Number(integer[1]);
  if (!(score >= min && score <= max)) {
    return unparseable('score_out_of_range', `score ${integer[1].length > 12 ? quote(integer[1], 12) : integer[1]} is outside ${min}..${max}`);
  }

  const rationale = text.slice(0, at).trim();
  if (rationale === '') return unparseable('empty_rationale', `no rationale before ${marker}`);

  return { status: 'ok', rationale, score };
}

/**
 * The canonical judgment text for a rationale and a score: `<rationale> <marker> <score>`, the same shape
 * the generation job's grammar produces. `parseJudgment` reads it back (for a non-empty rationale and an
 * in-range score).
 */
export function formatJudgment(rationale: string, score: number, marker: string = DEFAULT_MARKER): string {
  return `${rationale.trim()} ${marker} ${score}`;
}

// ---- pairwise verdicts ----

/**
 * Parsing a relative (pairwise) judgment: `<rationale> <marker> A` or `... B`, the shape the generation job
 * decodes with `choices = ["A", "B"]` (prompts/pairwise-v1.txt asks for it).
 *
 * Same rules as `parseJudgment`, with the verdict in place of the score:
 * - the LAST occurrence of the marker counts (matched exactly, case-sensitive);
 * - after it: optional whitespace, then exactly `A` or `B`, then optionally one period and whitespace
 *   (`A`, ` B `, `A.`, `B.\n`). Anything else is rejected with a reason: nothing at all is `no_verdict`; a
 *   verdict followed by more text (`A or B`, `A is better`, `B!`) is `trailing_text`; any other token is
 *   `invalid_verdict` (`C`, `tie`, `Response A`, `(A)`, `AB`);
 * - **lowercase `a`/`b` is rejected** (`invalid_verdict`, the detail says so). Decided for consistency with
 *   the case-sensitive marker and with the strict score rule: the generation grammar only ever writes the
 *   upper-case letters, so a lowercase verdict means an unconstrained decoder that ignored the format, and
 *   a pairwise verdict feeds accuracy figures where a lenient reading would silently count it;
 * - the rationale (the text before that marker, trimmed) must not be empty (`empty_rationale`).
 * Checks run in that order (marker, verdict, rationale) and the first failure is the reason reported.
 */
export type PairwiseVerdict = 'A' | 'B';

export const PAIRWISE_UNPARSEABLE_REASONS = ['no_marker', 'no_verdict', 'invalid_verdict', 'trailing_text', 'empty_rationale', 'invalid_text'] as const;
export type PairwiseUnparseableReason = (typeof PAIRWISE_UNPARSEABLE_REASONS)[number];

export interface ParsePairwiseOptions {
  marker: string;
}

export type ParsedPairwiseVerdict =
  | { status: 'ok'; rationale: string; verdict: PairwiseVerdict }
  | { status: 'unparseable'; reason: PairwiseUnparseableReason; detail: string };

const VERDICT = /^([AB])\.?$/;
const LOWERCASE_VERDICT = /^[ab]\.?$/;
/** `A` or `B` as a whole word, followed by something. */
const VERDICT_THEN_TEXT = /^[AB](?![A-Za-z0-9_])/;

function pairwiseUnparseable(reason: PairwiseUnparseableReason, detail: string): ParsedPairwiseVerdict {
  return { status: 'unparseable', reason, detail };
}

/** Parses one generated pairwise completion. Never throws for any `text`; throws only for an empty marker. */
export function parsePairwiseVerdict(text: string, options: ParsePairwiseOptions): ParsedPairwiseVerdict {
  const { marker } = options;
  if (marker.trim() === '') throw new RangeError('parsePairwiseVerdict: the marker must not be empty');
  const invalid = invalidTextDetail(text);
  if (invalid !== undefined) return pairwiseUnparseable('invalid_text', invalid);

  const at = text.lastIndexOf(marker);
  if (at < 0) return pairwiseUnparseable('no_marker', `no ${quote(marker)} in the output`);

  const after = text.slice(at + marker.length).trim();
  const verdict = VERDICT.exec(after);
  if (!verdict) {
    if (after === '') return pairwiseUnparseable('no_verdict', `nothing after the last ${marker}`);
    if (LOWERCASE_VERDICT.test(after)) {
      return pairwiseUnparseable('invalid_verdict', `lowercase ${quote(after)} after ${marker}: the verdict must be "A" or "B"`);
    }
    if (VERDICT_THEN_TEXT.test(after)) return pairwiseUnparseable('trailing_text', `text after the verdict: ${quote(after)}`);
    return pairwiseUnparseable('invalid_verdict', `${quote(after)} after ${marker} is not "A" or "B"`);
  }

  const rationale = text.slice(0, at).trim();
  if (rationale === '') return pairwiseUnparseable('empty_rationale', `no rationale before ${marker}`);

  return { status: 'ok', rationale, verdict: verdict[1] as PairwiseVerdict };
}

/** The canonical pairwise judgment text, `<rationale> <marker> <A|B>`; `parsePairwiseVerdict` reads it back. */
export function formatPairwiseVerdict(rationale: string, verdict: PairwiseVerdict, marker: string = DEFAULT_MARKER): string {
  return `${rationale.trim()} ${marker} ${verdict}`;
}
