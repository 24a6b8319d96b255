/**
 * The worker's start-up check of Judgeloop's search attributes in its namespace (core/run/search-attributes.ts):
 * every missing or differently typed one, with the commands that register them, as one warning. Runs work
 * without them, so this never stops the worker; a server that will not list them (permissions) gets a
 * shorter warning.
 */
import type { NativeConnection } from '@temporalio/worker';
import { searchAttributeAdvice, searchAttributeProblems } from '../core/run/search-attributes';

/** The warning to print, or null when the namespace has all of them as they should be. */
export async function searchAttributeWarning(connection: NativeConnection, namespace: string): Promise<string | null> {
  let registered: Record<string, number | string>;
  try {
    const listed = await connection.withDeadline(Date.now() + 5000, () => connection.operatorService.listSearchAttributes({ namespace }));
    registered = (listed.customAttributes ?? {}) as Record<string, number | string>;
  } catch (err) {
    return `could not list the search attributes of namespace ${namespace} (${(err as Error).message.split('\n')[0]}); runs work without them (docs/operations.md, "Search attributes")`;
  }
  const problems = searchAttributeProblems(registered);
  return problems.length ? searchAttributeAdvice(namespace, problems) : null;
}
