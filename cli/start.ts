/**
 * Starting a run: the workflow id, the memo (config hash), search attributes when the server has them
 * registered, and the start call itself. The run workflow's only argument is the raw config JSON.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import { RUN_WORKFLOW } from '../core/run/run-types';
import { CliError, workflowUrl, type Connected } from './connection';
import type { LoadedConfig } from './config-file';
import { resumeHint } from './format';
import { firstLine } from '../core/common/errors';
import { isRegisteredAs } from '../core/run/search-attributes';

/** `judgeloop-<config.name>-<UTC yyyymmdd-hhmmss>` */
export function defaultWorkflowId(runName: string, now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}` +
    `-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
  return `judgeloop-${runName}-${stamp}`;
}

/**
 * Custom search attributes the CLI sets at start when the namespace has them (Keyword type). The dev server
 * registers none by default, and starting a workflow with an unregistered attribute fails, so each is set
 * only if it is registered (e.g. `temporal server start-dev --search-attribute JudgeloopRunName=Keyword`).
 * The iteration attribute is the workflow's to upsert.
 */
export const START_SEARCH_ATTRIBUTES = {
  runName: 'JudgeloopRunName',
  judgeName: 'JudgeloopJudgeName',
} as const;

/**
 * The search attribute pairs to send, given the namespace's registered custom attributes (name → indexed
 * value type, as ListSearchAttributes returns them). Unregistered or differently typed ones are left out.
 */
export function pickSearchAttributes(
  registered: Record<string, number | string>,
  values: { runName: string; judgeName: string },
): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [];
  for (const field of ['runName', 'judgeName'] as const) {
    const name = START_SEARCH_ATTRIBUTES[field];
    if (isRegisteredAs(registered, name, 'Keyword')) pairs.push({ key: defineSearchAttributeKey(name, 'KEYWORD'), value: values[field] });
  }
  return pairs;
}

export async function registeredSearchAttributes(conn: Connected): Promise<Record<string, number>> {
  try {
    const res = await conn.connection.withDeadline(Date.now() + 3000, () =>
      conn.connection.operatorService.listSearchAttributes({ namespace: conn.options.namespace }),
    );
    return (res.customAttributes ?? {}) as Record<string, number>;
  } catch {
    return {}; // cannot tell: set none rather than risk failing the start
  }
}

export interface StartedRun {
  workflowId: string;
  runId: string;
  url: string;
  configHash: string;
  searchAttributes: string[];
}

export async function startRun(
  conn: Connected,
  loaded: LoadedConfig,
  opts: { workflowId?: string; now?: Date } = {},
): Promise<StartedRun> {
  const workflowId = opts.workflowId ?? defaultWorkflowId(loaded.config.name, opts.now);
  const pairs = pickSearchAttributes(await registeredSearchAttributes(conn), {
    runName: loaded.config.name,
    judgeName: loaded.config.judge.name,
  });
  try {
    const handle = await conn.client.workflow.start(RUN_WORKFLOW, {
      args: [loaded.raw],
      taskQueue: conn.options.taskQueue,
      workflowId,
      memo: { configHash: loaded.configHash },
      ...(pairs.length ? { typedSearchAttributes: pairs } : {}),
    });
    return {
      workflowId,
      runId: handle.firstExecutionRunId,
      url: workflowUrl(conn.options.uiUrl, conn.options.namespace, workflowId),
      configHash: loaded.configHash,
      searchAttributes: pairs.map((p) => p.key.name),
    };
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `a run with id "${workflowId}" is already running; follow it with \`${resumeHint(workflowId)}\`, ` +
          `start it again from an iteration with \`npm run judgeloop -- reset ${workflowId} --iteration K\`, or pass another --id for a new run.`,
      );
    }
    throw new CliError(`could not start the run: ${firstLine(e)}`);
  }
}
