/**
 * Child processes that lead process groups of their own, and the one way this project stops such a group.
 *
 * Used by the stack (its servers and worker, stack/process.ts), the local job runner (its Python jobs) and
 * `judgeloop report --open`. It lives beside the stack because the stack is this project's "processes on this
 * machine" layer; it depends on nothing but Node and execa, so the worker's activities import it freely.
 *
 * - `startProcess` starts a command through execa as the leader of a new process group. Its output is appended
 *   to a log file through a file descriptor the child holds itself, passed to the terminal, or dropped: never a
 *   pipe through this process (execa's `{ file }` output would be one), so a child neither blocks on nor dies
 *   with a reader that went away — the local runner's jobs outlive their worker on purpose.
 * - `stopProcessGroup` is the kill: a signal (to the group, or to its leader alone), a grace period, SIGKILL for
 *   whatever is left in the group. A zombie (exited, not yet reaped by a parent that may never reap it, such
 *   as a container's PID 1) counts as gone; a child of this process is waited for until it is reaped, so its
 *   pid is gone when the kill returns.
 *
 * execa is ESM-only; this CommonJS project loads it with a dynamic import.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../../core/common/sleep';

export type ProcessOutput = { file: string } | 'inherit' | 'ignore';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  command: string;
  args: readonly string[];
  cwd?: string;
  /** The child's whole environment (not merged into this process's); default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go; a file is appended to (its folder is created). Default 'ignore'. */
  output?: ProcessOutput;
  /**
   * Linux: the signal the child gets when this process dies, however it dies (util-linux `setpriv
   * --pdeathsig`; skipped where setpriv cannot do it or JUDGELOOP_NO_PDEATHSIG=1). Unset: the child may
   * outlive this process.
   */
  parentDeathSignal?: 'KILL' | 'TERM';
  /** Let this process exit while the child runs (a job that outlives its worker, a browser). */
  unref?: boolean;
  /**
   * Talk to the child: its stdin and stdout are pipes to this process (`child.stdin`, `child.stdout`) and
   * only stderr goes to `output`. A child that must outlive this process cannot use them (they close with
   * it); the local runner's warm Python, which ends when its stdin closes, does.
   */
  pipes?: boolean;
}

export interface StartedProcess {
  /** The Node child process (execa's subprocess is one, with execa's methods added). */
  child: ChildProcess;
  /** Its pid, which is also its process group's id. */
  pid: number;
  /** Resolves, never rejects, once it has exited and been reaped. */
  exited: Promise<ExitStatus>;
}

export interface StopOptions {
  /** The first signal; default SIGTERM. */
  signal?: NodeJS.Signals;
  /** How long the first signal has to work before SIGKILL; default 10 s. 0: SIGKILL at once. */
  graceMs?: number;
  /**
   * Send the first signal to the group's leader alone, which then stops its own children in order (a
   * worker's graceful shutdown); the SIGKILL after it still goes to the whole group. Only for a leader known
   * not to have been reaped yet (its pid could be another process's by then). Default: the whole group.
   */
  leaderOnly?: boolean;
}

export interface StopResult {
  /** SIGKILL found something of the group still running. */
  escalated: boolean;
  /** Nothing of the group runs any more (false only for a process SIGKILL did not end within seconds). */
  gone: boolean;
}

const POLL_MS = 50;
/** How long SIGKILL may take (a process in uninterruptible sleep finishes its system call first). */
const KILL_WAIT_MS = 5000;

/** Children started here that have not been reaped yet, by pid: a kill waits for their reaping. */
const unreaped = new Map<number, Promise<ExitStatus>>();

let setprivWorks: Promise<boolean> | undefined;

/** Whether `setpriv --pdeathsig` works here (util-linux >= 2.33 on Linux). */
export function pdeathsigSupported(): Promise<boolean> {
  setprivWorks ??= (async () => {
    if (process.platform !== 'linux' || process.env.JUDGELOOP_NO_PDEATHSIG === '1') return false;
    const { execa } = await import('execa');
    const r = await execa('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore', timeout: 5000, reject: false });
    return r.exitCode === 0;
  })();
  return setprivWorks;
}

