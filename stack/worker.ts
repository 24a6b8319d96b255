/**
 * The Judgeloop worker as a child process (`node --import tsx workers/main.ts`), configured through the
 * environment, and a readiness check that asks Temporal whether this very process polls the task queue.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';
import { ManagedProcess, describeExit, sleep, type ProcessOutput } from './process';
import { connectTemporal } from './temporal';
import type { S3Connection } from './s3';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  s3: S3Connection & { bucket?: string };
  /** Project root; default the folder above stack/. */
  cwd?: string;
  /** Entry point relative to cwd; default workers/main.ts. */
  entry?: string;
  /** Extra environment (wins over the variables set here). */
  env?: NodeJS.ProcessEnv;
  /** Where the worker's output goes; default: the terminal. */
  output?: ProcessOutput;
  /** Wait until the worker polls the task queue; default true. */
  waitReady?: boolean;
  /** Default 180 s: bundling the workflow code can take a while on a 2-core machine. */
  readyTimeoutMs?: number;
}

export interface WorkerProcess {
  process: ManagedProcess;
  pid: number;
  /** The identity readiness matched ("PID@host" by default, or $JUDGELOOP_WORKER_IDENTITY if the worker uses it). */
  identityToken: string;
  /** SIGINT (the Temporal worker's graceful shutdown), SIGKILL after timeoutMs (default 30 s). */
  stop(timeoutMs?: number): Promise<void>;
  /** E.g. kill('SIGKILL') to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
}

/** The environment the worker reads (see workers/main.ts). */
export function workerEnv(opts: Omit<WorkerOptions, 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: opts.namespace,
    JUDGELOOP_TASK_QUEUE: opts.taskQueue,
    AWS_ACCESS_KEY_ID: opts.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: opts.s3.secretAccessKey,
    AWS_REGION: opts.s3.region || 'us-east-1',
    JUDGELOOP_S3_ENDPOINT: opts.s3.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
  };
  if (opts.s3.bucket) env.JUDGELOOP_S3_BUCKET = opts.s3.bucket;
  return env;
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerProcess> {
  const cwd = opts.cwd ?? PROJECT_ROOT;
  const entry = opts.entry ?? 'workers/main.ts';
  if (!fs.existsSync(path.resolve(cwd, entry))) {
    throw new StackError(`the worker entry point ${entry} does not exist in ${cwd}`);
  }
  const identityToken = `judgeloop-worker-${crypto.randomBytes(4).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // A session-wide AWS profile or session token must not leak into the local stack's credentials.
    AWS_PROFILE: undefined,
    AWS_SESSION_TOKEN: undefined,
    ...workerEnv(opts),
    JUDGELOOP_WORKER_IDENTITY: identityToken,
    ...opts.env,
  };
  const proc = await ManagedProcess.start({
    name: 'worker',
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    cwd,
    env,
    output: opts.output ?? 'inherit',
  });
  const worker: WorkerProcess = {
    process: proc,
    pid: proc.pid,
    identityToken,
    stop: async (timeoutMs = 30_000) => {
      await proc.stop('SIGINT', timeoutMs);
    },
    kill: (signal: NodeJS.Signals = 'SIGTERM') => proc.kill(signal),
  };
  if (opts.waitReady ?? true) {
    try {
      await waitForWorkerPolling({
        temporalAddress: opts.temporalAddress,
        namespace: opts.namespace,
        taskQueue: opts.taskQueue,
        match: (identity) => identity.startsWith(`${proc.pid}@`) || identity === identityToken,
        timeoutMs: opts.readyTimeoutMs ?? 180_000,
        process: proc,
      });
    } catch (err) {
      await worker.stop(5000);
      throw err;
    }
  }
  return worker;
}

/**
 * Waits until a poller whose identity `match`es polls the task queue (workflow or activity tasks), as
 * reported by DescribeTaskQueue. Fails early if `process` exits first.
 */
export async function waitForWorkerPolling(opts: {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  match: (identity: string) => boolean;
  timeoutMs: number;
  process?: ManagedProcess;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const connection = await connectTemporal(opts.temporalAddress, 10_000);
  try {
    while (Date.now() < deadline) {
      const proc = opts.process;
      if (proc && !proc.alive) {
        throw new StackError(
          `the worker ${describeExit(proc.exitStatus!)} before it polled task queue ${opts.taskQueue}` +
            (proc.logFile ? `; last lines of ${proc.logFile}:\n${proc.logTail(20)}` : ' (its output is above)'),
        );
      }
      for (const taskQueueType of [1 /* WORKFLOW */, 2 /* ACTIVITY */]) {
        const res = await connection.workflowService.describeTaskQueue({
          namespace: opts.namespace,
          taskQueue: { name: opts.taskQueue, kind: 1 /* NORMAL */ },
          taskQueueType,
        });
        if ((res.pollers ?? []).some((p) => p.identity && opts.match(p.identity))) return;
      }
      await sleep(250);
    }
    throw new StackError(
      `the worker did not poll task queue ${opts.taskQueue} within ${Math.round(opts.timeoutMs / 1000)} s`,
      opts.process?.logFile ? `See ${opts.process.logFile}.` : undefined,
    );
  } finally {
    await connection.close();
  }
}
