/**
 * Child processes of the stack (servers, workers) that never outlive it.
 *
 * - Each child gets its own process group (so a Ctrl-C in the terminal reaches only the stack, which then
 *   stops its children in order) and, on Linux, a parent-death signal via util-linux `setpriv --pdeathsig`
 *   (so even a SIGKILLed stack or test process takes its servers with it).
 * - Output goes to a log file (or the terminal); never to a pipe that could keep a CI job waiting.
 * - `stop()` sends a signal to the process, waits, and SIGKILLs what is left of its process group (the process
 *   itself if it did not stop, and whatever it started there).
 * Starting and stopping are activities/jobs/process-group.ts's, which the local job runner shares.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import {
  signalProcess,
  signalProcessGroup,
  startProcess,
  stopProcessGroup,
  type ExitStatus,
  type ProcessOutput,
  type StartedProcess,
} from '../activities/jobs/process-group';

export type { ExitStatus, ProcessOutput } from '../activities/jobs/process-group';

export interface ManagedProcessOptions {
  /** A short name for messages: "Temporal dev server", "S3 server", "worker". */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go; a file is appended to. Default 'ignore'. */
  output?: ProcessOutput;
}

export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited (and been reaped). */
  readonly exited: Promise<ExitStatus>;
  readonly logFile: string | undefined;
  private status: ExitStatus | undefined;
  private stopping: Promise<ExitStatus> | undefined;

  private constructor(name: string, started: StartedProcess, logFile: string | undefined) {
    this.name = name;
    this.child = started.child;
    this.pid = started.pid;
    this.logFile = logFile;
    this.exited = started.exited.then((status) => {
      this.status = status;
      return status;
    });
  }

  /** Spawns the process; rejects if the executable cannot be started at all (e.g. ENOENT). */
  static async start(opts: ManagedProcessOptions): Promise<ManagedProcess> {
    const started = await startProcess({
      command: opts.command,
      args: opts.args,
      cwd: opts.cwd,
      env: opts.env,
      output: opts.output ?? 'ignore',
      parentDeathSignal: 'KILL',
    });
    return new ManagedProcess(opts.name, started, opts.output && typeof opts.output === 'object' ? opts.output.file : undefined);
  }

  get alive(): boolean {
    return this.status === undefined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** Sends a signal to the process itself (not its group). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.alive) signalProcess(this.pid, signal);
  }

  /** Sends a signal to every process in the child's process group (it and what it started). */
  killGroup(signal: NodeJS.Signals = 'SIGKILL'): void {
    signalProcessGroup(this.pid, signal);
  }

  /**
   * Stops the process: `signal` to it, then SIGKILL to its process group once it has exited or `timeoutMs`
   * has passed (at once if it had exited already). Idempotent; resolves with the exit status.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitStatus> {
    this.stopping ??= (async () => {
      // A process already reaped has no pid of its own any more (it may be another's): its group only.
      await stopProcessGroup(this.pid, this.alive ? { signal, graceMs: timeoutMs, leaderOnly: true } : { graceMs: 0 });
      return this.exited;
    })();
    return this.stopping;
  }

  /** The last lines of the log file, for error messages ('' without a log file). */
  logTail(lines = 20): string {
    if (!this.logFile) return '';
    return readTail(this.logFile, lines);
  }
}

export function readTail(file: string, lines = 20): string {
  try {
    const stat = fs.statSync(file);
    const size = Math.min(stat.size, 64 * 1024);
    const buf = Buffer.alloc(size);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buf, 0, size, stat.size - size);
    } finally {
      fs.closeSync(fd);
    }
    return buf.toString('utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
