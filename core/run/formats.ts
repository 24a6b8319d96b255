/**
 * The row formats that cross S3 between the steps of a run and their jobs: one zod schema per format, and
 * its TypeScript type derived from it (`z.infer`). The steps write and read these types; a step that reads a
 * file another step or a job wrote checks each row against the format's schema (`checkRow`), so that a
 * structurally broken row (a job's bug, a corrupted or hand-edited object) stops the step with the file, the
 * row and what is wrong, instead of travelling on as `undefined`.
 *
 * What is NOT a broken row: what the model wrote. A judgment whose `text` does not parse, or is not text at
 * all, is the judge's output gone wrong: the parsers (core/judging/judgment.ts) keep it as `unparseable` with
 * its reason (`invalid_text` for a text that is not a string), and the schemas here let any `text` of a job's
 * output through (`ModelText`).
 *
 * The canonical records (dataset rows, judgments, preference pairs) are core/data/records.ts; the shapes that
 * cross the Temporal boundary (inputs, summaries) are run-types.ts; the job contract (docs/CONTRACTS.md)
 * points here for the rows. The schemas only check: none transforms or fills in a default, so a row that
 * passes is used as it was read.
 *
 * Pure: no I/O; workflow code may import it.
 */
import { z } from 'zod';
import { JUDGMENT_STATUSES, MARKER_SOURCES, validateWith, type ValidationResult } from '../data/records';
import { RELATIVE_ORDERS, type RelativeOrder } from '../evaluation/relative';

// ------------------------------------------------------------------------------------------ building blocks

/** An id or hash: a non-empty string. */
const Id = z.string().min(1, 'must be a non-empty string');
/** A sample's position among its request's samples (generate.py's `sample_index`). */
const SampleIndex = z.number().int().nonnegative();

/**
 * What the model wrote (a job output row's `text`). Any value passes the row check, a missing one too: a
 * text that is not a string is the judge's output gone wrong, which the parsers score `unparseable`
 * (`invalid_text`), never a broken row. Typed as the string it should be; every reader goes through a
 * parser that checks (`typeof`) first.
 */
// The cast types what z.unknown().optional() lets through as the string the job promises (see above): a
// type-level statement only; at run time everything passes, an absent key too.
const ModelText = z.unknown().optional() as unknown as z.ZodType<string>;

/** One chat message of a rendered prompt. */
const PromptMessage = z.object({ role: z.string(), content: z.string() });

/** Token ids as generate.py sampled them. */
const TokenIds = z.array(z.number().int().nonnegative());

// --------------------------------------------------------------------------------------------- requests

/**
 * A generation request: one rendered prompt. Fields other than `messages` come back on every judgment
 * (generate.py copies them).
 * - written by: the sample step, `iter-K/sample/requests/data/requests.jsonl`
 * - read by: generate.py (the sample job's `requests` channel); the pair step (joined with the judgments);
 *   the meta-judge and consistency steps (the original prompts)
 */
export const GenerationRequest = z.looseObject({
  request_id: Id,
  example_id: Id,
  messages: z.array(PromptMessage),
  /** sha256 of the rendered messages (16 hex): which exact prompt the judge saw. */
  prompt_hash: z.string(),
  /** sha256 of the template file's text (16 hex): which template rendered it. */
  template_hash: z.string(),
  /** Text the assistant turn already starts with (generate.py continues from it). */
  assistant_prefix: z.string().optional(),
  gold_score: z.number().optional(),
});
export type GenerationRequest = z.infer<typeof GenerationRequest>;

/**
 * What the pair step reads of a generation request: it joins the judgments to it and copies its prompt and gold
 * score. The hashes are not read, so they are not required of the file (requests written by fixtures and by
 * older versions may lack `template_hash`).
 */
export const PairedRequest = GenerationRequest.pick({ request_id: true, example_id: true, messages: true, gold_score: true });
export type PairedRequest = z.infer<typeof PairedRequest>;

