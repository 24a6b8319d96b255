/**
 * `prometheus-absolute`: rows whose `instruction` field is a complete Prometheus absolute-grading prompt
 * (the Prometheus-2 evaluation sets vicuna_eval.json / mt_bench_eval.json, and the Feedback Collection /
 * Feedback Bench format):
 *
 *   ###Task Description: ...
 *   ###The instruction to evaluate: <instruction>
 *   ###Response to evaluate: <response>
 *   ###Reference Answer (Score 5): <reference answer>      (optional section)
 *   ###Score Rubrics: [<criteria>] Score 1: ... Score 5: ...
 *   ###Feedback:
 *
 * The sections are parsed back into a canonical pointwise example. Gold: `gpt4_score` (a list of GPT-4
 * gradings, or one number) gives gold_score = its mean rounded half up, `gold.gpt4` = the mean and
 * `meta.gpt4_score` = the list; otherwise `orig_score` (Feedback Collection) gives gold_score and
 * `gold.orig`. A row with neither is refused: the format's point is its label.
 *
 * Reference judgments (reference-judgments.ts), from the gold's grader: each (`gpt4_feedback[i]`,
 * `gpt4_score[i]`), or (`orig_feedback`, `orig_score`), becomes one `{ rationale, score }` in
 * `meta.reference_judgments`, the rationale without a trailing `[RESULT] n`; an unusable one is left out and
 * noted in `meta.reference_judgments_left_out`, the row is kept.
 */
import { z } from 'zod';
import { validatePointwiseExample, type PointwiseExample, type Rubric } from '../records';
import { gpt4ReferenceJudgments, origReferenceJudgments, referenceMeta } from './reference-judgments';
import { intScore, readSource, refuse, sourceRow } from './source-schema';
import { checkIndex, describeValue, fail, generatedId, type AdapterOptions, type AdapterResult, type PointwiseAdapter } from './types';

type SectionName = 'task' | 'instruction' | 'response' | 'reference' | 'rubric' | 'feedback';

/** Section headers, at the start of a line. Tolerant of spacing and case, and of `Rubric`/`Rubrics`. */
const HEADER_RE =
  /^[ \t]*###[ \t]*(Task Description|The instruction to evaluate|Response to evaluate|Reference Answer(?:[ \t]*\(Score 5\))?|Score Rubrics?)[ \t]*:|^[ \t]*###[ \t]*(Feedback)[ \t]*:/gim;

/** The canonical header text per section, for reasons and for tests. */
export const PROMETHEUS_HEADERS: Readonly<Record<SectionName, string>> = {
  task: '###Task Description:',
  instruction: '###The instruction to evaluate:',
  response: '###Response to evaluate:',
  reference: '###Reference Answer (Score 5):',
  rubric: '###Score Rubrics:',
  feedback: '###Feedback:',
};

function sectionOf(label: string): SectionName {
  const l = label.toLowerCase();
  if (l.startsWith('task')) return 'task';
  if (l.startsWith('the instruction')) return 'instruction';
  if (l.startsWith('response')) return 'response';
  if (l.startsWith('reference')) return 'reference';
  if (l.startsWith('score')) return 'rubric';
  return 'feedback';
}

interface HeaderHit {
  section: SectionName;
  start: number;
  end: number;
}

export interface ParsedAbsolutePrompt {
  instruction: string;
  response: string;
  reference_answer?: string;
  rubric: Rubric;
}

/**
 * Parses the rubric section: a criterion (usually in square brackets), then `Score 1:` ... `Score 5:`,
 * each description running to the next `Score k:` line.
 */
