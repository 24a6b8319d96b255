/**
 * The SageMaker job runner: runs a jobs/ entry point as a SageMaker training job in script mode, behind the
 * same JobRunner interface as the local runner.
 *
 * Durability: SageMaker job names are deterministic (sagemakerJobName of the workflow's job name and an
 * attempt number), so a retried activity — on this worker or another — describes the names in order and
 * adopts the job an earlier attempt created instead of paying for a second GPU job. SageMaker never reuses a
 * name, so after a failure that another attempt can fix (capacity, internal errors, a changed config or code)
 * the next attempt number names the new job; a failure of the identical request that would only repeat
 * (script error, validation, permissions) is reported again, non-retryably, without creating anything.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
  type CreateTrainingJobCommandInput,
  type DescribeTrainingJobCommandOutput,
} from '@aws-sdk/client-sagemaker';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { joinUri } from '../../core/run/artifacts';
import type { SageMakerBackend } from '../../core/config/config';
import type { ObjectStore } from '../storage/object-store';
import {
  apiFailure,
  classifyApiError,
  attemptUsage,
  classifyFailure,
  createTrainingJobRequest,
  isNotFound,
  jobCost,
  jobKind,
  outputLocations,
  sagemakerJobName,
  type FailureClass,
} from './sagemaker-request';
import { COMPLETION_FILES, abortReasonOf, type JobContext, type JobProgress, type JobResult, type JobRunner, type JobSpec } from './types';
import { writeUsageRecord } from './usage-record';
import { sleep } from '../../core/common/sleep';

export type SageMakerCommand = CreateTrainingJobCommand | DescribeTrainingJobCommand | StopTrainingJobCommand;

/** The part of SageMakerClient the runner uses, so tests pass a fake that replays recorded responses. */
export interface SageMakerApi {
  send(command: SageMakerCommand): Promise<unknown>;
}

export interface SageMakerRunnerOptions {
  client: SageMakerApi;
  store: Pick<ObjectStore, 'exists' | 'putBytes' | 'putJson'>;
  /** Called before CreateTrainingJob (not when a job is adopted); throws to refuse the job (the budget). */
  admit?: (spec: JobSpec) => Promise<void>;
  backend: SageMakerBackend;
  /** Prefix receiving `<content hash>/sourcedir.tar.gz` (backend.codeUri or defaultCodeUri). */
  codeUri: string;
  /** backend.spot.checkpointUri or defaultCheckpointUri; used only with spot. */
  checkpointUri: string;
  /** Folder of the entry points (default `<projectRoot>/jobs`). */
  jobsDir: string;
  /** Between DescribeTrainingJob polls (default backend.pollSeconds). */
  pollMs?: number;
  /** First backoff after a throttled or failed API call; doubles up to 20 s. */
  apiBackoffMs?: number;
  /** The longest silence between heartbeats while backing off (default min(5 s, pollMs)). */
  heartbeatEveryMs?: number;
  /** API calls per request before the error goes to Temporal's retry policy. */
  apiTries?: number;
  /** How long to wait for `Stopped` after StopTrainingJob on cancellation. */
  stopWaitMs?: number;
  /** Job names tried per workflow job name (each a new SageMaker job) before giving up. */
  maxAttempts?: number;
  /** Entry point → the output file it writes last (default COMPLETION_FILES). */
  completionFiles?: Readonly<Record<string, string>>;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Stopped']);

export class SageMakerJobRunner implements JobRunner {
  private readonly pollMs: number;
  private readonly apiBackoffMs: number;
  private readonly heartbeatEveryMs: number;
  private readonly apiTries: number;
  private readonly stopWaitMs: number;
  private readonly maxAttempts: number;
  private sourceDir: Promise<string> | null = null;

  constructor(private readonly opts: SageMakerRunnerOptions) {
    this.pollMs = opts.pollMs ?? opts.backend.pollSeconds * 1000;
    this.apiBackoffMs = opts.apiBackoffMs ?? 1000;
    this.heartbeatEveryMs = opts.heartbeatEveryMs ?? Math.min(5000, this.pollMs);
    this.apiTries = opts.apiTries ?? 6;
    this.stopWaitMs = opts.stopWaitMs ?? 15 * 60_000;
    this.maxAttempts = opts.maxAttempts ?? 10;
  }