/** The fields the evaluate step adds to a pointwise request; generate.py echoes them on each output row. */
const EvalFields = {
  suite: Id,
  side: z.enum(['chosen', 'rejected']).optional(),
  /** The row's value of the suite's `groupBy` field. */
  group: z.string().optional(),
  /** The row's other gold columns. */
  golds: z.record(z.string(), z.number()).optional(),
  gold_tie: z.literal(true).optional(),
};

/**
 * A pointwise evaluation request: a suite's row (or one side of a pairwise row) rendered with the judge's template.
 * - written by: the evaluate step, `iter-K/evaluate/requests/data/requests.jsonl`
 * - read by: generate.py (the `evaluate` and `evaluate-baselines` jobs)
 */
export const EvalRequest = GenerationRequest.extend(EvalFields);
export type EvalRequest = z.infer<typeof EvalRequest>;

/**
 * A relative (A/B) request: one pair of a pairwise suite in one order, rendered with the pairwise template.
 * - written by: the evaluate step, `iter-K/evaluate/relative/requests/data/requests.jsonl`
 * - read by: generate.py (the `evaluate-relative` job, `choices: A,B`)
 */
export const RelativeRequest = GenerationRequest.extend({
  suite: Id,
  relative_order: z.enum(RELATIVE_ORDERS as [RelativeOrder, ...RelativeOrder[]]),
  /** Whether this is the pair's seeded first order (core/evaluation/relative.ts `relativeOrders`). */
  relative_first: z.boolean(),
  gold_tie: z.literal(true).optional(),
});
export type RelativeRequest = z.infer<typeof RelativeRequest>;

/**
 * Fields a judge-side request carries so that its result maps back to the judgment it is about. (generate.py
 * writes its own `sample_index` on every output row, so the judged one travels under another name.)
 */
export const JudgedRef = z.object({
  judged_request_id: Id,
  judged_sample_index: SampleIndex,
  judged_score: z.number(),
});
export type JudgedRef = z.infer<typeof JudgedRef>;

/**
 * A meta-judge request: the judged input and one of its judgments, rendered with the meta template.
 * - written by: the meta-judge step, `iter-K/meta-judge/requests/data/requests.jsonl`
 * - read by: generate.py (the `meta-judge` job)
 */
export const MetaRequest = GenerationRequest.extend(JudgedRef.shape);
export type MetaRequest = z.infer<typeof MetaRequest>;

/**
 * A re-score request: the sampled request's prompt with the assistant turn prefilled up to the score.
 * - written by: the consistency step, `iter-K/consistency/requests/data/requests.jsonl`
 * - read by: generate.py (the `consistency` job)
 */
export const RescoreRequest = GenerationRequest.extend({ ...JudgedRef.shape, assistant_prefix: z.string() });
export type RescoreRequest = z.infer<typeof RescoreRequest>;

// ------------------------------------------------------------------------------------------ job outputs

/**
 * What generate.py writes per sample: the request's fields except `messages`, plus the judgment.
 * - written by: generate.py, `<job>/model/judgments.jsonl` (the sample job: `iter-K/sample/job/model/`)
 * - read by: the score step; the evaluate step (its baselines job's output)
 */
export const RawJudgment = z.looseObject({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  text: ModelText,
  seed: z.number().int(),
  prompt_hash: z.string(),
  template_hash: z.string().optional(),
  gold_score: z.number().optional(),
  logprob: z.number().optional(),
  marker_source: z.enum(MARKER_SOURCES).optional(),
  completion_ids: TokenIds.optional(),
  prompt_ids_sha256: z.string().optional(),
});
export type RawJudgment = z.infer<typeof RawJudgment>;

/**
 * A row of the pointwise evaluation job's output: an evaluation request's fields plus the judgment.
 * - written by: generate.py, `iter-K/evaluate/job/model/judgments.jsonl`
 * - read by: the evaluate step (its metrics part)
 */
export const EvalOutputRow = RawJudgment.extend(EvalFields);
export type EvalOutputRow = z.infer<typeof EvalOutputRow>;

/**
 * What the relative job writes per request (the request's fields except `messages`, plus the verdict text).
 * - written by: generate.py, `iter-K/evaluate/relative/job/model/judgments.jsonl`
 * - read by: the evaluate step (its metrics part)
 */
