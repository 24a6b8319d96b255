/**
 * `judgeloop reset RUN_ID --iteration K`: restarts a run from iteration K with Temporal's reset. The run's
 * history up to the point where it started iteration K is kept (prepare, earlier iterations, the champion
 * they left); the workflow runs again from there as a new execution of the same workflow id. Steps and jobs
 * that already finished with the same inputs are reused (step manifests, job adoption), not redone.
 */
import { randomUUID } from 'node:crypto';
import type { temporal } from '@temporalio/proto';
import type Long from 'long';
import { iterationWorkflowId } from '../core/run/run-types';
import { EXIT_OK, type ResetCommand } from './args';
import { CliError, connect, workflowUrl } from './connection';
import { println, type OutStream } from './follow';
import { resumeHint } from './format';
import { firstLine } from '../core/common/errors';

type History = temporal.api.history.v1.IHistory;

export interface ResetPoint {
  /** The WorkflowTaskCompleted event whose task started iteration K: the reset re-runs that task. */
  eventId: number;
  iteration: number;
}

/** Where to reset a run's history to start iteration `iteration` again; an error names the iterations it has. */
export function resetPoint(history: History, workflowId: string, iteration: number): ResetPoint {
  const starts = new Map<number, number>();
  for (const e of history.events ?? []) {
    const child = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (!child?.workflowId) continue;
    for (let k = 0; k <= 1000; k++) {
      if (child.workflowId === iterationWorkflowId(workflowId, k)) {
        if (!starts.has(k)) starts.set(k, Number(child.workflowTaskCompletedEventId));
        break;
      }
    }
  }
  const eventId = starts.get(iteration);
  if (eventId === undefined) {
    const known = [...starts.keys()].sort((a, b) => a - b);
    throw new CliError(
      known.length
        ? `run ${workflowId} never started iteration ${iteration}; it started ${known.join(', ')}`
        : `run ${workflowId} started no iteration yet (it failed or is still preparing): start it again with judgeloop run --id ${workflowId}`,
      2,
    );
  }
  return { eventId, iteration };
}

/** The same reset with the Temporal CLI. */
export function temporalResetCommand(workflowId: string, point: ResetPoint, reason: string): string {
  return `temporal workflow reset --workflow-id ${workflowId} --event-id ${point.eventId} --reason '${reason.replace(/'/g, `'\\''`)}'`;
}

export async function cmdReset(cmd: ResetCommand, io: { out: OutStream; err: OutStream }): Promise<number> {
  const conn = await connect(cmd.connection);
  try {
    const handle = conn.client.workflow.getHandle(cmd.workflowId);
    let history: History;
    let runId: string;
    try {
      const desc = await handle.describe();
      runId = desc.runId;
      history = await handle.fetchHistory();
    } catch (e) {
      throw new CliError(`cannot read run ${cmd.workflowId}: ${firstLine(e)}`);
    }
    const point = resetPoint(history, cmd.workflowId, cmd.iteration);
    const reason = cmd.reason ?? `judgeloop reset: restart from iteration ${cmd.iteration}`;
    if (cmd.dryRun) {
      println(io.out, temporalResetCommand(cmd.workflowId, point, reason));
      return EXIT_OK;
    }
    const res = (await conn.client.workflowService.resetWorkflowExecution({
      namespace: conn.options.namespace,
      workflowExecution: { workflowId: cmd.workflowId, runId },
      reason,
      // int64 in the API: protobufjs takes a JS number for ids this small (the field is typed as Long).
      workflowTaskFinishEventId: point.eventId as unknown as Long,
      requestId: randomUUID(),
    })) as temporal.api.workflowservice.v1.IResetWorkflowExecutionResponse;
    println(io.out, `run ${cmd.workflowId} restarts from iteration ${cmd.iteration} (history event ${point.eventId}); new execution ${res.runId}`);
    println(io.out, `  finished steps and jobs with the same inputs are reused; follow it: ${resumeHint(cmd.workflowId)}`);
    println(io.out, `  ${workflowUrl(conn.options.uiUrl, conn.options.namespace, cmd.workflowId)}`);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
