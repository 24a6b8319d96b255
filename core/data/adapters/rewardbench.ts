/**
 * `rewardbench`: RewardBench rows `{prompt, chosen, rejected, subset, id?}` (also `chosen_model`,
 * `rejected_model`, kept in meta) into pairwise examples. RewardBench's `chosen` is the preferred
 * response, which is what the canonical pair's `chosen` means, so the two map one to one (response A =
 * chosen). The group is the row's `subset` (e.g. `alpacaeval-easy`, `llmbar-natural`); the id is the
 * published `id` when present (a number or a string), else `<idPrefix>-<index>`.
 */
import { validatePairwiseExample, type PairwiseExample } from '../records';
import {
  checkIndex,
  describeValue,
  fail,
  generatedId,
  isPlainObject,
  requireString,
  type AdapterOptions,
  type AdapterResult,
  type PairwiseAdapter,
} from './types';

export function createRewardbenchAdapter(options: AdapterOptions = {}): PairwiseAdapter<'rewardbench'> {
  const prefix = options.idPrefix ?? 'rewardbench';
  return {
    name: 'rewardbench',
    kind: 'pairwise',
    description: 'RewardBench rows {prompt, chosen, rejected, subset, id?}; chosen is the preferred response, subset the group',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      if (!isPlainObject(raw)) return fail(`row must be a JSON object, got ${describeValue(raw)}`);
      const prompt = requireString(raw, 'prompt', { nonEmpty: true });
      if (!prompt.ok) return prompt;
      const chosen = requireString(raw, 'chosen', { nonEmpty: true, what: 'the preferred response' });
      if (!chosen.ok) return chosen;
      const rejected = requireString(raw, 'rejected', { nonEmpty: true, what: 'the dispreferred response' });
      if (!rejected.ok) return rejected;
      const subset = requireString(raw, 'subset', { nonEmpty: true });
      if (!subset.ok) return subset;
      let id = generatedId(prefix, index);
      if (raw.id !== undefined && raw.id !== null) {
        const ok = (typeof raw.id === 'number' && Number.isInteger(raw.id)) || (typeof raw.id === 'string' && raw.id.trim() !== '');
        if (!ok) return fail(`id: expected an integer or a non-empty string, got ${describeValue(raw.id)}`);
        id = String(raw.id);
      }
      const meta: Record<string, string | number> = { source: 'rewardbench', index };
      for (const f of ['chosen_model', 'rejected_model'] as const) {
        const v = raw[f];
        if (typeof v === 'string' && v !== '') meta[f] = v;
      }
      return validatePairwiseExample({
        id,
        instruction: prompt.value,
        chosen: chosen.value,
        rejected: rejected.value,
        subset: subset.value,
        meta,
      });
    },
  };
}
