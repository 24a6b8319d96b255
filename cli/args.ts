/**
 * Command-line parsing for `judgeloop`, declared with commander: each command once (name, summary, arguments,
 * typed flags, notes and an example), and the help (`judgeloop --help`, `judgeloop <command> --help`,
 * `judgeloop help <command>`) is commander's, made from those declarations.
 *
 * `parseCommandLine` takes argv and the environment and returns a command or throws a UsageError whose message
 * names the offending flag or argument; commander never writes or exits here (configureOutput, exitOverride):
 * its errors are turned into UsageErrors worded as ours. Its one read outside argv: Temporal's client
 * configuration file, when the environment names a profile or the default file exists (workers/temporal-target.ts).
 */
import type { TLSConfig } from '@temporalio/client';
import { Command as CommanderCommand, CommanderError, InvalidArgumentError, Option, type ParseOptionsResult } from 'commander';
import { TASK_QUEUE } from '../core/run/run-types';
import { MAX_RUN_ID, SCHEDULED_RUN_SUFFIX, runIdProblem } from '../core/config/safe-names';
import { Arg, Flag, HELP_CONFIG, HELP_WIDTH, bool, commaList, int, itemList, repeated, synopsis, text, typed } from './flags';
import {
  SCHEDULE_ACTIONS,
  SCHEDULE_ACTION_HELP,
  SCHEDULE_USAGE,
  ScheduleUsageError,
  scheduleCommand,
  scheduleFlags,
  type ScheduleCommandBase,
} from './schedule-args';
import {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  TemporalConfigError,
  resolveTemporalTarget,
} from '../workers/temporal-target';
import { DEFAULT_CODEC_HOST, DEFAULT_CODEC_PORT, DEFAULT_CORS_ORIGINS } from '../workers/codec-server';

export const DEFAULT_ADDRESS = DEFAULT_TEMPORAL_ADDRESS;
export const DEFAULT_NAMESPACE = DEFAULT_TEMPORAL_NAMESPACE;
export const DEFAULT_UI_URL = 'http://127.0.0.1:8233';
export const TEMPORAL_CLOUD_UI_URL = 'https://cloud.temporal.io';

/**
 * How to reach Temporal and its Web UI: flags win over the TEMPORAL_* variables, which win over the TOML
 * profile, which wins over the local defaults. TLS, API key and gRPC headers only when configured.
 */
export interface ConnectionOptions {
  address: string;
  namespace: string;
  taskQueue: string;
  uiUrl: string;
  tls?: TLSConfig | true | false;
  apiKey?: string;
  metadata?: Record<string, string>;
  /** The Temporal client profile read (--profile / TEMPORAL_PROFILE). */
  profile?: string;
}

export type Command =
  | { command: 'help'; topic?: CommandName }
  | { command: 'version' }
  | { command: 'completion'; shell: CompletionShell }
  | { command: 'validate'; configPath: string; json: boolean }
  | {
      command: 'run';
      configPath: string;
      workflowId?: string;
      follow: boolean;
      json: boolean;
      connection: ConnectionOptions;
    }
  | { command: 'follow'; workflowId: string; json: boolean; connection: ConnectionOptions }
  | { command: 'status'; workflowId: string; json: boolean; connection: ConnectionOptions }
  | { command: 'results'; workflowId: string; json: boolean; connection: ConnectionOptions }
  | { command: 'stack'; args: string[] }
  | CodecServerCommand
  | ReviewCommand
  | PromotionCommand
  | SeedsCommand
  | TrackCommand;

/**
 * `judgeloop seeds` (cli/seeds.ts): the same config once per seed, followed, then the spread of the headline
 * metrics across the runs; or (`--from-runs`) that spread over finished runs, starting nothing.
 */
export type SeedsCommand =
  | {
      command: 'seeds';
      action: 'start';
      configPath: string;
      /** loop.seed and training.seed of each run, in order. */
      seeds: number[];
      /** Run ids are `<prefix>-seed-<seed>` (default prefix judgeloop-<config name>-<UTC yyyymmdd-hhmmss>). */
      idPrefix?: string;
      follow: boolean;
      json: boolean;
      connection: ConnectionOptions;
    }
  | { command: 'seeds'; action: 'aggregate'; workflowIds: string[]; json: boolean; connection: ConnectionOptions };

/** `judgeloop approve` (sign off on a promotion) and `judgeloop registry` (a judge's champion and history): cli/promotion.ts. */
export type PromotionCommand =
  | {
      command: 'approve';
      workflowId: string;
      iteration: number;
      approve: boolean;
      by: string;
      reason?: string;
      connection: ConnectionOptions;
    }
  | { command: 'registry'; judgeName: string; configPath: string; json: boolean }
  | ScheduleCommand
  | ReplayCommand
  | ReportCommand
  | ResetCommand;

/**
 * `judgeloop codec-server` (cli/codec-server.ts): Temporal's remote codec endpoint for the UI and CLI. Its keys
 * and token come from the environment only (JUDGELOOP_CODEC_KEYS, JUDGELOOP_CODEC_SERVER_TOKEN): a flag would
 * put them on the process's command line.
 */
export interface CodecServerCommand {
  command: 'codec-server';
  host: string;
  port: number;
  /** Browser origins allowed to call it (the Temporal UI's); "*" for any. */
  corsOrigins: string[];
}

/** `judgeloop reset RUN_ID --iteration K` (cli/reset.ts): restart a run from an iteration with Temporal's reset. */
export interface ResetCommand {
  command: 'reset';
  workflowId: string;
  iteration: number;
  reason?: string;
  /** Print the equivalent `temporal workflow reset` only. */
  dryRun: boolean;
  connection: ConnectionOptions;
}

/** `judgeloop report RUN_ID` (cli/report.ts): fetch a completed run's HTML report. */
export type ReportCommand = {
  command: 'report';
  workflowId: string;
  /** Where to write the page (default ./<RUN_ID>-report.html). */
  out?: string;
  open: boolean;
  /** Storage settings from this file instead of the run's recorded config. */
  configPath?: string;
  connection: ConnectionOptions;
};

/** `judgeloop track RUN_ID` (cli/track.ts): send a run's records to the experiment tracker (again). */
export type TrackCommand = {
  command: 'track';
  workflowId: string;
  trackingUri?: string;
  /** Storage and tracking settings from this file instead of the run's recorded config. */
  configPath?: string;
  connection: ConnectionOptions;
};

