/**
 * What the health endpoint (workers/health.ts) answers for a running Judgeloop worker: its two Temporal
 * workers' states and whether the Temporal frontend answers gRPC health checks over the worker's connection.
 * The verdicts are pure functions of those facts (test/unit/worker-health.test.ts).
 */
import type { NativeConnection, State } from '@temporalio/worker';
import type { HealthProbes, ProbeResult } from './health';
import type { JudgeloopWorker } from './judgeloop-worker';

export interface WorkerStates {
  /** The worker of the run's task queue (workflows, data steps). */
  steps: State;
  /** The worker of the job task queue. */
  jobs: State;
}

export interface TemporalReachability {
  ok: boolean;
  /** Why not, when not ok. */
  message?: string;
}

const DRAINING: readonly State[] = ['STOPPING', 'DRAINING', 'DRAINED', 'STOPPED'];

function detail(states: WorkerStates): Record<string, string> {
  return { steps: states.steps, jobs: states.jobs };
}

/** Live unless a worker failed: a draining worker is still live, so the platform lets its grace period run. */
export function liveness(states: WorkerStates): ProbeResult {
  if (states.steps === 'FAILED' || states.jobs === 'FAILED') return { ok: false, status: 'failed', detail: detail(states) };
  return { ok: true, status: DRAINING.includes(states.steps) || DRAINING.includes(states.jobs) ? 'draining' : 'live', detail: detail(states) };
}

/** Ready only while both poll and Temporal answers; a shutdown (SIGTERM) makes it not ready at once. */
export function readiness(states: WorkerStates, temporal: TemporalReachability | undefined): ProbeResult {
  const live = liveness(states);
  if (!live.ok) return live;
  if (live.status === 'draining') return { ok: false, status: 'draining', detail: detail(states) };
  if (states.steps !== 'RUNNING' || states.jobs !== 'RUNNING') return { ok: false, status: 'starting', detail: detail(states) };
  if (!temporal) return { ok: true, status: 'polling', detail: detail(states) };
  if (!temporal.ok) return { ok: false, status: `Temporal unreachable: ${temporal.message ?? 'no answer'}`, detail: detail(states) };
  return { ok: true, status: 'polling', detail: detail(states) };
}

/** SERVING in grpc.health.v1.HealthCheckResponse.ServingStatus. */
const SERVING = 1;

/** Asks the frontend's gRPC health service over the worker's own connection, within `timeoutMs`. */
export async function checkTemporal(connection: NativeConnection, timeoutMs: number): Promise<TemporalReachability> {
  try {
    const res = await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
    return res.status === SERVING ? { ok: true } : { ok: false, message: `health status ${res.status}` };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** The probes of a created worker. `timeoutMs` bounds the Temporal check, under a probe's usual 5 s timeout. */
export function workerProbes(worker: JudgeloopWorker, connection: NativeConnection, timeoutMs = 2000): HealthProbes {
  const states = (): WorkerStates => ({ steps: worker.steps.getState(), jobs: worker.jobs.getState() });
  return {
    live: () => liveness(states()),
    async ready() {
      const before = readiness(states(), undefined);
      // Not polling (starting, draining, failed): no need to ask Temporal, and a closed connection must not be used.
      if (!before.ok) return before;
      return readiness(states(), await checkTemporal(connection, timeoutMs));
    },
  };
}
