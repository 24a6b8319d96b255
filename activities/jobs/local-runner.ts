/**
 * The local job runner: runs a jobs/ entry point as a child process under the SageMaker script-mode
 * contract, with channels downloaded from S3 and outputs uploaded back.
 *
 * Durability: the job process is detached from the worker and writes its exit code to its job folder, so a
 * worker that dies (even by SIGKILL) leaves the job running; the retried activity on the next worker finds
 * the same job folder by the job's deterministic name and adopts the running process instead of starting a
 * second one. A job whose outputs were already uploaded is adopted without running anything.
 */
import { appendFile, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { joinUri } from '../../core/run/artifacts';
import type { ObjectStore } from '../storage/object-store';
import { hashInputs } from '../storage/hashing';
import { COMPLETION_FILES, abortReasonOf, type JobContext, type JobProgress, type JobResult, type JobRunner, type JobSpec } from './types';
import { costUsd } from '../../core/run/usage';
import { writeUsageRecord } from './usage-record';
import { isRunning, startProcess, stopProcessGroup } from './process-group';
import { launchWarm, prewarm, type WarmPythonOptions } from './warm-python';
import { sleepUntilFile } from './file-wait';
import { paceOf, type ProgressSample } from '../../core/run/progress-rate';

export interface LocalRunnerOptions {
  store: ObjectStore;
  /** Project root: jobs/ lives here and relative paths resolve against it. */
  projectRoot: string;
  /** Python interpreter (absolute, or relative to projectRoot). */
  python: string;
  /** Folder holding one sub-folder per job (absolute, or relative to projectRoot). */
  workDir: string;
  /** Folder of the entry points (default `<projectRoot>/jobs`). */
  jobsDir?: string;
  /** CPU threads per job process (OMP_NUM_THREADS / MKL_NUM_THREADS); unset leaves the environment's. */
  cpuThreads?: number;
  pollMs?: number;
  /** Grace period between SIGTERM and SIGKILL on cancellation. */
  killGraceMs?: number;
  /** What an hour of this machine costs (backend.pricePerHour), for the jobs' usage records; unset: unpriced. */
  pricePerHour?: number;
  /** Called before a job process is launched (not when one is adopted); throws to refuse it (the budget). */
  admit?: (spec: JobSpec) => Promise<void>;
  /** Entry point → the output file it writes last (default COMPLETION_FILES). */
  completionFiles?: Readonly<Record<string, string>>;
  /**
   * Fork each job from a Python that has imported its entry point's libraries once (warm-python.ts) instead
   * of starting a fresh interpreter; a job the warm process cannot launch is launched cold. Default false.
   */
  warmPython?: boolean;
}

interface LaunchRecord {
  jobName: string;
  specHash: string;
  pid: number;
  /** Kernel start time of the process (from /proc), so a recycled pid is never mistaken for our job. */
  startTicks: string | null;
  launchedAt: string;
}

interface CompletionRecord {
  jobName: string;
  specHash: string;
  exitCode: number;
  seconds: number;
  finishedAt: string;
}

const PROGRESS_PREFIX = 'JUDGELOOP_PROGRESS ';

export class LocalJobRunner implements JobRunner {
  private readonly pollMs: number;
  private readonly killGraceMs: number;

  constructor(private readonly opts: LocalRunnerOptions) {
    this.pollMs = opts.pollMs ?? 1000;
    this.killGraceMs = opts.killGraceMs ?? 10_000;
  }

  private resolve(p: string): string {
    return path.isAbsolute(p) ? p : path.join(this.opts.projectRoot, p);
  }

  jobDir(jobName: string): string {
    return path.join(this.resolve(this.opts.workDir), jobName);
  }

  async run(spec: JobSpec, ctx: JobContext): Promise<JobResult> {
    // The environment says where the job reports, not what it computes: a relaunch with another keeps the job.
    const { environment: _reportsTo, ...identity } = spec;
    const specHash = hashInputs(identity);
    const started = Date.now();
    const result = async (how: JobResult['how'], exit: CompletionRecord): Promise<JobResult> => ({
      jobName: spec.jobName,
      outputUri: spec.outputUri,
      modelUri: joinUri(spec.outputUri, 'model'),
      outputDataUri: joinUri(spec.outputUri, 'output'),
      how,
      seconds: (Date.now() - started) / 1000,
      // From the job's own exit record, so every attempt that adopts the job writes the same record.
      usage: await writeUsageRecord(this.opts.store, spec, {
        attempt: spec.jobName,
        status: 'Completed',
        backend: 'local',
        seconds: exit.seconds,
        billableSeconds: exit.seconds,
        instanceType: 'local',
        instanceCount: 1,
        usd: costUsd(exit.seconds, 1, this.opts.pricePerHour),
        finishedAt: exit.finishedAt,
      }),
    });

    const completionUri = joinUri(spec.outputUri, '_job.json');
    const uploaded = await this.opts.store.getJson<CompletionRecord>(completionUri);
    if (uploaded && uploaded.specHash === specHash && uploaded.exitCode === 0) {
      ctx.log(`job ${spec.jobName}: outputs already in ${spec.outputUri}; adopting them`);
      ctx.heartbeat({ phase: 'done', jobName: spec.jobName, adopted: true });
      return result('adopted-finished', uploaded);
    }

    const dir = this.jobDir(spec.jobName);
    await mkdir(dir, { recursive: true });
    let how: JobResult['how'] = 'ran';
    let launch = await readJson<LaunchRecord>(path.join(dir, 'launch.json'));
    let exit = await readJson<CompletionRecord>(path.join(dir, 'exit.json'));
    if (launch && launch.specHash !== specHash) {
      // The folder holds another spec's job (the config changed under the same name): start clean.
      if (await isSameProcessAlive(launch)) await this.kill(launch.pid);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      launch = exit = null;
    }

    if (exit && exit.exitCode === 0) {
      how = 'adopted-running';
      ctx.log(`job ${spec.jobName}: finished earlier (pid ${launch?.pid}); uploading its outputs`);
    } else if (launch && !exit && (await isSameProcessAlive(launch))) {
      how = 'adopted-running';
      ctx.log(`job ${spec.jobName}: adopting running process ${launch.pid} started ${launch.launchedAt}`);
    } else {
      await this.opts.admit?.(spec);
      launch = await this.launch(spec, specHash, dir, ctx);
    }

    if (!(exit && exit.exitCode === 0)) {
      exit = await this.waitForExit(spec, launch!, dir, ctx, how === 'adopted-running');
    }
    if (exit.exitCode !== 0) {
      const tail = await logTail(path.join(dir, 'job.log'), 40);
      throw ApplicationFailure.create({
        type: 'JobFailed',
        message: `job ${spec.jobName} (${spec.entryPoint}) exited with code ${exit.exitCode}; last log lines:\n${tail}`,
        // A script error repeats on retry; a process killed by a signal (OOM, lost machine) may not.
        nonRetryable: exit.exitCode > 0 && exit.exitCode < 128,
        details: [{ jobName: spec.jobName, exitCode: exit.exitCode, logFile: path.join(dir, 'job.log') }],
      });
    }

    const completion = (this.opts.completionFiles ?? COMPLETION_FILES)[spec.entryPoint];
    if (completion && !(await isFile(path.join(dir, 'output', completion)))) {
      // Exit code 0 but not the file the script writes last: it did not finish (killed after a partial
      // write, or a broken image). Forget the exit so the retry runs it again instead of adopting it. The
      // process wrote its exit record a moment before it ends: wait until it has ended, or a retry on this
      // machine would find it still running without a record, adopt it, and then lose it.
      if (launch) await untilGone(launch, 10_000);
      await rm(path.join(dir, 'exit.json'), { force: true });
      throw ApplicationFailure.create({
        type: 'JobIncomplete',
        message: `job ${spec.jobName} (${spec.entryPoint}) exited with code 0 without writing output/${completion}, the file it writes last; it is run again`,
        nonRetryable: false,
        details: [{ jobName: spec.jobName, logFile: path.join(dir, 'job.log') }],
      });
    }

    ctx.heartbeat({ phase: 'uploading', jobName: spec.jobName });
    await this.opts.store.uploadDir(path.join(dir, 'model'), joinUri(spec.outputUri, 'model'));
    await this.opts.store.uploadDir(path.join(dir, 'output'), joinUri(spec.outputUri, 'output'));
    await this.opts.store.putJson(completionUri, exit);
    // The outputs are in S3 and the completion record makes any retry adopt them: the local copies of the
    // inputs, the model and the checkpoints (a real judge: ~0.5 GB each, checkpoints several times that) are
    // no longer needed. The folder keeps its logs and launch/exit records.
    for (const heavy of ['channels', 'model', 'checkpoints']) await rm(path.join(dir, heavy), { recursive: true, force: true });
    ctx.heartbeat({ phase: 'done', jobName: spec.jobName });
    return result(how, exit);
  }

  private async launch(spec: JobSpec, specHash: string, dir: string, ctx: JobContext): Promise<LaunchRecord> {
    ctx.heartbeat({ phase: 'downloading', jobName: spec.jobName });
    const baseEnv = this.baseEnvironment();
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      SM_MODEL_DIR: path.join(dir, 'model'),
      SM_OUTPUT_DATA_DIR: path.join(dir, 'output'),
      SM_HPS: JSON.stringify(spec.hyperparameters),
      SM_CHANNELS: JSON.stringify(Object.keys(spec.channels)),
      // The job's own folder outlives its process and is kept by a relaunch of the same spec, so a killed
      // training job resumes from its latest checkpoint there (jobs/README.md, "Checkpoints and resuming").
      SM_CHECKPOINT_DIR: path.join(dir, 'checkpoints'),
      ...spec.environment,
    };
    for (const [name, uri] of Object.entries(spec.channels)) {
      const local = path.join(dir, 'channels', name);
      await this.opts.store.downloadPrefix(uri, local);
      env[`SM_CHANNEL_${name.toUpperCase()}`] = local;
      ctx.heartbeat({ phase: 'downloading', jobName: spec.jobName });
    }
    for (const out of ['model', 'output']) {
      await rm(path.join(dir, out), { recursive: true, force: true });
      await mkdir(path.join(dir, out), { recursive: true });
    }
    await rm(path.join(dir, 'exit.json'), { force: true });

    const python = this.pythonCommand();
    const script = this.scriptPath(spec.entryPoint);
    const pid =
      (this.opts.warmPython ? await this.launchWarm(python, script, baseEnv, env, spec, specHash, dir, ctx) : null) ??
      (await this.launchCold(python, script, env, spec, specHash, dir));
    const record: LaunchRecord = {
      jobName: spec.jobName,
      specHash,
      pid,
      startTicks: await processStartTicks(pid),
      launchedAt: new Date().toISOString(),
    };
    await writeFile(path.join(dir, 'launch.json'), JSON.stringify(record, null, 2));
    await appendFile(path.join(dir, 'launches.log'), JSON.stringify(record) + '\n');
    ctx.log(`job ${spec.jobName}: started ${spec.entryPoint} as pid ${pid}; log ${path.join(dir, 'job.log')}`);
    return record;
  }

  /**
   * Starts the warm Python of each entry point ahead of its first job (with warmPython on; else nothing), with
   * the environment that job will have, so that the job is forked from it at once.
   */
  prewarm(entryPoints: readonly string[]): void {
    if (!this.opts.warmPython) return;
    const python = this.pythonCommand();
    const env = this.baseEnvironment();
    // The warm processes' logs go to the work folder, which no job may have made yet.
    void mkdir(this.resolve(this.opts.workDir), { recursive: true }).then(
      () => entryPoints.forEach((entryPoint) => prewarm(this.warmOptions(python, this.scriptPath(entryPoint), env))),
      () => undefined,
    );
  }

  /** What every job of this runner has; a warm Python is started with it (its imports may read it). */
  private baseEnvironment(): NodeJS.ProcessEnv {
    return {
      ...jobEnvironment(process.env),
      PYTHONUNBUFFERED: '1',
      HF_HUB_OFFLINE: '1',
      TRANSFORMERS_OFFLINE: '1',
      TOKENIZERS_PARALLELISM: 'false',
      ...(this.opts.cpuThreads
        ? { OMP_NUM_THREADS: String(this.opts.cpuThreads), MKL_NUM_THREADS: String(this.opts.cpuThreads) }
        : {}),
    };
  }

  /** A bare command name (`python3`) is looked up on PATH; a path resolves against the project root. */
  private pythonCommand(): string {
    return this.opts.python.includes('/') ? this.resolve(this.opts.python) : this.opts.python;
  }

  private scriptPath(entryPoint: string): string {
    return path.join(this.opts.jobsDir ?? path.join(this.opts.projectRoot, 'jobs'), entryPoint);
  }

  private warmOptions(python: string, script: string, env: NodeJS.ProcessEnv): WarmPythonOptions {
    return {
      python,
      zygote: path.join(this.opts.projectRoot, 'jobs', 'judgeloop_jobs', 'zygote.py'),
      script,
      env,
      logFile: path.join(this.resolve(this.opts.workDir), `warm-python-${path.basename(script, '.py')}.log`),
    };
  }

  /** Forks the job from the script's warm Python; null when that cannot be done (then it starts cold). */
  private async launchWarm(
    python: string,
    script: string,
    baseEnv: NodeJS.ProcessEnv,
    env: NodeJS.ProcessEnv,
    spec: JobSpec,
    specHash: string,
    dir: string,
    ctx: JobContext,
  ): Promise<number | null> {
    try {
      const { pid, started } = await launchWarm(
        this.warmOptions(python, script, baseEnv),
        { cwd: this.opts.projectRoot, env, log: path.join(dir, 'job.log'), exit: path.join(dir, 'exit.json'), job: spec.jobName, spec: specHash },
      );
      if (started) {
        const failed = Object.entries(started.failed).map(([name, why]) => `${name} (${why})`);
        ctx.log(
          `job ${spec.jobName}: started a warm Python for ${spec.entryPoint} (pid ${started.pid}), which preloaded ${started.preloaded.join(', ') || 'nothing'}` +
            (failed.length ? `; could not import ${failed.join(', ')}` : ''),
        );
      }
      return pid;
    } catch (err) {
      ctx.log(`job ${spec.jobName}: the warm Python could not launch it (${(err as Error).message}); starting a fresh interpreter`);
      return null;
    }
  }

  private async launchCold(python: string, script: string, env: NodeJS.ProcessEnv, spec: JobSpec, specHash: string, dir: string): Promise<number> {
    // The shell records the exit code beside the job, so whichever worker adopts the job can read it.
    // Seconds to the millisecond from bash's EPOCHREALTIME (bash 5; its separator follows the locale), else
    // whole seconds: a job that ends within a second must not count as 0 s against the budget.
    const wrapper = [
      'SECONDS=0',
      'start=${EPOCHREALTIME:-}',
      '"$JUDGELOOP_PYTHON" "$JUDGELOOP_SCRIPT"',
      'code=$?',
      'if [ -n "$start" ]; then us=$(( 10#${EPOCHREALTIME//[.,]/} - 10#${start//[.,]/} )); seconds=$(printf "%d.%03d" $((us / 1000000)) $((us % 1000000 / 1000))); else seconds=$SECONDS; fi',
      'printf \'{"jobName":"%s","specHash":"%s","exitCode":%d,"seconds":%s,"finishedAt":"%s"}\\n\' ' +
        '"$JUDGELOOP_JOB" "$JUDGELOOP_SPEC" "$code" "$seconds" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$JUDGELOOP_DIR/exit.json.tmp"',
      'mv "$JUDGELOOP_DIR/exit.json.tmp" "$JUDGELOOP_DIR/exit.json"',
      'exit $code',
    ].join('\n');
    // Its own process group (a cancellation stops the shell and Python together), no parent-death signal and
    // no hold on the worker's event loop: the job outlives a worker that dies, for the next one to adopt.
    const { pid } = await startProcess({
      command: 'bash',
      args: ['-c', wrapper],
      cwd: this.opts.projectRoot,
      env: {
        ...env,
        JUDGELOOP_PYTHON: python,
        JUDGELOOP_SCRIPT: script,
        JUDGELOOP_JOB: spec.jobName,
        JUDGELOOP_SPEC: specHash,
        JUDGELOOP_DIR: dir,
      },
      output: { file: path.join(dir, 'job.log') },
      unref: true,
    }).catch((err: unknown) => {
      throw new Error(`could not start ${python} ${script}: ${(err as Error).message}`, { cause: err });
    });
    return pid;
  }

  private async waitForExit(
    spec: JobSpec,
    launch: LaunchRecord,
    dir: string,
    ctx: JobContext,
    adopted: boolean,
  ): Promise<CompletionRecord> {
    const logPath = path.join(dir, 'job.log');
    let offset = 0;
    let pending = '';
    const progress: JobProgress = { phase: 'running', jobName: spec.jobName, pid: launch.pid, adopted };
    /** The first progress report this attempt read: the pace is measured from it. */
    let firstReport: ProgressSample | undefined;
    for (;;) {
      if (ctx.signal.aborted) {
        const reason = abortReasonOf(ctx);
        // The server gave up on this attempt (timed out, lost, paused, reset): the next attempt adopts the
        // process, which may already have happened on this very machine, so killing it would kill the work.
        // A cancellation and a shutdown of this worker stop it: the process is this machine's, and a worker
        // stopped on purpose takes its work with it (a crashed one leaves it for adoption).
        if (reason === 'timed-out' || reason === 'not-found' || reason === 'paused' || reason === 'reset') {
          ctx.log(`job ${spec.jobName}: left running (pid ${launch.pid}) for the next attempt to adopt (this attempt ended: ${reason})`);
          throw ApplicationFailure.create({
            type: 'JobLeftRunning',
            message: `job ${spec.jobName}: this attempt ended (${reason}); pid ${launch.pid} keeps running and the next attempt adopts it`,
            nonRetryable: false,
          });
        }
        ctx.log(`job ${spec.jobName}: ${reason === 'worker-shutdown' ? 'the worker is shutting down' : 'cancelled'}; stopping pid ${launch.pid}`);
        await this.kill(launch.pid);
        throw new CancelledFailure(`job ${spec.jobName} ${reason === 'worker-shutdown' ? 'stopped with its worker' : 'cancelled'}`);
      }
      const chunk = await readFrom(logPath, offset);
      if (chunk.length) {
        offset += chunk.length;
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith(PROGRESS_PREFIX)) {
            // Progress becomes heartbeat details (visible in the UI and to `judgeloop status`), not log noise.
            try {
              Object.assign(progress, JSON.parse(line.slice(PROGRESS_PREFIX.length)));
              continue;
            } catch {
              /* a malformed progress line is only a log line */
            }
          }
          ctx.log(`[${spec.jobName}] ${line}`);
        }
      }
      if (typeof progress.done === 'number') {
        const latest = { done: progress.done, at: Date.now(), ...(typeof progress.total === 'number' ? { total: progress.total } : {}) };
        firstReport ??= latest;
        const pace = paceOf(firstReport, latest);
        progress.perSecond = pace.perSecond;
        progress.secondsLeft = pace.secondsLeft;
      }
      ctx.heartbeat({ ...progress });
      const exit = await readJson<CompletionRecord>(path.join(dir, 'exit.json'));
      if (exit) return exit;
      if (!(await isSameProcessAlive(launch))) {
        // Exited between the two checks, or died without recording an exit code (killed with its shell).
        const late = await readJson<CompletionRecord>(path.join(dir, 'exit.json'));
        if (late) return late;
        throw ApplicationFailure.create({
          type: 'JobLost',
          message: `job ${spec.jobName} (pid ${launch.pid}) disappeared without an exit code; it will be restarted`,
          nonRetryable: false,
        });
      }
      await sleepUntilFile(dir, 'exit.json', this.pollMs, ctx.signal);
    }
  }

  /** Stops the job's process group (the shell and Python): SIGTERM, then SIGKILL after the grace period. */
  private async kill(pid: number): Promise<void> {
    await stopProcessGroup(pid, { signal: 'SIGTERM', graceMs: this.killGraceMs });
  }
}

