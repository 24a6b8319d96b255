/**
 * `llmbar`: LLMBar rows `{input, output_1, output_2, label: 1|2}` (label = the better output) into
 * pairwise examples `{id, instruction, chosen, rejected, subset}`. The same format is used by LLMBar's
 * processed MT-Bench pairs. Texts are kept exactly as published.
 */
import { z } from 'zod';
import { validatePairwiseExample, type PairwiseExample } from '../records';
import { readSource, sourceRow, text } from './source-schema';
import { checkIndex, describeValue, fail, generatedId, type AdapterOptions, type AdapterResult, type PairwiseAdapter } from './types';

/** A published LLMBar row (the texts may be empty here; which one must not be depends on the label). */
const LlmbarRow = sourceRow({
  input: text('input'),
  output_1: text('output_1'),
  output_2: text('output_2'),
  label: z.literal([1, 2], { error: (iss) => `label: expected 1 or 2 (the better output), got ${describeValue(iss.input)}` }),
});

export function createLlmbarAdapter(options: AdapterOptions = {}): PairwiseAdapter<'llmbar'> {
  const prefix = options.idPrefix ?? options.subset ?? 'llmbar';
  return {
    name: 'llmbar',
    kind: 'pairwise',
    description: 'LLMBar pairs {input, output_1, output_2, label: 1|2}; id <idPrefix|subset>-<index>, subset from the options',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      const read = readSource(LlmbarRow, raw);
      if (!read.ok) return read;
      const row = read.record;
      const label = row.label;
      const [chosen, rejected] = label === 1 ? [row.output_1, row.output_2] : [row.output_2, row.output_1];
      if (row.input === '') return fail('input: must be a non-empty string');
      if (chosen === '') return fail(`output_${label}: must be a non-empty string (it is the chosen output)`);
      if (rejected === '') return fail(`output_${3 - label}: must be a non-empty string (it is the rejected output)`);
      return validatePairwiseExample({
        id: generatedId(prefix, index),
        instruction: row.input,
        chosen,
        rejected,
        ...(options.subset !== undefined ? { subset: options.subset } : {}),
      });
    },
  };
}
