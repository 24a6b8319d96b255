/**
 * `prometheus-hhh`: the Prometheus-2 HHH-alignment set (hhh_alignment_eval.json), rows
 * `{source, chosen_instruction, rejected_instruction}` where each `*_instruction` is a complete absolute-
 * grading prompt (no reference answer) for the same instruction and rubric with a different response.
 * Both prompts are parsed with `parseAbsolutePrompt`; the pair is
 * `{id, instruction, chosen, rejected, subset: source, rubric}` (the group — helpful, harmless, honest,
 * other — is the subset). A row whose two prompts disagree on the instruction or the rubric, or whose two
 * responses are the same text, is refused.
 */
import { validatePairwiseExample, type PairwiseExample } from '../records';
import { parseAbsolutePrompt, type ParsedAbsolutePrompt } from './prometheus';
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

function parseSide(row: Record<string, unknown>, field: 'chosen_instruction' | 'rejected_instruction'): AdapterResult<ParsedAbsolutePrompt> {
  const text = requireString(row, field, { nonEmpty: true, what: 'a complete absolute-grading prompt' });
  if (!text.ok) return text;
  const parsed = parseAbsolutePrompt(text.value);
  return parsed.ok ? parsed : fail(`${field}: ${parsed.reason}`);
}

export function createPrometheusHhhAdapter(options: AdapterOptions = {}): PairwiseAdapter<'prometheus-hhh'> {
  const prefix = options.idPrefix ?? 'hhh';
  return {
    name: 'prometheus-hhh',
    kind: 'pairwise',
    description:
      'Prometheus HHH-alignment pairs {source, chosen_instruction, rejected_instruction}, each a complete absolute-grading prompt; subset = source',
    adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample> {
      const badIndex = checkIndex(index);
      if (badIndex) return fail(badIndex);
      if (!isPlainObject(raw)) return fail(`row must be a JSON object, got ${describeValue(raw)}`);
      const source = requireString(raw, 'source', { nonEmpty: true, what: 'the group: helpful, harmless, honest or other' });
      if (!source.ok) return source;
      const chosen = parseSide(raw, 'chosen_instruction');
      if (!chosen.ok) return chosen;
      const rejected = parseSide(raw, 'rejected_instruction');
      if (!rejected.ok) return rejected;
      const [c, r] = [chosen.record, rejected.record];
      if (c.instruction !== r.instruction) {
        return fail('rejected_instruction: evaluates a different instruction than chosen_instruction');
      }
      if (JSON.stringify(c.rubric) !== JSON.stringify(r.rubric)) {
        return fail('rejected_instruction: has a different score rubric than chosen_instruction');
      }
      if (c.response === r.response) return fail('rejected_instruction: its response is the same text as the chosen one');
      return validatePairwiseExample({
        id: generatedId(prefix, index),
        instruction: c.instruction,
        chosen: c.response,
        rejected: r.response,
        subset: source.value,
        rubric: c.rubric,
        meta: { source: 'prometheus-hhh', index },
      });
    },
  };
}
