/**
 * Per-iteration schedules (docs/method.md, "Per-iteration schedules"): `loop.inputsPerIteration`,
 * `loop.samplesPerInput`, `loop.temperature` and each pairing strategy's `margin` are either one number, used
 * by every iteration, or a list with one value per iteration (iteration 1 first; the last value repeats for
 * later iterations). A plain number stays a plain number in the parsed config, so configs written before
 * schedules existed keep their config hash and their steps' input hashes.
 *
 * Pure and deterministic: the schema is part of the run config (validated inside the workflow) and the
 * resolution runs in the sample and pair activities.
 */
import { z } from 'zod';
import type { PairingStrategy } from './config';

/** One value for every iteration, or one per iteration (iteration 1 first; the last repeats). */
export type PerIteration = number | readonly number[];

/**
 * The schema of a per-iteration value whose items follow `item`. A list must hold at least one value; its
 * length is checked against `loop.iterations` by the loop's schema (`checkScheduleLengths`).
 */
export function perIteration<T extends z.ZodType<number>>(item: T, example: string) {
  const shape = `a number, or a list with one value per iteration (e.g. ${example}; the last one repeats)`;
  return z.union([item, z.array(item).min(1, { message: `an empty list: give ${shape}` })], {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const input = issue.input;
      if (Array.isArray(input)) {
        // Name the first value that is wrong and why (zod reports a union failure without the position).
        for (let i = 0; i < input.length; i++) {
          const checked = item.safeParse(input[i]);
          if (!checked.success) return `value ${i + 1} of the list (${JSON.stringify(input[i])}): ${checked.error.issues[0]?.message ?? 'invalid'}`;
        }
      }
      return `expected ${shape}, got ${describe(input)}`;
    },
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return Array.isArray(v) ? 'a list' : 'an object';
  return `${typeof v} ${String(v)}`;
}

/** The value iteration `iteration` (1-based) uses. */
export function valueForIteration(schedule: PerIteration, iteration: number): number {
  if (!Number.isInteger(iteration) || iteration < 1) {
    throw new RangeError(`per-iteration values start at iteration 1 (iteration 0 only evaluates), got ${iteration}`);
  }
  if (typeof schedule === 'number') return schedule;
  if (schedule.length === 0) throw new RangeError('a per-iteration list needs at least one value');
  return schedule[Math.min(iteration, schedule.length) - 1];
}

/** `8`, or `[8, 16]` for a list (for messages and `judgeloop validate`). */
export function formatPerIteration(schedule: PerIteration): string {
  return typeof schedule === 'number' ? String(schedule) : `[${schedule.join(', ')}]`;
}

/** A pairing strategy as one iteration uses it: its margin resolved to that iteration's number. */
export type IterationPairingStrategy = PairingStrategy extends infer S
  ? S extends { margin: unknown }
    ? Omit<S, 'margin'> & { margin: number }
    : never
  : never;

/** The strategies with each margin resolved for `iteration`; a plain-number margin yields the same object. */
export function strategiesForIteration(strategies: readonly PairingStrategy[], iteration: number): IterationPairingStrategy[] {
  return strategies.map((s) =>
    typeof s.margin === 'number' ? (s as IterationPairingStrategy) : ({ ...s, margin: valueForIteration(s.margin, iteration) } as IterationPairingStrategy),
  );
}

/** What a training iteration's sample and pair steps use, resolved from the loop config. */
export interface IterationParameters {
  /** Training inputs drawn (before the training set's size caps it). */
  inputs: number;
  /** N: judgments sampled per input. */
  samplesPerInput: number;
  /** The sampling temperature T. */
  temperature: number;
  /** Pairing strategies with this iteration's margin. */
  strategies: IterationPairingStrategy[];
}

export interface LoopSchedules {
  inputsPerIteration: PerIteration;
  /** The older spelling of a per-iteration input count; when set it wins over `inputsPerIteration`. */
  inputsSchedule?: readonly number[];
  samplesPerInput: PerIteration;
  temperature: PerIteration;
  pairing: { strategies: readonly PairingStrategy[] };
}

/** The number of training inputs iteration `iteration` asks for: `inputsSchedule` when given, else `inputsPerIteration`. */
export function inputsForIteration(loop: Pick<LoopSchedules, 'inputsPerIteration' | 'inputsSchedule'>, iteration: number): number {
  const legacy = loop.inputsSchedule;
  return valueForIteration(legacy && legacy.length > 0 ? legacy : loop.inputsPerIteration, iteration);
}

/** Every per-iteration value of iteration `iteration` (1-based). */
export function iterationParameters(loop: LoopSchedules, iteration: number): IterationParameters {
  return {
    inputs: inputsForIteration(loop, iteration),
    samplesPerInput: valueForIteration(loop.samplesPerInput, iteration),
    temperature: valueForIteration(loop.temperature, iteration),
    strategies: strategiesForIteration(loop.pairing.strategies, iteration),
  };
}

/**
 * Lists longer than `loop.iterations` are refused (a value for an iteration that never runs is a mistake,
 * e.g. a schedule written for more iterations than the config has); an evaluate-only run (0 iterations)
 * uses no schedule and accepts any. Also refuses two per-iteration input counts at once. A LoopConfig
 * superRefine; paths are relative to `loop`.
 */
export function checkScheduleLengths(
  loop: {
    iterations: number;
    inputsPerIteration: PerIteration;
    inputsSchedule?: readonly number[];
    samplesPerInput: PerIteration;
    temperature: PerIteration;
    pairing: { strategies: ReadonlyArray<{ margin: PerIteration }> };
  },
  ctx: z.RefinementCtx,
): void {
  const lists: Array<[Array<string | number>, PerIteration]> = [
    [['inputsPerIteration'], loop.inputsPerIteration],
    [['samplesPerInput'], loop.samplesPerInput],
    [['temperature'], loop.temperature],
    ...loop.pairing.strategies.map((s, i): [Array<string | number>, PerIteration] => [['pairing', 'strategies', i, 'margin'], s.margin]),
  ];
  if (Array.isArray(loop.inputsPerIteration) && loop.inputsSchedule !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['inputsSchedule'],
      message: 'inputsPerIteration is already a list: give the per-iteration input counts once (inputsSchedule is the older spelling)',
    });
  }
  if (loop.iterations === 0) return;
  for (const [path, value] of lists) {
    if (typeof value === 'number' || value.length <= loop.iterations) continue;
    ctx.addIssue({
      code: 'custom',
      path,
      message: `has ${value.length} values but loop.iterations is ${loop.iterations}: at most one value per iteration (the last one repeats)`,
    });
  }
}
