/**
 * Which training inputs an iteration samples (docs/method.md, "Sample": about 5,000 inputs in the first iteration, 500 in
 * later ones). Pure and deterministic: the draw depends only on the ids, the seed and the iteration, never on
 * the order of the file, so a retried or replayed step selects the same inputs.
 */
import { deriveSeed } from '../common/rng';
import { inputsForIteration, type PerIteration } from '../config/per-iteration';

export interface InputSelectionConfig {
  /** Inputs per iteration: one count, or one per iteration (iteration 1 first; the last one repeats). */
  inputsPerIteration: PerIteration;
  /** Per-iteration counts (the older spelling); when given they override inputsPerIteration. */
  inputsSchedule?: readonly number[];
  /** false: an iteration draws only from inputs that no earlier iteration used. */
  reuseInputs: boolean;
  seed: number;
}

/** The number of inputs iteration `iteration` (1-based) asks for. */
export function inputsWanted(config: InputSelectionConfig, iteration: number): number {
  return inputsForIteration(config, iteration);
}

/**
 * Picks `count` ids with the smallest seeded hash: a uniform, seeded sample that needs only the ids in
 * memory and gives each iteration its own draw.
 */
export function selectInputIds(ids: Iterable<string>, count: number, seed: number, iteration: number): Set<string> {
  const keyed = [...ids].map((id) => ({ id, key: deriveSeed(seed, 'inputs', iteration, id) }));
  keyed.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : 1));
  return new Set(keyed.slice(0, count).map((k) => k.id));
}

export interface IterationSelection {
  ids: Set<string>;
  /** What the iteration asked for (the schedule's count). */
  wanted: number;
  /** Inputs earlier iterations used and this one could not draw again (0 when reuse is on). */
  excludedAsUsed: number;
  /** Ids available to draw from. */
  available: number;
}

/**
 * The inputs of iteration `iteration`. Without reuse, the draws of iterations 1..iteration-1 are recomputed
 * (cheap, and it keeps the step free of state carried between iterations) and removed from the pool.
 */
export function selectIterationInputs(ids: readonly string[], config: InputSelectionConfig, iteration: number): IterationSelection {
  const unique = [...new Set(ids)];
  const used = new Set<string>();
  if (!config.reuseInputs) {
    for (let earlier = 1; earlier < iteration; earlier++) {
      const pool = unique.filter((id) => !used.has(id));
      for (const id of selectInputIds(pool, inputsWanted(config, earlier), config.seed, earlier)) used.add(id);
    }
  }
  const pool = unique.filter((id) => !used.has(id));
  const wanted = inputsWanted(config, iteration);
  return { ids: selectInputIds(pool, wanted, config.seed, iteration), wanted, excludedAsUsed: used.size, available: pool.length };
}
