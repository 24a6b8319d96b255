/**
 * `judgeloop schedule …`: scheduled retraining through Temporal Schedules. A schedule starts the run workflow
 * with the config it was created from, switched to start from the judge registry's champion; each run reads
 * the data of its scheduled time (dated URI templates, core/config/schedule.ts).
 */
import { writeFileSync } from 'node:fs';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleDescription, type ScheduleOptions } from '@temporalio/client';
import { formatConfigProblems, validateConfig, type RunConfig } from '../core/config/config';
import { RUN_WORKFLOW } from '../core/run/run-types';
import { durationMs, overlapPolicyValue, type ScheduleConfig } from '../core/config/schedule';
import { EXIT_OK, EXIT_USAGE, type ScheduleCommand } from './args';
import { ConfigFileError, configHash, loadConfigFile } from './config-file';
import { CliError, connect, workflowUrl, type Connected } from './connection';
import { println, type OutStream } from './follow';
import { renderTable } from '../core/report/summary-tables';
import type { ScheduleFlagSettings } from './schedule-args';
import { pickSearchAttributes, registeredSearchAttributes } from './start';

type IO = { out: OutStream; err: OutStream };

/** The config a schedule starts: the file's, with the flags' schedule keys and `registry.startFrom: champion`. */
export function scheduledRunConfig(raw: unknown, settings: ScheduleFlagSettings): Record<string, unknown> {
  const base = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const schedule = { ...((base.schedule as Record<string, unknown> | undefined) ?? {}) };
  // A cron from the command line replaces an interval in the file, and the other way round.
  if (settings.cron) {
    delete schedule.every;
    delete schedule.offset;
  }
  if (settings.every) delete schedule.cron;
  const registry = { ...((base.registry as Record<string, unknown> | undefined) ?? {}), startFrom: 'champion' };
  return { ...base, schedule: { ...schedule, ...settings }, registry };
}

/** `cron 0 3 * * MON (Europe/Paris)`, `every 7d offset 3h (UTC)` */
export function describeSpec(s: ScheduleConfig): string {
  const crons = s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron];
  const when = crons.length ? `cron ${crons.join(' | ')}` : `every ${s.every}${s.offset ? ` offset ${s.offset}` : ''}`;
  return `${when} (${s.timezone})`;
}

/** Temporal's `--catchup-window` and `--interval` take Go durations: `1d` is `24h`. */
export function goDuration(text: string): string {
  const ms = durationMs(text);
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

export interface ScheduleRequest {
  scheduleId: string;
  schedule: ScheduleConfig;
  config: RunConfig;
  /** What the run workflow receives: the merged config. */
  input: Record<string, unknown>;
  configHash: string;
}

/** The config file + flags → the validated schedule request; invalid → the problems by path. */
export async function scheduleRequest(cmd: ScheduleCommand): Promise<ScheduleRequest> {
  const loaded = await loadConfigFile(cmd.configPath!);
  const input = scheduledRunConfig(loaded.raw, cmd.settings);
  const checked = validateConfig(input);
  if (!checked.ok) {
    throw new ConfigFileError('invalid', formatConfigProblems(checked.problems, `${loaded.path} with the schedule flags`), loaded.path, checked.problems);
  }
  const schedule = checked.config.schedule;
  if (!schedule) {
    throw new ConfigFileError(
      'invalid',
      `${loaded.path} has no "schedule" block: add one (e.g. "schedule": {"cron": "0 3 * * MON"}) or pass --cron EXPR or --every DURATION`,
      loaded.path,
    );
  }
  return {
    scheduleId: cmd.scheduleId ?? `judgeloop-${checked.config.name}`,
    schedule,
    config: checked.config,
    input,
    configHash: configHash(checked.config),
  };
}

/** The client.schedule.create options (pure: tested as is). Runs get the id `<scheduleId>-<scheduled time>`. */
export function scheduleOptions(
  req: ScheduleRequest,
  opts: { taskQueue: string; paused: boolean; note?: string; searchAttributes?: ReturnType<typeof pickSearchAttributes> },
): ScheduleOptions {
  const s = req.schedule;
  const crons = s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron];
  return {
    scheduleId: req.scheduleId,
    spec: crons.length
      ? { cronExpressions: crons, timezone: s.timezone }
      : { intervals: [{ every: s.every!, ...(s.offset ? { offset: s.offset } : {}) }], timezone: s.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: RUN_WORKFLOW,
      taskQueue: opts.taskQueue,
      workflowId: req.scheduleId,
      args: [req.input],
      memo: { configHash: req.configHash },
      ...(opts.searchAttributes?.length ? { typedSearchAttributes: opts.searchAttributes } : {}),
    },
    policies: { overlap: overlapPolicyValue(s.overlap), catchupWindow: s.catchupWindow, pauseOnFailure: s.pauseOnFailure },
    state: { paused: opts.paused, ...(opts.note ? { note: opts.note } : {}) },
    memo: { judgeloopSpec: describeSpec(s), configName: req.config.name, judgeName: req.config.judge.name, configHash: req.configHash },
  };
}

