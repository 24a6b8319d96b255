/**
 * Canonical records (JSONL, one object a line): the datasets' rows, judgments and preference pairs. See
 * docs/CONTRACTS.md. Adapters (core/data/adapters/) turn published formats into these; the other rows the
 * steps and jobs exchange through S3 (requests, raw judgments, ratings...) are core/run/formats.ts.
 *
 * Pure and deterministic: imported by workflow code. Validation errors are one readable string that names
 * the offending field, e.g. `rubric.score3: required (expected string)`.
 *
 * Conventions:
 * - Objects are strict: an unknown key is an error (it is usually a typo such as `goldscore`); free-form
 *   extras belong in `meta`.
 * - An optional field may be absent or `null` (as pandas and many Python writers emit); `null` is read as
 *   absent, and absent keys are not written back.
 */
import { z } from 'zod';

/** Scores on the rubric's Likert scale are integers; the range itself is the run config's concern. */
const IntScore = z.number().int();
const NonEmpty = z.string().min(1, 'must be a non-empty string');
/** Token ids of a tokenizer: a non-empty list of non-negative integers. */
const TokenIds = z.array(z.number().int().nonnegative()).min(1, 'must hold at least one token id');

/** Removes keys whose value is `undefined` (absent optional fields), so records compare and print cleanly. */
function dropUndefined<T extends Record<string, unknown>>(obj: T): T {
  const out = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** An optional field that also accepts `null` and reads it as absent. */
function optional<T extends z.ZodType>(schema: T) {
  return schema
    .nullish()
    .transform((v) => (v === null ? undefined : v) as z.output<T> | undefined)
    .optional();
}

export const SCORE_LEVELS = [1, 2, 3, 4, 5] as const;
export const RUBRIC_SCORE_KEYS = ['score1', 'score2', 'score3', 'score4', 'score5'] as const;
export type RubricScoreKey = (typeof RUBRIC_SCORE_KEYS)[number];

/** A criterion plus one description per score level. */
export const Rubric = z
  .object({
    criteria: NonEmpty,
    score1: NonEmpty,
    score2: NonEmpty,
    score3: NonEmpty,
    score4: NonEmpty,
    score5: NonEmpty,
  })
  .strict();
export type Rubric = z.output<typeof Rubric>;

/** Other gold columns, e.g. `{ "human": 4, "gpt4": 3.67 }`. */
export const GoldColumns = z.record(z.string().min(1), z.number().refine(Number.isFinite, 'must be a finite number'));
export type GoldColumns = z.output<typeof GoldColumns>;

/** Free-form provenance (source, category, original index...). JSON values only. */
export const Meta = z.record(z.string(), z.json());
export type Meta = z.output<typeof Meta>;

/**
 * A judgment written by a strong reference judge (e.g. GPT-4's feedback in the Prometheus data): its
 * rationale, without any trailing result marker, and its integer score. Training data for the warm start
 * (SFT before the loop); the range of the score is the run config's concern, as for `gold_score`.
 */
export const ReferenceJudgment = z
  .object({
    rationale: z.string().refine((s) => s.trim() !== '', 'must be a non-empty string'),
    score: IntScore,
  })
  .strict();
export type ReferenceJudgment = z.output<typeof ReferenceJudgment>;

/**
 * A pointwise example's `meta`: free-form JSON, except the one key with a fixed shape,
 * `reference_judgments` (an array of reference judgments; `null` is read as absent).
 */
export const PointwiseMeta = z
  .object({ reference_judgments: optional(z.array(ReferenceJudgment)) })
  .catchall(z.json())
  .transform(dropUndefined);
export type PointwiseMeta = z.output<typeof PointwiseMeta>;

/** Training/pointwise evaluation example ("absolute grading"). */
export const PointwiseExample = z
  .object({
    id: NonEmpty,
    instruction: NonEmpty,
    response: NonEmpty,
    rubric: Rubric,
    reference_answer: optional(NonEmpty),
    gold_score: optional(IntScore),
    gold: optional(GoldColumns),
    meta: optional(PointwiseMeta),
  })
  .strict()
  .transform(dropUndefined);
export type PointwiseExample = z.output<typeof PointwiseExample>;

/**
 * Pairwise example: `chosen` is the better response (RewardBench/LLMBar style). `tie: true` records a gold
 * tie (PandaLM's label 0): neither response is better, and `chosen`/`rejected` are then only the published
 * order (first, second). `meta` is free-form provenance (source, annotator labels...), as for pointwise.
 */
export const PairwiseExample = z
  .object({
    id: NonEmpty,
    instruction: NonEmpty,
    chosen: NonEmpty,
    rejected: NonEmpty,
    subset: optional(NonEmpty),
    rubric: optional(Rubric),
    tie: optional(z.boolean()),
    meta: optional(Meta),
  })
  .strict()
  .transform(dropUndefined);
export type PairwiseExample = z.output<typeof PairwiseExample>;

export const JUDGMENT_STATUSES = ['ok', 'unparseable'] as const;
export const MARKER_SOURCES = ['model', 'forced', 'absent', 'prefix'] as const;
export type MarkerSource = (typeof MARKER_SOURCES)[number];

/** A parsed judgment whose marker the judge did not write itself counts as parsed, but not as its own. */
export function parsedOnItsOwn(j: { status: string; marker_source?: MarkerSource }): boolean {
  return j.status === 'ok' && j.marker_source !== 'forced';
}

/** Counts scored judgments towards the judge's own parse rate; the score step and each evaluated suite keep one. */
export class OwnParseTally {
  judgments = 0;
  parsedOwn = 0;
  forced = 0;

  add(j: { status: string; marker_source?: MarkerSource }): void {
    this.judgments++;
    if (parsedOnItsOwn(j)) this.parsedOwn++;
    if (j.marker_source === 'forced') this.forced++;
  }

  /** Own parse rate over every judgment counted (0 when none) and the markers decoding forced. */
  figures(): { ownParseRate: number; forcedMarkers: number } {
    return { ownParseRate: this.judgments ? this.parsedOwn / this.judgments : 0, forcedMarkers: this.forced };
  }
}
export type JudgmentStatus = (typeof JUDGMENT_STATUSES)[number];

/**
 * One sampled judgment of one example. An `ok` judgment has a score; an `unparseable` one has none (it is
 * kept and counted, never scored 0) and usually a `reason`.
 */
export const Judgment = z
  .object({
    example_id: NonEmpty,
    sample_index: z.number().int().nonnegative(),
    model_id: NonEmpty,
    prompt_hash: NonEmpty,
    /** sha256 (16 hex) of the prompt template file that rendered the prompt. */
    template_hash: optional(NonEmpty),
    text: z.string(),
    rationale: optional(z.string()),
    score: optional(IntScore),
    status: z.enum(JUDGMENT_STATUSES),
    reason: optional(z.string()),
    seed: z.number().int(),
    /**
     * Who wrote the marker (generate.py): `model` (the judge itself), `forced` (decoding, after the rationale
     * budget), `absent` (free decoding, no marker), `prefix` (the request's assistant prefix). Absent in
     * judgments of jobs that predate it.
     */
    marker_source: optional(z.enum(MARKER_SOURCES)),
    /**
     * The generated token ids as sampled, stop token included (generate.py), and a fingerprint of the prompt
     * ids they followed: DPO trains on these ids, not on a re-tokenization of `text`. Absent where the
     * backend rebuilt tokens from text, after an assistant prefix, and in judgments of older jobs.
     */
    completion_ids: optional(TokenIds),
    prompt_ids_sha256: optional(NonEmpty),
  })
  .strict()
  .superRefine((j, ctx) => {
    if (j.status === 'ok' && j.score === undefined) {
      ctx.addIssue({ code: 'custom', path: ['score'], message: 'required when status is "ok"' });
    }
    if (j.status === 'unparseable' && j.score !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['score'], message: 'must be absent when status is "unparseable"' });
    }
  })
  .transform(dropUndefined);
