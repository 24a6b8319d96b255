/**
 * Following a run: poll its workflow status and progress query every ~2 s, render progress (one updating
 * line on a terminal, one line per change otherwise), and return how the run ended. Stopping (Ctrl-C, via
 * the abort signal) only stops following; the run goes on.
 */
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { PROGRESS_QUERY, type IterationProgress, type RunOutcome, type RunProgress, type RunSummary } from '../core/run/run-types';
import { formatConfigProblems, validateConfig, type RunConfig } from '../core/config/config';
import type { ConnectionOptions } from './args';
import { optionalConfigFile } from './config-file';
import { runSummaryOf } from './storage';
import { CliError, connect, hasWorkflowPollers, noWorkerWarning, unreachableMessage, type Connected } from './connection';
import { formatIterationDone, formatProgressLine, formatRetrying, retryingActivities, type PendingActivityLike, type RetryingActivity } from './format';
import { formatDuration } from '../core/report/summary-tables';
import { sleep } from '../core/common/sleep';
import { jobProgressLines, type PendingWithHeartbeat } from './job-progress';
import { firstLine } from '../core/common/errors';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Draws progress: a single rewritten line on a TTY, otherwise a new line whenever the text changes. */
export class ProgressRenderer {
  private current = '';
  private last = '';
  private drawn = false;

  constructor(private readonly stream: OutStream) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** `line` is compared for changes; `decoration` (elapsed time) is shown but does not count as a change. */
  update(line: string, decoration = ''): void {
    if (this.tty) {
      const width = Math.max(20, (this.stream.columns || 100) - 1);
      let text = decoration ? `${line} · ${decoration}` : line;
      if (text.length > width) text = `${text.slice(0, width - 1)}…`;
      this.stream.write(`\r\x1b[2K${text}`);
      this.current = text;
      this.drawn = true;
    } else if (line !== this.last) {
      this.stream.write(`${decoration ? `[${decoration}] ` : ''}${line}\n`);
    }
    this.last = line;
  }