export const RelativeOutputRow = z.object({
  request_id: Id,
  example_id: Id,
  suite: Id,
  prompt_hash: z.string(),
  template_hash: z.string().optional(),
  relative_order: z.enum(RELATIVE_ORDERS as [RelativeOrder, ...RelativeOrder[]]),
  relative_first: z.boolean(),
  gold_tie: z.boolean().optional(),
  text: ModelText,
  seed: z.number(),
});
export type RelativeOutputRow = z.infer<typeof RelativeOutputRow>;

/**
 * A row of a judge-side job's output: the judged judgment's reference and what the judge wrote about it.
 * - written by: generate.py, `iter-K/meta-judge/job/model/judgments.jsonl` and
 *   `iter-K/consistency/job/model/judgments.jsonl` (the request's fields except `messages`, plus `text`)
 * - read by: the meta-judge step (one row per rating sample) and the consistency step
 */
export const JudgedOutput = JudgedRef.extend({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  text: ModelText,
});
export type JudgedOutput = z.infer<typeof JudgedOutput>;

/**
 * A row of a training job's `metrics.jsonl`: one optimizer step (its other logged values are not read). A
 * metric that was NaN or infinite is `null` (jobs/judgeloop_jobs/training.py `finite`).
 * - written by: train_dpo.py, train_sft.py, `<job>/output/metrics.jsonl`
 * - read by: the train and warm-start steps (the step count and the last values)
 */
export const TrainingMetricsRow = z.looseObject({
  step: z.number().optional(),
  loss: z.number().nullable().optional(),
  'rewards/accuracies': z.number().nullable().optional(),
  'rewards/margins': z.number().nullable().optional(),
});
export type TrainingMetricsRow = z.infer<typeof TrainingMetricsRow>;

// -------------------------------------------------------------------------------------------- step outputs

/** The fields of a scored judgment (a canonical judgment, core/data/records.ts, plus its request's). */
const ScoredJudgmentFields = z.object({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  model_id: Id,
  prompt_hash: z.string(),
  template_hash: z.string().optional(),
  text: z.string(),
  rationale: z.string().optional(),
  score: z.number().int().optional(),
  status: z.enum(JUDGMENT_STATUSES),
  reason: z.string().optional(),
  seed: z.number().int(),
  marker_source: z.enum(MARKER_SOURCES).optional(),
  completion_ids: TokenIds.optional(),
  prompt_ids_sha256: z.string().optional(),
  gold_score: z.number().optional(),
  logprob: z.number().optional(),
});

/** A parsed judgment has a score, an unparseable one has none (records.ts `Judgment`'s rule). */
function scoreMatchesStatus(j: { status: string; score?: number }, ctx: z.core.$RefinementCtx): void {
  if (j.status === 'ok' && j.score === undefined) ctx.addIssue({ code: 'custom', path: ['score'], message: 'required when status is "ok"' });
  if (j.status === 'unparseable' && j.score !== undefined) ctx.addIssue({ code: 'custom', path: ['score'], message: 'must be absent when status is "unparseable"' });
}

/**
 * A sampled judgment, parsed into (rationale, score) or marked unparseable with its reason, with its request's
 * id and gold score.
 * - written by: the score step, `iter-K/score/data/judgments.jsonl`
 * - read by: the pair step (joined with the requests); the meta-judge and consistency steps (`SampledJudgment`)
 */
export const ScoredJudgment = ScoredJudgmentFields.superRefine(scoreMatchesStatus);
export type ScoredJudgment = z.infer<typeof ScoredJudgment>;

/**
 * What the judge-side steps read from each sampled judgment: the score step's judgments, or a generation job's
 * raw output (both carry these fields); `text` is parsed again with the judge's scale and marker.
 * - read by: the meta-judge and consistency steps (`JudgeSideInput.judgmentsUri`)
 */
export const SampledJudgment = z.object({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  text: ModelText,
});
export type SampledJudgment = z.infer<typeof SampledJudgment>;

