/**
 * `feedback-collection`: rows of Prometheus' Feedback Collection (and Feedback Bench, its test split) read
 * from their separate `orig_*` columns rather than from the assembled prompt:
 *
 *   instruction, output                      the assembled absolute-grading prompt and the GPT-4 output
 *   orig_instruction, orig_response          the instruction and the response being graded
 *   orig_reference_answer                    a score-5 answer (optional here: null or absent is allowed)
 *   orig_criteria, orig_score1_description … orig_score5_description
 *   orig_feedback, orig_score                GPT-4's rationale and its score (the gold; "3" or 3)
 *
 * gold_score = orig_score, `gold.orig` = orig_score; `meta.orig_feedback` keeps the published feedback, and
 * (orig_feedback, orig_score) is the one reference judgment `{ rationale, score }` in `meta.reference_judgments`
 * (reference-judgments.ts: a trailing `[RESULT] n` cut off; left out, with a note in
 * `meta.reference_judgments_left_out`, when its text is empty or its score off the 1-5 scale). Texts are kept
 * exactly as published; the `instruction`/`output` columns are not read (the `prometheus-absolute` adapter
 * parses `instruction`).
 */
import { validatePointwiseExample, type PointwiseExample } from '../records';
import { checkIndex, fail, generatedId, type AdapterOptions, type AdapterResult, type PointwiseAdapter } from './types';
import { intScore, readSource, sourceRow, text } from './source-schema';
import { origReferenceJudgments, referenceMeta } from './reference-judgments';

/** A published Feedback Collection row, the columns this adapter reads (`instruction`/`output` are not). */
const FeedbackCollectionRow = sourceRow({
  orig_instruction: text('orig_instruction', { nonEmpty: true }),
  orig_response: text('orig_response', { nonEmpty: true }),
  orig_criteria: text('orig_criteria', { nonEmpty: true }),
  orig_score1_description: text('orig_score1_description', { nonEmpty: true }),
  orig_score2_description: text('orig_score2_description', { nonEmpty: true }),
  orig_score3_description: text('orig_score3_description', { nonEmpty: true }),
  orig_score4_description: text('orig_score4_description', { nonEmpty: true }),
  orig_score5_description: text('orig_score5_description', { nonEmpty: true }),
  /** A score-5 answer; null, absent or blank: none. */
  orig_reference_answer: text('orig_reference_answer').nullish(),
  orig_score: intScore((got) => `orig_score: expected an integer score (the gold), got ${got}`),
  orig_feedback: text('orig_feedback').nullish(),
});

export function createFeedbackCollectionAdapter(options: AdapterOptions = {}): PointwiseAdapter<'feedback-collection'> {
  const prefix = options.idPrefix ?? 'feedback-collection';
  return {
    name: 'feedback-collection',
    kind: 'pointwise',
    description:
      'Prometheus Feedback Collection / Feedback Bench rows from their orig_* columns (orig_instruction, orig_response, orig_reference_answer, orig_criteria, orig_score1..5_description, orig_feedback, orig_score = gold)',
    adaptRow(raw: unknown, index: number): AdapterResult<PointwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      const read = readSource(FeedbackCollectionRow, raw);
      if (!read.ok) return read;
      const row = read.record;
      const reference = row.orig_reference_answer?.trim() ? row.orig_reference_answer : undefined;
      const score = row.orig_score;
      const meta: Record<string, unknown> = { source: 'feedback-collection', index };
      if (row.orig_feedback !== undefined && row.orig_feedback !== null) meta.orig_feedback = row.orig_feedback;
      Object.assign(meta, referenceMeta(origReferenceJudgments(row)));
      return validatePointwiseExample({
        id: generatedId(prefix, index),
        instruction: row.orig_instruction,
        response: row.orig_response,
        rubric: {
          criteria: row.orig_criteria,
          score1: row.orig_score1_description,
          score2: row.orig_score2_description,
          score3: row.orig_score3_description,
          score4: row.orig_score4_description,
          score5: row.orig_score5_description,
        },
        ...(reference !== undefined ? { reference_answer: reference } : {}),
        gold_score: score,
        gold: { orig: score },
        meta,
      });
    },
  };
}