export type Judgment = z.output<typeof Judgment>;

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export const ChatMessage = z
  .object({
    role: z.enum(CHAT_ROLES),
    content: z.string(),
  })
  .strict();
export type ChatMessage = z.output<typeof ChatMessage>;

/** Pairing strategies of docs/method.md ("Pair"); the schema accepts any non-empty name so new strategies need no change here. */
export const KNOWN_PAIRING_STRATEGIES = ['gold_margin', 'majority_vote', 'meta_judge'] as const;

/** A DPO preference pair in TRL's prompt/chosen/rejected form: prompt as chat messages, completions as text. */
export const PreferencePair = z
  .object({
    example_id: NonEmpty,
    prompt: z.array(ChatMessage).min(1, 'must hold at least one message'),
    chosen: z.string(),
    rejected: z.string(),
    chosen_score: IntScore,
    rejected_score: IntScore,
    strategy: NonEmpty,
    /** The sampled token ids of both judgments and their prompt's fingerprint (all three or none; see Judgment). */
    chosen_ids: optional(TokenIds),
    rejected_ids: optional(TokenIds),
    prompt_ids_sha256: optional(NonEmpty),
  })
  .strict()
  .superRefine((p, ctx) => {
    const carried = [p.chosen_ids, p.rejected_ids, p.prompt_ids_sha256].filter((v) => v !== undefined).length;
    if (carried !== 0 && carried !== 3) {
      ctx.addIssue({ code: 'custom', path: ['chosen_ids'], message: 'chosen_ids, rejected_ids and prompt_ids_sha256 go together (all or none)' });
    }
  });
export type PreferencePair = z.output<typeof PreferencePair>;

/** The reference judgments of a pointwise example (`meta.reference_judgments`); none when absent. */
export function referenceJudgmentsOf(example: Pick<PointwiseExample, 'meta'>): ReferenceJudgment[] {
  return example.meta?.reference_judgments ?? [];
}

/**
 * Why a pointwise example's scores do not fit the run's scale (`judge.scale`), or undefined. Records leave
 * the range to the run config; ingest checks it here, so that a gold score of 7 on a 1-5 scale is
 * quarantined with its reason instead of becoming a label no judgment can match.
 */