/**
 * One parsed sampled judgment, as both judge-side steps build their requests from it. Not a file of its own:
 * what `SampledJudgment` rows become once their text parses.
 */
export const ParsedSample = z.object({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  rationale: z.string(),
  score: z.number(),
});
export type ParsedSample = z.infer<typeof ParsedSample>;

/**
 * A judgment's rating by the meta-judge: the mean of its parsed sampled ratings.
 * - written by: the meta-judge step, `iter-K/meta-judge/data/ratings.jsonl`
 * - read by: the pair step (`metaRatingsUri`), through core/pairing/pairing.ts `parseMetaRatingRow`, which
 *   accepts the wider side-table contract of docs/CONTRACTS.md (tables written by other tools too)
 */
export const MetaRating = z.object({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  meta_score: z.number().nullable(),
  meta_status: z.enum(['ok', 'unparseable']),
  /** Every parsed rating (ratingSamples per judgment; fewer when some did not parse). */
  ratings: z.array(z.number()).optional(),
  reason: z.string().optional(),
});
export type MetaRating = z.infer<typeof MetaRating>;

/**
 * A sampled judgment's greedy re-score from its own rationale.
 * - written by: the consistency step, `iter-K/consistency/data/rescores.jsonl`
 * - read by: the pair step (`consistencyUri`), through core/pairing/pairing.ts `parseConsistencyRow` (the
 *   side-table contract of docs/CONTRACTS.md)
 */
export const Rescore = z.object({
  request_id: Id,
  example_id: Id,
  sample_index: SampleIndex,
  /** The sampled judgment's own score. */
  score: z.number(),
  /** The greedy re-score of its rationale; null when the output did not parse (then not consistent). */
  rescore: z.number().nullable(),
  consistent: z.boolean(),
});
export type Rescore = z.infer<typeof Rescore>;

/**
 * A scored evaluation judgment: a scored judgment plus the evaluation request's fields.
 * - written by: the evaluate step, `iter-K/evaluate/metrics/judgments.jsonl`
 * - read by: the evaluate step of a later iteration (iteration 0's, for the paired comparison);
 *   `judgeloop review export` (core/review/human-review.ts `reviewJudgmentRow`)
 */
export const EvalJudgment = ScoredJudgmentFields.extend(EvalFields).superRefine(scoreMatchesStatus);
export type EvalJudgment = z.infer<typeof EvalJudgment>;

/**
 * A parsed relative judgment (the verdict of one A/B request).
 * - written by: the evaluate step, `iter-K/evaluate/metrics/relative-judgments.jsonl`
 * - read by: people and tools (the metrics are computed as it is written)
 */
export const RelativeJudgment = z.object({
  request_id: Id,
  example_id: Id,
  suite: Id,
  model_id: Id,
  prompt_hash: z.string(),
  template_hash: z.string().optional(),
  text: z.string(),
  seed: z.number(),
  relative_order: z.enum(RELATIVE_ORDERS as [RelativeOrder, ...RelativeOrder[]]),
  relative_first: z.boolean(),
  status: z.enum(['ok', 'unparseable']),
  rationale: z.string().optional(),
  verdict: z.enum(['A', 'B']).optional(),
  /** The response the verdict picks; null when unparseable. */
  picked: z.enum(['chosen', 'rejected']).nullable(),
  reason: z.string().optional(),
  gold_tie: z.literal(true).optional(),
});
export type RelativeJudgment = z.infer<typeof RelativeJudgment>;

/**
 * One SFT example of the warm start: the judge's prompt for a row and a reference judgment as its answer.
 * - written by: the warm-start step, `iter-0/warm-start/examples/data/examples.jsonl`
 * - read by: train_sft.py (its `pairs` channel; docs/CONTRACTS.md)
 */
export const SftExample = z.object({
  example_id: Id,
  prompt: z.array(PromptMessage),
  completion: z.string(),
});
export type SftExample = z.infer<typeof SftExample>;

/**
 * A dataset row the prepare step refused, with its reason.
 * - written by: the prepare step, `data/<dataset>/quarantine.jsonl`
 * - read by: people (the run summary's `quarantineUri` points to it)
 */
