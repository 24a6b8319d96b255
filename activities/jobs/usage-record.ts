/**
 * The usage record a job runner leaves when a job attempt ends (core/run/usage.ts): one JSON object per attempt
 * under `<job output>/_usage/`, rewritten with the same content when a retried activity sees the attempt again.
 */
import { joinUri } from '../../core/run/artifacts';
import { ApplicationFailure } from '@temporalio/common';
import { USAGE_FOLDER, budgetExhausted, locateJob, runPrefixOf, sumUsage, type BudgetLimits, type JobUsage } from '../../core/run/usage';
import type { ListedObject, ObjectStore } from '../storage/object-store';
import type { JobSpec } from './types';

export type AttemptUsage = Omit<JobUsage, 'jobName' | 'entryPoint' | 'iteration' | 'step'>;

export function usageRecordUri(spec: Pick<JobSpec, 'outputUri'>, attempt: string): string {
  return joinUri(spec.outputUri, USAGE_FOLDER, `${attempt}.json`);
}

export async function writeUsageRecord(store: Pick<ObjectStore, 'putJson'>, spec: JobSpec, attempt: AttemptUsage): Promise<JobUsage> {
  const record: JobUsage = {
    jobName: spec.jobName,
    entryPoint: spec.entryPoint,
    ...locateJob(spec.outputUri),
    ...attempt,
  };
  await store.putJson(usageRecordUri(spec, attempt.attempt), record);
  return record;
}

/** Every usage record under a prefix (a run's or an iteration's), oldest first. */
export async function readUsageRecords(store: Pick<ObjectStore, 'list' | 'getJson'>, prefixUri: string): Promise<JobUsage[]> {
  return usageRecordsIn(store, await store.list(prefixUri));
}

/** The usage records among listed objects, oldest first. */
export async function usageRecordsIn(store: Pick<ObjectStore, 'getJson'>, listed: readonly ListedObject[]): Promise<JobUsage[]> {
  const records: JobUsage[] = [];
  for (const o of listed) {
    if (!o.key.endsWith('.json') || !o.key.includes(`/${USAGE_FOLDER}/`)) continue;
    const record = await store.getJson<JobUsage>(o.uri);
    if (record) records.push(record);
  }
  return records.sort((a, b) => (a.finishedAt < b.finishedAt ? -1 : a.finishedAt > b.finishedAt ? 1 : 0));
}

/**
 * The runners' admission check before a job starts (never before adopting one): the run's usage records
 * against budget. Over budget: a non-retryable BudgetExceeded failure that says what to do.
 */
export function budgetAdmission(store: Pick<ObjectStore, 'list' | 'getJson'>, limits: BudgetLimits | undefined) {
  return async (spec: JobSpec): Promise<void> => {
    if (!limits || (limits.maxUsd === undefined && limits.maxJobHours === undefined)) return;
    const runPrefix = runPrefixOf(spec.outputUri);
    if (!runPrefix) return;
    const why = budgetExhausted(limits, sumUsage(await readUsageRecords(store, runPrefix)));
    if (!why) return;
    throw ApplicationFailure.create({
      type: 'BudgetExceeded',
      message:
        `budget spent: ${why}; job ${spec.jobName} (${spec.entryPoint}) was not started. ` +
        `Raise the config's budget and start the run again under the same id (judgeloop run --config FILE --id ${runPrefix.split('/').pop()}): ` +
        'finished steps and jobs are reused, not paid for again.',
      nonRetryable: true,
    });
  };
}
