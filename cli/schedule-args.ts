/**
 * `judgeloop schedule <action>`: the command line of scheduled retraining (cli/schedule.ts runs it).
 */
import { OVERLAP_POLICIES, type OverlapPolicyName } from '../core/config/schedule';
import { bool, oneOf, repeated, text, type Flag } from './flags';

export const SCHEDULE_ACTIONS = ['create', 'list', 'describe', 'pause', 'unpause', 'trigger', 'backfill', 'delete'] as const;
export type ScheduleAction = (typeof SCHEDULE_ACTIONS)[number];

/** The config's `schedule` keys a flag may set or replace at create time. */
export interface ScheduleFlagSettings {
  cron?: string[];
  every?: string;
  offset?: string;
  timezone?: string;
  overlap?: OverlapPolicyName;
  catchupWindow?: string;
  pauseOnFailure?: boolean;
}

export interface ScheduleCommandBase<C> {
  command: 'schedule';
  action: ScheduleAction;
  /** Every action but list and create (where it defaults to `judgeloop-<config name>`). */
  scheduleId?: string;
  /** create: the run config the schedule starts. */
  configPath?: string;
  settings: ScheduleFlagSettings;
  /** create: start paused. */
  paused: boolean;
  /** create, pause, unpause: the schedule's note (why). */
  note?: string;
  /** trigger, backfill: the overlap policy for these runs only. */
  overlap?: OverlapPolicyName;
  /** backfill: the window whose scheduled times are run now. */
  start?: Date;
  end?: Date;
  /** create: print the request and the equivalent `temporal schedule create` command; create nothing. */
  dryRun: boolean;
  json: boolean;
  connection: C;
}

/** The usage line after `judgeloop schedule `: one command, several forms (the connection flags go with every one). */
export const SCHEDULE_USAGE =
  'create --config FILE [--id ID] [--cron EXPR]... [--every DURATION [--offset DURATION]] [--timezone TZ]\n' +
  '                   [--overlap POLICY] [--catchup-window DURATION] [--pause-on-failure] [--paused] [--note TEXT] [--dry-run]\n' +
  '         judgeloop schedule list|describe ID|pause ID|unpause ID|trigger ID|delete ID [--note TEXT] [--overlap POLICY] [--json]\n' +
  '         judgeloop schedule backfill ID --start ISO_TIME --end ISO_TIME [--overlap POLICY]\n' +
  '         (schedule commands take the connection flags too)';

/**
 * The flags of every schedule action, accepted by all of them so that a flag given to the wrong action is
 * answered by `scheduleCommand` with the action it belongs to, rather than "unknown flag".
 */
export function scheduleFlags(): Flag[] {
  return [
    text(
      '-c, --config <FILE>',
      'create: the run config; its data URIs may be dated templates ({date}, {yyyy}, {mm}, {dd}, {hh}, {yyyymmdd}), ' +
        "filled from each run's scheduled time in --timezone",
    ),
    text('--id <ID>', 'create: schedule id (default judgeloop-<config name>); runs are <ID>-<scheduled time>'),
    repeated('--cron <EXPR>', 'create: a cron expression, e.g. "0 3 * * MON" (repeatable); or --every 7d [--offset 3h]'),
    text('--every <DURATION>', 'create: a fixed interval instead of --cron, e.g. 7d'),
    text('--offset <DURATION>', 'create: shifts --every (--every 1d --offset 3h: daily at 03:00)'),
    text('--timezone <TZ>', 'create: the time zone of the spec and of dated data URIs, e.g. Europe/Paris'),
    oneOf(
      '--overlap <POLICY>',
      'a run due while one runs (create: default skip; trigger, backfill: for these runs only)',
      OVERLAP_POLICIES,
    ),
    text('--catchup-window <DURATION>', 'create: how late a missed run may still start (default 1d)'),
    bool('--pause-on-failure', 'create: pause the schedule when a run fails'),
    bool('--paused', 'create: create it paused'),
    text('--note <TEXT>', 'create, pause, unpause: why, kept on the schedule'),
    text('--start <ISO_TIME>', 'backfill: the start of the window, e.g. 2026-11-01T00:00:00Z'),
    text('--end <ISO_TIME>', 'backfill: the end of the window'),
    bool('--dry-run', 'create: print the schedule and the equivalent `temporal schedule create` command only'),
    bool('--json', 'the output as JSON'),
  ];
}

/** What each action does, for the help. */
export const SCHEDULE_ACTION_HELP: Array<[string, string]> = [
  [
    'create',
    "a Temporal Schedule that starts the config as a run (from the judge registry's champion); the schedule comes " +
      'from the config\'s "schedule" block, flags set or replace its keys',
  ],
  ['list', 'every schedule: spec, next run, last run, paused'],
  ['describe ID', 'spec, policies, state, recent and next runs'],
  ['pause|unpause ID', 'stop or resume starting runs (--note says why)'],
  ['trigger ID', 'start a run now (--overlap applies to it; default allow-all)'],
  ['backfill ID', 'start the runs the spec had between --start and --end (ISO times), each with its own date'],
  ['delete ID', 'delete the schedule (its runs are kept)'],
];

