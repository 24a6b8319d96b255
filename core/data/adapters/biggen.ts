/**
 * `biggen`: BiGGen Bench, joined. A BiGGen instance
 * `{id, capability, task, instance_idx, system_prompt, input, reference_answer, score_rubric{criteria,
 * score1_description … score5_description}}` carries an instruction and a rubric but no graded response
 * (`sample_responses.json` holds the placeholder "Hello World!" and no scores), so instances alone are NOT
 * gradable. A dataset that uses this adapter therefore names two files:
 *
 *   uri   the instances: an object keyed by id (sample_responses.json) or a list/JSONL of rows with `id`;
 *   join  the results: one row per graded response, `{id, response, <score columns>, model_name?}`.
 *
 * Each results row becomes one pointwise example: instruction = the instance's `input` (what BiGGen's own
 * judge prompt uses; the system prompt is not part of it), rubric and reference answer from the instance,
 * response from the row. Score columns: `score` and every `<name>_score` (`human_score`, `gpt4_score`,
 * `prometheus_8x7b_score`, …), each a number or a list of numbers (several gradings; nulls skipped, the
 * mean is taken) → `gold.<name>` (`gold.score` for `score`). gold_score is the first present of
 * human, score, gpt4, then the others by name, rounded half up. The group is `meta.capability` /
 * `meta.task`. The id is `<instance id>:<model_name>` (or `:<index>` without a model name). A row whose id
 * names no instance is refused with that reason (the ingest quarantines it).
 */
import { z } from 'zod';
import { validatePointwiseExample, type PointwiseExample } from '../records';
import { roundHalfUp } from './prometheus';
import { readSource, refuse, sourceRow, text } from './source-schema';
import {
  checkIndex,
  describeValue,
  fail,
  isPlainObject,
  type AdapterOptions,
  type AdapterResult,
  type PointwiseAdapter,
} from './types';

/** The placeholder response of BiGGen's sample_responses.json. */
export const BIGGEN_PLACEHOLDER_RESPONSE = 'Hello World!';

/** Why a dataset with the biggen adapter needs a join file; used by the config check and the ingest. */
export const BIGGEN_JOIN_NEEDED =
  'BiGGen instances alone are not gradable (no model responses and no scores: their response is a placeholder); ' +
  'give the instances file as uri and a results file with rows {id, response, score (or human_score, gpt4_score...), model_name?} as join';

/**
 * The instances table: an object keyed by instance id (sample_responses.json), or a list of instances each
 * with a string `id`. Values are validated per joined row, so one bad instance only fails its own rows.
 */
export function instanceTable(parsed: unknown): AdapterResult<Map<string, unknown>> {
  const table = new Map<string, unknown>();
  if (Array.isArray(parsed)) {
    for (let i = 0; i < parsed.length; i++) {
      const row: unknown = parsed[i];
      if (!isPlainObject(row) || typeof row.id !== 'string' || row.id === '') {
        return fail(`instances[${i}]: expected an object with a string id, got ${isPlainObject(row) ? `id ${describeValue(row.id)}` : describeValue(row)}`);
      }
      if (table.has(row.id)) return fail(`instances[${i}]: duplicate id "${row.id}"`);
      table.set(row.id, row);
    }
    return { ok: true, record: table };
  }
  if (!isPlainObject(parsed)) return fail(`instances: expected an object keyed by id or a list of instances, got ${describeValue(parsed)}`);
  for (const [key, row] of Object.entries(parsed)) {
    if (isPlainObject(row) && row.id !== undefined && row.id !== key) {
      return fail(`instances["${key}"]: its id ${describeValue(row.id)} differs from its key`);
    }
    table.set(key, row);
  }
  return { ok: true, record: table };
}

/**
 * A BiGGen instance, as the join reads it (messages without the `instance "<id>": ` that the join puts
 * before them). `instance_idx` is kept when it is an integer; `reference_answer` when it is not blank.
 */
const BiggenInstance = z.looseObject(
  {
    capability: text('capability', { nonEmpty: true }),
    task: text('task', { nonEmpty: true }),
    input: text('input', { nonEmpty: true }),
    score_rubric: z.looseObject(
      {
        criteria: text('score_rubric.criteria', { nonEmpty: true }),
        score1_description: text('score_rubric.score1_description', { nonEmpty: true }),
        score2_description: text('score_rubric.score2_description', { nonEmpty: true }),
        score3_description: text('score_rubric.score3_description', { nonEmpty: true }),
        score4_description: text('score_rubric.score4_description', { nonEmpty: true }),
        score5_description: text('score_rubric.score5_description', { nonEmpty: true }),
      },
      { error: (iss) => `score_rubric: expected an object, got ${describeValue(iss.input)}` },
    ),
    reference_answer: z.string({ error: (iss) => `reference_answer: expected a string, got ${describeValue(iss.input)}` }).nullish(),
  },
  { error: (iss) => `expected an object, got ${describeValue(iss.input)}` },
);

interface Instance {
  id: string;
  capability: string;
  task: string;
  instance_idx?: number;
  input: string;
  reference_answer?: string;
  rubric: { criteria: string; score1: string; score2: string; score3: string; score4: string; score5: string };
}