const OVERLAP_CLI: Record<string, string> = {
  SKIP: 'Skip',
  BUFFER_ONE: 'BufferOne',
  BUFFER_ALL: 'BufferAll',
  CANCEL_OTHER: 'CancelOther',
  TERMINATE_OTHER: 'TerminateOther',
  ALLOW_ALL: 'AllowAll',
};

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The equivalent `temporal schedule create` (the Temporal CLI), given where the merged config is written. */
export function temporalCreateCommand(req: ScheduleRequest, opts: { taskQueue: string; address: string; namespace: string; inputFile: string; paused: boolean }): string {
  const s = req.schedule;
  const crons = s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron];
  const args = [
    'temporal schedule create',
    `--address ${shellQuote(opts.address)} --namespace ${shellQuote(opts.namespace)}`,
    `--schedule-id ${shellQuote(req.scheduleId)}`,
    ...crons.map((c) => `--cron ${shellQuote(c)}`),
    ...(s.every ? [`--interval ${goDuration(s.every)}${s.offset ? `/${goDuration(s.offset)}` : ''}`] : []),
    `--time-zone ${shellQuote(s.timezone)}`,
    `--overlap-policy ${OVERLAP_CLI[overlapPolicyValue(s.overlap)]}`,
    `--catchup-window ${goDuration(s.catchupWindow)}`,
    ...(s.pauseOnFailure ? ['--pause-on-failure'] : []),
    ...(opts.paused ? ['--paused'] : []),
    `--workflow-id ${shellQuote(req.scheduleId)} --task-queue ${shellQuote(opts.taskQueue)} --type ${RUN_WORKFLOW}`,
    `--input-file ${shellQuote(opts.inputFile)}`,
  ];
  return args.join(' \\\n  ');
}

function notFound(conn: Connected, id: string): CliError {
  return new CliError(`no schedule "${id}" in namespace ${conn.options.namespace} (\`judgeloop schedule list\` shows them)`);
}

function iso(d: Date | undefined): string {
  return d ? d.toISOString().replace('.000Z', 'Z') : '—';
}

