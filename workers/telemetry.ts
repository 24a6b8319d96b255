/**
 * The worker process's observability settings, read from its environment once at start-up, and the Temporal
 * Runtime they configure:
 *
 *   JUDGELOOP_METRICS_ADDRESS  IP:port where the worker serves Prometheus metrics at /metrics (off when unset),
 *                              e.g. 127.0.0.1:9464, or 0.0.0.0:9464 to be scraped from other hosts
 *   JUDGELOOP_LOG_FORMAT       text (default: the SDK's human format) | json (JSON lines on stderr)
 *   JUDGELOOP_LOG_LEVEL        TRACE | DEBUG | INFO (default) | WARN | ERROR
 *   JUDGELOOP_OTEL, JUDGELOOP_OTEL_FILE, OTEL_*   tracing, see workers/otel.ts
 *
 * Besides the SDK's own worker metrics (temporal_*), each activity records `judgeloop_step_seconds`, a
 * histogram of its execution time in seconds labelled with the step and its outcome (completed, failed,
 * cancelled) plus the SDK's activity labels (namespace, taskQueue, activityType).
 *
 * Nothing here is installed on import: workers/main.ts calls installRuntime() once, before it connects.
 */
import net from 'node:net';
import { CancelledFailure, type LogLevel } from '@temporalio/common';
import type { Context as ActivityContext } from '@temporalio/activity';
import { Runtime, type ActivityInterceptors, type RuntimeOptions } from '@temporalio/worker';
import { ObservabilityConfigError, createWorkerLogger, parseLogOptions, stepOfActivity, type JudgeloopLogger, type LogOptions } from './logging';
import { parseTracingOptions, type TracingOptions } from './otel';

export { ObservabilityConfigError };

export interface ObservabilityOptions {
  /** host:port the Prometheus endpoint binds to; absent: no metrics endpoint. */
  metricsAddress?: string;
  log: LogOptions;
  tracing: TracingOptions;
}

/**
 * JUDGELOOP_METRICS_ADDRESS as the bind address Core takes: an IPv4 or [IPv6] address and a port 1–65535.
 * Unset or empty: undefined (no endpoint).
 */
export function parseMetricsAddress(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  const bad = (why: string) =>
    new ObservabilityConfigError(
      `JUDGELOOP_METRICS_ADDRESS is "${value}": ${why}. Use IP:port, e.g. 127.0.0.1:9464 (this machine only) or 0.0.0.0:9464 (all interfaces); unset it to turn the metrics endpoint off.`,
    );
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  if (!m) {
    if (/^\d+$/.test(value)) throw bad('it has no host');
    throw bad('it is not an address with a port');
  }
  const host = m[1] ?? m[2];
  if (m[1] !== undefined ? !net.isIPv6(host) : !net.isIPv4(host)) {
    throw bad(m[1] !== undefined ? `${host} is not an IPv6 address` : `the host must be an IP address, not "${host}"`);
  }
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${m[3]} is not between 1 and 65535`);
  return m[1] !== undefined ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Every observability setting of the worker's environment; throws ObservabilityConfigError naming a bad variable. */
export function parseObservabilityEnv(env: NodeJS.ProcessEnv = process.env): ObservabilityOptions {
  return {
    metricsAddress: parseMetricsAddress(env.JUDGELOOP_METRICS_ADDRESS),
    log: parseLogOptions(env),
    tracing: parseTracingOptions(env),
  };
}

export const STEP_SECONDS_METRIC = 'judgeloop_step_seconds';
/** Steps last from under a second (score, pair) to hours (train on SageMaker). */
export const STEP_SECONDS_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

const SEVERITY: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** The Runtime options for these settings (pure: builds, installs nothing). */
export function runtimeOptions(opts: ObservabilityOptions, logger: JudgeloopLogger): RuntimeOptions {
  const telemetryOptions: NonNullable<RuntimeOptions['telemetryOptions']> = {};
  if (opts.log.format === 'json') {
    // Core's own records go through the same logger, so every line of the worker is JSON. Core is chatty
    // below WARN: it follows JUDGELOOP_LOG_LEVEL only when that is stricter.
    const core = SEVERITY[Math.max(SEVERITY.indexOf('WARN'), SEVERITY.indexOf(opts.log.level))];
    telemetryOptions.logging = { filter: { core, other: 'ERROR' }, forward: {} };
  }
  if (opts.metricsAddress) {
    telemetryOptions.metrics = {
      prometheus: {
        bindAddress: opts.metricsAddress,
        histogramBucketOverrides: { [STEP_SECONDS_METRIC]: STEP_SECONDS_BUCKETS },
      },
    };
  }
  return { logger, telemetryOptions };
}

export interface InstalledRuntime {
  runtime: Runtime;
  logger: JudgeloopLogger;
}

/**
 * Installs the process's Temporal Runtime with the worker's logger and, when asked, the Prometheus endpoint.
 * Call once, before any NativeConnection is made (the SDK would otherwise have installed a default one).
 */
export function installRuntime(opts: ObservabilityOptions): InstalledRuntime {
  const logger = createWorkerLogger(opts.log);
  try {
    const runtime = Runtime.install(runtimeOptions(opts, logger));
    return { runtime, logger };
  } catch (err) {
    const message = (err as Error).message;
    if (opts.metricsAddress && /address|bind|in use|prometheus|metrics/i.test(message)) {
      throw new ObservabilityConfigError(
        `the Prometheus metrics endpoint cannot listen on JUDGELOOP_METRICS_ADDRESS=${opts.metricsAddress} (${message}); choose another port or unset the variable.`,
      );
    }
    throw err;
  }
}

/**
 * An activity interceptor that records `judgeloop_step_seconds` for every activity execution (through the
 * activity's metric meter: a no-op when the Runtime exports no metrics).
 */
export function stepMetricsInterceptor(ctx: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const step = stepOfActivity(ctx.info.activityType);
        const started = process.hrtime.bigint();
        let outcome = 'failed';
        try {
          const result = await next(input);
          outcome = 'completed';
          return result;
        } catch (err) {
          if (err instanceof CancelledFailure || ctx.cancellationSignal.aborted) outcome = 'cancelled';
          throw err;
        } finally {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          try {
            ctx.metricMeter
              .createHistogram(STEP_SECONDS_METRIC, 'float', 's', 'Execution time of a Judgeloop step (one activity attempt), in seconds')
              .record(seconds, { step, outcome });
          } catch {
            /* metrics must never fail a step */
          }
        }
      },
    },
  };
}
