/**
 * Warm Pythons for the local runner: one process per entry point that has imported the script's heavy
 * libraries (torch, transformers, TRL: 3.5 to 8 s of CPU per job otherwise) and forks each job from itself
 * (jobs/judgeloop_jobs/zygote.py says how, and what a job inherits).
 *
 * A forked job is what a cold launch is to the runner: a pid that leads its own process group, a log file, an
 * exit record written beside the job, a process that outlives the worker. So adoption, the group kill and
 * the exit codes do not change; only the start is faster.
 *
 * One warm process per (interpreter, script, environment) in this Node process, shared by every runner in it,
 * started at the first job of its script (or ahead of it, by `prewarm`) and ended when it has launched nothing for `idleMs`, when it dies,
 * or when this process exits (its stdin closes, on which it ends). Anything that keeps it from launching a job
 * (it cannot start, fails to answer, dies) is reported to the caller, which then launches cold.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { startProcess, stopProcessGroup, type StartedProcess } from './process-group';

export interface WarmJobRequest {
  cwd: string;
  /** The job's whole environment (it replaces the warm process's own). */
  env: NodeJS.ProcessEnv;
  /** The job's log file (stdout and stderr, appended). */
  log: string;
  /** Where the job writes its exit record. */
  exit: string;
  job: string;
  spec: string;
}

export interface WarmPythonOptions {
  python: string;
  /** jobs/judgeloop_jobs/zygote.py */
  zygote: string;
  /** The entry point (absolute path). */
  script: string;
  /** The warm process's environment: the jobs' own without what differs per job. */
  env: NodeJS.ProcessEnv;
  /** Where the warm process's own stderr goes (import warnings, a preload that failed). */
  logFile: string;
  /** How long its imports may take before a launch gives up on it (default 3 min). */
  readyTimeoutMs?: number;
  /** How long it stays without launching anything (default 10 min). */
  idleMs?: number;
}

export interface WarmReady {
  pid: number;
  preloaded: string[];
  failed: Record<string, string>;
}

type Answer = { id: number; pid?: number; error?: string };

class WarmPython {
  private nextId = 1;
  private launched = false;
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>();
  private idleTimer: NodeJS.Timeout | undefined;
  private ended: Error | undefined;
  readonly ready: Promise<WarmReady>;

