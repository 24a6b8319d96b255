/**
 * The Judgeloop worker: polls the `judgeloop` task queue (the run/iteration workflows and the data steps) and
 * `judgeloop-jobs` (the model jobs, through the local runner on this machine or SageMaker), each with its own
 * slots (workers/judgeloop-worker.ts): JUDGELOOP_MAX_DATA_STEPS (4) and JUDGELOOP_MAX_JOBS (2).
 *
 * Environment: Temporal's client configuration (workers/temporal-target.ts: TEMPORAL_ADDRESS (127.0.0.1:7233),
 * TEMPORAL_NAMESPACE (default), TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a TOML profile via TEMPORAL_PROFILE and
 * TEMPORAL_CONFIG_FILE), JUDGELOOP_TASK_QUEUE (judgeloop), JUDGELOOP_S3_ENDPOINT (used when a config has no
 * storage.endpoint), the AWS SDK's usual credential variables, and JUDGELOOP_CODEC_KEYS / JUDGELOOP_CODEC_KEY_ID
 * (payload encryption, workers/codec.ts; off when unset), JUDGELOOP_SHUTDOWN_GRACE_SECONDS and
 * JUDGELOOP_STICKY_TIMEOUT_SECONDS (below).
 *
 * Observability (workers/telemetry.ts, workers/logging.ts, workers/otel.ts): JUDGELOOP_METRICS_ADDRESS (the
 * Prometheus endpoint, off when unset), JUDGELOOP_LOG_FORMAT (text | json), JUDGELOOP_LOG_LEVEL, and
 * JUDGELOOP_OTEL / JUDGELOOP_OTEL_FILE / OTEL_EXPORTER_OTLP_ENDPOINT (tracing). They are read by main() only:
 * importing this module (tests build their own workers) installs nothing.
 *
 * Deployment (docs/deploy.md): JUDGELOOP_HEALTH_ADDRESS (GET /healthz and /readyz, workers/health.ts; off when
 * unset). Compiled by `npm run build:worker`, the worker loads a prebuilt workflow bundle instead of bundling
 * at start-up (workers/workflow-bundle.ts). The full list of variables: workers/environment.ts.
 */
import type { Logger } from '@temporalio/common';
import {
  NativeConnection,
  bundleWorkflowCode,
  type ActivityInterceptorsFactory,
  type InjectedSinks,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { TASK_QUEUE } from '../core/run/run-types';
import { createActivities, defaultActivityDeps } from '../activities';
import { connectOptions, describeTarget, resolveTemporalTarget, type TemporalTarget } from './temporal-target';
import { installRuntime, parseObservabilityEnv, stepMetricsInterceptor } from './telemetry';
import { describeTracing, startWorkerTracing } from './otel';
import { keepAliveInterceptor } from './keep-alive';
import { payloadCodecsFromEnv } from './codec';
import { FAILURE_CONVERTER_PATH } from './failure-converter';
import { JudgeloopWorker, workerSlots } from './judgeloop-worker';
import { searchAttributeWarning } from './search-attribute-check';
import { OTEL_WORKFLOW_INTERCEPTORS_MODULE } from './otel';
import { findProjectRoot } from './project-root';
import { HEALTH_ADDRESS_ENV, healthUrl, parseHealthAddress, startHealthServer, type HealthServer } from './health';
import { workerProbes } from './readiness';
import {
  WorkflowBundleError,
  chooseBundle,
  describeFeatures,
  installedWorkflowSdkVersion,
  prebuiltBundlesDir,
  readManifest,
  type BundleFeatures,
} from './workflow-bundle';

/** What tracing (workers/otel.ts startWorkerTracing) adds to the worker. */
export interface WorkerTelemetry {
  activityInterceptors?: ActivityInterceptorsFactory[];
  sinks?: InjectedSinks<any>;
  /** Workflow interceptor modules; they must be in the workflow bundle. */
  workflowInterceptorModules?: string[];
  clientInterceptors?: WorkflowClientInterceptor[];
}

export interface WorkerOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  /**
   * A bundle made elsewhere (its code, or `{ codePath }` of a bundle file) must include
   * telemetry.workflowInterceptorModules and the failure converter (see bundleWorkflows).
   * Default: the prebuilt bundle of a compiled worker (workers/workflow-bundle.ts), else one bundled now.
   */
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string };
  telemetry?: WorkerTelemetry;
  /** Receives the bundler's warnings and errors (default: the console). */
  logger?: Logger;
}

export interface BundleWorkflowsOptions {
  /** Workflow interceptor modules to bundle with the workflows (e.g. OpenTelemetry's). */
  workflowInterceptorModules?: string[];
  /** workers/failure-converter.ts when payloads are encrypted (its failures are encrypted too). */
  failureConverterPath?: string;
  logger?: Logger;
}

