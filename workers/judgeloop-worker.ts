/**
 * A Judgeloop worker is two Temporal workers in one process: one polls the run's task queue (the workflows
 * and the data steps), the other its job task queue (core/run/run-types.ts jobTaskQueue: sample, train, each
 * evaluation generation...), each with its own slots, so a long model job never takes a data step's place and
 * the number of jobs at once is set apart from the rest. They start, run and stop together.
 */
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { jobTaskQueue } from '../core/run/run-types';

/** How often at most a job activity's heartbeat (its progress) is sent to the server. */
export const JOB_PROGRESS_INTERVAL = '5 seconds';

/** How many activities of each kind a worker runs at once. */
export interface WorkerSlots {
  /** Activities on the run's task queue: data steps (and the jobs of runs started before the job queue). */
  dataSteps: number;
  /** Activities on the job task queue: each one a model job (a local process or a SageMaker job). */
  jobs: number;
}

/**
 * JUDGELOOP_MAX_JOBS (default 2; JUDGELOOP_MAX_ACTIVITIES, its name before jobs had a queue of their own, is
 * still read) and JUDGELOOP_MAX_DATA_STEPS (default 4).
 */
export function workerSlots(env: NodeJS.ProcessEnv): WorkerSlots {
  return {
    dataSteps: slotCount(env, 'JUDGELOOP_MAX_DATA_STEPS', 4),
    jobs: env.JUDGELOOP_MAX_JOBS?.trim() ? slotCount(env, 'JUDGELOOP_MAX_JOBS', 2) : slotCount(env, 'JUDGELOOP_MAX_ACTIVITIES', 2),
  };
}

function slotCount(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got "${env[name]}"`);
  return n;
}

export class JudgeloopWorker {
  /**
   * The two workers of `options.taskQueue`: the workflows (its bundle) and the data steps on it, the jobs on
   * its job queue; both take every activity, since runs started before the job queue still schedule their
   * jobs on the run's queue (workflows/options.ts JOB_ACTIVITIES_PATCH). `slots` bounds each (default: the SDK's).
   */
  static async create(options: WorkerOptions & { taskQueue: string }, slots?: WorkerSlots): Promise<JudgeloopWorker> {
    const { workflowBundle: _bundle, workflowsPath: _path, ...shared } = options;
    return new JudgeloopWorker(
      await Worker.create({ ...options, ...(slots ? { maxConcurrentActivityTaskExecutions: slots.dataSteps } : {}) }),
      await Worker.create({
        ...shared,
        taskQueue: jobTaskQueue(options.taskQueue),
        // A job's progress (its heartbeat details) reaches the server, and so `follow`, `status` and the UI,
        // at least this often; the SDK's default would send it every 0.8 x the heartbeat timeout (24 s at 30 s).
        maxHeartbeatThrottleInterval: JOB_PROGRESS_INTERVAL,
        ...(slots ? { maxConcurrentActivityTaskExecutions: slots.jobs } : {}),
      }),
    );
  }

  constructor(
    /** Polls the run's task queue: the workflows and the data steps. */
    readonly steps: Worker,
    /** Polls the job task queue. */
    readonly jobs: Worker,
  ) {}

  get taskQueue(): string {
    return this.steps.options.taskQueue;
  }

  get jobTaskQueue(): string {
    return this.jobs.options.taskQueue;
  }

  /** Runs both until they are shut down (a signal, or shutdown()); when one fails the other is stopped too. */
  async run(): Promise<void> {
    const stopOthers = () => this.shutdown();
    const outcomes = await Promise.allSettled([this.steps.run().finally(stopOthers), this.jobs.run().finally(stopOthers)]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Starts the graceful shutdown of both (each finishes or cancels its activities as configured). */
  shutdown(): void {
    for (const worker of [this.steps, this.jobs]) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
  }

  /**
   * As Temporal's Worker.runUntil: runs until `work` settles, then shuts down and returns its result; fails
   * when the worker fails first.
   */
  async runUntil<R>(work: Promise<R> | (() => Promise<R>)): Promise<R> {
    const running = this.run();
    const stoppedFirst = running.then(() => {
      throw new Error('the Judgeloop worker stopped before the work it was running for finished');
    });
    stoppedFirst.catch(() => undefined); // reported through the race below, or moot once the work is done
    try {
      return await Promise.race([typeof work === 'function' ? work() : work, stoppedFirst]);
    } finally {
      this.shutdown();
      await running;
    }
  }
}