/** The describe output as readable lines. */
export function formatScheduleDescription(d: ScheduleDescription, uiUrl: string, namespace: string): string {
  const memo = (d.memo ?? {}) as Record<string, unknown>;
  const catchup = d.policies.catchupWindow;
  const lines = [
    `schedule ${d.scheduleId}${d.state.paused ? ' (paused)' : ''}${d.state.note ? ` — note: ${d.state.note}` : ''}`,
    `  spec:      ${String(memo.judgeloopSpec ?? '(made outside judgeloop)')}`,
    `  starts:    ${d.action.workflowType} on task queue ${d.action.taskQueue}` +
      (memo.configName ? `, config ${String(memo.configName)} for judge ${String(memo.judgeName)}, from the registry's champion` : ''),
    `  policies:  overlap ${(d.policies.overlap ?? 'SKIP').toLowerCase().replace(/_/g, '-')} · catch-up window ${catchup >= 3_600_000 ? `${catchup / 3_600_000}h` : `${catchup / 1000}s`} · pause on failure ${d.policies.pauseOnFailure ? 'yes' : 'no'}`,
    `  runs:      ${d.info.numActionsTaken} started · ${d.info.numActionsSkippedOverlap} skipped (overlap) · ${d.info.numActionsMissedCatchupWindow} missed (catch-up window)`,
    `  next:      ${d.info.nextActionTimes.slice(0, 3).map((t) => iso(t)).join(', ') || '—'}`,
  ];
  const running = new Set(d.info.runningActions.map((a) => a.workflow.workflowId));
  if (d.info.recentActions.length) {
    lines.push('  recent runs (scheduled for → run id):');
    for (const a of d.info.recentActions.slice(-10)) {
      const id = a.action.workflow.workflowId;
      lines.push(`    ${iso(a.scheduledAt)} → ${id}${running.has(id) ? ' (running)' : ''}  ${workflowUrl(uiUrl, namespace, id)}`);
    }
  }
  return lines.join('\n');
}

export async function cmdSchedule(cmd: ScheduleCommand, io: IO): Promise<number> {
  let req: ScheduleRequest | undefined;
  if (cmd.action === 'create') {
    try {
      req = await scheduleRequest(cmd);
    } catch (e) {
      if (!(e instanceof ConfigFileError)) throw e;
      println(io.err, e.message);
      return EXIT_USAGE;
    }
    if (cmd.dryRun) return createDryRun(cmd, req, io);
  }
  const conn = await connect(cmd.connection);
  try {
    return await runAction(conn, cmd, req, io);
  } catch (e) {
    if (e instanceof ScheduleNotFoundError) throw notFound(conn, cmd.scheduleId ?? '');
    throw e;
  } finally {
    await conn.close();
  }
}

function createDryRun(cmd: ScheduleCommand, req: ScheduleRequest, io: IO): number {
  const inputFile = `${req.scheduleId}.schedule-input.json`;
  writeFileSync(inputFile, JSON.stringify(req.input, null, 2) + '\n');
  const options = scheduleOptions(req, { taskQueue: cmd.connection.taskQueue, paused: cmd.paused, note: cmd.note });
  if (cmd.json) {
    println(io.out, JSON.stringify({ ...options, action: { ...options.action, args: [`<${inputFile}>`] } }, null, 2));
    return EXIT_OK;
  }
  println(io.out, `schedule ${req.scheduleId}: ${describeSpec(req.schedule)}, overlap ${req.schedule.overlap}, catch-up window ${req.schedule.catchupWindow}`);
  println(io.out, `the run config (registry.startFrom: champion) is in ${inputFile}; the same schedule with the Temporal CLI:`);
  println(
    io.out,
    temporalCreateCommand(req, {
      taskQueue: cmd.connection.taskQueue,
      address: cmd.connection.address,
      namespace: cmd.connection.namespace,
      inputFile,
      paused: cmd.paused,
    }),
  );
  return EXIT_OK;
}