export class ScheduleUsageError extends Error {}

function isoTime(flag: string, v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const t = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t.getTime())) {
    throw new ScheduleUsageError(`--${flag} must be an ISO time such as 2026-11-01T00:00:00Z, got "${v}"`);
  }
  return t;
}

function overlapFlag(v: string | undefined): OverlapPolicyName | undefined {
  if (v === undefined) return undefined;
  if (!(OVERLAP_POLICIES as readonly string[]).includes(v)) {
    throw new ScheduleUsageError(`--overlap must be one of ${OVERLAP_POLICIES.join(', ')}, got "${v}"`);
  }
  return v as OverlapPolicyName;
}

/** Parsed flag values by flag name (strings, already non-empty) → a schedule command; the caller adds the connection. */
export function scheduleCommand<C>(
  action: string | undefined,
  positionals: string[],
  values: Record<string, string | string[] | boolean | undefined>,
  connection: C,
): ScheduleCommandBase<C> {
  if (action === undefined || !(SCHEDULE_ACTIONS as readonly string[]).includes(action)) {
    throw new ScheduleUsageError(
      action === undefined ? `missing action: ${SCHEDULE_ACTIONS.join(', ')}` : `unknown schedule action "${action}" (expected ${SCHEDULE_ACTIONS.join(', ')})`,
    );
  }
  const a = action as ScheduleAction;
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const cron = values.cron === undefined ? undefined : (Array.isArray(values.cron) ? values.cron : [values.cron as string]).map(String);
  const needsId = a !== 'list' && a !== 'create';
  if (needsId && positionals.length === 0) throw new ScheduleUsageError(`missing ID: the schedule to ${a}`);
  const extra = positionals.slice(needsId ? 1 : 0);
  if (extra.length) throw new ScheduleUsageError(`unexpected argument "${extra[0]}"`);
  const createOnly = ['config', 'cron', 'every', 'offset', 'timezone', 'catchup-window', 'pause-on-failure', 'paused', 'dry-run', 'id'];
  if (a !== 'create') {
    const misplaced = createOnly.find((k) => values[k] !== undefined);
    if (misplaced) throw new ScheduleUsageError(`--${misplaced} belongs to "schedule create", not "schedule ${a}"`);
  }
  if (a === 'create' && str('config') === undefined) throw new ScheduleUsageError('missing required flag --config FILE');
  if (str('overlap') !== undefined && !['create', 'trigger', 'backfill'].includes(a)) {
    throw new ScheduleUsageError(`--overlap belongs to create, trigger or backfill, not "schedule ${a}"`);
  }
  if (str('note') !== undefined && !['create', 'pause', 'unpause'].includes(a)) {
    throw new ScheduleUsageError(`--note belongs to create, pause or unpause, not "schedule ${a}"`);
  }
  const start = isoTime('start', str('start'));
  const end = isoTime('end', str('end'));
  if ((start !== undefined || end !== undefined) && a !== 'backfill') throw new ScheduleUsageError('--start and --end belong to "schedule backfill"');
  if (a === 'backfill') {
    if (!start || !end) throw new ScheduleUsageError('backfill needs --start and --end (ISO times)');
    if (end <= start) throw new ScheduleUsageError(`--end (${end.toISOString()}) must be after --start (${start.toISOString()})`);
  }
  const settings: ScheduleFlagSettings = {
    ...(cron ? { cron } : {}),
    ...(str('every') !== undefined ? { every: str('every') } : {}),
    ...(str('offset') !== undefined ? { offset: str('offset') } : {}),
    ...(str('timezone') !== undefined ? { timezone: str('timezone') } : {}),
    ...(a === 'create' && str('overlap') !== undefined ? { overlap: overlapFlag(str('overlap')) } : {}),
    ...(str('catchup-window') !== undefined ? { catchupWindow: str('catchup-window') } : {}),
    ...(values['pause-on-failure'] === true ? { pauseOnFailure: true } : {}),
  };
  return {
    command: 'schedule',
    action: a,
    ...(needsId ? { scheduleId: positionals[0] } : str('id') !== undefined ? { scheduleId: str('id') } : {}),
    ...(str('config') !== undefined ? { configPath: str('config') } : {}),
    settings,
    paused: values.paused === true,
    ...(str('note') !== undefined ? { note: str('note') } : {}),
    ...(a !== 'create' && str('overlap') !== undefined ? { overlap: overlapFlag(str('overlap')) } : {}),
    ...(start ? { start } : {}),
    ...(end ? { end } : {}),
    dryRun: values['dry-run'] === true,
    json: values.json === true,
    connection,
  };
}
