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
import { z } from 'zod';
import { validatePairwiseExample, type PairwiseExample } from '../records';
import { readSource, sourceRow, text } from './source-schema';
import { checkIndex, describeValue, fail, generatedId, type AdapterOptions, type AdapterResult, type PairwiseAdapter } from './types';

export type PandalmLabel = 0 | 1 | 2;

/** The label given by at least two of the three annotators, or undefined when all three differ. */
export function majorityLabel(labels: readonly PandalmLabel[]): { label: PandalmLabel; votes: number } | undefined {
  let best: { label: PandalmLabel; votes: number } | undefined;
  for (const label of [0, 1, 2] as const) {
    const votes = labels.filter((l) => l === label).length;
    if (votes * 2 > labels.length && (!best || votes > best.votes)) best = { label, votes };
  }
  return best;
}

function annotatorLabel(field: string) {
  return z.literal([0, 1, 2], { error: (iss) => `${field}: expected 0 (tie), 1 or 2 (the better response), got ${describeValue(iss.input)}` });
}

/** A published PandaLM row: the instruction and the three labels (read first: the majority decides the rest). */
const PandalmLabels = sourceRow({
  instruction: text('instruction'),
  input: text('input').nullish(),
  annotator1: annotatorLabel('annotator1'),
  annotator2: annotatorLabel('annotator2'),
  annotator3: annotatorLabel('annotator3'),
});

/** A response: text, or the boolean a JSON writer made of the text "True"/"False" (read back as that text). */
function response(field: 'response1' | 'response2') {
  return z.union(
    [z.boolean(), z.string().refine((v) => v.trim() !== '', { error: `${field}: the response is empty (an empty response cannot be judged as text)` })],
    { error: (iss) => `${field}: expected a string, got ${describeValue(iss.input)}` },
  );
}

/** The row's two responses, read once its labels have a majority. */
const PandalmResponses = z.looseObject({ response1: response('response1'), response2: response('response2') });

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
      const read = readSource(PandalmLabels, raw);
      if (!read.ok) return read;
      const row = read.record;
      const labels: PandalmLabel[] = [row.annotator1, row.annotator2, row.annotator3];
      const majority = majorityLabel(labels);
      if (!majority) return fail(`annotator1..annotator3: no majority label (the three annotators gave ${labels.join(', ')})`);
      const responses = readSource(PandalmResponses, raw);
      if (!responses.ok) return responses;
      const coerced: string[] = [];
      const [r1, r2] = (['response1', 'response2'] as const).map((field) => {
        const v = responses.record[field];
        if (typeof v !== 'boolean') return v;
        coerced.push(field);
        return v ? 'True' : 'False';
      });
      const instruction = [row.instruction, typeof row.input === 'string' ? row.input : ''].filter((t) => t.trim() !== '').join('\n\n');
      if (instruction === '') return fail('instruction: empty, and so is input (nothing to judge the responses against)');
      const [chosen, rejected] = majority.label === 2 ? [r2, r1] : [r1, r2];
      const meta: Record<string, string | number | number[] | string[]> = {
        source: 'pandalm',
        index,
        annotators: labels,
        label: majority.label,
        agreement: majority.votes,
      };
      for (const f of ['idx', 'cmp_key', 'motivation_app'] as const) {
        const v = row[f];
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