async function runAction(conn: Connected, cmd: ScheduleCommand, req: ScheduleRequest | undefined, io: IO): Promise<number> {
  const client = conn.client.schedule;
  const id = cmd.scheduleId ?? req?.scheduleId ?? '';
  switch (cmd.action) {
    case 'create': {
      const r = req!;
      const searchAttributes = pickSearchAttributes(await registeredSearchAttributes(conn), { runName: r.config.name, judgeName: r.config.judge.name });
      try {
        await client.create(scheduleOptions(r, { taskQueue: conn.options.taskQueue, paused: cmd.paused, note: cmd.note, searchAttributes }));
      } catch (e) {
        if (e instanceof ScheduleAlreadyRunning) {
          throw new CliError(`a schedule "${r.scheduleId}" already exists: \`judgeloop schedule delete ${r.scheduleId}\` first, or pass another --id`);
        }
        throw e;
      }
      const d = await client.getHandle(r.scheduleId).describe();
      println(io.out, `created schedule ${r.scheduleId}: ${describeSpec(r.schedule)}${cmd.paused ? ' (paused)' : ''}`);
      println(io.out, `  runs start from judge ${r.config.judge.name}'s champion; next: ${d.info.nextActionTimes.slice(0, 3).map((t) => iso(t)).join(', ') || '—'}`);
      println(io.out, `  start one now: judgeloop schedule trigger ${r.scheduleId}`);
      return EXIT_OK;
    }
    case 'list': {
      const rows: string[][] = [];
      const all: unknown[] = [];
      for await (const s of client.list()) {
        all.push(s);
        const memo = (s.memo ?? {}) as Record<string, unknown>;
        const last = s.info.recentActions.at(-1);
        rows.push([
          s.scheduleId,
          String(memo.judgeloopSpec ?? '—'),
          s.state.paused ? 'paused' : iso(s.info.nextActionTimes[0]),
          last ? `${iso(last.scheduledAt)} ${last.action.workflow.workflowId}` : '—',
        ]);
      }
      if (cmd.json) println(io.out, JSON.stringify(all, null, 2));
      else if (rows.length === 0) println(io.out, `no schedules in namespace ${conn.options.namespace}`);
      else println(io.out, renderTable({ header: ['schedule', 'spec', 'next run', 'last run'], rows, align: ['left', 'left', 'left', 'left'] }));
      return EXIT_OK;
    }
    case 'describe': {
      const d = await client.getHandle(id).describe();
      const { raw: _raw, ...rest } = d;
      println(io.out, cmd.json ? JSON.stringify(rest, null, 2) : formatScheduleDescription(d, conn.options.uiUrl, conn.options.namespace));
      return EXIT_OK;
    }
    case 'pause':
      await client.getHandle(id).pause(cmd.note ?? 'paused with judgeloop schedule pause');
      println(io.out, `paused schedule ${id}; \`judgeloop schedule unpause ${id}\` resumes it`);
      return EXIT_OK;
    case 'unpause':
      await client.getHandle(id).unpause(cmd.note ?? 'unpaused with judgeloop schedule unpause');
      println(io.out, `unpaused schedule ${id}`);
      return EXIT_OK;
    case 'trigger': {
      const handle = client.getHandle(id);
      const before = new Set((await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
      await handle.trigger(cmd.overlap ? overlapPolicyValue(cmd.overlap) : undefined);
      // The schedule starts the run asynchronously: name it when it appears (a few seconds at most).
      const deadline = Date.now() + 10_000;
      for (;;) {
        const started = (await handle.describe()).info.recentActions.find((a) => !before.has(a.action.workflow.workflowId));
        if (started) {
          const runId = started.action.workflow.workflowId;
          println(io.out, `triggered schedule ${id}: run ${runId}`);
          println(io.out, `  follow it: judgeloop follow ${runId}`);
          println(io.out, `  ${workflowUrl(conn.options.uiUrl, conn.options.namespace, runId)}`);
          return EXIT_OK;
        }
        if (Date.now() > deadline) {
          println(io.out, `triggered schedule ${id}; no run has started yet (the overlap policy may have skipped it): \`judgeloop schedule describe ${id}\``);
          return EXIT_OK;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    case 'backfill':
      await client.getHandle(id).backfill({ start: cmd.start!, end: cmd.end!, ...(cmd.overlap ? { overlap: overlapPolicyValue(cmd.overlap) } : {}) });
      println(io.out, `schedule ${id}: backfilling the runs scheduled between ${iso(cmd.start)} and ${iso(cmd.end)}; each reads its own date's data`);
      println(io.out, `  \`judgeloop schedule describe ${id}\` lists them as they start`);
      return EXIT_OK;
    case 'delete':
      await client.getHandle(id).delete();
      println(io.out, `deleted schedule ${id} (its runs are kept)`);
      return EXIT_OK;
  }
}