export function bundleWorkflows(opts: BundleWorkflowsOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: opts.workflowInterceptorModules,
    ...(opts.failureConverterPath ? { failureConverterPath: opts.failureConverterPath } : {}),
    logger: bundlerLogger(opts.logger),
  });
}

/** Webpack's chatter is dropped; its warnings and errors go to the worker's logger (or the console). */
function bundlerLogger(logger?: Logger) {
  return {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string) => (logger ? logger.warn(message, { sdkComponent: 'bundler' }) : console.warn(message)),
    error: (message: string) => (logger ? logger.error(message, { sdkComponent: 'bundler' }) : console.error(message)),
  };
}

/** Where the worker's workflow code came from, for the start-up message. */
export type WorkflowBundleSource = 'given' | 'bundled at start-up' | `prebuilt ${string}`;

/**
 * The prebuilt bundle for these settings when this is a compiled worker with a build's bundles beside it;
 * undefined when it runs from source (or from a plain `tsc` build), which bundles at start-up as before.
 */
export function prebuiltWorkflowBundle(
  telemetry: WorkerTelemetry,
  failureConverter: boolean,
  compiledDir: string = __dirname,
): { codePath: string; source: WorkflowBundleSource } | undefined {
  const dir = prebuiltBundlesDir(compiledDir);
  if (!dir) return undefined;
  const modules = telemetry.workflowInterceptorModules ?? [];
  const others = modules.filter((m) => m !== OTEL_WORKFLOW_INTERCEPTORS_MODULE);
  if (others.length) {
    throw new WorkflowBundleError(
      `the prebuilt workflow bundles hold only OpenTelemetry's workflow interceptors, not ${others.join(', ')}: pass a workflowBundle built with them`,
    );
  }
  const needs: BundleFeatures = { tracing: modules.length > 0, failureConverter };
  const { codePath, bundle } = chooseBundle(dir, readManifest(dir), needs, installedWorkflowSdkVersion());
  return { codePath, source: `prebuilt ${bundle.file} (${describeFeatures(bundle)})` };
}

