/**
 * A run's whole summary from what the run returned. Runs started before `run-summary-in-s3-v1` return their
 * RunSummary; later runs return a RunResult (core/run/run-types.ts), whose iterations' summaries are read here
 * from `iter-K/summary.json`, one object per iteration, and checked against their format.
 */
import { IterationSummaryFile } from '../../core/run/formats';
import { isRunResult, runSummaryFrom, type IterationSummary, type RunOutcome, type RunSummary } from '../../core/run/run-types';
import type { ObjectStore } from './object-store';

/** An iteration summary that is missing or is not the one the result names: a retry will not change it. */
export class IterationSummaryError extends Error {}

export async function readRunSummary(store: Pick<ObjectStore, 'getJson'>, outcome: RunOutcome, beforeRead: () => void = () => undefined): Promise<RunSummary> {
  if (!isRunResult(outcome)) return outcome;
  const iterations: IterationSummary[] = [];
  for (const { iteration, summaryUri } of outcome.iterationResults) {
    beforeRead();
    const file = await store.getJson<unknown>(summaryUri);
    if (file === null) throw new IterationSummaryError(`the summary of iteration ${iteration} of run ${outcome.runId} is missing: ${summaryUri} does not exist`);
    const checked = IterationSummaryFile.safeParse(file);
    if (!checked.success || checked.data.iteration !== iteration) {
      const why = checked.success ? `it is iteration ${checked.data.iteration}'s` : checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new IterationSummaryError(`${summaryUri} is not the summary of iteration ${iteration} of run ${outcome.runId}: ${why}`);
    }
    // The schema checks the fields that place it; the object itself (its keys in the order the run wrote
    // them, which zod's output does not keep) is the IterationSummary the run wrote.
    iterations.push(file as IterationSummary);
  }
  return runSummaryFrom(outcome, iterations);
}