/** `judgeloop replay RUN_ID | --file HISTORY.json...` (cli/replay.ts). */
export interface ReplayCommand {
  command: 'replay';
  /** Fetch the history of this run (and, with `children`, its iterations) from the server. */
  workflowId?: string;
  children: boolean;
  /** Or replay these exported histories. */
  files: string[];
  /** With one --file: its workflow id (default: the file name without .json). */
  historyWorkflowId?: string;
  json: boolean;
  connection: ConnectionOptions;
}

/** `judgeloop review export|import` (cli/review.ts): a blind human review of two iterations' rationales. */
export type ReviewCommand =
  | {
      command: 'review';
      action: 'export';
      workflowId: string;
      /** The iteration named first (--a): the baseline judge. */
      baseline: number;
      /** The iteration named second (--b): the challenger, whose win rate is reported. */
      challenger: number;
      suites: string[];
      limit?: number;
      seed?: number;
      outDir: string;
      /** Storage settings from this file instead of the run's recorded config. */
      configPath?: string;
      connection: ConnectionOptions;
    }
  | { command: 'review'; action: 'import'; keyPath: string; answerPaths: string[]; json: boolean };

/** `judgeloop schedule …` (cli/schedule-args.ts, cli/schedule.ts). */
export type ScheduleCommand = ScheduleCommandBase<ConnectionOptions>;

export type CommandName =
  | 'validate'
  | 'run'
  | 'follow'
  | 'status'
  | 'results'
  | 'review'
  | 'approve'
  | 'registry'
  | 'schedule'
  | 'replay'
  | 'report'
  | 'track'
  | 'reset'
  | 'seeds'
  | 'stack'
  | 'codec-server'
  | 'completion'
  | 'help';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Exit code for usage errors and invalid configs. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage line to print with the error. */
    readonly topic?: CommandName,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

// ------------------------------------------------------------------------------------------ shared checks

/**
 * The Web UI of a local dev server listens on its gRPC port + 1000 (`temporal server start-dev`, and the
 * local stack), so for a loopback address the UI is derived from it; otherwise DEFAULT_UI_URL.
 */
export function defaultUiUrl(address: string): string {
  if (/\.tmprl\.cloud(:\d+)?$/.test(address)) return TEMPORAL_CLOUD_UI_URL;
  const m = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) + 1000 : NaN;
  return m && port <= 65535 ? `http://${m[1]}:${port}` : DEFAULT_UI_URL;
}

/** The connection flags as parsed (trimmed, non-empty when given). */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
  taskQueue?: string;
  ui?: string;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, topic: CommandName): ConnectionOptions {
  let target;
  try {
    target = resolveTemporalTarget({ address: flags.address, namespace: flags.namespace, profile: flags.profile }, env);
  } catch (e) {
    if (e instanceof TemporalConfigError) throw new UsageError(e.message, topic);
    throw e;
  }
  const { address, namespace, ...secure } = target;
  return {
    address,
    namespace,
    taskQueue: flags.taskQueue ?? (env.JUDGELOOP_TASK_QUEUE?.trim() || TASK_QUEUE),
    uiUrl: (flags.ui ?? (env.JUDGELOOP_UI_URL?.trim() || defaultUiUrl(address))).replace(/\/+$/, ''),
    ...secure,
  };
}

/**
 * The id of an existing run (follow, status, results, ...): printable, no whitespace, at most 255
 * characters. Looser than `checkNewRunId` so that runs started before that rule can still be read.
 */
export function checkWorkflowId(id: string, topic: CommandName): string {
  if (!/^[\x21-\x7e]{1,255}$/.test(id)) {
    throw new UsageError(`invalid run id ${JSON.stringify(id)}: use 1 to 255 printable characters without spaces`, topic);
  }
  return id;
}

/**
 * The id of a run about to start (`--id`, `--id-prefix`, a schedule's `--id`): it becomes a folder of S3
 * keys, so it must not climb out of storage.prefix (core/config/safe-names.ts). `where` names what it is and its flag.
 */
export function checkNewRunId(
  id: string,
  topic: CommandName,
  where: { what: string; flag: string },
  maxLength = MAX_RUN_ID,
): string {
  const problem = runIdProblem(id, maxLength);
  if (problem) throw new UsageError(`invalid ${where.what} ${JSON.stringify(id)} (${where.flag}): ${problem}`, topic);
  return id;
}

/** At most this many seeds (runs) per `judgeloop seeds`: a typo should not start hundreds of runs. */
export const MAX_SEEDS = 64;

/** `0,1,2`: distinct non-negative whole numbers (loop.seed's range), at least two, at most MAX_SEEDS. */
function seedList(value: string, flag: Option): number[] {
  const seeds = commaList(value, flag).map((s) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new InvalidArgumentError(`--seeds: "${s}" is not a whole number >= 0`);
    return Number(s);
  });
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`--seeds lists seed ${twice} twice`);
  if (seeds.length < 2) throw new InvalidArgumentError('--seeds needs at least two seeds (a spread needs two), e.g. --seeds 0,1,2');
  if (seeds.length > MAX_SEEDS) throw new InvalidArgumentError(`--seeds lists ${seeds.length} seeds; at most ${MAX_SEEDS} runs at once`);
  return seeds;
}

/** Browsers send the origin exactly as scheme://host[:port]; anything else would never match. */
function corsOrigin(origin: string): string {
  if (origin === '*') return origin;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
    throw new InvalidArgumentError(`--cors-origin "${origin}" is not an origin: write scheme://host[:port] with no path, e.g. http://localhost:8233`);
  }
  return origin;
}

// ------------------------------------------------------------------------------------ commander plumbing

/** `--help` (or `judgeloop` alone) was asked for: parsing ends with a help command for this topic. */
/** `judgeloop --version` (commander's version option, with our output). */
class VersionRequested extends Error {
  constructor() {
    super('version');
  }
}

class HelpRequested extends Error {
  constructor(readonly topic: CommandName | undefined) {
    super('help');
  }
}

/** A commander command that knows which topic its errors and help belong to (a review action: "review"). */
class CliCommand extends CommanderCommand {
  constructor(
    name: string,
    readonly topic: CommandName | undefined,
  ) {
    super(name);
  }

