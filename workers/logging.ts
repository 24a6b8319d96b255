/**
 * The worker's log records: the Temporal Runtime logger (SDK, Core, workflow and activity loggers all end up
 * there) enriched with Judgeloop's run, iteration and step, written as the SDK's human format (default) or
 * as JSON lines (JUDGELOOP_LOG_FORMAT=json).
 *
 * Every record of a Judgeloop workflow or activity keeps the SDK's own attributes (namespace, taskQueue,
 * workflowId, workflowType, activityType, attempt, …) and gains:
 *   - `run`: the run's id (the run workflow's id; an iteration workflow `<run>-iter-<k>` belongs to run `<run>`),
 *   - `iteration`: k for records of iteration `<run>-iter-<k>` and its activities, null for the run's own
 *     activities (prepare, registry) — absent on records of the run workflow itself,
 *   - `step` (activity records only): the step the activity is (prepare, sample, score, meta-judge,
 *     consistency, pair, train, evaluate, registry, usage; an unknown activity type is its own step).
 * `run` is not called `runId` because the SDK's workflow records already use `runId` for Temporal's run id
 * of the execution (activity records call it `workflowRunId`).
 *
 * Pure parts (parsing, enrichment, formatting) are exported for unit tests; nothing here installs anything.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { ITERATION_WORKFLOW, RUN_WORKFLOW } from '../core/run/run-types';

export type LogFormat = 'text' | 'json';

export interface LogOptions {
  format: LogFormat;
  level: LogLevel;
}

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/** A worker environment variable has a value the worker cannot use; the message names it and what it takes. */
export class ObservabilityConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ObservabilityConfigError';
  }
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** JUDGELOOP_LOG_FORMAT (text | json; default text) and JUDGELOOP_LOG_LEVEL (TRACE … ERROR; default INFO). */
export function parseLogOptions(env: NodeJS.ProcessEnv = process.env): LogOptions {
  const rawFormat = envValue(env, 'JUDGELOOP_LOG_FORMAT');
  const format = (rawFormat ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') {
    throw new ObservabilityConfigError(`JUDGELOOP_LOG_FORMAT is "${rawFormat}": use "json" (JSON lines) or "text" (the default).`);
  }
  const rawLevel = envValue(env, 'JUDGELOOP_LOG_LEVEL');
  const level = (rawLevel ?? 'INFO').toUpperCase() as LogLevel;
  if (!LEVELS.includes(level)) {
    throw new ObservabilityConfigError(`JUDGELOOP_LOG_LEVEL is "${rawLevel}": use one of ${LEVELS.join(', ')} (default INFO).`);
  }
  return { format, level };
}

/** The step each activity type is; an activity type not listed here is reported as its own step. */
export const ACTIVITY_STEPS: Readonly<Record<string, string>> = {
  resolveRunConfig: 'prepare',
  prepareRun: 'prepare',
  warmStartJudge: 'warm-start',
  writeWarmStartExamples: 'warm-start',
  trainWarmStartJudge: 'warm-start',
  sampleJudgments: 'sample',
  renderSampleRequests: 'sample',
  generateSampledJudgments: 'sample',
  scoreJudgments: 'score',
  rateJudgments: 'meta-judge',
  renderMetaJudgeRequests: 'meta-judge',
  generateMetaRatings: 'meta-judge',
  collectMetaRatings: 'meta-judge',
  rescoreJudgments: 'consistency',
  renderConsistencyRequests: 'consistency',
  generateRescores: 'consistency',
  collectRescores: 'consistency',
  buildPairs: 'pair',
  trainJudge: 'train',
  evaluateJudge: 'evaluate',
  renderEvaluationRequests: 'evaluate',
  generateEvaluationJudgments: 'evaluate',
  generateBaselineJudgments: 'evaluate',
  generateRelativeVerdicts: 'evaluate',
  computeEvaluationMetrics: 'evaluate',
  readChampion: 'registry',
  recordDecision: 'registry',
  registerModelPackage: 'registry',
  summarizeUsage: 'usage',
  writeRunReport: 'report',
  recordIterationSummary: 'report',
  trackRun: 'tracking',
  // Sharded generation's split and merge serve whichever step is generating (sample, evaluate, ...).
  splitRequests: 'shards',
  mergeShardJudgments: 'shards',
};

export function stepOfActivity(activityType: string): string {
  return Object.prototype.hasOwnProperty.call(ACTIVITY_STEPS, activityType) ? ACTIVITY_STEPS[activityType] : activityType;
}

export interface JudgeloopLogFields {
  run: string;
  iteration?: number | null;
  step?: string;
}

const ITERATION_ID = /^(.+)-iter-(\d+)$/;

/**
 * Judgeloop's run, iteration and step for a record's SDK attributes (workflowId, workflowType, activityType);
 * undefined for records that belong to no Judgeloop workflow (worker start-up, Core, a foreign workflow type).
 */
