/**
 * `pandalm`: the PandaLM human-annotated test set (testset-v1.json), rows
 * `{idx, motivation_app, cmp_key, instruction, input, response1, response2, annotator1..annotator3}` with
 * labels 0 = tie, 1 = response1 better, 2 = response2 better. The gold is the majority of the three labels:
 *
 *   1 → chosen = response1, rejected = response2;   2 → chosen = response2, rejected = response1;
 *   0 → a tie: `tie: true`, chosen = response1, rejected = response2 (the published order only).
 *
 * A row whose three labels all differ has no majority and is refused. The instruction is the `instruction`
 * followed by a blank line and the `input`, leaving out whichever is blank (one published row has a blank
 * instruction and its whole task in `input`). `meta` keeps the labels
 * (`annotators`), the majority (`label`), the number of annotators who gave it (`agreement`) and the
 * provenance fields. The published file holds a few responses that a JSON writer turned into the boolean
 * `true` (the model wrote "True"): they are read back as the text "True"/"False" and listed in
 * `meta.coerced`. Empty responses cannot be judged as text and are refused.
 */
import { validatePairwiseExample, type PairwiseExample } from '../records';
import {
  checkIndex,
  describeValue,
  fail,
  generatedId,
  isPlainObject,
  type AdapterOptions,
  type AdapterResult,
  type PairwiseAdapter,
} from './types';

export type PandalmLabel = 0 | 1 | 2;

const ANNOTATORS = ['annotator1', 'annotator2', 'annotator3'] as const;

/** The label given by at least two of the three annotators, or undefined when all three differ. */
export function majorityLabel(labels: readonly PandalmLabel[]): { label: PandalmLabel; votes: number } | undefined {
  let best: { label: PandalmLabel; votes: number } | undefined;
  for (const label of [0, 1, 2] as const) {
    const votes = labels.filter((l) => l === label).length;
    if (votes * 2 > labels.length && (!best || votes > best.votes)) best = { label, votes };
  }
  return best;
}

function readResponse(row: Record<string, unknown>, field: 'response1' | 'response2', coerced: string[]): AdapterResult<string> {
  const v = row[field];
  if (typeof v === 'boolean') {
    coerced.push(field);
    return { ok: true, record: v ? 'True' : 'False' };
  }
  if (typeof v !== 'string') return fail(`${field}: expected a string, got ${describeValue(v)}`);
  if (v.trim() === '') return fail(`${field}: the response is empty (an empty response cannot be judged as text)`);
  return { ok: true, record: v };
}

export function createPandalmAdapter(options: AdapterOptions = {}): PairwiseAdapter<'pandalm'> {
  const prefix = options.idPrefix ?? 'pandalm';
  return {
    name: 'pandalm',
    kind: 'pairwise',
    description:
      'PandaLM test set {instruction, input, response1, response2, annotator1..3: 0 tie|1|2}; gold = the majority label, ties kept as tie: true',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      if (!isPlainObject(raw)) return fail(`row must be a JSON object, got ${describeValue(raw)}`);
      if (typeof raw.instruction !== 'string') return fail(`instruction: expected a string, got ${describeValue(raw.instruction)}`);
      if (raw.input !== undefined && raw.input !== null && typeof raw.input !== 'string') {
        return fail(`input: expected a string, got ${describeValue(raw.input)}`);
      }
      const labels: PandalmLabel[] = [];
      for (const a of ANNOTATORS) {
        const l = raw[a];
        if (l !== 0 && l !== 1 && l !== 2) return fail(`${a}: expected 0 (tie), 1 or 2 (the better response), got ${describeValue(l)}`);
        labels.push(l);
      }
      const majority = majorityLabel(labels);
      if (!majority) return fail(`annotator1..annotator3: no majority label (the three annotators gave ${labels.join(', ')})`);
      const coerced: string[] = [];
      const r1 = readResponse(raw, 'response1', coerced);
      if (!r1.ok) return r1;
      const r2 = readResponse(raw, 'response2', coerced);
      if (!r2.ok) return r2;
      const instruction = [raw.instruction, typeof raw.input === 'string' ? raw.input : ''].filter((t) => t.trim() !== '').join('\n\n');
      if (instruction === '') return fail('instruction: empty, and so is input (nothing to judge the responses against)');
      const [chosen, rejected] = majority.label === 2 ? [r2.record, r1.record] : [r1.record, r2.record];
      const meta: Record<string, string | number | number[] | string[]> = {
        source: 'pandalm',
        index,
        annotators: labels,
        label: majority.label,
        agreement: majority.votes,
      };
      for (const f of ['idx', 'cmp_key', 'motivation_app'] as const) {
        const v = raw[f];
        if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) meta[f] = v;
      }
      if (coerced.length) meta.coerced = coerced;
      return validatePairwiseExample({
        id: generatedId(prefix, index),
        instruction,
        chosen,
        rejected,
        ...(options.subset !== undefined ? { subset: options.subset } : {}),
        ...(majority.label === 0 ? { tie: true } : {}),
        meta,
      });
    },
  };
}