  /**
   * Two readings commander allows that judgeloop refuses: a flag's value that looks like a flag (`--config
   * --json`: the value was forgotten, not "--json"), and a negative number where a flag or argument goes
   * (`follow -5`). A value that starts with "-" is given as `--flag=-5`.
   */
  override parseOptions(argv: string[]): ParseOptionsResult {
    const topic = this.topic;
    // Commander would read `judgeloop -- run` as `judgeloop run`.
    if (topic === undefined && argv[0] === '--') throw new UsageError('expected a command before --');
    if (topic !== undefined && topic !== 'stack') {
      for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--') break;
        if (arg.length < 2 || !arg.startsWith('-')) continue;
        const option = this.options.find((o) => o.long === arg || o.short === arg);
        if (option?.required) {
          const next = argv[i + 1];
          if (next !== undefined && next.length > 1 && next.startsWith('-')) throw new UsageError(`missing value for ${option.long}`, topic);
          i++;
        } else if (!option && this.commands.length === 0 && /^-\d/.test(arg)) {
          throw new UsageError(`unknown flag ${arg} for "${topic}"`, topic);
        }
      }
    }
    return super.parseOptions(argv);
  }
}

/** A flag that takes no value (a switch, or the help flag). */
function isSwitch(cmd: CommanderCommand, name: string): boolean {
  if (name === '--help' || name === '-h') return true;
  return cmd.options.some((o) => (o.long === name || o.short === name) && !o.required && !o.optional);
}

/** Commander's error, worded as judgeloop's own (the messages the tests and docs/reliability.md hold). */
function fromCommander(err: CommanderError, cmd: CliCommand): Error {
  const topic = cmd.topic;
  const quoted = (re: RegExp) => re.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.help':
      return new HelpRequested(topic);
    case 'commander.version':
      return new VersionRequested();
    case 'commander.unknownOption': {
      const flag = quoted(/^error: unknown option '([\s\S]*)'$/);
      if (topic === undefined) return new UsageError(`expected a command before ${flag}`);
      const name = flag.startsWith('--') ? flag.split('=')[0] : flag;
      if (flag.includes('=') && isSwitch(cmd, name)) return new UsageError(`${name} takes no value`, topic);
      return new UsageError(`unknown flag ${name} for "${topic}"`, topic);
    }
    case 'commander.optionMissingArgument':
      return new UsageError(`missing value for ${quoted(/^error: option '[^']*?(--[\w-]+)[^']*' argument missing$/)}`, topic);
    case 'commander.missingArgument': {
      const name = quoted(/^error: missing required argument '([^']*)'$/);
      const arg = cmd.registeredArguments.find((a) => a.name() === name);
      return new UsageError((arg instanceof Arg && arg.missing) || `missing ${name} (${arg?.description ?? ''})`, topic);
    }
    case 'commander.excessArguments':
      return new UsageError(`unexpected argument "${cmd.args[cmd.registeredArguments.length]}"`, topic);
    case 'commander.unknownCommand': {
      const name = cmd.args[0] ?? '';
      if (topic === undefined) return new UsageError(name.startsWith('-') ? `expected a command before ${name}` : `unknown command "${name}"`);
      return new UsageError(`unknown ${cmd.name()} action "${name}" (expected ${cmd.commands.map((c) => c.name()).join(' or ')})`, topic);
    }
    case 'commander.invalidArgument': {
      // Commander puts our parser's message after its own "error: option '…' argument '…' is invalid."; the
      // greedy match finds commander's last "is invalid." (none of our messages says it), whatever the value holds.
      const ours = /^error: (?:option '[^']*' argument|command-argument value) '[\s\S]*' is invalid(?: for argument '[^']*')?\. ([\s\S]*)$/.exec(err.message);
      return new UsageError(ours ? ours[1] : err.message.replace(/^error: /, ''), topic);
    }
    default:
      return new UsageError(err.message.replace(/^error: /, ''), topic);
  }
}

/** Where a parse sends its command, and its help text (only usageText writes any). */
interface Context {
  env: NodeJS.ProcessEnv;
  argv: string[];
  done: (cmd: Command) => void;
  write: (text: string) => void;
}

/** The settings every judgeloop command shares: our help layout, no output, errors thrown not exited. */
function configure(cmd: CliCommand, ctx: Context): CliCommand {
  return cmd
    .helpOption('-h, --help', 'print this help')
    .helpCommand(false)
    .configureHelp(HELP_CONFIG)
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: ctx.write,
      writeErr: () => undefined,
      outputError: () => undefined,
      getOutHelpWidth: () => HELP_WIDTH,
      getErrHelpWidth: () => HELP_WIDTH,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .exitOverride((err) => {
      throw fromCommander(err, cmd);
    });
}

const CONNECTION_GROUP = 'connection flags (environment variable, default):';

/** How to reach Temporal; resolved by `resolveConnection` (flags, then TEMPORAL_* variables, then the profile). */
function connectionFlags(): Flag[] {
  return [
    text('--address <HOST:PORT>', `Temporal frontend (TEMPORAL_ADDRESS, ${DEFAULT_ADDRESS})`),
    text('--namespace <NS>', `Temporal namespace (TEMPORAL_NAMESPACE, ${DEFAULT_NAMESPACE})`),
    text(
      '--profile <NAME>',
      'profile of the Temporal client configuration file (TEMPORAL_PROFILE, default; the file: TEMPORAL_CONFIG_FILE or ' +
        '~/.config/temporalio/temporal.toml). Address, namespace, API key and TLS/mTLS come from it unless a flag or ' +
        'TEMPORAL_* variable (TEMPORAL_API_KEY, TEMPORAL_TLS_*) says otherwise',
    ),
    text('--task-queue <Q>', `task queue of the judgeloop worker (JUDGELOOP_TASK_QUEUE, ${TASK_QUEUE})`),
    text(
      '--ui <URL>',
      `Temporal Web UI base URL, for links (JUDGELOOP_UI_URL, ${DEFAULT_UI_URL}; for a local --address, its port + 1000 ` +
        'as the dev server does; for Temporal Cloud, cloud.temporal.io)',
    ),
  ].map((f) => f.helpGroup(CONNECTION_GROUP));
}

