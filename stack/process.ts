/**
 * Child processes of the stack (servers, workers) that never outlive it.
 *
 * - Each child gets its own process group (so a Ctrl-C in the terminal reaches only the stack, which then
 *   stops its children in order) and, on Linux, a parent-death signal via util-linux `setpriv --pdeathsig`
 *   (so even a SIGKILLed stack or test process takes its servers with it).
 * - Output goes to a log file (or the terminal); never to a pipe that could keep a CI job waiting.
 * - `stop()` sends a signal, waits, escalates to SIGKILL, and finally kills whatever is left in the child's
 *   process group (e.g. a job the worker started).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type ProcessOutput = { file: string } | 'inherit' | 'ignore';

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

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

let setprivWorks: boolean | undefined;

/** Whether `setpriv --pdeathsig` is available here (util-linux >= 2.33 on Linux). */
export function pdeathsigSupported(): boolean {
  if (setprivWorks === undefined) {
    if (process.platform !== 'linux' || process.env.JUDGELOOP_NO_PDEATHSIG === '1') {
      setprivWorks = false;
    } else {
      const r = spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
      setprivWorks = r.status === 0;
    }
  }
  return setprivWorks;
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

  private constructor(name: string, child: ChildProcess, logFile: string | undefined) {
    this.name = name;
    this.child = child;
    this.logFile = logFile;
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      });
    });
  }

  /** Spawns the process; rejects if the executable cannot be started at all (e.g. ENOENT). */
  static async start(opts: ManagedProcessOptions): Promise<ManagedProcess> {
    let stdio: ('ignore' | 'inherit' | number)[] = ['ignore', 'ignore', 'ignore'];
    let fd: number | undefined;
    let logFile: string | undefined;
    if (opts.output === 'inherit') stdio = ['ignore', 'inherit', 'inherit'];
    else if (opts.output && typeof opts.output === 'object') {
      logFile = opts.output.file;
      fs.mkdirSync(path.dirname(logFile), { recursive: true });
      fd = fs.openSync(logFile, 'a');
      stdio = ['ignore', fd, fd];
    }
    const [command, args] = pdeathsigSupported()
      ? ['setpriv', ['--pdeathsig', 'KILL', '--', opts.command, ...opts.args]]
      : [opts.command, opts.args];
    try {
      const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio, detached: true });
      const spawned = await new Promise<ChildProcess>((resolve, reject) => {
        child.once('spawn', () => resolve(child));
        child.once('error', reject);
      });
      const managed = new ManagedProcess(opts.name, spawned, logFile);
      spawned.on('error', () => undefined); // errors after spawn (e.g. kill on a dead pid) are not fatal
      return managed;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  get alive(): boolean {
    return this.status === undefined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** Sends a signal to the process itself (not its group). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.alive) {
      try {
        process.kill(this.pid, signal);
      } catch {
        /* already gone */
      }
    }
  }

  /** Sends a signal to every process in the child's process group (it and what it started). */
  killGroup(signal: NodeJS.Signals = 'SIGKILL'): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      /* group already empty */
    }
  }

  /**
   * Stops the process: `signal`, then SIGKILL after `timeoutMs`; then SIGKILLs what is left of its process
   * group. Idempotent; resolves with the exit status.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<ExitStatus> {
    if (!this.stopping) {
      this.stopping = (async () => {
        if (this.alive) {
          this.kill(signal);
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await Promise.race([
            this.exited.then(() => false),
            new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(true), timeoutMs);
            }),
          ]);
          clearTimeout(timer);
          if (timedOut) this.kill('SIGKILL');
        }
        const status = await this.exited;
        this.killGroup('SIGKILL');
        return status;
      })();
    }
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