async function processStartTicks(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the parenthesised command name, which may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Waits (polling every 50 ms, at most `ms`) until the launched process has ended. */
async function untilGone(launch: LaunchRecord, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await isSameProcessAlive(launch)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function isSameProcessAlive(launch: LaunchRecord): Promise<boolean> {
  // A zombie (exited, not yet reaped by its parent) is not running.
  if (!isRunning(launch.pid)) return false;
  const ticks = await processStartTicks(launch.pid);
  return ticks === null || launch.startTicks === null || ticks === launch.startTicks;
}

/**
 * The worker's environment without its secrets: a job reads its channels and writes its outputs as local
 * files (the runner moves them to and from S3), so it needs no credentials, and anything in a process's
 * environment is readable in /proc/<pid>/environ and lands in crash dumps.
 */
export function jobEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (SECRET_VARIABLES.has(name) || SECRET_NAME.test(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Secrets by name (AWS, Temporal, the payload codec) and by what the name says. */
const SECRET_VARIABLES = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'JUDGELOOP_CODEC_KEYS',
  'JUDGELOOP_CODEC_KEY_ID',
  'JUDGELOOP_CODEC_SERVER_TOKEN',
]);
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL/i;

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null))?.isFile() ?? false;
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

async function readFrom(file: string, offset: number): Promise<Buffer> {
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) return Buffer.alloc(0);
  try {
    const { size } = await handle.stat();
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(Math.min(size - offset, 1 << 20));
    const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function logTail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => !l.startsWith(PROGRESS_PREFIX)).slice(-lines - 1).join('\n');
}