  async run(spec: JobSpec, outer: JobContext): Promise<JobResult> {
    const started = Date.now();
    const kind = jobKind(spec.entryPoint);
    if (this.opts.backend.instanceCount !== 1) {
      // Every host of a multi-instance job runs the whole entry point: n times the cost for the same outputs.
      throw ApplicationFailure.create({
        type: 'ConfigError',
        message: `job ${spec.jobName}: backend.instanceCount is ${this.opts.backend.instanceCount}, but the jobs do not shard their work across hosts yet; set it to 1`,
        nonRetryable: true,
      });
    }
    const ctx = rememberingHeartbeats(outer);
    ctx.heartbeat({ phase: 'submitting', jobName: spec.jobName });
    const sourceDirUri = await this.ensureSourceDir(ctx);

    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const request = createTrainingJobRequest(spec, this.opts.backend, {
        sourceDirUri,
        kind,
        attempt,
        checkpointUri: this.opts.checkpointUri,
      });
      const name = request.TrainingJobName!;
      let how: JobResult['how'];
      const existing = await this.describe(name, ctx);
      if (existing) {
        const status = existing.TrainingJobStatus ?? 'Unknown';
        const sameCode = sameRequest(existing, request, true);
        if (!sameRequest(existing, request, false) || (TERMINAL.has(status) && status !== 'Completed' && !sameCode)) {
          // A job from another config (or, once finished, other code) under this name: a new attempt runs ours.
          if (!TERMINAL.has(status)) await this.stop(name, spec, ctx, `its request differs from ${spec.jobName}'s current one`);
          ctx.log(`SageMaker job ${name} (${status}) was created from a different config or code; starting the next attempt`);
          continue;
        }
        if (status === 'Completed') {
          if (await this.finished(spec, existing)) {
            ctx.log(`SageMaker job ${name} already completed; adopting its outputs`);
            return this.result(spec, existing, 'adopted-finished', started);
          }
          await this.recordUsage(spec, existing);
          ctx.log(`SageMaker job ${name} completed without ${this.completionFile(spec)}; starting the next attempt`);
          continue;
        }
        if (status === 'Stopping') {
          // Stopped by an earlier cancellation (or its stopping condition): once it has stopped, the same name
          // is looked at again, which tells a cancelled job (wanted again: the next attempt) from a failure.
          ctx.log(`SageMaker job ${name} is stopping; waiting for it to stop before deciding what to run`);
          await this.poll(spec, name, ctx, true);
          attempt--;
          continue;
        }
        if (status === 'Failed' || status === 'Stopped') {
          await this.recordUsage(spec, existing);
          const failure = classifyFailure(existing);
          // Stopped by a cancellation: this activity running again means the job is wanted again.
          if (failure.retryable || (status === 'Stopped' && existing.SecondaryStatus === 'Stopped')) {
            ctx.log(`SageMaker job ${name} ended earlier (${failure.message}); starting the next attempt`);
            continue;
          }
          throw jobFailure(spec, name, failure);
        }
        ctx.log(`SageMaker job ${name} is ${status} (${existing.SecondaryStatus ?? '-'}); adopting it`);
        how = 'adopted-running';
      } else {
        await this.opts.admit?.(spec);
        how = await this.create(request, spec, ctx);
      }

      const final = await this.poll(spec, name, ctx, how !== 'ran');
      if (final.TrainingJobStatus === 'Completed') {
        if (await this.finished(spec, final)) return this.result(spec, final, how, started);
        await this.recordUsage(spec, final);
        // The next activity attempt finds this job Completed but unfinished, and runs the next one.
        throw ApplicationFailure.create({
          type: 'JobIncomplete',
          message: `job ${spec.jobName} (${spec.entryPoint}): SageMaker job ${name} completed without writing ${this.completionFile(spec)}, the file the script writes last; it is run again as a new job`,
          nonRetryable: false,
        });
      }
      await this.recordUsage(spec, final);
      throw jobFailure(spec, name, classifyFailure(final));
    }
    throw ApplicationFailure.create({
      type: 'SageMakerAttemptsExhausted',
      message: `job ${spec.jobName}: ${this.maxAttempts} SageMaker jobs (${sagemakerJobName(spec.jobName)} … -r${this.maxAttempts}) ended without success; look at their FailureReason in the console, then rerun with a new run id`,
      nonRetryable: true,
    });
  }

