/**
 * Canonical rows (docs/CONTRACTS.md), validated: `canonical` for pointwise examples, `canonical-pairwise`
 * for pairwise examples. The row is the record; only validation (and `null` read as absent) happens. A
 * pointwise row's `meta.reference_judgments`, when present, must be an array of `{ rationale: non-empty
 * string, score: integer }` (core/data/records.ts `ReferenceJudgment`); one bad entry refuses the row.
 */
import { validatePairwiseExample, validatePointwiseExample } from '../records';
import type { PairwiseAdapter, PointwiseAdapter } from './types';

export const canonicalAdapter: PointwiseAdapter<'canonical'> = {
  name: 'canonical',
  kind: 'pointwise',
  description: 'canonical pointwise examples (id, instruction, response, rubric, reference_answer?, gold_score?, gold?, meta?, meta.reference_judgments?: [{rationale, score}])',
  adaptRow: (raw) => validatePointwiseExample(raw),
};

export const canonicalPairwiseAdapter: PairwiseAdapter<'canonical-pairwise'> = {
  name: 'canonical-pairwise',
  kind: 'pairwise',
  description: 'canonical pairwise examples (id, instruction, chosen, rejected, subset?, rubric?)',
  adaptRow: (raw) => validatePairwiseExample(raw),
};