export const QuarantinedRow = z.object({
  index: z.number().int().nonnegative(),
  /** 1-based line of a JSONL source (absent for a .json array, whose rows are counted by index). */
  line: z.number().int().positive().optional(),
  reason: z.string(),
  row: z.unknown().optional(),
});
export type QuarantinedRow = z.infer<typeof QuarantinedRow>;

/**
 * The parts of the evaluate step's `report.json` the report step and the CLI use. Read without a row check:
 * the report must render from an old or hand-edited file too, so each shape used is checked where it is
 * used (core/run/evaluation-detail.ts, activities/steps/report.ts) and what does not fit is skipped.
 * - written by: the evaluate step, `iter-K/evaluate/metrics/report.json`
 * - read by: the report step and `judgeloop results`/`report` (each suite's detail, which the workflow's
 *   payloads leave out; the primary gold column's matrix and notes)
 */
export const EvaluationReportFile = z.looseObject({
  suites: z.record(z.string(), z.object({ confusion: z.unknown().optional(), scoreDistribution: z.unknown().optional() })).optional(),
  /** Per pointwise suite: core/evaluation/grouped-metrics.ts GroupedPointwiseMetrics. */
  detail: z
    .record(
      z.string(),
      z.object({
        goldColumns: z.unknown().optional(),
        overall: z
          .object({
            golds: z
              .record(z.string(), z.object({ confusion: z.unknown().optional(), scoreDistribution: z.unknown().optional(), notes: z.unknown().optional() }))
              .optional(),
          })
          .optional(),
      }),
    )
    .optional(),
});
export type EvaluationReportFile = z.infer<typeof EvaluationReportFile>;

/**
 * `iter-K/summary.json`: an iteration's IterationSummary (run-types.ts), written by the run as the iteration
 * ends and read back by the report step and the CLI. Checked for the fields that place it; the rest is the
 * summary as the run wrote it.
 */
export const IterationSummaryFile = z.looseObject({
  iteration: z.number().int().nonnegative(),
  modelUri: z.string(),
  eval: z.record(z.string(), z.looseObject({ kind: z.string() })),
});

// ------------------------------------------------------------------------------------------- row checks

/** Every format whose rows a step checks on reading, by the name messages use. */
export const ROW_FORMATS = {
  'generation request': GenerationRequest,
  'generation request (as the pair step reads it)': PairedRequest,
  'raw judgment': RawJudgment,
  'evaluation output row': EvalOutputRow,
  'relative output row': RelativeOutputRow,
  'judge-side output row': JudgedOutput,
  'training metrics row': TrainingMetricsRow,
  'scored judgment': ScoredJudgment,
  'sampled judgment': SampledJudgment,
  'evaluation judgment': EvalJudgment,
} as const;
export type RowFormatName = keyof typeof ROW_FORMATS;
export type RowOf<N extends RowFormatName> = z.output<(typeof ROW_FORMATS)[N]>;

type Fields = Record<string, unknown>;
const isFields = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown) => typeof v === 'string' && v !== '';
// zod's int() is a safe integer, and its number() a finite one.
const isInt = (v: unknown) => Number.isSafeInteger(v);
const isIndex = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const optString = (v: unknown) => v === undefined || typeof v === 'string';
const optNumber = (v: unknown) => v === undefined || Number.isFinite(v);
const optMarker = (v: unknown) => v === undefined || (MARKER_SOURCES as readonly unknown[]).includes(v);
function optTokenIds(v: unknown): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v)) return false;
  for (const id of v) if (!isIndex(id)) return false;
  return true;
}

/** The raw judgment's fast check (a generation job's output row); the evaluation output row extends it. */
function isRawJudgment(v: unknown): v is Fields {
  return (
    isFields(v) &&
    isId(v.request_id) &&
    isId(v.example_id) &&
    isIndex(v.sample_index) &&
    isInt(v.seed) &&
    typeof v.prompt_hash === 'string' &&
    optString(v.template_hash) &&
    optNumber(v.gold_score) &&
    optNumber(v.logprob) &&
    optMarker(v.marker_source) &&
    optTokenIds(v.completion_ids) &&
    optString(v.prompt_ids_sha256)
  );
}