export function offScaleReason(example: Pick<PointwiseExample, 'gold_score' | 'meta'>, scale: { min: number; max: number }): string | undefined {
  const range = `${scale.min}..${scale.max} (judge.scale)`;
  if (example.gold_score !== undefined && (example.gold_score < scale.min || example.gold_score > scale.max)) {
    return `gold_score: ${example.gold_score} is outside ${range}`;
  }
  const refs = referenceJudgmentsOf(example);
  const bad = refs.findIndex((r) => r.score < scale.min || r.score > scale.max);
  if (bad >= 0) return `meta.reference_judgments[${bad}].score: ${refs[bad].score} is outside ${range}`;
  return undefined;
}

/** A lone (unpaired) UTF-16 surrogate: JSON can carry one as an escape, no text can. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Where a record holds a string with a lone surrogate (`"\ud800"` without its pair), or undefined. Such a
 * string is valid JSON but no UTF-8 encoder (Python's, a tokenizer's) accepts it, so a job would fail on
 * the row long after ingest; ingest quarantines it instead.
 */
export function loneSurrogateReason(value: unknown, path: PropertyKey[] = []): string | undefined {
  if (typeof value === 'string') {
    const m = LONE_SURROGATE.exec(value);
    if (!m) return undefined;
    const code = m[0].charCodeAt(0).toString(16).toUpperCase();
    return `${formatPath(path)}: holds a lone UTF-16 surrogate (U+${code}) at character ${m.index + 1}, which is not text; fix the program that wrote the file, or drop the row`;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = loneSurrogateReason(value[i], [...path, i]);
      if (r) return r;
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const r = loneSurrogateReason(k, [...path, k]) ?? loneSurrogateReason(v, [...path, k]);
      if (r) return r;
    }
  }
  return undefined;
}

/** Input (pre-validation) shapes, for writers that build records by hand. */
export type PointwiseExampleInput = z.input<typeof PointwiseExample>;
export type PairwiseExampleInput = z.input<typeof PairwiseExample>;
export type JudgmentInput = z.input<typeof Judgment>;
export type PreferencePairInput = z.input<typeof PreferencePair>;

export type RecordKind = 'pointwise' | 'pairwise' | 'judgment' | 'preference-pair';

export const RECORD_SCHEMAS = {
  pointwise: PointwiseExample,
  pairwise: PairwiseExample,
  judgment: Judgment,
  'preference-pair': PreferencePair,
} as const;

export type RecordOf<K extends RecordKind> = z.output<(typeof RECORD_SCHEMAS)[K]>;

export type ValidationResult<T> = { ok: true; record: T } | { ok: false; reason: string };

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `rubric.score3`, `prompt[0].role`, or `(root)`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += (out ? '.' : '') + String(p);
  }
  return out || '(root)';
}

/** One readable line per problem, joined with "; ". Each names its field. */
export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>): string {
  return issues
    .map((issue) => {
      const path = formatPath(issue.path);
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => `"${k}"`).join(', ');
        return `${path}: unknown field${issue.keys.length === 1 ? '' : 's'} ${keys}`;
      }
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Error customisation: name what was missing or mistyped in plain words. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return `required (expected ${iss.expected === 'int' ? 'an integer' : iss.expected})`;
    if (iss.expected === 'int') return `expected an integer, got ${JSON.stringify(iss.input)}`;
    // A number written as text ("4", "four") is the usual slip: show it, so the row can be found and fixed.
    if (iss.expected === 'number' && typeof iss.input === 'string' && iss.input.length <= 40) {
      return `expected number, got string ${JSON.stringify(iss.input)}`;
    }
    return `expected ${iss.expected}, got ${describeType(iss.input)}`;
  }
  if (iss.code === 'invalid_value' && 'values' in iss) {
    return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(iss.input)}`;
  }
  if (iss.code === 'invalid_union') return 'must be a JSON value (string, number, boolean, null, array or object)';
  return undefined;
};

/** Validates `raw` against `schema`; never throws. A failure's `reason` names every offending field. */
export function validateWith<S extends z.ZodType>(schema: S, raw: unknown): ValidationResult<z.output<S>> {
  const parsed = schema.safeParse(raw, { error: errorMap });
  if (parsed.success) return { ok: true, record: parsed.data };
  return { ok: false, reason: formatIssues(parsed.error.issues) };
}

export function validateRecord<K extends RecordKind>(kind: K, raw: unknown): ValidationResult<RecordOf<K>> {
  return validateWith(RECORD_SCHEMAS[kind], raw) as ValidationResult<RecordOf<K>>;
}

export const validatePointwiseExample = (raw: unknown) => validateRecord('pointwise', raw);
export const validatePairwiseExample = (raw: unknown) => validateRecord('pairwise', raw);
export const validateJudgment = (raw: unknown) => validateRecord('judgment', raw);
export const validatePreferencePair = (raw: unknown) => validateRecord('preference-pair', raw);

/**
 * One JSONL line (with the trailing newline) for a record. Keys keep their insertion order and absent
 * optional fields (`undefined`) are dropped, so validated records serialise deterministically.
 */
export function toJsonlLine(record: unknown): string {
  return `${JSON.stringify(record)}\n`;
}
