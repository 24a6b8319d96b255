/**
 * The Judgeloop worker: polls the `judgeloop` task queue and runs the run/iteration workflows and every
 * activity (jobs run through the local runner on this machine).
 *
 * Environment: Temporal's client configuration (workers/temporal-target.ts: TEMPORAL_ADDRESS (127.0.0.1:7233),
 * TEMPORAL_NAMESPACE (default), TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a TOML profile via TEMPORAL_PROFILE and
 * TEMPORAL_CONFIG_FILE), JUDGELOOP_TASK_QUEUE (judgeloop), JUDGELOOP_S3_ENDPOINT (used when a config has no
 * storage.endpoint), and the AWS SDK's usual credential variables.
 */
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TASK_QUEUE } from '../core/run-types';
import { createActivities, defaultActivityDeps } from '../activities';
import { connectOptions, describeTarget, resolveTemporalTarget, type TemporalTarget } from './temporal-target';

export interface WorkerOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  workflowBundle?: WorkflowBundleWithSourceMap;
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export async function createJudgeloopWorker(
  opts: WorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection; target: TemporalTarget }> {
  const target = resolveTemporalTarget({ address: opts.address, namespace: opts.namespace });
  const connection = await NativeConnection.connect(connectOptions(target));
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: opts.taskQueue ?? process.env.JUDGELOOP_TASK_QUEUE ?? TASK_QUEUE,
    workflowBundle: opts.workflowBundle ?? (await bundleWorkflows()),
    activities: createActivities(defaultActivityDeps()),
    // Jobs are CPU/GPU heavy: one at a time per worker keeps a laptop responsive; scale with more workers.
    maxConcurrentActivityTaskExecutions: Number(process.env.JUDGELOOP_MAX_ACTIVITIES ?? 2),
  });
  return { worker, connection, target };
}

async function main(): Promise<void> {
  const { worker, connection, target } = await createJudgeloopWorker();
  console.log(`judgeloop worker: polling task queue "${worker.options.taskQueue}" on ${describeTarget(target)}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`judgeloop worker failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
