/**
 * Inference-time baselines from one judge's N samples per item (docs/method.md, "Evaluation protocol"): what the
 * judge would score without any training, only by spending more inference. Reported beside the greedy score
 * so a gain from self-rationalization can be told apart from a gain that sampling alone would give.
 *
 * - `one_sample`: the first sample (index 0), as a single temperature-T draw; unparseable stays unparseable.
 * - `self_consistency`: the most frequent parsed score; a tie between modes goes to the mode closest to the
 *   mean of the parsed scores, then to the lower score (so the choice never depends on sample order).
 * - `mean_of_n`: the mean of the parsed scores (not an integer in general: correlations and MAE use it as is,
 *   exact agreement rounds it half up).
 * - `best_of_n`: the parsed sample with the highest sequence log-probability the generation job recorded
 *   (ties: the lower sample index); samples without a log-probability are not candidates.
 * Each is null when no sample of the item parsed. Pure and deterministic.
 */
import { roundHalfUp } from '../data/adapters/prometheus';

export const BASELINES = ['one_sample', 'self_consistency', 'mean_of_n', 'best_of_n'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface SampledScore {
  sampleIndex: number;
  /** Null when the sample did not parse. */
  score: number | null;
  /** Sequence log-probability; null or absent when the job did not record one. */
  logprob?: number | null;
}

export type BaselineScores = Record<BaselineName, number | null>;

export function selfConsistency(scores: readonly number[]): number | null {
  if (scores.length === 0) return null;
  const counts = new Map<number, number>();
  for (const s of scores) counts.set(s, (counts.get(s) ?? 0) + 1);
  const top = Math.max(...counts.values());
  const modes = [...counts.entries()].filter(([, c]) => c === top).map(([s]) => s);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  modes.sort((a, b) => Math.abs(a - mean) - Math.abs(b - mean) || a - b);
  return modes[0];
}

export function bestOfN(samples: readonly SampledScore[]): number | null {
  let best: SampledScore | null = null;
  for (const s of samples) {
    if (s.score === null || s.logprob == null || !Number.isFinite(s.logprob)) continue;
    if (best === null || s.logprob! > best.logprob! || (s.logprob === best.logprob && s.sampleIndex < best.sampleIndex)) best = s;
  }
  return best?.score ?? null;
}

/** The four baseline scores of one item from its samples (any order; sample indices must be distinct). */
export function baselineScores(samples: readonly SampledScore[]): BaselineScores {
  const ordered = [...samples].sort((a, b) => a.sampleIndex - b.sampleIndex);
  for (let i = 1; i < ordered.length; i++) {
    if (ordered[i].sampleIndex === ordered[i - 1].sampleIndex) {
      throw new RangeError(`baselineScores: sample index ${ordered[i].sampleIndex} appears twice`);
    }
  }
  const parsed = ordered.flatMap((s) => (s.score === null ? [] : [s.score]));
  return {
    one_sample: ordered.length > 0 && ordered[0].sampleIndex === 0 ? ordered[0].score : null,
    self_consistency: selfConsistency(parsed),
    mean_of_n: parsed.length === 0 ? null : parsed.reduce((a, b) => a + b, 0) / parsed.length,
    best_of_n: bestOfN(ordered),
  };
}

/** The score exact agreement compares with the gold: a mean of N is rounded half up, the others are as is. */
export function agreementScore(baseline: BaselineName, score: number | null): number | null {
  return score !== null && baseline === 'mean_of_n' ? roundHalfUp(score) : score;
}