  /** CreateTrainingJob; `ResourceInUse` means another attempt created it a moment ago, so it is adopted. */
  private async create(request: CreateTrainingJobCommandInput, spec: JobSpec, ctx: JobContext): Promise<JobResult['how']> {
    const name = request.TrainingJobName!;
    try {
      await this.call(() => this.opts.client.send(new CreateTrainingJobCommand(request)), ctx);
      ctx.log(`SageMaker job ${name}: created ${spec.entryPoint} on ${request.ResourceConfig?.InstanceCount} × ${request.ResourceConfig?.InstanceType}`);
      return 'ran';
    } catch (err) {
      if ((err as { name?: string }).name === 'ResourceInUse') {
        ctx.log(`SageMaker job ${name} already exists (created concurrently); adopting it`);
        return 'adopted-running';
      }
      throw apiFailure(err, `CreateTrainingJob ${name} for job ${spec.jobName}`);
    }
  }

  /**
   * Polls until the job ends, heartbeating its status. When the activity is aborted, the job is stopped only
   * if a cancellation was requested: after a worker shutdown, a timeout or a lost attempt it keeps running
   * (and billing) for the next attempt to adopt, which is what the paid work is for.
   */
  private async poll(spec: JobSpec, name: string, ctx: JobContext, adopted: boolean): Promise<DescribeTrainingJobCommandOutput> {
    let lastStatus = '';
    for (;;) {
      if (ctx.signal.aborted) {
        const reason = abortReasonOf(ctx);
        if (reason === 'cancel-requested') {
          await this.stop(name, spec, ctx, 'the activity was cancelled');
          throw new CancelledFailure(`job ${spec.jobName} cancelled; SageMaker job ${name} stopped`);
        }
        ctx.log(`SageMaker job ${name}: left running for the next attempt to adopt (this attempt ended: ${reason})`);
        throw ApplicationFailure.create({
          type: 'JobLeftRunning',
          message: `job ${spec.jobName}: this attempt ended (${reason}); SageMaker job ${name} keeps running and the next attempt adopts it`,
          nonRetryable: false,
        });
      }
      const d = await this.describe(name, ctx);
      if (!d) {
        throw ApplicationFailure.create({
          type: 'SageMakerJobLost',
          message: `SageMaker job ${name} (job ${spec.jobName}) is not found right after it was created or adopted; it will be retried`,
          nonRetryable: false,
        });
      }
      const progress: JobProgress = {
        phase: 'running',
        jobName: spec.jobName,
        externalJobName: name,
        status: d.TrainingJobStatus,
        secondaryStatus: d.SecondaryStatus,
        billableSeconds: d.BillableTimeInSeconds,
        adopted,
      };
      ctx.heartbeat(progress);
      const status = `${d.TrainingJobStatus}/${d.SecondaryStatus}`;
      if (status !== lastStatus) {
        const message = d.SecondaryStatusTransitions?.at(-1)?.StatusMessage;
        ctx.log(`SageMaker job ${name}: ${status}${message ? ` — ${message}` : ''}`);
        lastStatus = status;
      }
      if (TERMINAL.has(d.TrainingJobStatus ?? '')) return d;
      await sleep(this.pollMs, ctx.signal);
    }
  }

  /**
   * StopTrainingJob, then waits for a terminal status (a stopping job still bills until it is Stopped) and
   * records what the stopped job billed.
   */
  private async stop(name: string, spec: JobSpec, ctx: JobContext, why: string): Promise<void> {
    const jobName = spec.jobName;
    ctx.log(`SageMaker job ${name}: stopping (${why})`);
    ctx.heartbeat({ phase: 'stopping', jobName, externalJobName: name });
    try {
      await this.call(() => this.opts.client.send(new StopTrainingJobCommand({ TrainingJobName: name })), ctx, false);
    } catch (err) {
      // Stopping a job that has just ended is a ValidationException; the describe below tells what it is.
      if ((err as { name?: string }).name !== 'ValidationException') throw apiFailure(err, `StopTrainingJob ${name}`);
    }
    const deadline = Date.now() + this.stopWaitMs;
    for (;;) {
      const d = await this.describe(name, ctx, false);
      ctx.heartbeat({ phase: 'stopping', jobName, externalJobName: name, status: d?.TrainingJobStatus, secondaryStatus: d?.SecondaryStatus });
      if (!d) return;
      if (TERMINAL.has(d.TrainingJobStatus ?? '')) {
        await this.recordUsage(spec, d);
        return;
      }
      if (Date.now() > deadline) {
        ctx.log(`SageMaker job ${name}: still ${d.TrainingJobStatus} ${this.stopWaitMs / 1000}s after StopTrainingJob; check the console`);
        return;
      }
      // The activity's signal is already aborted: sleep without it, or this loop would spin.
      await sleep(this.pollMs);
    }
  }