export function parseRubricSection(text: string): AdapterResult<Rubric> {
  const scoreRe = /^[ \t]*Score[ \t]*(\d+)[ \t]*:/gim;
  const hits: Array<{ level: number; start: number; end: number }> = [];
  for (let m = scoreRe.exec(text); m !== null; m = scoreRe.exec(text)) {
    hits.push({ level: Number(m[1]), start: m.index, end: m.index + m[0].length });
  }
  if (hits.length === 0) return fail('rubric section has no "Score 1:" ... "Score 5:" descriptions');
  const levels = hits.map((h) => h.level);
  if (levels.join(',') !== '1,2,3,4,5') {
    return fail(`rubric section must describe "Score 1:" to "Score 5:" once each, in order; found ${levels.map((l) => `Score ${l}`).join(', ')}`);
  }
  let criteria = text.slice(0, hits[0].start).trim();
  if (criteria.startsWith('[') && criteria.endsWith(']')) criteria = criteria.slice(1, -1).trim();
  if (!criteria) return fail('rubric section has no criteria before "Score 1:"');
  const descriptions = hits.map((h, i) => text.slice(h.end, i + 1 < hits.length ? hits[i + 1].start : text.length).trim());
  const empty = descriptions.findIndex((d) => d === '');
  if (empty >= 0) return fail(`rubric section: "Score ${empty + 1}:" has an empty description`);
  return {
    ok: true,
    record: {
      criteria,
      score1: descriptions[0],
      score2: descriptions[1],
      score3: descriptions[2],
      score4: descriptions[3],
      score5: descriptions[4],
    },
  };
}

/**
 * Splits a complete absolute-grading prompt into its parts. Section texts are trimmed. Where a header
 * occurs more than once (a response may quote one), the instruction and response headers taken are the
 * first ones, and the reference, rubric and feedback headers the last ones.
 */
export function parseAbsolutePrompt(prompt: string): AdapterResult<ParsedAbsolutePrompt> {
  const hits: HeaderHit[] = [];
  HEADER_RE.lastIndex = 0;
  for (let m = HEADER_RE.exec(prompt); m !== null; m = HEADER_RE.exec(prompt)) {
    hits.push({ section: sectionOf(m[1] ?? m[2]), start: m.index, end: m.index + m[0].length });
  }
  const first = (s: SectionName, after = -1) => hits.find((h) => h.section === s && h.start > after);
  const last = (s: SectionName, after = -1, before = Number.POSITIVE_INFINITY) => {
    const found = hits.filter((h) => h.section === s && h.start > after && h.start < before);
    return found.length ? found[found.length - 1] : undefined;
  };
  const missing = (s: SectionName) => fail(`prompt has no "${PROMETHEUS_HEADERS[s]}" section`);

  const instruction = first('instruction');
  if (!instruction) return missing('instruction');
  const response = first('response', instruction.start);
  if (!response) {
    return first('response') ? fail(`prompt's "${PROMETHEUS_HEADERS.response}" section comes before its instruction`) : missing('response');
  }
  const rubric = last('rubric', response.start);
  if (!rubric) return missing('rubric');
  const reference = last('reference', response.start, rubric.start);
  const feedback = last('feedback', rubric.start);

  const responseEnd = (reference ?? rubric).start;
  const texts = {
    instruction: prompt.slice(instruction.end, response.start).trim(),
    response: prompt.slice(response.end, responseEnd).trim(),
    reference: reference ? prompt.slice(reference.end, rubric.start).trim() : undefined,
    rubric: prompt.slice(rubric.end, feedback ? feedback.start : prompt.length).trim(),
  };
  if (!texts.instruction) return fail(`prompt's "${PROMETHEUS_HEADERS.instruction}" section is empty`);
  if (!texts.response) return fail(`prompt's "${PROMETHEUS_HEADERS.response}" section is empty`);
  const parsedRubric = parseRubricSection(texts.rubric);
  if (!parsedRubric.ok) return parsedRubric;
  return {
    ok: true,
    record: {
      instruction: texts.instruction,
      response: texts.response,
      ...(texts.reference ? { reference_answer: texts.reference } : {}),
      rubric: parsedRubric.record,
    },
  };
}

/** Mean rounded half up (3.5 -> 4). */
export function roundHalfUp(x: number): number {
  return Math.floor(x + 0.5);
}