export function judgeloopLogFields(meta: LogMetadata | undefined): JudgeloopLogFields | undefined {
  if (!meta) return undefined;
  const workflowId = meta.workflowId;
  const workflowType = meta.workflowType;
  if (typeof workflowId !== 'string' || typeof workflowType !== 'string') return undefined;
  const activityType = typeof meta.activityType === 'string' ? meta.activityType : undefined;
  let fields: JudgeloopLogFields;
  if (workflowType === ITERATION_WORKFLOW) {
    const m = ITERATION_ID.exec(workflowId);
    fields = m ? { run: m[1], iteration: Number(m[2]) } : { run: workflowId, iteration: null };
  } else if (workflowType === RUN_WORKFLOW) {
    // The run's own activities (prepare, registry) belong to no iteration; the run workflow's records get none.
    fields = activityType ? { run: workflowId, iteration: null } : { run: workflowId };
  } else {
    return undefined;
  }
  if (activityType) fields.step = stepOfActivity(activityType);
  return fields;
}

/** A logger that adds {@link judgeloopLogFields} to every record it passes on (SDK attributes win on a clash). */
/**
 * The job queue's worker polls activities only, by design (workers/judgeloop-worker.ts): the SDK's start-up
 * warning that it has no workflows would read as a mistake, so it is logged at DEBUG.
 */
function expectedWarning(level: LogLevel, message: string, meta?: LogMetadata): boolean {
  return level === 'WARN' && message.startsWith('No workflows registered') && typeof meta?.taskQueue === 'string' && meta.taskQueue.endsWith('-jobs');
}

export class JudgeloopLogger implements Logger {
  constructor(readonly inner: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const fields = judgeloopLogFields(meta);
    this.inner.log(expectedWarning(level, message, meta) ? 'DEBUG' : level, message, fields ? { ...fields, ...meta } : meta);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** A value as JSON can carry it: errors with their name, message, type and cause; bigints as strings; no cycles. */
function toJsonValue(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (typeof value !== 'object') return String(value);
  if (seen.has(value)) return '[Circular]';
  if (depth > 8) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const err = value as Error & Record<string, unknown>;
      const out: Record<string, unknown> = { name: err.name, message: err.message };
      // ApplicationFailure's type and nonRetryable, a system error's code (not the raw proto `failure`).
      for (const key of ['type', 'nonRetryable', 'code'] as const) {
        if (err[key] !== undefined) out[key] = toJsonValue(err[key], seen, depth + 1);
      }
      if (err.cause !== undefined) out.cause = toJsonValue(err.cause, seen, depth + 1);
      if (err.stack) out.stack = err.stack;
      return out;
    }
    if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen, depth + 1) ?? null);
    if (value instanceof Map) return toJsonValue(Object.fromEntries(value), seen, depth + 1);
    if (value instanceof Set) return toJsonValue([...value], seen, depth + 1);
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.constructor.name} ${(value as Uint8Array).byteLength} bytes]`;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const j = toJsonValue(v, seen, depth + 1);
      if (j !== undefined) out[k] = j;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

const RESERVED = new Set(['time', 'level', 'message']);

/**
 * One JSON line (no newline) for a log entry: `time` (ISO 8601, UTC, with the entry's own timestamp),
 * `level`, `message`, then Judgeloop's fields and the SDK's attributes. An attribute named time, level or
 * message is kept as `attr.<name>`.
 */
export function formatJsonLogEntry(entry: LogEntry): string {
  const ms = Number(entry.timestampNanos / 1_000_000n);
  const out: Record<string, unknown> = { time: new Date(ms).toISOString(), level: entry.level, message: entry.message };
  const meta = entry.meta ?? {};
  const ordered: Record<string, unknown> = {};
  for (const key of ['run', 'iteration', 'step']) if (key in meta) ordered[key] = meta[key];
  Object.assign(ordered, meta);
  const seen = new WeakSet<object>();
  for (const [k, v] of Object.entries(ordered)) {
    const j = toJsonValue(v, seen, 0);
    if (j !== undefined) out[RESERVED.has(k) ? `attr.${k}` : k] = j;
  }
  return JSON.stringify(out);
}

export type WriteLine = (line: string) => void;

const writeStderr: WriteLine = (line) => {
  process.stderr.write(line + '\n');
};

/**
 * The worker's logger for these options, at `level`, with Judgeloop's fields on every record: JSON lines
 * (given to `write`, stderr by default), or the SDK's DefaultLogger and its human format on stderr.
 */
export function createWorkerLogger(opts: LogOptions, write: WriteLine = writeStderr): JudgeloopLogger {
  const base =
    opts.format === 'json' ? new DefaultLogger(opts.level, (entry) => write(formatJsonLogEntry(entry))) : new DefaultLogger(opts.level);
  return new JudgeloopLogger(base);
}