function readInstance(id: string, raw: unknown): AdapterResult<Instance> {
  const read = readSource(BiggenInstance, raw);
  if (!read.ok) return fail(`instance "${id}": ${read.reason}`);
  const inst = read.record;
  const rubric = inst.score_rubric;
  const ref = inst.reference_answer;
  const idx = inst.instance_idx;
  return {
    ok: true,
    record: {
      id,
      capability: inst.capability,
      task: inst.task,
      input: inst.input,
      ...(typeof idx === 'number' && Number.isInteger(idx) ? { instance_idx: idx } : {}),
      ...(typeof ref === 'string' && ref.trim() !== '' ? { reference_answer: ref } : {}),
      rubric: {
        criteria: rubric.criteria,
        score1: rubric.score1_description,
        score2: rubric.score2_description,
        score3: rubric.score3_description,
        score4: rubric.score4_description,
        score5: rubric.score5_description,
      },
    },
  };
}

/** `score` → `score`, `human_score` → `human`; other keys are not score columns. */
function scoreColumn(key: string): string | undefined {
  if (key === 'score') return 'score';
  const m = /^([A-Za-z0-9_]+?)_score$/.exec(key);
  return m ? m[1] : undefined;
}

const GOLD_PREFERENCE = ['human', 'score', 'gpt4'];

/** Every score column of a results row: number, or list of numbers (nulls skipped) → its mean. */
export function readScoreColumns(row: Record<string, unknown>): AdapterResult<Record<string, number>> {
  const gold: Record<string, number> = {};
  for (const key of Object.keys(row).sort()) {
    const column = scoreColumn(key);
    const v = row[key];
    if (column === undefined || v === undefined || v === null) continue;
    const list = Array.isArray(v) ? v.filter((x) => x !== null) : [v];
    if (list.length === 0) continue;
    if (!list.every((x): x is number => typeof x === 'number' && Number.isFinite(x))) {
      return fail(`${key}: expected a number or a list of numbers, got ${describeValue(v)}`);
    }
    gold[column] = list.reduce((a, b) => a + b, 0) / list.length;
  }
  return { ok: true, record: gold };
}

/** The column that gives gold_score: human, score, gpt4, then the others by name. */
export function goldColumnOf(gold: Record<string, number>): string | undefined {
  return GOLD_PREFERENCE.find((c) => c in gold) ?? Object.keys(gold).sort()[0];
}

/**
 * A results row, joined: `id` names an instance of `instances` (and is read as that instance), `response` is
 * a graded response. Its score columns (`score`, any `<name>_score`) are read by readScoreColumns.
 */
function biggenRow(instances: ReadonlyMap<string, unknown>) {
  return sourceRow({
    id: text('id', { nonEmpty: true, what: 'a BiGGen instance id' }).transform((id, ctx) => {
      if (!instances.has(id)) return refuse(ctx, id, `id: "${id}" names no instance in the BiGGen instances file (the dataset's uri)`);
      const instance = readInstance(id, instances.get(id));
      return instance.ok ? instance.record : refuse(ctx, id, instance.reason);
    }),
    response: text('response', { nonEmpty: true, what: 'the graded response' }).refine((r) => r !== BIGGEN_PLACEHOLDER_RESPONSE, {
      error: `response: is BiGGen's placeholder "${BIGGEN_PLACEHOLDER_RESPONSE}", not a graded response`,
    }),
  });
}

export function createBiggenAdapter(options: AdapterOptions = {}): PointwiseAdapter<'biggen'> {
  const instances = options.instances;
  const BiggenRow = instances ? biggenRow(instances) : undefined;
  return {
    name: 'biggen',
    kind: 'pointwise',
    description:
      'BiGGen Bench: uri = the instances (keyed by id), join = results rows {id, response, score | human_score | gpt4_score ..., model_name?}; one example per results row, grouped by capability',
    adaptRow(raw: unknown, index: number): AdapterResult<PointwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      if (!BiggenRow) return fail(`no BiGGen instances to join this row to: ${BIGGEN_JOIN_NEEDED}`);
      const read = readSource(BiggenRow, raw);
      if (!read.ok) return read;
      const row = read.record;
      const gold = readScoreColumns(row);
      if (!gold.ok) return gold;
      const goldColumn = goldColumnOf(gold.record);
      if (goldColumn === undefined) return fail('no score: expected score, human_score, gpt4_score or another <name>_score column');
      let model: string | undefined;
      for (const f of ['model_name', 'response_model_name'] as const) {
        const v = row[f];
        if (model === undefined && typeof v === 'string' && v.trim() !== '') model = v;
      }
      const inst = row.id;
      const meta: Record<string, string | number> = {
        source: 'biggen',
        index,
        instance_id: inst.id,
        capability: inst.capability,
        task: inst.task,
        gold_column: goldColumn,
      };
      if (inst.instance_idx !== undefined) meta.instance_idx = inst.instance_idx;
      if (model !== undefined) meta.model_name = model;
      return validatePointwiseExample({
        id: `${inst.id}:${model ?? index}`,
        instruction: inst.input,
        response: row.response,
        rubric: inst.rubric,
        ...(inst.reference_answer !== undefined ? { reference_answer: inst.reference_answer } : {}),
        gold_score: roundHalfUp(gold.record[goldColumn]),
        gold: gold.record,
        meta,
      });
    },
  };
}
