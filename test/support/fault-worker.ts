/**
 * The real worker (workers/main.ts's createJudgeloopWorker: every activity, the keep-alive, the metrics
 * interceptor) with two test hooks, for test/integration/fault-matrix.test.ts:
 *
 * - JUDGELOOP_WORKFLOW_BUNDLE: a workflow bundle built once by the suite (a JSON file: { code, sourceMap }), so a worker restarted after a kill
 *   polls in seconds instead of bundling again.
 * - JUDGELOOP_FAULT_DIR: a control folder. `<dir>/hold.json` (`{"hold": ["scoreJudgments", ...]}`, read at each
 *   activity start) names activity types to hold: the first execution of each, across every worker of the
 *   suite (claimed by the file `held-<type>`), does its work and then, before reporting it, writes
 *   `holding-<type>` and waits — heartbeating, so a cancellation reaches it — until the worker is killed,
 *   the activity is cancelled, or `release-<type>` appears. A kill there is the worst moment for a step:
 *   its outputs are written and Temporal does not know.
 */
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Context as ActivityContext } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptors, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createJudgeloopWorker } from '../../workers/main';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function plannedHolds(dir: string): string[] {
  try {
    return (JSON.parse(readFileSync(path.join(dir, 'hold.json'), 'utf8')) as { hold?: string[] }).hold ?? [];
  } catch {
    return [];
  }
}

/** Creates `file` unless it exists; true for the one caller that created it. */
function claim(file: string): boolean {
  try {
    closeSync(openSync(file, 'wx'));
    return true;
  } catch {
    return false;
  }
}

export function holdInterceptor(dir: string) {
  return (ctx: ActivityContext): ActivityInterceptors => ({
    inbound: {
      async execute(input, next) {
        const type = ctx.info.activityType;
        if (ctx.info.isLocal || !plannedHolds(dir).includes(type)) return next(input);
        const result = await next(input);
        if (!claim(path.join(dir, `held-${type}`))) return result;
        writeFileSync(
          path.join(dir, `holding-${type}`),
          JSON.stringify({ pid: process.pid, attempt: ctx.info.attempt, workflowId: ctx.info.workflowExecution?.workflowId }),
        );
        while (!existsSync(path.join(dir, `release-${type}`))) {
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`${type} cancelled while held after its work`);
          ctx.heartbeat({ held: type });
          await sleep(200);
        }
        return result;
      },
    },
  });
}

async function main(): Promise<void> {
  const dir = process.env.JUDGELOOP_FAULT_DIR;
  const bundlePath = process.env.JUDGELOOP_WORKFLOW_BUNDLE;
  const { worker, connection } = await createJudgeloopWorker({
    // The file holds bundleWorkflows()'s result as JSON: { code, sourceMap }.
    ...(bundlePath ? { workflowBundle: JSON.parse(readFileSync(bundlePath, 'utf8')) as WorkflowBundleWithSourceMap } : {}),
    telemetry: dir ? { activityInterceptors: [holdInterceptor(dir)] } : {},
  });
  console.log(`fault worker ${process.pid}: polling ${worker.taskQueue} and ${worker.jobTaskQueue}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
