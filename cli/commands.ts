/**
 * The CLI's commands. Each returns its exit code; output goes through the given streams so the commands can
 * be run in-process by tests.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, commandShapes, usageText, type Command, type ConnectionOptions } from './args';
import { ConfigFileError, describeConfig, loadConfigFile, type LoadedConfig } from './config-file';
import { CliError, connect, hasWorkflowPollers, noWorkerWarning, workflowUrl, type Connected } from './connection';
import {
  describeRun,
  followRun,
  recordedConfig,
  outcomeOf,
  println,
  queryProgress,
  retryingIn,
  childPending,
  runningJobLines,
  type FollowOutcome,
  type OutStream,
} from './follow';
import { formatFailureChain, formatProgressLine, formatResults, formatRetrying, resultsHint, resumeHint, type PendingActivityLike } from './format';
import { formatDuration } from '../core/report/summary-tables';
import { cmdReview } from './review';
import { cmdSchedule } from './schedule';
import { cmdReplay } from './replay';
import { cmdReport, detailNote, detailedSummary, type DetailedSummary } from './report';
import { cmdReset } from './reset';
import { cmdTrack } from './track';
import { cmdSeeds } from './seeds';
import { cmdApprove, cmdRegistry } from './promotion';
import { cmdCodecServer } from './codec-server';
import { startRun } from './start';
import { cliObjectStore } from './storage';
import { versionText } from './version';
import { completionScript } from './completion';
import { readRunSummary } from '../activities/storage/run-summary';
import type { RunConfig } from '../core/config/config';
import { isRunResult, type RunOutcome, type RunSummary } from '../core/run/run-types';
import { firstLine } from '../core/common/errors';

export { EXIT_OK, EXIT_FAILED };
export const EXIT_INTERRUPTED = 130;

export interface CliIO {
  out: OutStream;
  err: OutStream;
  /** Fires on Ctrl-C while following. */
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}


async function loadOrReport(path: string, io: CliIO): Promise<LoadedConfig | number> {
  try {
    return await loadConfigFile(path);
  } catch (e) {
    if (e instanceof ConfigFileError) {
      println(io.err, e.message);
      return EXIT_USAGE;
    }
    throw e;
  }
}

export async function cmdValidate(cmd: Extract<Command, { command: 'validate' }>, io: CliIO): Promise<number> {
  try {
    const loaded = await loadConfigFile(cmd.configPath);
    if (cmd.json) {
      println(io.out, JSON.stringify({ ok: true, path: loaded.path, configHash: loaded.configHash, config: loaded.config }, null, 2));
    } else {
      println(io.out, describeConfig(loaded));
    }
    return EXIT_OK;
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    if (cmd.json) {
      println(io.out, JSON.stringify({ ok: false, path: e.path, kind: e.kind, message: e.message, problems: e.problems, position: e.position }, null, 2));
    }
    println(io.err, e.message);
    return EXIT_USAGE;
  }
}