  /** A line that stays (an iteration finished, a warning), printed above the progress line. */
  permanent(line: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[2K${line}\n${this.current}`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the updating line so that what follows starts on a fresh line. */
  finish(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.current = '';
  }
}

export type FollowOutcome =
  | { kind: 'completed'; result: RunOutcome }
  | { kind: 'failed'; status: string; error: unknown }
  | { kind: 'interrupted' };

export interface FollowOptions {
  /** Where progress goes (stdout normally, stderr under --json). */
  progress: OutStream;
  pollMs?: number;
  /** Aborting stops following (Ctrl-C). */
  signal?: AbortSignal;
  /** Give up after Temporal has been unreachable this long. */
  unreachableMs?: number;
  now?: () => number;
}

const ABORTED = Symbol('aborted');

/** Resolves to ABORTED as soon as the signal fires, otherwise to the promise's value. */
function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | typeof ABORTED> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.resolve(ABORTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => undefined);
      resolve(ABORTED);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}


export function isNotFound(e: unknown): boolean {
  return e instanceof WorkflowNotFoundError || (e as { code?: number })?.code === 5;
}

export function notFoundMessage(conn: Connected, workflowId: string): string {
  return `no run with id "${workflowId}" in namespace "${conn.options.namespace}" at ${conn.options.address}`;
}

export const println = (s: OutStream, text = '') => s.write(`${text}\n`);

/** Describes a run within 10 s; a missing run or an unreachable server becomes a CliError that says so. */
export async function describeRun(conn: Connected, workflowId: string) {
  try {
    return await conn.connection.withDeadline(Date.now() + 10_000, () => conn.client.workflow.getHandle(workflowId).describe());
  } catch (e) {
    if (isNotFound(e)) throw new CliError(notFoundMessage(conn, workflowId));
    throw new CliError(`could not describe ${workflowId}: ${firstLine(e)}`);
  }
}

/** A query with a deadline; null when it fails (the workflow is starting, no worker yet, ...). */
export async function queryOrNull<T>(conn: Connected, handle: WorkflowHandle, timeoutMs = 5000): Promise<T | null> {
  try {
    return await conn.connection.withDeadline(Date.now() + timeoutMs, () => handle.query<T>(PROGRESS_QUERY));
  } catch {
    return null;
  }
}

/** The run's progress and, when it has one in flight, its iteration child's progress. */
export async function queryProgress(
  conn: Connected,
  workflowId: string,
): Promise<{ progress: RunProgress | null; child: IterationProgress | null }> {
  const progress = await queryOrNull<RunProgress>(conn, conn.client.workflow.getHandle(workflowId));
  let child: IterationProgress | null = null;
  if (progress?.childWorkflowId) {
    child = await queryOrNull<IterationProgress>(conn, conn.client.workflow.getHandle(progress.childWorkflowId));
  }
  return { progress, child };
}

type Pending = PendingActivityLike & PendingWithHeartbeat;

/** The pending activities of the run's iteration child; none when it does not exist yet or has just closed. */
export async function childPending(conn: Connected, childWorkflowId: string | null | undefined): Promise<Pending[]> {
  if (!childWorkflowId) return [];
  try {
    const child = await conn.connection.withDeadline(Date.now() + 5000, () => conn.client.workflow.getHandle(childWorkflowId).describe());
    return (child.raw.pendingActivities ?? []) as Pending[];
  } catch {
    return [];
  }
}

/** Activities of the run and of its iteration child (`child`: its pending activities) that are being retried after a failure. */
export function retryingIn(
  runPending: PendingActivityLike[] | null | undefined,
  workflowId: string,
  childWorkflowId: string | null | undefined,
  child: Pending[],
): RetryingActivity[] {
  const found = retryingActivities(workflowId, runPending);
  if (childWorkflowId) found.push(...retryingActivities(childWorkflowId, child));
  return found;
}

/** Decodes a payload as the workers encoded it: their codecs undone (last applied first), then the converter. */
export function payloadDecoder(conn: Connected): (payload: Payload) => Promise<unknown> {
  const { payloadCodecs, payloadConverter } = conn.client.options.loadedDataConverter;
  return async (payload) => {
    let decoded = [payload];
    for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
    return payloadConverter.fromPayload(decoded[0]);
  };
}

/** The progress of the jobs the run and its iteration child are running, from their last heartbeats. */
export function runningJobLines(conn: Connected, runPending: Pending[] | null | undefined, child: Pending[]): Promise<string[]> {
  return jobProgressLines([...(runPending ?? []), ...child], payloadDecoder(conn));
}

/** Waits for a closed workflow's result: its summary, or the failure. */
export async function outcomeOf(handle: WorkflowHandle, status: string): Promise<FollowOutcome> {
  try {
    return { kind: 'completed', result: (await handle.result()) as RunOutcome };
  } catch (error) {
    return { kind: 'failed', status, error };
  }
}

export async function followRun(conn: Connected, workflowId: string, opts: FollowOptions): Promise<FollowOutcome> {
  const pollMs = opts.pollMs ?? 2000;
  const unreachableMs = opts.unreachableMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const render = new ProgressRenderer(opts.progress);
  const handle = conn.client.workflow.getHandle(workflowId);
  let shownCompleted = 0;
  let queryFailures = 0;
  let workerChecked = false;
  let unreachableSince: number | null = null;
  const shownRetries = new Set<string>();

  try {
    while (!opts.signal?.aborted) {
      let status: string;
      let startedAt: number | undefined;
      let pending: Pending[] | null | undefined;
      try {
        const desc = await raceAbort(
          conn.connection.withDeadline(now() + 10_000, () => handle.describe()),
          opts.signal,
        );
        if (desc === ABORTED) break;
        status = desc.status.name;
        startedAt = desc.startTime?.getTime();
        pending = desc.raw.pendingActivities as Pending[] | null | undefined;
        unreachableSince = null;
      } catch (e) {
        if (isNotFound(e)) throw new CliError(notFoundMessage(conn, workflowId));
        unreachableSince ??= now();
        if (now() - unreachableSince > unreachableMs) {
          throw new CliError(unreachableMessage(conn.options, firstLine(e)));
        }
        render.update(`Temporal not answering at ${conn.options.address}; retrying…`);
        await sleep(pollMs, opts.signal);
        continue;
      }

      if (status !== 'RUNNING' && status !== 'CONTINUED_AS_NEW') {
        render.finish();
        const outcome = await raceAbort(outcomeOf(handle, status), opts.signal);
        return outcome === ABORTED ? { kind: 'interrupted' } : outcome;
      }

      const polled = await raceAbort(queryProgress(conn, workflowId), opts.signal);
      if (polled === ABORTED) break;
      const elapsed = startedAt !== undefined ? formatDuration(now() - startedAt) : '';
      if (polled.progress) {
        queryFailures = 0;
        const done = polled.progress.completed ?? [];
        for (; shownCompleted < done.length; shownCompleted++) render.permanent(formatIterationDone(done[shownCompleted]));
        const child = await raceAbort(childPending(conn, polled.progress.childWorkflowId), opts.signal);
        if (child === ABORTED) break;
        const retrying = retryingIn(pending, workflowId, polled.progress.childWorkflowId, child);
        const jobs = await runningJobLines(conn, pending, child);
        for (const r of retrying) {
          const key = `${r.workflowId}/${r.activityId}/${r.attempt}`;
          if (!shownRetries.has(key)) {
            shownRetries.add(key);
            render.permanent(formatRetrying(r));
          }
        }
        // The jobs' progress moves the line on a terminal but is not a change worth a new line in a log.
        render.update(formatProgressLine(polled.progress, polled.child), [...jobs, elapsed].filter(Boolean).join(' · '));
      } else {
        queryFailures++;
        render.update('waiting for the run to start (no progress reported yet)…', elapsed);
        if (queryFailures >= 3 && !workerChecked) {
          workerChecked = true;
          if ((await hasWorkflowPollers(conn)) === false) render.permanent(noWorkerWarning(conn.options.taskQueue));
        }
      }
      await sleep(pollMs, opts.signal);
    }
    return { kind: 'interrupted' };
  } finally {
    render.finish();
  }
}

/** The run config the workflow was started with: the input of its first history event. */
export async function recordedConfig(conn: Connected, workflowId: string): Promise<RunConfig> {
  const res = await conn.client.workflowService.getWorkflowExecutionHistory({
    namespace: conn.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const payload = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new CliError(`the history of ${workflowId} records no input; pass the run's config with --config FILE`);
  // A raw history holds the payload as the worker's codecs left it (encrypted with JUDGELOOP_CODEC_KEYS).
  const raw: unknown = await payloadDecoder(conn)(payload);
  const validated = validateConfig(raw);
  if (!validated.ok) throw new CliError(`${formatConfigProblems(validated.problems, `the config recorded in ${workflowId}`)}\npass a valid one with --config FILE`);
  return validated.config;
}

/** A completed run as the commands that read its artifacts need it. */
export interface CompletedRun {
  summary: RunSummary;
  startedAt?: string;
  finishedAt?: string;
  /** The config to reach its artifacts with: the file given, else the one the run recorded. */
  config: RunConfig;
}

/** Reads a completed run; a run in any other status is a CliError saying `notCompleted(status)`. */
export async function completedRun(
  connection: ConnectionOptions,
  workflowId: string,
  configPath: string | undefined,
  notCompleted: (status: string) => string,
): Promise<CompletedRun> {
  const fileConfig = await optionalConfigFile(configPath);
  const conn = await connect(connection);
  try {
    const desc = await describeRun(conn, workflowId);
    const status = desc.status.name;
    if (status !== 'COMPLETED') throw new CliError(notCompleted(status));
    const result = (await conn.client.workflow.getHandle(workflowId).result()) as RunOutcome;
    const config = fileConfig ?? (await recordedConfig(conn, workflowId));
    let summary: RunSummary;
    try {
      summary = await runSummaryOf(result, config, conn.options.address);
    } catch (e) {
      throw new CliError(
        `could not read the summaries of ${workflowId}'s iterations from S3: ${firstLine(e)}\n` +
          'check that the bucket is reachable from here (JUDGELOOP_S3_ENDPOINT, AWS credentials), or pass the run\'s config with --config FILE',
      );
    }
    return {
      summary,
      ...(desc.startTime ? { startedAt: desc.startTime.toISOString() } : {}),
      ...(desc.closeTime ? { finishedAt: desc.closeTime.toISOString() } : {}),
      config,
    };
  } finally {
    await conn.close();
  }
}
