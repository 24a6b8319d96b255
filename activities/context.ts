/**
 * What every activity receives from the factory (dependency injection), and the small glue between
 * Temporal's activity context and the job runners.
 */
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { RunConfig } from '../core/config/config';
import { jsonArraySourceRows, jsonlSourceLines } from '../core/data/source-lines';
import type { ObjectStore, StorageSettings } from './storage/object-store';
import type { AbortReason, JobContext, JobProgress, JobRunner } from './jobs/types';

export interface ActivityDeps {
  /** Project root: relative paths in configs (datasets, seed model, templates, python) resolve against it. */
  projectRoot: string;
  storeFor(settings: StorageSettings): ObjectStore;
  runnerFor(config: Pick<RunConfig, 'backend' | 'budget' | 'reuse' | 'storage'>, store: ObjectStore): JobRunner;
  /** Recorded in every manifest: which code produced an artifact. */
  codeVersion: string;
  /** A SageMaker client for the region (the model registry step); absent in tests that never call SageMaker. */
  sagemakerFor?(region: string): Pick<SageMakerClient, 'send'>;
}

export function storageSettings(config: Pick<RunConfig, 'storage'>): StorageSettings {
  return {
    endpoint: config.storage.endpoint ?? process.env.JUDGELOOP_S3_ENDPOINT,
    region: config.storage.region,
    forcePathStyle: config.storage.forcePathStyle,
  };
}

/** Turns the current Temporal activity into the runner's context: heartbeats, cancellation and logs. */
export function currentJobContext(): JobContext {
  const ctx = Context.current();
  return {
    heartbeat: (details: JobProgress) => ctx.heartbeat(details),
    signal: ctx.cancellationSignal,
    abortReason: () => abortReason(ctx.cancellationDetails, ctx.cancellationSignal.reason),
    log: (line: string) => ctx.log.info(line),
  };
}

/** The worker's own reasons (the message of the CancelledFailure the signal aborts with). */
const SDK_REASONS: Record<string, AbortReason> = {
  CANCELLED: 'cancel-requested',
  WORKER_SHUTDOWN: 'worker-shutdown',
  TIMED_OUT: 'timed-out',
  NOT_FOUND: 'not-found',
  PAUSED: 'paused',
  RESET: 'reset',
};

/**
 * Why the activity was aborted: Temporal's cancellation details, and the reason the worker aborted the
 * signal with (the only one set when the worker itself shuts down, whose details are all false). A cancel
 * request wins over anything reported with it.
 */
export function abortReason(details: Context['cancellationDetails'], signalReason?: unknown): AbortReason {
  if (details?.cancelRequested) return 'cancel-requested';
  if (details?.workerShutdown) return 'worker-shutdown';
  if (details?.timedOut) return 'timed-out';
  if (details?.notFound) return 'not-found';
  if (details?.paused) return 'paused';
  if (details?.reset) return 'reset';
  const message = signalReason instanceof Error ? signalReason.message : undefined;
  return (message !== undefined && SDK_REASONS[message]) || 'unknown';
}

/** Heartbeats at most every `everyMs` during long streaming loops, so cancellation is noticed. */
export function throttledHeartbeat(everyMs = 2000): (details?: unknown) => void {
  let last = 0;
  return (details?: unknown) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    try {
      Context.current().heartbeat(details);
    } catch {
      /* outside an activity (unit tests) */
    }
  };
}

/** Logs through the current activity's logger; outside an activity (unit tests, tools) it says nothing. */
export function activityLog(message: string): void {
  try {
    Context.current().log.info(message);
  } catch {
    /* outside an activity (unit tests) */
  }
}

export function isS3(uri: string): boolean {
  return uri.startsWith('s3://');
}

export function localPath(projectRoot: string, uri: string): string {
  const p = uri.startsWith('file://') ? uri.slice('file://'.length) : uri;
  return path.isAbsolute(p) ? p : path.join(projectRoot, p);
}

export function badInput(message: string, type = 'InvalidInput'): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true });
}

/**
 * Rows of a dataset source, streamed: `.jsonl` line by line (from a local file or S3), `.json` as one array
 * (published benchmark files are arrays; they are read whole). Both go through core/data/source-lines.ts: a
 * byte-order mark, CRLF and blank lines are accepted; a line that is not UTF-8 or not JSON, or is longer
 * than MAX_ROW_BYTES, is yielded as an error naming its line, so the caller quarantines it and counts it.
 */
export async function* readSourceRows(
  store: ObjectStore,
  projectRoot: string,
  uri: string,
): AsyncGenerator<{ index: number; line?: number; value?: unknown; error?: string }> {
  const isJsonArray = /\.json$/i.test(uri);
  if (isJsonArray) {
    const bytes = isS3(uri) ? await store.getBytes(uri) : await readLocalSource(projectRoot, uri);
    if (bytes === null) throw badInput(`dataset not found: ${uri}`);
    const read = jsonArraySourceRows(bytes, uri);
    if ('fileError' in read) throw badInput(read.fileError, 'InvalidData');
    yield* read.rows;
    return;
  }
  if (isS3(uri)) {
    const body = await store.openRead(uri).catch((err: unknown) => {
      // A missing dataset is not transient: retrying the activity would not make it appear.
      throw /^object not found/.test((err as Error).message) ? badInput(`dataset not found: ${uri}`) : err;
    });
    yield* jsonlSourceLines(body);
    return;
  }
  const file = localPath(projectRoot, uri);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw badInput(`dataset not found: ${uri} (looked for ${file})`);
  yield* jsonlSourceLines(createReadStream(file));
}

async function readLocalSource(projectRoot: string, uri: string): Promise<Buffer> {
  const file = localPath(projectRoot, uri);
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) throw badInput(`dataset not found: ${uri} (looked for ${file})`);
  return readFile(file);
}

/** A cheap fingerprint of a local file or S3 object, so a changed source is re-ingested. */
export async function sourceFingerprint(store: ObjectStore, projectRoot: string, uri: string): Promise<string> {
  if (isS3(uri)) {
    const listed = await store.list(uri);
    const exact = listed.find((o) => o.uri === uri);
    return exact ? `s3:${exact.size}` : 's3:missing';
  }
  const info = await stat(localPath(projectRoot, uri)).catch(() => null);
  return info ? `file:${info.size}:${info.mtimeMs}` : 'file:missing';
}
