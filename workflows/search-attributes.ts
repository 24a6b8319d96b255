/**
 * The run's search attributes, for the Temporal UI's filters and `temporal workflow list --query`:
 * JudgeloopRunName and JudgeloopJudgeName (set at start by the CLI or the schedule), JudgeloopIteration and
 * JudgeloopStatus (kept current here). Upserting an attribute the namespace has not registered fails the
 * workflow task, so they are upserted only when the run was started with JudgeloopRunName, which the
 * starters set only when the namespace has Judgeloop's attributes (cli/start.ts pickSearchAttributes).
 */
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import { patched, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

/** Runs recorded before the attributes were upserted replay without these commands. */
export const SEARCH_ATTRIBUTES_PATCH = 'search-attributes-v1';

const RUN_NAME = defineSearchAttributeKey('JudgeloopRunName', 'KEYWORD');
const ITERATION = defineSearchAttributeKey('JudgeloopIteration', 'INT');
const STATUS = defineSearchAttributeKey('JudgeloopStatus', 'KEYWORD');

export type RunStatus = 'running' | 'awaiting-approval' | 'completed' | 'failed' | 'cancelled';

export function markRun(update: { iteration?: number; status?: RunStatus }): void {
  if (workflowInfo().typedSearchAttributes.get(RUN_NAME) === undefined) return;
  if (!patched(SEARCH_ATTRIBUTES_PATCH)) return;
  const pairs: SearchAttributePair[] = [];
  if (update.iteration !== undefined) pairs.push({ key: ITERATION, value: update.iteration });
  if (update.status !== undefined) pairs.push({ key: STATUS, value: update.status });
  if (pairs.length) upsertSearchAttributes(pairs);
}
