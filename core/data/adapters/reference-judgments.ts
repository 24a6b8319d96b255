/**
 * Reference judgments from published feedback columns (`gpt4_feedback`/`gpt4_score`, `orig_feedback`/
 * `orig_score`): each (feedback, score) pair becomes one `{ rationale, score }` in the example's
 * `meta.reference_judgments` (core/data/records.ts), the warm start's SFT data.
 *
 * A rationale is the feedback text verbatim, except a trailing result marker (`[RESULT] 4`, `[RESULT] Score: 1.`),
 * which would duplicate the score, is cut off (with the blanks before it). A pair that cannot be used (its
 * text empty or not a string, its score not an integer or off the rubric's 1-5 scale, its trailing marker
 * disagreeing with its score) is left out, never the row: the reason goes into
 * `meta.reference_judgments_left_out` (one line each), the adapters' place for per-row notes.
 */
import { z } from 'zod';
import { SCORE_LEVELS, type ReferenceJudgment } from '../records';
import { intScore, readSource } from './source-schema';
import { describeValue } from './types';

/** The scale of the Prometheus rubrics (`Score 1:` ... `Score 5:`), which their feedback scores are on. */
export const REFERENCE_SCORE_MIN = SCORE_LEVELS[0];
export const REFERENCE_SCORE_MAX = SCORE_LEVELS[SCORE_LEVELS.length - 1];

/** A trailing `[RESULT] n` (also `[RESULT] Score: n`, `[RESULT] n.`), with the blanks before it. */
const TRAILING_MARKER_RE = /\s*\[RESULT\]\s*(?:Score\s*:?\s*)?(-?\d+)\s*\.?\s*$/i;

/** The feedback without a trailing result marker, and the marker's score when there was one. */
export function stripTrailingResult(text: string): { rationale: string; markerScore?: number } {
  const m = TRAILING_MARKER_RE.exec(text);
  if (!m) return { rationale: text };
  return { rationale: text.slice(0, m.index), markerScore: Number(m[1]) };
}

/** One candidate: `where` names it in notes, e.g. `gpt4_feedback[2]`. */
export interface FeedbackCandidate {
  where: string;
  feedback: unknown;
  score: unknown;
}

export interface CollectedReferenceJudgments {
  judgments: ReferenceJudgment[];
  /** Why candidates were left out, one line each (`gpt4_feedback[1]: score 7 is off the 1-5 scale`). */
  leftOut: string[];
}

/**
 * A published (feedback, score) pair: the feedback text and its integer score on the rubric's scale (a number
 * or a string of digits). Messages without the candidate's name, which referenceJudgmentOf puts before them.
 */
const FeedbackPair = z.object({
  feedback: z.string({ error: (iss) => `feedback is not a string (got ${describeValue(iss.input)})` }),
  score: intScore((got) => `score is not an integer (got ${got})`).refine((n) => n >= REFERENCE_SCORE_MIN && n <= REFERENCE_SCORE_MAX, {
    error: (iss) => `score ${String(iss.input)} is off the ${REFERENCE_SCORE_MIN}-${REFERENCE_SCORE_MAX} scale`,
  }),
});

/** One candidate as a reference judgment, or why it is left out. */
export function referenceJudgmentOf(c: FeedbackCandidate): { ok: true; judgment: ReferenceJudgment } | { ok: false; reason: string } {
  const read = readSource(FeedbackPair, { feedback: c.feedback, score: c.score });
  if (!read.ok) return { ok: false, reason: `${c.where}: ${read.reason}` };
  const { feedback, score } = read.record;
  const { rationale, markerScore } = stripTrailingResult(feedback);
  if (rationale.trim() === '') return { ok: false, reason: `${c.where}: the feedback has no text${markerScore !== undefined ? ' before its [RESULT] marker' : ''}` };
  if (markerScore !== undefined && markerScore !== score) {
    return { ok: false, reason: `${c.where}: its trailing "[RESULT] ${markerScore}" disagrees with its score ${score}` };
  }
  return { ok: true, judgment: { rationale, score } };
}

export function collectReferenceJudgments(candidates: readonly FeedbackCandidate[]): CollectedReferenceJudgments {
  const out: CollectedReferenceJudgments = { judgments: [], leftOut: [] };
  for (const c of candidates) {
    const r = referenceJudgmentOf(c);
    if (r.ok) out.judgments.push(r.judgment);
    else out.leftOut.push(r.reason);
  }
  return out;
}

/**
 * The Prometheus-2 evaluation sets' GPT-4 gradings: `gpt4_feedback[i]` with `gpt4_score[i]` (a single string
 * and a single number are read as lists of one). No `gpt4_feedback` (absent or null): none, and no note.
 */
export function gpt4ReferenceJudgments(row: Record<string, unknown>): CollectedReferenceJudgments {
  const rawFeedback = row.gpt4_feedback;
  if (rawFeedback === undefined || rawFeedback === null) return { judgments: [], leftOut: [] };
  const feedback = typeof rawFeedback === 'string' ? [rawFeedback] : rawFeedback;
  if (!Array.isArray(feedback)) {
    return { judgments: [], leftOut: [`gpt4_feedback: expected a list of feedback texts, got ${describeValue(rawFeedback)}`] };
  }
  const rawScores = row.gpt4_score;
  const scores: unknown[] = Array.isArray(rawScores) ? rawScores : rawScores === undefined || rawScores === null ? [] : [rawScores];
  const candidates: FeedbackCandidate[] = feedback.map((f, i) => ({ where: `gpt4_feedback[${i}]`, feedback: f, score: scores[i] }));
  const collected = collectReferenceJudgments(candidates.filter((_, i) => i < scores.length));
  for (let i = scores.length; i < feedback.length; i++) collected.leftOut.push(`gpt4_feedback[${i}]: no gpt4_score[${i}] to go with it`);
  for (let i = feedback.length; i < scores.length; i++) collected.leftOut.push(`gpt4_score[${i}]: no gpt4_feedback[${i}] to go with it`);
  return collected;
}

/** Feedback Collection's `orig_feedback` with `orig_score`: one reference judgment when both are present. */
export function origReferenceJudgments(row: Record<string, unknown>): CollectedReferenceJudgments {
  if (row.orig_feedback === undefined || row.orig_feedback === null || row.orig_score === undefined || row.orig_score === null) {
    return { judgments: [], leftOut: [] };
  }
  return collectReferenceJudgments([{ where: 'orig_feedback', feedback: row.orig_feedback, score: row.orig_score }]);
}

/** The meta keys for collected reference judgments: each only when non-empty. */
export function referenceMeta(c: CollectedReferenceJudgments): {
  reference_judgments?: ReferenceJudgment[];
  reference_judgments_left_out?: string[];
} {
  return {
    ...(c.judgments.length ? { reference_judgments: c.judgments } : {}),
    ...(c.leftOut.length ? { reference_judgments_left_out: c.leftOut } : {}),
  };
}
