/**
 * `llmbar`: LLMBar rows `{input, output_1, output_2, label: 1|2}` (label = the better output) into
 * pairwise examples `{id, instruction, chosen, rejected, subset}`. The same format is used by LLMBar's
 * processed MT-Bench pairs. Texts are kept exactly as published.
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

export function createLlmbarAdapter(options: AdapterOptions = {}): PairwiseAdapter<'llmbar'> {
  const prefix = options.idPrefix ?? options.subset ?? 'llmbar';
  return {
    name: 'llmbar',
    kind: 'pairwise',
    description: 'LLMBar pairs {input, output_1, output_2, label: 1|2}; id <idPrefix|subset>-<index>, subset from the options',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      if (!isPlainObject(raw)) return fail(`row must be a JSON object, got ${describeValue(raw)}`);
      for (const field of ['input', 'output_1', 'output_2'] as const) {
        if (typeof raw[field] !== 'string') return fail(`${field}: expected a string, got ${describeValue(raw[field])}`);
      }
      const label = raw.label;
      if (label !== 1 && label !== 2) return fail(`label: expected 1 or 2 (the better output), got ${describeValue(label)}`);
      const [chosen, rejected] = label === 1 ? [raw.output_1, raw.output_2] : [raw.output_2, raw.output_1];
      if (raw.input === '') return fail('input: must be a non-empty string');
      if (chosen === '') return fail(`output_${label}: must be a non-empty string (it is the chosen output)`);
      if (rejected === '') return fail(`output_${3 - label}: must be a non-empty string (it is the rejected output)`);
      return validatePairwiseExample({
        id: generatedId(prefix, index),
        instruction: raw.input,
        chosen,
        rejected,
        ...(options.subset !== undefined ? { subset: options.subset } : {}),
      });
    },
  };
}
