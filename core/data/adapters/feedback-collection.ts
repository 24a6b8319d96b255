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
import {
  checkIndex,
  describeValue,
  fail,
  generatedId,
  isPlainObject,
  readIntScore,
  requireString,
  type AdapterOptions,
  type AdapterResult,
  type PointwiseAdapter,
} from './types';
import { origReferenceJudgments, referenceMeta } from './reference-judgments';

const RUBRIC_FIELDS = [
  ['criteria', 'orig_criteria'],
  ['score1', 'orig_score1_description'],
  ['score2', 'orig_score2_description'],
  ['score3', 'orig_score3_description'],
  ['score4', 'orig_score4_description'],
  ['score5', 'orig_score5_description'],
] as const;

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
      if (!isPlainObject(raw)) return fail(`row must be a JSON object, got ${describeValue(raw)}`);
      const instruction = requireString(raw, 'orig_instruction', { nonEmpty: true });
      if (!instruction.ok) return instruction;
      const response = requireString(raw, 'orig_response', { nonEmpty: true });
      if (!response.ok) return response;
      const rubric: Record<string, string> = {};
      for (const [key, field] of RUBRIC_FIELDS) {
        const v = requireString(raw, field, { nonEmpty: true });
        if (!v.ok) return v;
        rubric[key] = v.value;
      }
      let reference: string | undefined;
      if (raw.orig_reference_answer !== undefined && raw.orig_reference_answer !== null) {
        const v = requireString(raw, 'orig_reference_answer');
        if (!v.ok) return v;
        if (v.value.trim() !== '') reference = v.value;
      }
      const score = readIntScore(raw.orig_score);
      if (score === undefined) return fail(`orig_score: expected an integer score (the gold), got ${describeValue(raw.orig_score)}`);
      const meta: Record<string, unknown> = { source: 'feedback-collection', index };
      if (raw.orig_feedback !== undefined && raw.orig_feedback !== null) {
        if (typeof raw.orig_feedback !== 'string') return fail(`orig_feedback: expected a string, got ${describeValue(raw.orig_feedback)}`);
        meta.orig_feedback = raw.orig_feedback;
      }
      Object.assign(meta, referenceMeta(origReferenceJudgments(raw)));
      return validatePointwiseExample({
        id: generatedId(prefix, index),
        instruction: instruction.value,
        response: response.value,
        rubric,
        ...(reference !== undefined ? { reference_answer: reference } : {}),
        gold_score: score,
        gold: { orig: score },
        meta,
      });
    },
  };
}
