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
import { parseAbsolutePrompt } from './prometheus';
import { readSource, refuse, sourceRow, text } from './source-schema';
import { checkIndex, fail, generatedId, type AdapterOptions, type AdapterResult, type PairwiseAdapter } from './types';

/** One side of the pair: a complete absolute-grading prompt, parsed into its sections. */
function side(field: 'chosen_instruction' | 'rejected_instruction') {
  return text(field, { nonEmpty: true, what: 'a complete absolute-grading prompt' }).transform((prompt, ctx) => {
    const parsed = parseAbsolutePrompt(prompt);
    return parsed.ok ? parsed.record : refuse(ctx, prompt, `${field}: ${parsed.reason}`);
  });
}

/** A published HHH-alignment row. */
const HhhRow = sourceRow({
  source: text('source', { nonEmpty: true, what: 'the group: helpful, harmless, honest or other' }),
  chosen_instruction: side('chosen_instruction'),
  rejected_instruction: side('rejected_instruction'),
});

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
      const read = readSource(HhhRow, raw);
      if (!read.ok) return read;
      const [c, r] = [read.record.chosen_instruction, read.record.rejected_instruction];
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
        subset: read.record.source,
        rubric: c.rubric,
        meta: { source: 'prometheus-hhh', index },
      });
    },
  };
}