/** What a declaration's `build` gets once commander has parsed its command line. */
interface Parsed<O> {
  /** The flags given, typed as declared (camelCase: `--task-queue` → taskQueue, `--no-follow` → follow). */
  opts: O;
  /** The arguments, in declared order (a variadic one: an array). */
  args: Array<string | string[] | undefined>;
  env: NodeJS.ProcessEnv;
  /** A required flag's value, or its `missing` error. */
  need<K extends keyof O & string>(key: K): NonNullable<O[K]>;
  /** The flags given on the command line, by long name (`--catchup-window`), in declared order. */
  given(): Record<string, unknown>;
  /** The connection flags resolved with the environment and the Temporal profile. */
  connection(): ConnectionOptions;
}

interface Declaration<O> {
  name: string;
  /** The help's topic: the command itself, or for a review action, "review". */
  topic?: CommandName;
  summary: string;
  args?: Arg[];
  flags?: Flag[];
  /** Takes the connection flags (listed apart in its help). */
  connection?: boolean;
  /** The usage line after `judgeloop <name>`, for commands with several forms; otherwise made from the declaration. */
  usage?: string;
  /** Sections of the help after the flags. */
  notes?: string[];
  /** Shown under "example:" in the help. */
  example: string[];
  build: (p: Parsed<O>) => Command;
}

function declare<O extends object>(d: Declaration<O>, ctx: Context): CliCommand {
  const topic = d.topic ?? (d.name as CommandName);
  const cmd = configure(new CliCommand(d.name, topic), ctx).description(d.summary);
  for (const a of d.args ?? []) cmd.addArgument(a);
  for (const f of [...(d.flags ?? []), ...(d.connection ? connectionFlags() : [])]) cmd.addOption(f);
  cmd.usage(d.usage ?? synopsis(cmd.registeredArguments, cmd.options));
  cmd.addHelpText('after', ['', ...(d.notes ?? []).flatMap((n) => [n, '']), 'example:', ...d.example.map((e) => `    ${e}`)].join('\n'));
  cmd.action(() => {
    const opts = cmd.opts() as O;
    const flagOf = (key: string) => cmd.options.find((o) => o.attributeName() === key);
    ctx.done(
      d.build({
        opts,
        args: cmd.processedArgs as Array<string | string[] | undefined>,
        env: ctx.env,
        need: (key) => {
          const value = opts[key];
          if (value !== undefined && value !== null) return value as NonNullable<typeof value>;
          const flag = flagOf(key);
          throw new UsageError((flag instanceof Flag && flag.missing) || `missing required flag --${key}`, topic);
        },
        given: () =>
          Object.fromEntries(
            cmd.options
              .filter((o) => cmd.getOptionValueSource(o.attributeName()) === 'cli')
              .map((o) => [o.long ?? o.flags, cmd.getOptionValue(o.attributeName()) as unknown]),
          ),
        connection: () => resolveConnection(opts as ConnectionFlags, ctx.env, topic),
      }),
    );
  });
  return cmd;
}

const EXAMPLE = 'npm run judgeloop --';

// --------------------------------------------------------------------------------------------- commands

type Switch = boolean | undefined;
type RunIdCommand = 'follow' | 'status' | 'results';