interface GoldParts {
  gold_score: number;
  gold: Record<string, number>;
  meta: Record<string, number | number[]>;
}

const isIntScore = (s: unknown): s is number => typeof s === 'number' && Number.isInteger(s);

/** `gpt4_score`: GPT-4's integer gradings, a list or one number. */
const Gpt4Scores = z.custom<number | number[]>((v) => isIntScore(v) || (Array.isArray(v) && v.length > 0 && v.every(isIntScore)), {
  error: (iss) => `gpt4_score: expected a non-empty list of integer scores, got ${describeValue(iss.input)}`,
});

/** `orig_score` (Feedback Collection): one integer grading, a number or a string of digits. */
const OrigScore = intScore((got) => `orig_score: expected an integer score, got ${got}`);

/**
 * A published row as this adapter reads it: the complete prompt, parsed into its sections, and GPT-4's
 * gradings. `orig_score` is read only without `gpt4_score` (readGold), so it is not a field here.
 */
const PrometheusRow = sourceRow({
  instruction: z
    .string({ error: (iss) => promptReason(iss.input) })
    .refine((prompt) => prompt.trim() !== '', { error: (iss) => promptReason(iss.input) })
    .transform((prompt, ctx) => {
      const parsed = parseAbsolutePrompt(prompt);
      return parsed.ok ? parsed.record : refuse(ctx, prompt, parsed.reason);
    }),
  gpt4_score: Gpt4Scores.nullish(),
});

function promptReason(got: unknown): string {
  return `instruction: expected the complete absolute-grading prompt as a non-empty string, got ${describeValue(got)}`;
}

function readGold(row: z.output<typeof PrometheusRow>): AdapterResult<GoldParts> {
  if (row.gpt4_score !== undefined && row.gpt4_score !== null) {
    const scores = typeof row.gpt4_score === 'number' ? [row.gpt4_score] : row.gpt4_score.slice();
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    return { ok: true, record: { gold_score: roundHalfUp(mean), gold: { gpt4: mean }, meta: { gpt4_score: scores } } };
  }
  if (row.orig_score !== undefined && row.orig_score !== null) {
    const orig = readSource(OrigScore, row.orig_score);
    if (!orig.ok) return orig;
    const n = orig.record;
    return { ok: true, record: { gold_score: n, gold: { orig: n }, meta: { orig_score: n } } };
  }
  return fail('no gold score: expected gpt4_score (a list of integer GPT-4 scores) or orig_score');
}

/** Provenance fields copied into meta when present (scalars only). */
const META_FIELDS = ['idx', 'category', 'response_source'] as const;

export function createPrometheusAbsoluteAdapter(options: AdapterOptions = {}): PointwiseAdapter<'prometheus-absolute'> {
  const prefix = options.idPrefix ?? 'prometheus';
  return {
    name: 'prometheus-absolute',
    kind: 'pointwise',
    description:
      'Prometheus absolute-grading rows: "instruction" holds the complete prompt (instruction, response, reference answer, rubric); gold from gpt4_score (rounded mean) or orig_score',
    adaptRow(raw: unknown, index: number): AdapterResult<PointwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      const read = readSource(PrometheusRow, raw);
      if (!read.ok) return read;
      const row = read.record;
      const gold = readGold(row);
      if (!gold.ok) return gold;
      const meta: Record<string, unknown> = { source: 'prometheus-absolute', index };
      for (const f of META_FIELDS) {
        const v = row[f];
        if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) meta[f] = v;
      }
      Object.assign(meta, gold.record.meta);
      // The reference judgments come from the same grader as the gold: GPT-4's, or Feedback Collection's.
      Object.assign(meta, referenceMeta('gpt4' in gold.record.gold ? gpt4ReferenceJudgments(row) : origReferenceJudgments(row)));
      return validatePointwiseExample({
        id: generatedId(prefix, index),
        ...row.instruction,
        gold_score: gold.record.gold_score,
        gold: gold.record.gold,
        meta,
      });
    },
  };
}
