/**
 * The usage step: sums the usage records the job runners left under an iteration (core/run/usage.ts) into the
 * iteration's totals, with the data steps copied from an earlier run, and writes them, with every record, to
 * `iter-K/usage.json`.
 */
import { iterationPrefix, joinUri } from '../../core/run/artifacts';
import type { RunConfig } from '../../core/config/config';
import { priceBasis, sumUsage, type UsageTotals } from '../../core/run/usage';
import { usageRecordsIn } from '../jobs/usage-record';
import { storageSettings, type ActivityDeps } from '../context';
import { reusedStepsIn } from '../storage/reuse';

export interface UsageInput {
  /**
   * Where the run's objects are, and the backend whose prices the costs were estimated with (absent in the
   * input of runs started before the usage step read it: their totals have no price basis).
   */
  config: Pick<RunConfig, 'storage'> & Partial<Pick<RunConfig, 'backend'>>;
  runPrefixUri: string;
  iteration: number;
}

export function createUsageActivities(deps: ActivityDeps) {
  return {
    async summarizeUsage(input: UsageInput): Promise<UsageTotals> {
      const store = deps.storeFor(storageSettings(input.config));
      const prefix = iterationPrefix(input.runPrefixUri, input.iteration);
      // One listing of the iteration serves both: the jobs' usage records and the manifests of copied steps.
      const listed = await store.list(prefix);
      const records = await usageRecordsIn(store, listed);
      const reusedSteps = await reusedStepsIn(store, input.runPrefixUri, listed);
      const prices = priceBasis(input.config.backend);
      const totals: UsageTotals = { ...sumUsage(records), ...(reusedSteps.length ? { reusedSteps } : {}), ...(prices ? { prices } : {}) };
      // Rewritten whole by a retried attempt: the same records give the same file.
      await store.putJson(joinUri(prefix, 'usage.json'), { iteration: input.iteration, totals, jobs: records });
      return totals;
    },
  };
}