  private constructor(
    private readonly proc: StartedProcess,
    private readonly opts: WarmPythonOptions,
    /** Called once, as soon as it stops taking launches (stopped, failed or exited). */
    private readonly onEnd: () => void,
  ) {
    let settleReady!: { resolve: (r: WarmReady) => void; reject: (e: Error) => void };
    this.ready = new Promise<WarmReady>((resolve, reject) => (settleReady = { resolve, reject }));
    // A launch that gave up on the ready message leaves this promise's rejection to nobody.
    this.ready.catch(() => undefined);
    const readyTimer = setTimeout(
      () => this.end(new Error(`no ready message within ${(opts.readyTimeoutMs ?? 180_000) / 1000} s`)),
      opts.readyTimeoutMs ?? 180_000,
    );
    readyTimer.unref();
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (line) => {
      let message: Answer & Partial<WarmReady> & { ready?: boolean };
      try {
        message = JSON.parse(line);
      } catch {
        return; // not ours: a library printing to stdout while importing
      }
      if (message.ready) {
        clearTimeout(readyTimer);
        settleReady.resolve({ pid: message.pid ?? proc.pid, preloaded: message.preloaded ?? [], failed: message.failed ?? {} });
        this.idle();
        return;
      }
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      waiter.resolve(message);
      if (!this.waiting.size) this.idle();
    });
    void proc.exited.then((status) => {
      clearTimeout(readyTimer);
      this.end(new Error(`it exited (${status.signal ?? `code ${status.code}`}); its log: ${opts.logFile}`));
      settleReady.reject(this.ended!);
    });
    this.setReferenced(true);
  }

  static async start(opts: WarmPythonOptions, onEnd: () => void): Promise<WarmPython> {
    const proc = await startProcess({
      command: opts.python,
      args: [opts.zygote, '--script', opts.script],
      cwd: path.dirname(opts.script),
      env: opts.env,
      output: { file: opts.logFile },
      pipes: true,
    });
    return new WarmPython(proc, opts, onEnd);
  }

  /** True once: at the first launch through it (whether it was started for that launch or ahead of it). */
  firstLaunch(): boolean {
    const first = !this.launched;
    this.launched = true;
    return first;
  }

  /** Forks the job; its pid. Rejects when this process cannot launch it. */
  async launch(request: WarmJobRequest): Promise<number> {
    await this.ready;
    if (this.ended) throw this.ended;
    clearTimeout(this.idleTimer);
    const id = this.nextId++;
    const answered = new Promise<Answer>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.setReferenced(true);
    this.proc.child.stdin!.write(JSON.stringify({ id, ...request }) + '\n');
    const answer = await answered;
    if (answer.pid === undefined) throw new Error(answer.error ?? 'it answered without a pid');
    return answer.pid;
  }

  /** Ends it (end() closes its stdin, which is enough; the group kill is for one that does not listen). */
  async stop(): Promise<void> {
    this.end(new Error('it was stopped'));
    await Promise.race([this.proc.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    await stopProcessGroup(this.proc.pid, { graceMs: 0 });
  }

  private end(reason: Error): void {
    if (this.ended) return;
    this.ended = reason;
    this.onEnd();
    clearTimeout(this.idleTimer);
    for (const waiter of this.waiting.values()) waiter.reject(reason);
    this.waiting.clear();
    this.setReferenced(false);
    this.proc.child.stdin?.end();
  }

  private idle(): void {
    // Waiting for nothing, it must not keep this process alive.
    this.setReferenced(false);
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.opts.idleMs ?? 10 * 60_000);
    this.idleTimer.unref();
  }

  private setReferenced(on: boolean): void {
    const handles = [this.proc.child, this.proc.child.stdout as Socket | null, this.proc.child.stdin as Socket | null];
    for (const handle of handles) {
      if (!handle) continue;
      if (on) handle.ref();
      else handle.unref();
    }
  }
}

const warm = new Map<string, Promise<WarmPython>>();

function keyOf(opts: WarmPythonOptions): string {
  const env = createHash('sha256')
    .update(JSON.stringify(Object.entries(opts.env).sort(([a], [b]) => (a < b ? -1 : 1))))
    .digest('hex');
  return JSON.stringify([opts.python, opts.zygote, opts.script, env]);
}

/** The warm process for `opts`, started when there is none; one that cannot start is forgotten, so the next call tries again. */
function warmProcess(opts: WarmPythonOptions): Promise<WarmPython> {
  const key = keyOf(opts);
  let existing = warm.get(key);
  if (!existing) {
    const started: Promise<WarmPython> = WarmPython.start(opts, () => {
      if (warm.get(key) === started) warm.delete(key);
    });
    existing = started;
    warm.set(key, started);
    started.catch(() => warm.get(key) === started && warm.delete(key));
  }
  return existing;
}

/**
 * Launches a job through the warm process of its script (started on first use); its pid, and the ready
 * message of the warm process when this is its first launch (to log what it preloaded), else null. Rejects
 * when no warm process can launch it; the caller launches it cold.
 */
export async function launchWarm(opts: WarmPythonOptions, request: WarmJobRequest): Promise<{ pid: number; started: WarmReady | null }> {
  const python = await warmProcess(opts);
  const pid = await python.launch(request);
  return { pid, started: python.firstLaunch() ? await python.ready : null };
}

/**
 * Starts the warm process for `opts` now, if there is none, so that the first job of its script does not wait
 * for its imports; returns at once. Best effort: a process that cannot start is left to the first launch,
 * which tries again (and launches cold if it must). It ends after its idle time like any other.
 */
export function prewarm(opts: WarmPythonOptions): void {
  warmProcess(opts).then(
    (python) => python.ready.catch(() => undefined),
    () => undefined,
  );
}

/** Stops every warm process of this Node process (tests; a worker's exit closes their stdin anyway). */
export async function stopWarmPythons(): Promise<void> {
  const all = [...warm.values()];
  warm.clear();
  await Promise.all(all.map((p) => p.then((w) => w.stop(), () => undefined)));
}
