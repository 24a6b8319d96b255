/**
 * Parsing a judge's output into (rationale, score).
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
 */

export const DEFAULT_MARKER = '[RESULT]';

export const UNPARSEABLE_REASONS = [
  'no_marker',
  'no_score',
  'not_integer',
  'trailing_text',
  'score_out_of_range',
  'empty_rationale',
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
    return unparseable('score_out_of_range', `score ${integer[1]} is outside ${min}..${max}`);
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