async function withConnection(options: ConnectionOptions, fn: (conn: Connected) => Promise<number>): Promise<number> {
  const conn = await connect(options);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

/**
 * A completed run's whole summary (its iterations' summaries, for runs that keep them in S3) with each suite's
 * detail read back from S3 (cli/report.ts `detailedSummary`); the store is reached with the config the run
 * was started with, or the one given. What cannot be read is left out, with a note saying so.
 */
async function withEvaluationDetail(conn: Connected, workflowId: string, outcome: RunOutcome, io: CliIO, config?: RunConfig): Promise<RunSummary> {
  let read: DetailedSummary;
  try {
    const store = cliObjectStore(config ?? (await recordedConfig(conn, workflowId)), conn.options.address, io.env ?? process.env);
    try {
      read = await detailedSummary(store, await readRunSummary(store, outcome));
    } finally {
      store.client.destroy();
    }
  } catch (e) {
    const reason = firstLine(e);
    if (isRunResult(outcome)) {
      // Only the run's facts travel in its result: without S3 there are no iterations to show.
      const { iterationResults, ...facts } = outcome;
      const uris = iterationResults.map((r) => r.summaryUri);
      read = { summary: { ...facts, iterations: [] }, note: `the iterations' summaries could not be read (${reason}): ${uris.join(', ')}` };
    } else {
      read = { summary: outcome, note: detailNote([{ uri: 'S3', reason }]) };
    }
  }
  if (read.note) println(io.err, `note: ${read.note}`);
  return read.summary;
}

/** Prints how a followed run ended and returns the exit code. */
async function reportOutcome(conn: Connected, outcome: FollowOutcome, workflowId: string, json: boolean, io: CliIO, config?: RunConfig): Promise<number> {
  switch (outcome.kind) {
    case 'completed': {
      const summary = await withEvaluationDetail(conn, workflowId, outcome.result, io, config);
      println(io.out, json ? JSON.stringify(summary, null, 2) : formatResults(summary));
      return EXIT_OK;
    }
    case 'failed':
      println(io.err, `run ${workflowId} ended ${outcome.status}:`);
      println(io.err, indent(formatFailureChain(outcome.error)));
      return EXIT_FAILED;
    case 'interrupted':
      println(io.err, `stopped following ${workflowId}; the run continues. Resume following with: ${resumeHint(workflowId)}`);
      return EXIT_INTERRUPTED;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

async function follow(conn: Connected, workflowId: string, json: boolean, io: CliIO, config?: RunConfig): Promise<number> {
  const progressStream = json ? io.err : io.out;
  println(progressStream, `following ${workflowId} (Ctrl-C stops following; the run continues)`);
  const outcome = await followRun(conn, workflowId, { progress: progressStream, signal: io.signal });
  return reportOutcome(conn, outcome, workflowId, json, io, config);
}

export async function cmdRun(cmd: Extract<Command, { command: 'run' }>, io: CliIO): Promise<number> {
  const loaded = await loadOrReport(cmd.configPath, io);
  if (typeof loaded === 'number') return loaded;
  return withConnection(cmd.connection, async (conn) => {
    const started = await startRun(conn, loaded, { workflowId: cmd.workflowId });
    const info = cmd.json ? io.err : io.out;
    println(info, `started run ${started.workflowId}`);
    println(info, `  workflow:    ${started.workflowId} (run id ${started.runId})`);
    println(info, `  ui:          ${started.url}`);
    println(info, `  config hash: ${started.configHash}`);
    if (started.searchAttributes.length) println(info, `  search attributes: ${started.searchAttributes.join(', ')}`);
    if ((await hasWorkflowPollers(conn)) === false) println(io.err, noWorkerWarning(conn.options.taskQueue));
    if (!cmd.follow) {
      if (cmd.json) println(io.out, JSON.stringify(started, null, 2));
      else println(info, `follow it with: ${resumeHint(started.workflowId)}`);
      return EXIT_OK;
    }
    return follow(conn, started.workflowId, cmd.json, io, loaded.config);
  });
}

export async function cmdFollow(cmd: Extract<Command, { command: 'follow' }>, io: CliIO): Promise<number> {
  return withConnection(cmd.connection, async (conn) => {
    println(cmd.json ? io.err : io.out, `ui: ${workflowUrl(conn.options.uiUrl, conn.options.namespace, cmd.workflowId)}`);
    return follow(conn, cmd.workflowId, cmd.json, io);
  });
}

export async function cmdStatus(cmd: Extract<Command, { command: 'status' }>, io: CliIO): Promise<number> {
  return withConnection(cmd.connection, async (conn) => {
    const desc = await describeRun(conn, cmd.workflowId);
    const status = desc.status.name;
    const url = workflowUrl(conn.options.uiUrl, conn.options.namespace, cmd.workflowId);
    const { progress, child } = await queryProgress(conn, cmd.workflowId);
    const closed = status !== 'RUNNING' && status !== 'CONTINUED_AS_NEW';
    const runPending = desc.raw.pendingActivities as PendingActivityLike[];
    const childActivities = closed ? [] : await childPending(conn, progress?.childWorkflowId);
    const retrying = closed ? [] : retryingIn(runPending, cmd.workflowId, progress?.childWorkflowId, childActivities);
    const jobs = closed ? [] : await runningJobLines(conn, runPending, childActivities);
    let failure: string | undefined;
    if (closed && status !== 'COMPLETED') {
      const outcome = await outcomeOf(conn.client.workflow.getHandle(cmd.workflowId), status);
      if (outcome.kind === 'failed') failure = formatFailureChain(outcome.error);
    }
    if (cmd.json) {
      println(
        io.out,
        JSON.stringify(
          {
            workflowId: cmd.workflowId,
            runId: desc.runId,
            status,
            startTime: desc.startTime?.toISOString() ?? null,
            closeTime: desc.closeTime?.toISOString() ?? null,
            progress,
            iterationProgress: child,
            retrying,
            jobs,
            failure: failure ?? null,
            url,
          },
          null,
          2,
        ),
      );
      return EXIT_OK;
    }
    const started = desc.startTime;
    const end = desc.closeTime ?? new Date();
    println(io.out, `run:      ${cmd.workflowId}`);
    println(
      io.out,
      `status:   ${status}${started ? ` (started ${started.toISOString()}, ${closed ? 'took' : 'running for'} ${formatDuration(end.getTime() - started.getTime())})` : ''}`,
    );
    println(io.out, `progress: ${progress ? formatProgressLine(progress, child) : '— (no progress reported; is a worker running?)'}`);
    for (const r of retrying) println(io.out, `retrying: ${formatRetrying(r).replace(/^retrying /, '')}`);
    for (const j of jobs) println(io.out, `job:      ${j}`);
    println(io.out, `ui:       ${url}`);
    if (failure) println(io.out, `failure:\n${indent(failure)}`);
    if (status === 'COMPLETED') println(io.out, `results:  ${resultsHint(cmd.workflowId)}`);
    if (!closed && !progress && (await hasWorkflowPollers(conn)) === false) {
      println(io.err, noWorkerWarning(conn.options.taskQueue));
    }
    return EXIT_OK;
  });
}

export async function cmdResults(cmd: Extract<Command, { command: 'results' }>, io: CliIO): Promise<number> {
  return withConnection(cmd.connection, async (conn) => {
    const desc = await describeRun(conn, cmd.workflowId);
    const status = desc.status.name;
    if (status === 'RUNNING') {
      println(io.err, `run ${cmd.workflowId} is still running; waiting for it to finish (Ctrl-C stops waiting)…`);
    }
    const outcome = await outcomeOf(conn.client.workflow.getHandle(cmd.workflowId), status);
    if (outcome.kind === 'failed' && status === 'RUNNING') {
      // It was running when we asked: say how it ended rather than RUNNING.
      const after = await describeRun(conn, cmd.workflowId).catch(() => undefined);
      return reportOutcome(conn, { ...outcome, status: after?.status.name ?? 'FAILED' }, cmd.workflowId, cmd.json, io);
    }
    return reportOutcome(conn, outcome, cmd.workflowId, cmd.json, io);
  });
}

/** The stack library's entry point: `stack/main.ts`, exporting `runStackCommand(argv)` (or `main(argv)`). */
export const STACK_MODULE = resolvePath(__dirname, '..', 'stack', 'main.ts');

export async function cmdStack(cmd: Extract<Command, { command: 'stack' }>, io: CliIO, modulePath = STACK_MODULE): Promise<number> {
  if (!existsSync(modulePath)) {
    println(io.err, `the local stack is not available: ${modulePath} is missing`);
    return EXIT_FAILED;
  }
  type Entry = (argv: string[]) => unknown;
  type StackModule = { main?: Entry; runStackCommand?: Entry };
  const mod = (await import(pathToFileURL(modulePath).href)) as StackModule & { default?: StackModule };
  const main = mod.main ?? mod.runStackCommand ?? mod.default?.main ?? mod.default?.runStackCommand;
  if (typeof main !== 'function') {
    println(io.err, `${modulePath} exports neither main(argv) nor runStackCommand(argv)`);
    return EXIT_FAILED;
  }
  const rc = await main(cmd.args);
  return typeof rc === 'number' ? rc : EXIT_OK;
}

export async function runCommand(cmd: Command, io: CliIO): Promise<number> {
  switch (cmd.command) {
    case 'help':
      println(io.out, usageText(cmd.topic));
      return EXIT_OK;
    case 'version':
      println(io.out, versionText(io.env));
      return EXIT_OK;
    case 'completion':
      println(io.out, completionScript(cmd.shell, commandShapes()));
      return EXIT_OK;
    case 'validate':
      return cmdValidate(cmd, io);
    case 'run':
      return cmdRun(cmd, io);
    case 'follow':
      return cmdFollow(cmd, io);
    case 'status':
      return cmdStatus(cmd, io);
    case 'results':
      return cmdResults(cmd, io);
    case 'review':
      return cmdReview(cmd, io);
    case 'approve':
      return cmdApprove(cmd, io);
    case 'registry':
      return cmdRegistry(cmd, io);
    case 'schedule':
      return cmdSchedule(cmd, io);
    case 'replay':
      return cmdReplay(cmd, io);
    case 'report':
      return cmdReport(cmd, io);
    case 'track':
      return cmdTrack(cmd, io);
    case 'reset':
      return cmdReset(cmd, io);
    case 'seeds':
      return cmdSeeds(cmd, io);
    case 'stack':
      return cmdStack(cmd, io);
    case 'codec-server':
      return cmdCodecServer(cmd, io);
  }
}