/** Every command, in the order `judgeloop --help` lists them. */
function commands(ctx: Context): CliCommand[] {
  const runIdCommand = (name: RunIdCommand, summary: string, json: string, example: string) =>
    declare<{ json: Switch }>(
      {
        name,
        summary,
        args: [new Arg('<RUN_ID>', 'the workflow id that "run" printed')],
        flags: [bool('--json', json)],
        connection: true,
        example: [`${EXAMPLE} ${example}`],
        build: (p) => ({ command: name, workflowId: checkWorkflowId(p.args[0] as string, name), json: p.opts.json === true, connection: p.connection() }),
      },
      ctx,
    );

  const review = configure(new CliCommand('review', 'review'), ctx)
    .description("blind A/B review of two iterations' rationales: export a page and sheet for annotators, import their answers")
    .enablePositionalOptions()
    // Each action's help (below the list) has the flags; the list itself has none to show.
    .addHelpOption(new Option('-h, --help', 'print this help').hideHelp())
    .commandsGroup('actions:');
  review.addCommand(
    declare<{ a?: number; b?: number; suite?: string[]; limit?: number; seed?: number; out?: string; config?: string }>(
      {
        name: 'export',
        topic: 'review',
        summary:
          "write DIR/review.html (the annotators' page), DIR/review.csv (the same as a sheet) and DIR/review-key.json " +
          '(which judge is A per item: keep it from the annotators)',
        args: [new Arg('<RUN_ID>', 'the workflow id of a completed run')],
        flags: [
          int('--a <ITER>', 'the baseline iteration', 0).needed('missing --a ITER and --b ITER (the two iterations to compare)'),
          int('--b <ITER>', 'the challenger iteration, whose win rate is reported', 0).needed('missing --a ITER and --b ITER (the two iterations to compare)'),
          text('--out <DIR>', 'where to write the three files').needed('missing required flag --out DIR'),
          repeated('--suite <NAME>', 'only this evaluation suite (repeatable; default every suite)'),
          int('--limit <N>', 'a seeded sample of N items (default all items both iterations judged)', 1),
          int('--seed <S>', 'seed of the sample, the order and the A/B sides (default derived from the run and iterations)', 0),
          text('-c, --config <FILE>', "take the storage settings from this config instead of the run's recorded one"),
        ],
        connection: true,
        example: [`${EXAMPLE} review export my-run --a 0 --b 2 --out review-0-2 --limit 40`],
        build: (p) => {
          const baseline = p.need('a');
          const challenger = p.need('b');
          if (baseline === challenger) throw new UsageError(`--a and --b are both iteration ${baseline}; compare two different iterations`, 'review');
          const { limit, seed, config } = p.opts;
          return {
            command: 'review',
            action: 'export',
            workflowId: checkWorkflowId(p.args[0] as string, 'review'),
            baseline,
            challenger,
            suites: [...new Set(p.opts.suite ?? [])],
            ...(limit !== undefined ? { limit } : {}),
            ...(seed !== undefined ? { seed } : {}),
            outDir: p.need('out'),
            ...(config !== undefined ? { configPath: config } : {}),
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
  );
  review.addCommand(
    declare<{ key?: string; json: Switch }>(
      {
        name: 'import',
        topic: 'review',
        summary: 'read the annotators\' answers; prints the challenger\'s win rate, ties and agreement between annotators',
        args: [
          new Arg(
            '<ANSWERS...>',
            'answer files (.json saved by the page, or .csv sheets)',
            'missing ANSWERS: one or more answer files (.json from the page, or .csv sheets)',
          ),
        ],
        flags: [
          text('--key <FILE>', 'the review-key.json export wrote').needed('missing required flag --key FILE (the review-key.json that export wrote)'),
          bool('--json', 'the report as JSON'),
        ],
        example: [`${EXAMPLE} review import --key review-0-2/review-key.json alice.json bob.csv`],
        build: (p) => ({ command: 'review', action: 'import', keyPath: p.need('key'), answerPaths: p.args[0] as string[], json: p.opts.json === true }),
      },
      ctx,
    ),
  );
  review.usage(review.commands.map((c) => `${c.name()} ${c.usage()}`).join('\n         judgeloop review '));

  return [
    declare<{ config?: string; json: Switch }>(
      {
        name: 'validate',
        summary: 'check a config file and list every problem by its path',
        flags: [
          text('-c, --config <FILE>', 'the run config (JSON)').needed(),
          bool('--json', 'print the validated config (defaults filled in) or the problems as JSON'),
        ],
        example: [`${EXAMPLE} validate --config configs/local.json`],
        build: (p) => ({ command: 'validate', configPath: p.need('config'), json: p.opts.json === true }),
      },
      ctx,
    ),
    declare<{ config?: string; id?: string; follow: boolean; json: Switch }>(
      {
        name: 'run',
        summary: 'validate a config, start a run on Temporal, and follow it to its results table',
        flags: [
          text('-c, --config <FILE>', 'the run config (JSON); validated before anything starts').needed(),
          text(
            '--id <RUN_ID>',
            'workflow id (default judgeloop-<config name>-<UTC yyyymmdd-hhmmss>): letters, digits, ".", "_", "-" and ":", ' +
              "starting with a letter or digit (it names the run's S3 folder)",
          ),
          bool('--no-follow', 'start the run and return'),
          bool('--json', 'progress to stderr; stdout gets only the run summary (or, with --no-follow, the start info)'),
        ],
        connection: true,
        example: [`${EXAMPLE} run --config configs/local.json --id my-run --no-follow`],
        build: (p) => ({
          command: 'run',
          configPath: p.need('config'),
          workflowId: p.opts.id === undefined ? undefined : checkNewRunId(p.opts.id, 'run', { what: 'run id', flag: '--id' }),
          follow: p.opts.follow !== false,
          json: p.opts.json === true,
          connection: p.connection(),
        }),
      },
      ctx,
    ),
    runIdCommand('follow', 'follow a running run (progress, then the results table)', 'progress to stderr; stdout gets only the run summary', 'follow my-run'),
    runIdCommand('status', "print a run's workflow status and progress once", 'status, progress and retrying activities as JSON', 'status my-run'),
    runIdCommand(
      'results',
      'wait for a run to finish and print its results table (or --json, the raw summary)',
      'print the raw run summary JSON instead of the table',
      'results my-run --json > summary.json',
    ),
    review,
    declare<{ iteration?: number; reject: Switch; by?: string; reason?: string }>(
      {
        name: 'approve',
        summary: 'sign off on (or reject) a promotion that waits for approval (evaluation.gate.requireApproval)',
        args: [new Arg('<RUN_ID>', 'the workflow id of the run awaiting approval')],
        flags: [
          int('--iteration <K>', 'the iteration awaiting approval (judgeloop status RUN_ID shows it)', 1).needed(
            'missing required flag --iteration K (the iteration awaiting approval; judgeloop status shows it)',
          ),
          bool('--reject', 'reject the promotion (default: approve it)'),
          text('--by <NAME>', 'who decides, recorded in the registry (default: $USER)'),
          text('--reason <TEXT>', 'why, recorded with the decision'),
        ],
        connection: true,
        example: [`${EXAMPLE} approve my-run --iteration 2 --reason "better on every suite"`],
        build: (p) => {
          const iteration = p.need('iteration');
          const by = p.opts.by ?? (p.env.USER?.trim() || p.env.USERNAME?.trim() || 'cli');
          if (by.length > 100) throw new UsageError('--by must be at most 100 characters', 'approve');
          const { reason } = p.opts;
          return {
            command: 'approve',
            workflowId: checkWorkflowId(p.args[0] as string, 'approve'),
            iteration,
            approve: p.opts.reject !== true,
            by,
            ...(reason !== undefined ? { reason } : {}),
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    declare<{ config?: string; json: Switch }>(
      {
        name: 'registry',
        summary: "a judge's registry: its champion, the champion's lineage and every promotion decision",
        args: [new Arg('<JUDGE_NAME>', "the config's judge.name")],
        flags: [
          text('-c, --config <FILE>', 'a run config: where the registry lives (storage.bucket, storage.prefix, storage.endpoint)').needed(
            "missing required flag --config FILE (a run config naming the registry's storage)",
          ),
          bool('--json', 'champion, lineage and history as JSON'),
        ],
        example: [`${EXAMPLE} registry tiny-judge --config configs/local.json`],
        build: (p) => {
          const judgeName = p.args[0] as string;
          if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(judgeName)) {
            throw new UsageError(`invalid judge name "${judgeName}": letters, digits, ".", "_" and "-", at most 63 (as judge.name)`, 'registry');
          }
          return { command: 'registry', judgeName, configPath: p.need('config'), json: p.opts.json === true };
        },
      },
      ctx,
    ),
    declare<ConnectionFlags>(
      {
        name: 'schedule',
        summary: 'scheduled retraining with Temporal Schedules: create, list, describe, pause, unpause, trigger, backfill, delete',
        args: [new Arg('[ACTION]', 'what to do: one of the actions below'), new Arg('[ID]', 'the schedule (every action but list and create)')],
        flags: scheduleFlags(),
        connection: true,
        usage: SCHEDULE_USAGE,
        notes: [itemList('actions:', SCHEDULE_ACTION_HELP)],
        example: [
          `${EXAMPLE} schedule create --config configs/weekly.example.json --dry-run`,
          `${EXAMPLE} schedule backfill judgeloop-weekly --start 2026-11-01T00:00:00Z --end 2026-11-15T00:00:00Z`,
        ],
        build: (p) => {
          const [action, id] = p.args as Array<string | undefined>;
          const given = Object.entries(p.given());
          if (action === undefined && given.length === 0) return { command: 'help', topic: 'schedule' };
          // scheduleCommand names the flags as typed (`--catchup-window`), so it gets them by that name.
          const values = Object.fromEntries(given.map(([long, value]) => [long.slice(2), value as string | string[] | boolean]));
          try {
            const cmd = scheduleCommand(action, id === undefined ? [] : [id], values, p.connection());
            // A new schedule's id starts its runs' ids (<id>-<scheduled time>): it must make valid run ids.
            if (cmd.scheduleId !== undefined) {
              if (cmd.action === 'create') checkNewRunId(cmd.scheduleId, 'schedule', { what: 'schedule id', flag: '--id' }, MAX_RUN_ID - SCHEDULED_RUN_SUFFIX);
              else checkWorkflowId(cmd.scheduleId, 'schedule');
            }
            return cmd;
          } catch (e) {
            if (e instanceof ScheduleUsageError) throw new UsageError(e.message, 'schedule');
            throw e;
          }
        },
      },
      ctx,
    ),
    declare<{ children: boolean; file?: string[]; workflowId?: string; json: Switch }>(
      {
        name: 'replay',
        summary: "replay a run's history against the current workflow code: deterministic, or where it diverges",
        args: [new Arg('[RUN_ID]', "fetch the run's history and its iterations' from the server")],
        flags: [
          bool('--no-children', "the run's own history only"),
          repeated(
            '--file <FILE>',
            'a history exported with `temporal workflow show --workflow-id ID --output json > FILE` (repeatable); its ' +
              'workflow id is the file name without .json unless --workflow-id says',
          ),
          text('--workflow-id <ID>', 'with one --file: its workflow id'),
          bool('--json', 'the outcomes as JSON'),
        ],
        connection: true,
        usage: `RUN_ID [--no-children] [--json] ${synopsis([], connectionFlags())}\n         judgeloop replay --file HISTORY.json... [--workflow-id ID] [--json]`,
        notes: ['exit 0: every history replays; 1: one diverges (the message names the event and shows the history there)'],
        example: [`${EXAMPLE} replay my-run`, `${EXAMPLE} replay --file my-run.json`],
        build: (p) => {
          const runId = p.args[0] as string | undefined;
          const files = p.opts.file ?? [];
          if (files.length > 0 && runId !== undefined) throw new UsageError('give a RUN_ID or --file, not both', 'replay');
          if (files.length === 0 && runId === undefined) throw new UsageError('missing RUN_ID (or --file HISTORY.json)', 'replay');
          const historyWorkflowId = p.opts.workflowId;
          if (historyWorkflowId !== undefined && files.length !== 1) throw new UsageError('--workflow-id goes with exactly one --file', 'replay');
          return {
            command: 'replay',
            ...(runId !== undefined ? { workflowId: checkWorkflowId(runId, 'replay') } : {}),
            children: p.opts.children !== false,
            files,
            ...(historyWorkflowId !== undefined ? { historyWorkflowId } : {}),
            json: p.opts.json === true,
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    declare<{ out?: string; open: Switch; config?: string }>(
      {
        name: 'report',
        summary: "save a completed run's report: one HTML file with charts (metrics, scores vs gold, curation, time and cost)",
        args: [new Arg('<RUN_ID>', 'the workflow id of a completed run')],
        flags: [
          text('-o, --out <FILE>', 'where to write the page (default ./RUN_ID-report.html); it needs no network to open'),
          bool('--open', "open it in the desktop's browser"),
          text('-c, --config <FILE>', "take the storage settings from this config instead of the run's recorded one"),
        ],
        connection: true,
        example: [`${EXAMPLE} report my-run --open`],
        build: (p) => {
          const { out, config } = p.opts;
          return {
            command: 'report',
            workflowId: checkWorkflowId(p.args[0] as string, 'report'),
            ...(out !== undefined ? { out } : {}),
            open: p.opts.open === true,
            ...(config !== undefined ? { configPath: config } : {}),
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    declare<{ trackingUri?: string; config?: string }>(
      {
        name: 'track',
        summary: "send a run's records (config, metrics per iteration, links) to MLflow again: after the tracker was down, or to another server",
        args: [new Arg('<RUN_ID>', 'the workflow id of a run (running or ended)')],
        flags: [
          text('--tracking-uri <URL>', "the MLflow tracking server (default: the run's tracking.mlflow.trackingUri, else MLFLOW_TRACKING_URI)"),
          text('-c, --config <FILE>', "take the storage and tracking settings from this config instead of the run's recorded one"),
        ],
        connection: true,
        example: [`${EXAMPLE} track my-run --tracking-uri http://127.0.0.1:5000`],
        build: (p) => {
          const { trackingUri, config } = p.opts;
          return {
            command: 'track',
            workflowId: checkWorkflowId(p.args[0] as string, 'track'),
            ...(trackingUri !== undefined ? { trackingUri } : {}),
            ...(config !== undefined ? { configPath: config } : {}),
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    declare<{ iteration?: number; reason?: string; dryRun: Switch }>(
      {
        name: 'reset',
        summary: 'restart a run from iteration K (Temporal reset): earlier work is kept, finished steps and jobs reused',
        args: [new Arg('<RUN_ID>', 'the run to restart')],
        flags: [
          int('--iteration <K>', "the iteration to start again (0: from the seed judge's evaluation, after prepare)", 0).needed(
            'missing --iteration K (the iteration to start again)',
          ),
          text('--reason <TEXT>', 'recorded with the reset in the history'),
          bool('--dry-run', 'print the equivalent `temporal workflow reset --event-id N` and change nothing'),
        ],
        connection: true,
        example: [`${EXAMPLE} reset my-run --iteration 2 --reason "judge endpoint fixed"`],
        build: (p) => {
          const iteration = p.need('iteration');
          const { reason } = p.opts;
          return {
            command: 'reset',
            workflowId: checkWorkflowId(p.args[0] as string, 'reset'),
            iteration,
            ...(reason !== undefined ? { reason } : {}),
            dryRun: p.opts.dryRun === true,
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    declare<{ config?: string; seeds?: number[]; idPrefix?: string; follow: boolean; fromRuns?: string[]; json: Switch }>(
      {
        name: 'seeds',
        summary: 'run one config under several seeds; per iteration and test suite, the mean, sd and 95% t-interval across seeds',
        flags: [
          text(
            '-c, --config <FILE>',
            'the run config; each run is this config with loop.seed and training.seed set to one seed (its judge must start ' +
              'from judge.seedModel: registry.startFrom "seed", or the registry off)',
          ),
          typed('--seeds <S,S,...>', 'the seeds, at least two distinct whole numbers (e.g. 0,1,2)', seedList),
          text('--id-prefix <P>', 'run ids P-seed-S (default judgeloop-<config name>-<UTC yyyymmdd-hhmmss>)'),
          bool('--no-follow', 'start the runs and return (aggregate later with --from-runs)'),
          typed('--from-runs <IDS>', 'aggregate these completed runs (comma-separated; started here or elsewhere); starts nothing', commaList),
          bool('--json', 'progress to stderr; stdout gets the aggregate as JSON (with --no-follow, the started runs)'),
        ],
        connection: true,
        usage:
          `--config FILE --seeds S,S,... [--id-prefix P] [--no-follow] [--json] ${synopsis([], connectionFlags())}\n` +
          `         judgeloop seeds --from-runs RUN_ID,RUN_ID,... [--json] ${synopsis([], connectionFlags())}`,
        notes: [
          'reported: per iteration and test suite (role other than validation), pointwise exact agreement\n' +
            'and Pearson, pairwise accuracy: n (runs with the figure), mean, sample sd and\n' +
            'mean ± t(0.975, n-1)·sd/√n',
        ],
        example: [
          `${EXAMPLE} seeds --config configs/local.json --seeds 0,1,2 --id-prefix local-3seeds`,
          `${EXAMPLE} seeds --from-runs local-3seeds-seed-0,local-3seeds-seed-1,local-3seeds-seed-2 --json`,
        ],
        build: (p) => {
          const json = p.opts.json === true;
          const fromRuns = p.opts.fromRuns;
          if (fromRuns !== undefined) {
            const starting = Object.keys(p.given()).filter((f) => ['--config', '--seeds', '--id-prefix', '--no-follow'].includes(f));
            if (starting.length) throw new UsageError(`--from-runs aggregates finished runs and starts nothing: drop ${starting.join(', ')}`, 'seeds');
            const workflowIds = fromRuns.map((id) => checkWorkflowId(id, 'seeds'));
            if (new Set(workflowIds).size !== workflowIds.length) throw new UsageError('--from-runs names a run twice', 'seeds');
            if (workflowIds.length < 2) throw new UsageError('--from-runs needs at least two runs (a spread needs two)', 'seeds');
            return { command: 'seeds', action: 'aggregate', workflowIds, json, connection: p.connection() };
          }
          const { config, seeds, idPrefix } = p.opts;
          if (config === undefined || seeds === undefined) {
            throw new UsageError('give --config FILE and --seeds S,S,... (or --from-runs RUN_ID,RUN_ID,... to aggregate finished runs)', 'seeds');
          }
          // The longest id it makes is checked, so that every seed's run id is valid.
          if (idPrefix !== undefined) {
            checkNewRunId(idPrefix, 'seeds', { what: 'run id prefix', flag: '--id-prefix' }, MAX_RUN_ID - `-seed-${Math.max(...seeds)}`.length);
          }
          return {
            command: 'seeds',
            action: 'start',
            configPath: config,
            seeds,
            ...(idPrefix !== undefined ? { idPrefix } : {}),
            follow: p.opts.follow !== false,
            json,
            connection: p.connection(),
          };
        },
      },
      ctx,
    ),
    // The stack's flags belong to the stack library (stack/main.ts, which has its own --help): passed on untouched.
    declare<Record<string, never>>(
      {
        name: 'stack',
        summary: 'start the local stack (Temporal dev server, local S3, worker); Ctrl-C stops it',
        args: [new Arg('[STACK_FLAGS...]', 'passed to the stack as given')],
        usage: '[STACK FLAGS...]   (see: judgeloop stack --help)',
        example: ['npm run stack', `${EXAMPLE} stack --help`],
        build: () => ({ command: 'stack', args: ctx.argv.slice(ctx.argv.indexOf('stack') + 1) }),
      },
      ctx,
    )
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .passThroughOptions(),
    declare<{ port: number; host: string; corsOrigin?: string[] }>(
      {
        name: 'codec-server',
        summary: 'serve /encode and /decode so the Temporal UI and CLI can show encrypted payloads (docs/security.md)',
        flags: [
          int('--port <N>', 'port to listen on (0: any free port)', 0, 65535).default(DEFAULT_CODEC_PORT),
          text('--host <HOST>', 'address to bind (127.0.0.1: this machine only)').default(DEFAULT_CODEC_HOST, DEFAULT_CODEC_HOST),
          repeated(
            '--cors-origin <ORIGIN>',
            'a browser origin allowed to call it, e.g. http://localhost:8233 (repeatable; default the local dev server UI ' +
              'on localhost:8233 and 127.0.0.1:8233; "*" allows any)',
            corsOrigin,
          ),
        ],
        notes: [
          "environment: JUDGELOOP_CODEC_KEYS (required, the workers' value), JUDGELOOP_CODEC_KEY_ID (the key\n" +
            '/encode uses), JUDGELOOP_CODEC_SERVER_TOKEN (when set, requests need Authorization: Bearer <token>)',
          'use it: temporal workflow show --workflow-id ID --codec-endpoint http://127.0.0.1:8888 \\\n' +
            '          [--codec-auth "Bearer $TOKEN"]\n' +
            '        or the Web UI: Settings (codec server) -> http://127.0.0.1:8888',
        ],
        example: [`JUDGELOOP_CODEC_KEYS=... ${EXAMPLE} codec-server --cors-origin http://localhost:8233`],
        build: (p) => ({
          command: 'codec-server',
          host: p.opts.host,
          port: p.opts.port,
          corsOrigins: p.opts.corsOrigin ? [...new Set(p.opts.corsOrigin)] : [...DEFAULT_CORS_ORIGINS],
        }),
      },
      ctx,
    ),
    declare<Record<string, never>>(
      {
        name: 'completion',
        summary: 'print a shell completion script (bash, or zsh through its bash compatibility)',
        args: [new Arg('<SHELL>', `${COMPLETION_SHELLS.join(' or ')}`)],
        notes: [
          'bash: judgeloop completion bash > ~/.local/share/bash-completion/completions/judgeloop\n' +
            'zsh:  judgeloop completion zsh > ~/.zfunc/_judgeloop   (or eval "$(judgeloop completion zsh)" in ~/.zshrc)\n' +
            'it completes commands, actions, flags, and file names after a flag that takes a file or folder',
        ],
        example: ['bin/judgeloop completion bash > ~/.local/share/bash-completion/completions/judgeloop'],
        build: (p) => {
          const shell = p.args[0] as string;
          if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
            throw new UsageError(`unknown shell "${shell}" (expected ${COMPLETION_SHELLS.join(' or ')})`, 'completion');
          }
          return { command: 'completion', shell: shell as CompletionShell };
        },
      },
      ctx,
    ),
    declare<Record<string, never>>(
      {
        name: 'help',
        summary: "this text, or one command's usage",
        args: [new Arg('[COMMAND]', 'the command to explain')],
        example: [`${EXAMPLE} help seeds`],
        build: (p) => {
          const topic = p.args[0] as string | undefined;
          if (topic === undefined) return { command: 'help' };
          if (!(COMMAND_NAMES as readonly string[]).includes(topic)) throw new UsageError(`unknown command "${topic}"`, 'help');
          return { command: 'help', topic: topic as CommandName };
        },
      },
      ctx,
    ),
  ];
}

const COMMAND_NAMES: readonly CommandName[] = [
  'validate', 'run', 'follow', 'status', 'results', 'review', 'approve', 'registry', 'schedule', 'replay', 'report', 'track', 'reset', 'seeds', 'stack', 'codec-server', 'completion', 'help',
];

function program(ctx: Context): CliCommand {
  const root = configure(new CliCommand('judgeloop', undefined), ctx)
    .usage('<command> [flags]        (in the repo: npm run judgeloop -- <command> [flags])')
    .enablePositionalOptions()
    .addHelpOption(new Option('-h, --help', 'print this help').hideHelp())
    // commander prints its own line and exits; ours (cli/version.ts) also names Node and the Temporal SDK.
    .version('', '-V, --version', 'print the version');
  for (const cmd of commands(ctx)) root.addCommand(cmd);
  root.addHelpText('before', 'Judgeloop: self-rationalization runs for LLM judges, on Temporal.\n');
  root.addHelpText(
    'after',
    [
      '',
      ...root.commands.map((c) => `  ${c.createHelp().commandUsage(c)}`),
      '',
      itemList(
        CONNECTION_GROUP,
        connectionFlags().map((f) => [`--${f.name()}`, f.description]),
      ),
      '',
      'examples:',
      '  npm run stack                                         # terminal 1: Temporal + S3 + worker',
      '  npm run judgeloop -- validate --config configs/local.json',
      '  npm run judgeloop -- run --config configs/local.json  # start, follow, print the results table',
      '  npm run judgeloop -- run --config configs/local.json --id my-run --no-follow',
      '  npm run judgeloop -- follow my-run                     # Ctrl-C stops following, not the run',
      '  npm run judgeloop -- status my-run',
      '  npm run judgeloop -- results my-run --json > summary.json',
      '  npm run judgeloop -- seeds --config configs/local.json --seeds 0,1,2   # mean, sd, 95% t-interval across seeds',
      '',
      'exit codes: 0 success · 1 the run failed or Temporal could not be reached · 2 usage error or invalid config',
      '            · 130 stopped following with Ctrl-C (the run continues)',
    ].join('\n'),
  );
  return root;
}

// --------------------------------------------------------------------------------------------- the API

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): Command {
  let parsed: Command | undefined;
  const root = program({ env, argv, done: (cmd) => (parsed = cmd), write: () => undefined });
  try {
    root.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof HelpRequested) return e.topic ? { command: 'help', topic: e.topic } : { command: 'help' };
    if (e instanceof VersionRequested) return { command: 'version' };
    throw e;
  }
  if (!parsed) throw new Error(`judgeloop: no command parsed from ${JSON.stringify(argv)}`);
  return parsed;
}

/** What shell completion needs of a command: its name, its flags, and its actions (schedule, review). */
export interface CommandShape {
  name: string;
  flags: Array<{ flag: string; takesPath: boolean }>;
  actions: CommandShape[];
  /** The values its first argument takes, when it is one of a few words. */
  firstArgument: readonly string[];
}

/** Commands whose first argument is one of a few words (checked by their own build, not by commander). */
const FIRST_ARGUMENT_VALUES: Partial<Record<CommandName, readonly string[]>> = {
  schedule: SCHEDULE_ACTIONS,
  completion: COMPLETION_SHELLS,
  help: COMMAND_NAMES,
};

/** Every command's shape, read from the same declarations as the help. */
export function commandShapes(): CommandShape[] {
  const shape = (cmd: CommanderCommand): CommandShape => ({
    name: cmd.name(),
    flags: cmd.options
      .filter((o) => o.long !== undefined && !o.hidden)
      .map((o) => ({ flag: o.long as string, takesPath: /<(FILE|DIR|PATH)[^>]*>/.test(o.flags) })),
    actions: cmd.commands.map(shape),
    firstArgument: FIRST_ARGUMENT_VALUES[cmd.name() as CommandName] ?? [],
  });
  const root = program({ env: {}, argv: [], done: () => undefined, write: () => undefined });
  return root.commands.map(shape);
}

/** A command's usage line (`judgeloop run --config FILE ...`), printed under a usage error. */
export function usageLine(topic?: CommandName): string {
  if (!topic) return 'judgeloop <command> [flags]';
  const root = program({ env: {}, argv: [], done: () => undefined, write: () => undefined });
  const cmd = root.commands.find((c) => c.name() === topic) ?? root;
  return cmd.createHelp().commandUsage(cmd);
}

/** The help: every command (no topic, or "help"), or one command's, with each of its actions' (review). */
export function usageText(topic?: CommandName): string {
  let text = '';
  const root = program({ env: {}, argv: [], done: () => undefined, write: (s) => (text += s) });
  const cmd = (topic !== 'help' && root.commands.find((c) => c.name() === topic)) || root;
  cmd.outputHelp();
  if (cmd !== root) {
    for (const action of cmd.commands) {
      text += '\n';
      action.outputHelp();
    }
  }
  return text.trimEnd();
}
