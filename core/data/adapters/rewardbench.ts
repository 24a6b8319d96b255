/**
 * `rewardbench`: RewardBench rows `{prompt, chosen, rejected, subset, id?}` (also `chosen_model`,
 * `rejected_model`, kept in meta) into pairwise examples. RewardBench's `chosen` is the preferred
 * response, which is what the canonical pair's `chosen` means, so the two map one to one (response A =
 * chosen). The group is the row's `subset` (e.g. `alpacaeval-easy`, `llmbar-natural`); the id is the
 * published `id` when present (a number or a string), else `<idPrefix>-<index>`.
 */
import { z } from 'zod';
import { validatePairwiseExample, type PairwiseExample } from '../records';
import { readSource, sourceRow, text } from './source-schema';
import { checkIndex, describeValue, fail, generatedId, type AdapterOptions, type AdapterResult, type PairwiseAdapter } from './types';

/** A published RewardBench row; `chosen_model`/`rejected_model` are copied into meta when they are text. */
const RewardbenchRow = sourceRow({
  prompt: text('prompt', { nonEmpty: true }),
  chosen: text('chosen', { nonEmpty: true, what: 'the preferred response' }),
  rejected: text('rejected', { nonEmpty: true, what: 'the dispreferred response' }),
  subset: text('subset', { nonEmpty: true }),
  id: z
    .custom<number | string>((v) => (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && v.trim() !== ''), {
      error: (iss) => `id: expected an integer or a non-empty string, got ${describeValue(iss.input)}`,
    })
    .nullish(),
});

export function createRewardbenchAdapter(options: AdapterOptions = {}): PairwiseAdapter<'rewardbench'> {
  const prefix = options.idPrefix ?? 'rewardbench';
  return {
    name: 'rewardbench',
    kind: 'pairwise',
    description: 'RewardBench rows {prompt, chosen, rejected, subset, id?}; chosen is the preferred response, subset the group',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      const read = readSource(RewardbenchRow, raw);
      if (!read.ok) return read;
      const row = read.record;
      const id = row.id !== undefined && row.id !== null ? String(row.id) : generatedId(prefix, index);
      const meta: Record<string, string | number> = { source: 'rewardbench', index };
      for (const f of ['chosen_model', 'rejected_model'] as const) {
        const v = row[f];
        if (typeof v === 'string' && v !== '') meta[f] = v;
      }
      return validatePairwiseExample({
        id,
        instruction: row.prompt,
        chosen: row.chosen,
        rejected: row.rejected,
        subset: row.subset,
        meta,
      });
    },
  };
}