  private async describe(name: string, ctx: JobContext, honourAbort = true): Promise<DescribeTrainingJobCommandOutput | null> {
    try {
      return (await this.call(
        () => this.opts.client.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
        ctx,
        honourAbort,
      )) as DescribeTrainingJobCommandOutput;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw apiFailure(err, `DescribeTrainingJob ${name}`);
    }
  }

  /**
   * One API call, retried in place with exponential backoff while the error is retryable (throttling,
   * internal errors): a long poll must not fail its activity on one throttled describe. Other errors, and
   * the last retryable one, are rethrown as they are for the caller to interpret. The backoff heartbeats
   * (the waits add up to ~31 s, longer than a 30 s heartbeat timeout).
   */
  private async call<T>(fn: () => Promise<T>, ctx: JobContext, honourAbort = true): Promise<T> {
    let delay = this.apiBackoffMs;
    for (let tries = 1; ; tries++) {
      try {
        return await fn();
      } catch (err) {
        if (isNotFound(err) || !classifyApiError(err).retryable || tries >= this.apiTries) throw err;
        const message = classifyApiError(err).message;
        ctx.log(`SageMaker API: ${message}; retrying in ${delay} ms`);
        const signal = honourAbort ? ctx.signal : undefined;
        for (let waited = 0; waited < delay && !signal?.aborted; waited += this.heartbeatEveryMs) {
          ctx.heartbeat({ ...lastHeartbeat(ctx), apiRetry: { message, tries, retryingInMs: delay - waited } });
          await sleep(Math.min(this.heartbeatEveryMs, delay - waited), signal);
        }
        delay = Math.min(delay * 2, 20_000);
      }
    }
  }

  /** Whether a Completed job wrote the file its entry point writes last (COMPLETION_FILES). */
  private async finished(spec: JobSpec, d: DescribeTrainingJobCommandOutput): Promise<boolean> {
    const file = (this.opts.completionFiles ?? COMPLETION_FILES)[spec.entryPoint];
    if (!file) return true;
    return this.opts.store.exists(joinUri(outputLocations(d, spec.outputUri).outputDataUri, file));
  }

  private completionFile(spec: JobSpec): string {
    return `output/data/${(this.opts.completionFiles ?? COMPLETION_FILES)[spec.entryPoint]}`;
  }

  private async result(spec: JobSpec, d: DescribeTrainingJobCommandOutput, how: JobResult['how'], started: number): Promise<JobResult> {
    return {
      jobName: spec.jobName,
      outputUri: spec.outputUri,
      ...outputLocations(d, spec.outputUri),
      how,
      seconds: (Date.now() - started) / 1000,
      cost: jobCost(d, this.opts.backend.pricesPerHour),
      usage: await this.recordUsage(spec, d),
    };
  }

  /** The usage record of a job that ended (failed ones bill too); idempotent: one object per SageMaker job. */
  private recordUsage(spec: JobSpec, d: DescribeTrainingJobCommandOutput) {
    return writeUsageRecord(this.opts.store, spec, attemptUsage(d, this.opts.backend.pricesPerHour));
  }

  /** Packages jobs/ once per content hash and uploads it unless an object with that hash is there already. */
  ensureSourceDir(ctx: JobContext): Promise<string> {
    this.sourceDir ??= (async () => {
      const files = await sourceDirFiles(this.opts.jobsDir);
      const hash = await contentHash(this.opts.jobsDir, files);
      const uri = joinUri(this.opts.codeUri, hash.slice(0, 16), 'sourcedir.tar.gz');
      if (await this.opts.store.exists(uri)) return uri;
      const tgz = await packSourceDir(this.opts.jobsDir, files);
      await this.opts.store.putBytes(uri, tgz, 'application/gzip');
      ctx.log(`uploaded jobs/ (${files.length} files, ${tgz.length} bytes) to ${uri}`);
      return uri;
    })().catch((err: unknown) => {
      this.sourceDir = null;
      throw err;
    });
    return this.sourceDir;
  }
}

/**
 * Not shipped to SageMaker: caches and tests, and requirements.txt — script mode pip-installs a
 * requirements.txt it finds, which would replace the image's CUDA builds of torch (the images carry the
 * dependencies).
 */