/** Starts a process in a new process group; rejects if it cannot be started at all (e.g. ENOENT). */
export async function startProcess(opts: StartOptions): Promise<StartedProcess> {
  const { execa } = await import('execa');
  let output: 'ignore' | 'inherit' | number = 'ignore';
  let fd: number | undefined;
  if (opts.output === 'inherit') output = 'inherit';
  else if (opts.output && typeof opts.output === 'object') {
    fs.mkdirSync(path.dirname(opts.output.file), { recursive: true });
    fd = fs.openSync(opts.output.file, 'a');
    output = fd;
  }
  const [command, args]: [string, string[]] =
    opts.parentDeathSignal && (await pdeathsigSupported())
      ? ['setpriv', ['--pdeathsig', opts.parentDeathSignal, '--', opts.command, ...opts.args]]
      : [opts.command, [...opts.args]];
  // execa hands a lone file descriptor to child_process.spawn as it is (its documentation: "a file descriptor
  // integer"); its types only name 1 and 2.
  const stdio = output as 'ignore' | 'inherit' | 1;
  try {
    const subprocess = execa(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      extendEnv: false,
      stdin: opts.pipes ? 'pipe' : 'ignore',
      stdout: opts.pipes ? 'pipe' : stdio,
      stderr: stdio,
      detached: true,
      // The exit status is the result here, whatever it is; stopping is stopProcessGroup's, not execa's.
      reject: false,
      buffer: false,
      cleanup: false,
      forceKillAfterDelay: false,
    });
    const exited = subprocess.then(
      (r): ExitStatus => ({ code: r.exitCode ?? null, signal: (r.signal as NodeJS.Signals | undefined) ?? null }),
    );
    // 'spawn' once it runs; 'error' (which `once` rejects with) or an early result when it cannot be started.
    const early = await Promise.race([once(subprocess, 'spawn').then(() => undefined), subprocess]);
    if (early !== undefined || subprocess.pid === undefined) {
      const cause: unknown = early?.cause;
      throw cause instanceof Error ? cause : new Error(`could not start ${opts.command}`);
    }
    const pid = subprocess.pid;
    // An 'error' after the start (e.g. a kill through the ChildProcess of a process already gone) is not fatal.
    subprocess.on('error', () => undefined);
    unreaped.set(pid, exited);
    void exited.then(() => unreaped.delete(pid));
    if (opts.unref) subprocess.unref();
    // execa's subprocess is the ChildProcess that child_process.spawn returned, with execa's methods added.
    return { child: subprocess as unknown as ChildProcess, pid, exited };
  } finally {
    // The child holds its own copy of the descriptor.
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Stops process group `pgid` (its leader's pid): `signal` to the group (or its leader), up to `graceMs` for
 * it to end, then SIGKILL to the whole group, which also ends what the leader left behind. Tolerates a group
 * that is already gone. Resolves when nothing of the group runs and, for a child of this process, once it
 * is reaped.
 */
export async function stopProcessGroup(pgid: number, opts: StopOptions = {}): Promise<StopResult> {
  assertGroupId(pgid);
  const { signal = 'SIGTERM', graceMs = 10_000, leaderOnly = false } = opts;
  if (graceMs > 0) {
    const sent = leaderOnly ? signalProcess(pgid, signal) : signalProcessGroup(pgid, signal);
    if (sent) await waitUntil(() => !(leaderOnly ? isRunning(pgid) : groupRunning(pgid)), graceMs);
  }
  const escalated = groupRunning(pgid);
  signalProcessGroup(pgid, 'SIGKILL');
  const gone = await waitUntil(() => !groupRunning(pgid) && !unreaped.has(pgid), KILL_WAIT_MS);
  return { escalated, gone };
}

/** Sends `signal` to every process in group `pgid` (0: only checks); false when the group does not exist. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  assertGroupId(pgid);
  return sendSignal(-pgid, signal);
}

/** Sends `signal` to the process `pid` alone (0: only checks); false when it does not exist. */
export function signalProcess(pid: number, signal: NodeJS.Signals | 0): boolean {
  assertGroupId(pid);
  return sendSignal(pid, signal);
}

function sendSignal(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // It exists but is not ours to signal (or, on macOS, the group holds only zombies): nothing to do here.
    if (code === 'EPERM') return true;
    throw err;
  }
}

/** kill(0) and kill(-1) would reach this process's own group or every process it may signal. */
function assertGroupId(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a process (group) id to signal: ${pid}`);
}

export interface ProcStat {
  /** R, S, D, Z (zombie), T, X (dead), ... */
  state: string;
  ppid: number;
  /** Process group id. */
  pgrp: number;
}

const HAVE_PROC = process.platform === 'linux' && fs.existsSync('/proc/self/stat');

/** /proc/<pid>/stat (Linux), or undefined when there is no such process or no /proc. */
export function procStat(pid: number): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." where comm may contain spaces and parentheses.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

const isZombie = (state: string) => state === 'Z' || state === 'X';

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  if (!HAVE_PROC) return Number.isInteger(pid) && pid > 0 && sendSignal(pid, 0);
  const s = procStat(pid);
  return s !== undefined && !isZombie(s.state);
}

/** The live (not zombie) processes of group `pgid` (Linux; [] without /proc). */
export function processGroupMembers(pgid: number): number[] {
  if (!HAVE_PROC) return [];
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (s && s.pgrp === pgid && !isZombie(s.state)) members.push(Number(entry));
  }
  return members;
}

/** True while a process of group `pgid` runs (zombies do not count where /proc tells them apart). */
export function groupRunning(pgid: number): boolean {
  // kill(-pgid, 0) is cheap and settles the common case, an empty group, without reading all of /proc.
  if (!signalProcessGroup(pgid, 0)) return false;
  return HAVE_PROC ? processGroupMembers(pgid).length > 0 : true;
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(POLL_MS, left));
  }
}