export async function createJudgeloopWorker(opts: WorkerOptions = {}): Promise<{
  worker: JudgeloopWorker;
  connection: NativeConnection;
  target: TemporalTarget;
  /** Where the workflow code came from: given, prebuilt (which file), or bundled at start-up. */
  workflowBundleSource: WorkflowBundleSource;
}> {
  const target = resolveTemporalTarget({ address: opts.address, namespace: opts.namespace });
  // Before connecting: a malformed JUDGELOOP_CODEC_KEYS stops the worker with the variable's name (workers/codec.ts).
  const payloadCodecs = payloadCodecsFromEnv(process.env);
  const failureConverterPath = payloadCodecs.length ? FAILURE_CONVERTER_PATH : undefined;
  const telemetry = opts.telemetry ?? {};
  const slots = workerSlots(process.env);
  const taskQueue = opts.taskQueue ?? process.env.JUDGELOOP_TASK_QUEUE ?? TASK_QUEUE;
  // Before connecting too: a compiled worker whose bundle does not match its settings stops with what to rebuild.
  const prebuilt = opts.workflowBundle ? undefined : prebuiltWorkflowBundle(telemetry, failureConverterPath !== undefined);
  const connection = await NativeConnection.connect(connectOptions(target));
  try {
    const workflowBundleSource: WorkflowBundleSource = opts.workflowBundle ? 'given' : (prebuilt?.source ?? 'bundled at start-up');
    const workflowBundle =
      opts.workflowBundle ??
      (prebuilt ? { codePath: prebuilt.codePath } : undefined) ??
      (await bundleWorkflows({ workflowInterceptorModules: telemetry.workflowInterceptorModules, failureConverterPath, logger: opts.logger }));
    // Jobs are CPU/GPU heavy: a few at a time per worker keeps a laptop responsive; scale with more workers.
    const worker = await JudgeloopWorker.create(
      {
        connection,
        namespace: target.namespace,
        taskQueue,
        workflowBundle,
        // The project folder found from this file, so a compiled worker (dist/worker/...) reads prompts/ and
        // jobs/ of the checkout or image, not of dist/ (activities/ would take its own parent folder).
        activities: createActivities(defaultActivityDeps({ projectRoot: findProjectRoot(__dirname) })),
        dataConverter: { payloadCodecs, ...(failureConverterPath ? { failureConverterPath } : {}) },
        // On SIGTERM, data steps get this long to finish; then every activity is cancelled as a shutdown, which
        // a SageMaker job outlives (the next attempt adopts it) and a local job process does not.
        shutdownGraceTime: `${shutdownGraceSeconds(process.env)} seconds`,
        stickyQueueScheduleToStartTimeout: `${stickyTimeoutSeconds(process.env)} seconds`,
        interceptors: {
          // Tracing's interceptors come first, so the step metric and logs happen inside the activity's span.
          activity: [...(telemetry.activityInterceptors ?? []), stepMetricsInterceptor, keepAliveInterceptor],
          ...(telemetry.clientInterceptors?.length ? { client: { workflow: telemetry.clientInterceptors } } : {}),
        },
        ...(telemetry.sinks ? { sinks: telemetry.sinks } : {}),
      },
      slots,
    );
    return { worker, connection, target, workflowBundleSource };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/** A variable holding a number of seconds, at least `min`; `fallback` when unset or empty. */
function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: { seconds: number; inclusive: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || (min.inclusive ? seconds < min.seconds : seconds <= min.seconds)) {
    throw new Error(`${name} must be a number of seconds (${min.inclusive ? `${min.seconds} or more` : `more than ${min.seconds}`}), got "${raw}"`);
  }
  return seconds;
}

/** JUDGELOOP_SHUTDOWN_GRACE_SECONDS (default 10): how long a stopping worker lets its activities finish. */
export function shutdownGraceSeconds(env: NodeJS.ProcessEnv): number {
  return secondsFromEnv(env, 'JUDGELOOP_SHUTDOWN_GRACE_SECONDS', 10, { seconds: 0, inclusive: true });
}

/**
 * JUDGELOOP_STICKY_TIMEOUT_SECONDS (default 10, the SDK's): how long a workflow's next task waits for the
 * worker that has the workflow cached before any worker may take it. A worker that died holds each of its
 * runs this long after their next event; lower it where workers are replaced often, at the cost of more
 * replays from history when a busy worker is merely slow to poll.
 */
export function stickyTimeoutSeconds(env: NodeJS.ProcessEnv): number {
  return secondsFromEnv(env, 'JUDGELOOP_STICKY_TIMEOUT_SECONDS', 10, { seconds: 0, inclusive: false });
}

async function main(): Promise<void> {
  // Before anything connects: the Runtime (logger, metrics endpoint) can be installed only once per process.
  const observability = parseObservabilityEnv(process.env);
  const { logger } = installRuntime(observability);
  const healthAddress = parseHealthAddress(process.env[HEALTH_ADDRESS_ENV]);
  const tracing = observability.tracing.enabled ? startWorkerTracing(observability.tracing) : undefined;
  let health: HealthServer | undefined;
  try {
    // Up before connecting: while it connects the worker is live but not ready, so a probe does not restart it.
    health = healthAddress ? await startHealthServer(healthAddress) : undefined;
    const { worker, connection, target, workflowBundleSource } = await createJudgeloopWorker({ telemetry: tracing, logger });
    health?.setProbes(workerProbes(worker, connection));
    const { taskQueue, jobTaskQueue: jobQueue } = worker;
    const healthEndpoint = health ? `${healthUrl(health.address, '/healthz')} and /readyz` : null;
    if (observability.log.format === 'json') {
      logger.info('judgeloop worker: polling', {
        taskQueue,
        jobTaskQueue: jobQueue,
        namespace: target.namespace,
        target: describeTarget(target),
        metrics: observability.metricsAddress ? `http://${observability.metricsAddress}/metrics` : null,
        tracing: describeTracing(observability.tracing),
        health: healthEndpoint,
        workflowBundle: workflowBundleSource,
      });
    } else {
      console.log(`judgeloop worker: polling task queues "${taskQueue}" (workflows, data steps) and "${jobQueue}" (jobs) on ${describeTarget(target)}`);
      if (observability.metricsAddress) console.log(`judgeloop worker: Prometheus metrics on http://${observability.metricsAddress}/metrics`);
      if (tracing) console.log(`judgeloop worker: tracing ${describeTracing(observability.tracing)}`);
      if (healthEndpoint) console.log(`judgeloop worker: health on ${healthEndpoint}`);
      console.log(`judgeloop worker: workflow bundle ${workflowBundleSource}`);
    }
    // Runs work without Judgeloop's search attributes; say once what is missing and how to register it.
    const attributes = await searchAttributeWarning(connection, target.namespace);
    if (attributes) {
      if (observability.log.format === 'json') logger.warn(`judgeloop worker: ${attributes}`, { namespace: target.namespace });
      else console.warn(`judgeloop worker: ${attributes}`);
    }
    try {
      // SIGTERM/SIGINT (Temporal's Runtime catches them) start the shutdown: polling stops, /readyz says
      // "draining", activities get JUDGELOOP_SHUTDOWN_GRACE_SECONDS, and run() returns once both workers stopped.
      await worker.run();
    } finally {
      await connection.close();
    }
  } finally {
    await health?.close();
    await tracing?.shutdown();
  }
}

if (require.main === module) {
  main().catch((err) => {
    const message = `judgeloop worker failed: ${(err as Error).message}`;
    if (/^json$/i.test(process.env.JUDGELOOP_LOG_FORMAT?.trim() ?? '')) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'ERROR', message }) + '\n');
    } else {
      console.error(message);
    }
    process.exit(1);
  });
}