const EXCLUDED_DIRS = new Set(['__pycache__', '.pytest_cache', 'tests']);
const EXCLUDED_FILES = new Set(['requirements.txt', 'pytest.ini']);

/** The files of the source directory, relative, in byte order (locale-independent, so hashes are stable). */
export async function sourceDirFiles(dir: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    const child = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory() && !EXCLUDED_DIRS.has(e.name) && !e.name.startsWith('.')) files.push(...(await sourceDirFiles(dir, child)));
    else if (e.isFile() && !EXCLUDED_FILES.has(e.name) && !e.name.endsWith('.pyc')) files.push(child);
  }
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** sha256 over the files' names, sizes and bytes: the code version of jobs/ (the upload key, and job reuse's). */
export async function contentHash(dir: string, files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    const bytes = await readFile(path.join(dir, f));
    h.update(`${f}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest('hex');
}

/**
 * A reproducible sourcedir.tar.gz: GNU tar over the sorted list with fixed mtime, owner and mode (the gnu
 * format has no pax access times), gzipped by zlib, whose header carries no timestamp.
 */
export async function packSourceDir(dir: string, files: string[]): Promise<Buffer> {
  const args = [
    '--create', '--format=gnu', '--no-recursion', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner',
    '--mode=u=rw,go=r', '-C', dir, '--null', '--files-from=-', '--file=-',
  ];
  const { execa } = await import('execa');
  const tar = await execa('tar', args, {
    input: files.map((f) => `${f}\0`).join(''),
    // The archive is binary: bytes as they are, not text with its last newline stripped, and no size cap.
    encoding: 'buffer',
    stripFinalNewline: false,
    maxBuffer: Number.POSITIVE_INFINITY,
    reject: false,
  });
  if (tar.exitCode !== 0) {
    // Not started at all (e.g. no tar on PATH): the spawn error itself, as before.
    if (tar.exitCode === undefined && tar.signal === undefined && tar.cause instanceof Error) throw tar.cause;
    throw new Error(`tar failed (${tar.exitCode ?? null}) packaging ${dir}: ${Buffer.from(tar.stderr).toString('utf8')}`);
  }
  return gzipSync(tar.stdout, { level: 9 });
}

function sameRequest(d: DescribeTrainingJobCommandOutput, r: CreateTrainingJobCommandInput, includeCode: boolean): boolean {
  const hps = (h: Record<string, string> | undefined) => {
    const copy: Record<string, string> = { ...(h ?? {}) };
    if (!includeCode) delete copy.sagemaker_submit_directory;
    return JSON.stringify(Object.keys(copy).sort().map((k) => [k, copy[k]]));
  };
  return (
    hps(d.HyperParameters) === hps(r.HyperParameters) &&
    d.AlgorithmSpecification?.TrainingImage === r.AlgorithmSpecification?.TrainingImage &&
    d.ResourceConfig?.InstanceType === r.ResourceConfig?.InstanceType &&
    (d.OutputDataConfig?.S3OutputPath ?? '').replace(/\/+$/, '') === (r.OutputDataConfig?.S3OutputPath ?? '').replace(/\/+$/, '')
  );
}

function jobFailure(spec: JobSpec, name: string, failure: FailureClass): ApplicationFailure {
  return ApplicationFailure.create({
    type: `SageMakerJob${failure.kind[0].toUpperCase()}${failure.kind.slice(1)}`,
    message: `job ${spec.jobName} (${spec.entryPoint}): ${failure.message}`,
    nonRetryable: !failure.retryable,
    details: [{ jobName: spec.jobName, sagemakerJobName: name, kind: failure.kind, logGroup: '/aws/sagemaker/TrainingJobs' }],
  });
}

/** A context that remembers its last heartbeat, so a heartbeat sent while backing off repeats the progress. */
interface RememberingContext extends JobContext {
  last: JobProgress | null;
}

function rememberingHeartbeats(ctx: JobContext): RememberingContext {
  const remembering: RememberingContext = {
    ...ctx,
    last: null,
    heartbeat(details: JobProgress) {
      if (!details.apiRetry) remembering.last = details;
      ctx.heartbeat(details);
    },
  };
  return remembering;
}

function lastHeartbeat(ctx: JobContext): JobProgress {
  return (ctx as Partial<RememberingContext>).last ?? { phase: 'submitting', jobName: '' };
}