/** A record of finite numbers (zod's `record(string(), number())`). */
function optNumberRecord(v: unknown): boolean {
  if (v === undefined) return true;
  if (!isFields(v)) return false;
  for (const n of Object.values(v)) if (!Number.isFinite(n)) return false;
  return true;
}

/**
 * Hand-written checks for the formats read on the hot path (every sampled judgment of an iteration, often
 * 100k rows and more, read by the score step and again by the pair step). Each is true only for a row its
 * schema accepts, so such a row skips zod; every other row goes through the schema, which gives the reason
 * (or accepts a row the fast check was too strict for). Why: with zod alone on every row, `npm run bench`
 * (bench/data-steps.ts, 160k judgments) ran the score step 10-20% slower and the pair step's peak memory
 * nearly doubled (zod copies every row it parses); with these checks both are as before. No fast check may
 * accept a row its schema refuses: test/unit/step-formats.test.ts holds them to it.
 */
const FAST_CHECKS: Partial<Record<RowFormatName, (v: unknown) => boolean>> = {
  'raw judgment': (v) => isRawJudgment(v),
  // Every evaluation judgment, read by the evaluation's metric step.
  'evaluation output row': (v) =>
    isRawJudgment(v) &&
    isId(v.suite) &&
    (v.side === undefined || v.side === 'chosen' || v.side === 'rejected') &&
    optString(v.group) &&
    optNumberRecord(v.golds) &&
    (v.gold_tie === undefined || v.gold_tie === true),
  'scored judgment': (v) =>
    isFields(v) &&
    isId(v.request_id) &&
    isId(v.example_id) &&
    isIndex(v.sample_index) &&
    isId(v.model_id) &&
    typeof v.prompt_hash === 'string' &&
    optString(v.template_hash) &&
    typeof v.text === 'string' &&
    optString(v.rationale) &&
    ((v.status === 'ok' && isInt(v.score)) || (v.status === 'unparseable' && v.score === undefined)) &&
    optString(v.reason) &&
    isInt(v.seed) &&
    optMarker(v.marker_source) &&
    optTokenIds(v.completion_ids) &&
    optString(v.prompt_ids_sha256) &&
    optNumber(v.gold_score) &&
    optNumber(v.logprob),
};

/** The hot path's fast check of a format, if it has one (for the test that holds it to its schema). */
export function fastCheckOf(format: RowFormatName): ((v: unknown) => boolean) | undefined {
  return FAST_CHECKS[format];
}

/**
 * Checks one row against its format. On success the row is returned as it was read (the schemas transform
 * nothing); on failure the reason names every offending field (`sample_index: required (expected number)`),
 * with core/data/records.ts's wording.
 */
export function checkRow<N extends RowFormatName>(format: N, value: unknown): ValidationResult<RowOf<N>> {
  if (FAST_CHECKS[format]?.(value)) return { ok: true, record: value as RowOf<N> };
  const checked = validateWith(ROW_FORMATS[format] as z.ZodType, value);
  return checked.ok ? { ok: true, record: value as RowOf<N> } : checked;
}

/** Who wrote a file, for what to do about a broken row in it. */
export type RowWriter = { job: string } | { step: string };

/**
 * The message for a broken row: the file, the row, what is wrong, and what to do. A job's broken output is
 * not fixed by a retry; a step's output that does not fit its format was changed or corrupted in S3.
 */
export function brokenRowMessage(uri: string, row: number, format: RowFormatName, reason: string, writer: RowWriter): string {
  const what =
    'job' in writer
      ? `the ${writer.job} job wrote a broken row; rerun the job (delete its outputs, then reset the run to this iteration)`
      : `the ${writer.step} step does not write such a row, so the object was changed or corrupted; delete the step's outputs (with its manifest.json), then reset the run to this iteration`;
  return `${uri}: row ${row} is not a valid ${format}: ${reason}. ${what[0].toUpperCase()}${what.slice(1)}`;
}
