/**
 * Command-line parsing for `judgeloop` (node's util.parseArgs, strict). Takes argv and the environment,
 * returns a command or throws a UsageError whose message names the offending flag and carries the usage line.
 * Its one read outside argv: Temporal's client configuration file, when the environment names a profile or
 * the default file exists (workers/temporal-target.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { TLSConfig } from '@temporalio/client';
import { TASK_QUEUE } from '../core/run-types';
import { MAX_RUN_ID, SCHEDULED_RUN_SUFFIX, runIdProblem } from '../core/safe-names';
import {
  SCHEDULE_FLAG_HELP,
  SCHEDULE_OPTIONS,
  SCHEDULE_USAGE,
  ScheduleUsageError,
  scheduleCommand,
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
  | SeedsCommand;

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
  | 'reset'
  | 'seeds'
  | 'stack'
  | 'codec-server'
  | 'help';

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

const CONNECTION_FLAGS = '[--address HOST:PORT] [--namespace NS] [--profile NAME] [--task-queue Q] [--ui URL]';

export const USAGE_LINES: Record<CommandName, string> = {
  validate: 'judgeloop validate --config FILE [--json]',
  run: `judgeloop run --config FILE [--id RUN_ID] [--no-follow] [--json] ${CONNECTION_FLAGS}`,
  follow: `judgeloop follow RUN_ID [--json] ${CONNECTION_FLAGS}`,
  status: `judgeloop status RUN_ID [--json] ${CONNECTION_FLAGS}`,
  results: `judgeloop results RUN_ID [--json] ${CONNECTION_FLAGS}`,
  review:
    'judgeloop review export RUN_ID --a ITER --b ITER --out DIR [--suite NAME]... [--limit N] [--seed S] [--config FILE]\n' +
    '         judgeloop review import --key DIR/review-key.json ANSWERS... [--json]',
  approve: `judgeloop approve RUN_ID --iteration K [--reject] [--by NAME] [--reason TEXT] ${CONNECTION_FLAGS}`,
  registry: 'judgeloop registry JUDGE_NAME --config FILE [--json]',
  schedule: `${SCHEDULE_USAGE}\n         (schedule commands take the connection flags too)`,
  replay: `judgeloop replay RUN_ID [--no-children] [--json] ${CONNECTION_FLAGS}\n         judgeloop replay --file HISTORY.json... [--workflow-id ID] [--json]`,
  report: `judgeloop report RUN_ID [--out FILE] [--open] [--config FILE] ${CONNECTION_FLAGS}`,
  reset: `judgeloop reset RUN_ID --iteration K [--reason TEXT] [--dry-run] ${CONNECTION_FLAGS}`,
  seeds:
    `judgeloop seeds --config FILE --seeds S,S,... [--id-prefix P] [--no-follow] [--json] ${CONNECTION_FLAGS}\n` +
    `         judgeloop seeds --from-runs RUN_ID,RUN_ID,... [--json] ${CONNECTION_FLAGS}`,
  stack: 'judgeloop stack [STACK FLAGS...]   (see: judgeloop stack --help)',
  'codec-server': 'judgeloop codec-server [--port 8888] [--host 127.0.0.1] [--cors-origin ORIGIN]...',
  help: 'judgeloop help [COMMAND]',
};

const SUMMARIES: Record<CommandName, string> = {
  validate: 'check a config file and list every problem by its path',
  run: 'validate a config, start a run on Temporal, and follow it to its results table',
  follow: 'follow a running run (progress, then the results table)',
  status: "print a run's workflow status and progress once",
  results: "wait for a run to finish and print its results table (or --json, the raw summary)",
  review: "blind A/B review of two iterations' rationales: export a page and sheet for annotators, import their answers",
  approve: 'sign off on (or reject) a promotion that waits for approval (evaluation.gate.requireApproval)',
  registry: "a judge's registry: its champion, the champion's lineage and every promotion decision",
  schedule: 'scheduled retraining with Temporal Schedules: create, list, describe, pause, unpause, trigger, backfill, delete',
  replay: "replay a run's history against the current workflow code: deterministic, or where it diverges",
  report: "save a completed run's report: one HTML file with charts (metrics, scores vs gold, curation, time and cost)",
  reset: 'restart a run from iteration K (Temporal reset): earlier work is kept, finished steps and jobs reused',
  seeds: 'run one config under several seeds; per iteration and test suite, the mean, sd and 95% t-interval across seeds',
  stack: 'start the local stack (Temporal dev server, local S3, worker); Ctrl-C stops it',
  'codec-server': 'serve /encode and /decode so the Temporal UI and CLI can show encrypted payloads (docs/security.md)',
  help: 'this text, or one command\'s usage',
};

const FLAG_HELP: Partial<Record<CommandName, string[]>> = {
  validate: ['  -c, --config FILE  the run config (JSON)', '  --json             print the validated config (defaults filled in) or the problems as JSON'],
  run: [
    '  -c, --config FILE  the run config (JSON); validated before anything starts',
    '  --id RUN_ID        workflow id (default judgeloop-<config name>-<UTC yyyymmdd-hhmmss>): letters, digits,',
    '                     ".", "_", "-" and ":", starting with a letter or digit (it names the run\'s S3 folder)',
    '  --no-follow        start the run and return',
    '  --json             progress to stderr; stdout gets only the run summary (or, with --no-follow, the start info)',
  ],
  follow: ['  --json             progress to stderr; stdout gets only the run summary'],
  status: ['  --json             status, progress and retrying activities as JSON'],
  results: ['  --json             print the raw run summary JSON instead of the table'],
  review: [
    '  export RUN_ID      write DIR/review.html (the annotators\' page), DIR/review.csv (the same as a sheet) and',
    '                     DIR/review-key.json (which judge is A per item: keep it from the annotators)',
    '  --a ITER, --b ITER the two iterations compared; --b is the challenger whose win rate is reported',
    '  --out DIR          where to write the three files',
    '  --suite NAME       only this evaluation suite (repeatable; default every suite)',
    '  --limit N          a seeded sample of N items (default all items both iterations judged)',
    '  --seed S           seed of the sample, the order and the A/B sides (default derived from the run and iterations)',
    '  --config FILE      take the storage settings from this config instead of the run\'s recorded one',
    '  import ANSWERS...  answer files (.json saved by the page, or .csv sheets); prints win rate, ties, agreement',
    '  --key FILE         the review-key.json export wrote',
    '  --json             the report as JSON',
  ],
  approve: [
    '  --iteration K      the iteration awaiting approval (judgeloop status RUN_ID shows it)',
    '  --reject           reject the promotion (default: approve it)',
    '  --by NAME          who decides, recorded in the registry (default: $USER)',
    '  --reason TEXT      why, recorded with the decision',
  ],
  schedule: SCHEDULE_FLAG_HELP,
  reset: [
    '  --iteration K      the iteration to start again (0: from the seed judge\'s evaluation, after prepare)',
    '  --reason TEXT      recorded with the reset in the history',
    '  --dry-run          print the equivalent `temporal workflow reset --event-id N` and change nothing',
  ],
  seeds: [
    '  -c, --config FILE  the run config; each run is this config with loop.seed and training.seed set to one seed',
    '                     (its judge must start from judge.seedModel: registry.startFrom "seed", or the registry off)',
    '  --seeds S,S,...    the seeds, at least two distinct whole numbers (e.g. 0,1,2)',
    '  --id-prefix P      run ids P-seed-S (default judgeloop-<config name>-<UTC yyyymmdd-hhmmss>)',
    '  --no-follow        start the runs and return (aggregate later with --from-runs)',
    '  --from-runs IDS    aggregate these completed runs (comma-separated; started here or elsewhere); starts nothing',
    '  --json             progress to stderr; stdout gets the aggregate as JSON (with --no-follow, the started runs)',
    '  reported: per iteration and test suite (role other than validation), pointwise exact agreement and Pearson,',
    '  pairwise accuracy: n (runs with the figure), mean, sample sd and mean ± t(0.975, n-1)·sd/√n',
    '  example:',
    '    npm run judgeloop -- seeds --config configs/local.json --seeds 0,1,2 --id-prefix local-3seeds',
    '    npm run judgeloop -- seeds --from-runs local-3seeds-seed-0,local-3seeds-seed-1,local-3seeds-seed-2 --json',
  ],
  report: [
    '  --out FILE         where to write the page (default ./RUN_ID-report.html); it needs no network to open',
    '  --open             open it in the desktop\'s browser',
    '  --config FILE      take the storage settings from this config instead of the run\'s recorded one',
  ],
  replay: [
    '  RUN_ID             fetch the run\'s history and its iterations\' from the server',
    '  --no-children      the run\'s own history only',
    '  --file FILE        a history exported with `temporal workflow show --workflow-id ID --output json > FILE`',
    '                     (repeatable); its workflow id is the file name without .json unless --workflow-id says',
    '  --json             the outcomes as JSON',
    '  exit 0: every history replays; 1: one diverges (the message names the event and shows the history there)',
  ],
  'codec-server': [
    '  --port N           port to listen on (default 8888; 0: any free port)',
    '  --host HOST        address to bind (default 127.0.0.1: this machine only)',
    '  --cors-origin O    a browser origin allowed to call it, e.g. http://localhost:8233 (repeatable; default the',
    '                     local dev server UI on localhost:8233 and 127.0.0.1:8233; "*" allows any)',
    '  environment: JUDGELOOP_CODEC_KEYS (required, the workers\' value), JUDGELOOP_CODEC_KEY_ID (the key /encode',
    '  uses), JUDGELOOP_CODEC_SERVER_TOKEN (when set, requests need Authorization: Bearer <token>)',
    '  use it: temporal workflow show --workflow-id ID --codec-endpoint http://127.0.0.1:8888 [--codec-auth "Bearer $TOKEN"]',
    '          or the Web UI: Settings (codec server) -> http://127.0.0.1:8888',
  ],
  registry: [
    '  -c, --config FILE  a run config: where the registry lives (storage.bucket, storage.prefix, storage.endpoint)',
    '  --json             champion, lineage and history as JSON',
  ],
};

export function usageText(topic?: CommandName): string {
  if (topic && topic !== 'help') {
    const flags = FLAG_HELP[topic];
    const connection = topic === 'validate' || topic === 'stack' || topic === 'registry' || topic === 'codec-server' ? [] : ['', CONNECTION_HELP];
    return [`usage: ${USAGE_LINES[topic]}`, '', `  ${SUMMARIES[topic]}`, ...(flags ? ['', 'flags:', ...flags] : []), ...connection].join('\n');
  }
  const names = Object.keys(USAGE_LINES) as CommandName[];
  return [
    'Judgeloop: self-rationalization runs for LLM judges, on Temporal.',
    '',
    'usage: judgeloop <command> [flags]        (in the repo: npm run judgeloop -- <command> [flags])',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(9)} ${SUMMARIES[n]}`),
    '',
    ...names.map((n) => `  ${USAGE_LINES[n]}`),
    '',
    CONNECTION_HELP,
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
  ].join('\n');
}

const CONNECTION_HELP = [
  'connection flags (environment variable, default):',
  `  --address     Temporal frontend (TEMPORAL_ADDRESS, ${DEFAULT_ADDRESS})`,
  `  --namespace   Temporal namespace (TEMPORAL_NAMESPACE, ${DEFAULT_NAMESPACE})`,
  '  --profile     profile of the Temporal client configuration file (TEMPORAL_PROFILE, default; the file:',
  '                TEMPORAL_CONFIG_FILE or ~/.config/temporalio/temporal.toml). Address, namespace, API key and',
  '                TLS/mTLS come from it unless a flag or TEMPORAL_* variable (TEMPORAL_API_KEY, TEMPORAL_TLS_*) says otherwise',
  `  --task-queue  task queue of the judgeloop worker (JUDGELOOP_TASK_QUEUE, ${TASK_QUEUE})`,
  `  --ui          Temporal Web UI base URL, for links (JUDGELOOP_UI_URL, ${DEFAULT_UI_URL};`,
  '                for a local --address, its port + 1000 as the dev server does; for Temporal Cloud, cloud.temporal.io)',
].join('\n');

type Options = NonNullable<ParseArgsConfig['options']>;

const connectionOptions: Options = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  profile: { type: 'string' },
  'task-queue': { type: 'string' },
  ui: { type: 'string' },
};

const helpOption: Options = { help: { type: 'boolean', short: 'h' } };

/** Turns parseArgs' errors into short ones that name the flag. */
function parseStrict(topic: CommandName, args: string[], options: Options) {
  try {
    return parseArgs({ args, options: { ...options, ...helpOption }, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const msg = err.message ?? String(e);
    const flag = /'(?:-\w, )?(--?[\w-]+)/.exec(msg)?.[1];
    switch (err.code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown flag ${flag ?? msg} for "${topic}"`, topic);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
        if (/argument missing|ambiguous/.test(msg)) throw new UsageError(`missing value for ${flag ?? 'a flag'}`, topic);
        if (/does not take an argument/.test(msg)) throw new UsageError(`${flag ?? 'a flag'} takes no value`, topic);
        throw new UsageError(`invalid value for ${flag ?? 'a flag'}`, topic);
      default:
        throw new UsageError(msg, topic);
    }
  }
}

type FlagValue = string | boolean | (string | boolean)[] | undefined;

function nonEmpty(topic: CommandName, flag: string, v: FlagValue): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`missing value for --${flag}`, topic);
  return v.trim();
}

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

export function resolveConnection(
  values: Record<string, FlagValue>,
  env: NodeJS.ProcessEnv,
  topic: CommandName,
): ConnectionOptions {
  const pick = (flag: string, envName: string, def: string): string =>
    nonEmpty(topic, flag, values[flag]) ?? (env[envName]?.trim() || def);
  let target;
  try {
    target = resolveTemporalTarget(
      {
        address: nonEmpty(topic, 'address', values.address),
        namespace: nonEmpty(topic, 'namespace', values.namespace),
        profile: nonEmpty(topic, 'profile', values.profile),
      },
      env,
    );
  } catch (e) {
    if (e instanceof TemporalConfigError) throw new UsageError(e.message, topic);
    throw e;
  }
  const { address, namespace, ...secure } = target;
  return {
    address,
    namespace,
    taskQueue: pick('task-queue', 'JUDGELOOP_TASK_QUEUE', TASK_QUEUE),
    uiUrl: pick('ui', 'JUDGELOOP_UI_URL', defaultUiUrl(address)).replace(/\/+$/, ''),
    ...secure,
  };
}

const COMMANDS = new Set<CommandName>(['validate', 'run', 'follow', 'status', 'results', 'review', 'approve', 'registry', 'schedule', 'replay', 'report', 'reset', 'seeds', 'stack', 'codec-server', 'help']);

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
 * keys, so it must not climb out of storage.prefix (core/safe-names.ts). `where` names what it is and its flag.
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

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): Command {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { command: 'help' };
  if (first.startsWith('-')) throw new UsageError(`expected a command before ${first}`);
  if (!COMMANDS.has(first as CommandName)) throw new UsageError(`unknown command "${first}"`);
  const topic = first as CommandName;

  // The stack command's flags belong to the stack library: pass them through untouched.
  if (topic === 'stack') return { command: 'stack', args: rest };

  if (topic === 'help') {
    if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}"`, 'help');
    const t = rest[0];
    if (t === undefined) return { command: 'help' };
    if (!COMMANDS.has(t as CommandName)) throw new UsageError(`unknown command "${t}"`, 'help');
    return { command: 'help', topic: t as CommandName };
  }

  if (topic === 'validate') {
    const { values, positionals } = parseStrict(topic, rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    if (values.help) return { command: 'help', topic };
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, topic);
    const configPath = nonEmpty(topic, 'config', values.config);
    if (!configPath) throw new UsageError('missing required flag --config FILE', topic);
    return { command: 'validate', configPath, json: values.json === true };
  }

  if (topic === 'run') {
    const { values, positionals } = parseStrict(topic, rest, {
      config: { type: 'string', short: 'c' },
      id: { type: 'string' },
      'no-follow': { type: 'boolean' },
      json: { type: 'boolean' },
      ...connectionOptions,
    });
    if (values.help) return { command: 'help', topic };
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, topic);
    const configPath = nonEmpty(topic, 'config', values.config);
    if (!configPath) throw new UsageError('missing required flag --config FILE', topic);
    const id = nonEmpty(topic, 'id', values.id);
    return {
      command: 'run',
      configPath,
      workflowId: id === undefined ? undefined : checkNewRunId(id, topic, { what: 'run id', flag: '--id' }),
      follow: values['no-follow'] !== true,
      json: values.json === true,
      connection: resolveConnection(values, env, topic),
    };
  }

  if (topic === 'codec-server') return parseCodecServer(rest);
  if (topic === 'review') return parseReview(rest, env);
  if (topic === 'approve') return parseApprove(rest, env);
  if (topic === 'registry') return parseRegistry(rest);
  if (topic === 'schedule') return parseSchedule(rest, env);
  if (topic === 'replay') return parseReplay(rest, env);
  if (topic === 'report') return parseReport(rest, env);
  if (topic === 'seeds') return parseSeeds(rest, env);
  if (topic === 'reset') {
    const { values, positionals } = parseStrict(topic, rest, {
      iteration: { type: 'string' },
      reason: { type: 'string' },
      'dry-run': { type: 'boolean' },
      ...connectionOptions,
    });
    if (values.help) return { command: 'help', topic };
    if (positionals.length === 0) throw new UsageError('missing RUN_ID (the run to restart)', topic);
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
    const iteration = intFlag(topic, 'iteration', values.iteration, 0);
    if (iteration === undefined) throw new UsageError('missing --iteration K (the iteration to start again)', topic);
    const reason = nonEmpty(topic, 'reason', values.reason);
    return {
      command: 'reset',
      workflowId: checkWorkflowId(positionals[0], topic),
      iteration,
      ...(reason !== undefined ? { reason } : {}),
      dryRun: values['dry-run'] === true,
      connection: resolveConnection(values, env, topic),
    };
  }

  // follow / status / results: one positional run id
  const { values, positionals } = parseStrict(topic, rest, { json: { type: 'boolean' }, ...connectionOptions });
  if (values.help) return { command: 'help', topic };
  if (positionals.length === 0) throw new UsageError('missing RUN_ID (the workflow id that "run" printed)', topic);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
  return {
    command: topic,
    workflowId: checkWorkflowId(positionals[0], topic),
    json: values.json === true,
    connection: resolveConnection(values, env, topic),
  };
}

/** At most this many seeds (runs) per `judgeloop seeds`: a typo should not start hundreds of runs. */
export const MAX_SEEDS = 64;

/** `seeds --config FILE --seeds S,S,... [--id-prefix P] [--no-follow] [--json]` or `seeds --from-runs ID,ID,... [--json]` */
function parseSeeds(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'seeds';
  const { values, positionals } = parseStrict(topic, rest, {
    config: { type: 'string', short: 'c' },
    seeds: { type: 'string' },
    'id-prefix': { type: 'string' },
    'from-runs': { type: 'string' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
    ...connectionOptions,
  });
  if (values.help) return { command: 'help', topic };
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, topic);
  const json = values.json === true;
  const fromRuns = nonEmpty(topic, 'from-runs', values['from-runs']);
  if (fromRuns !== undefined) {
    const starting = ['config', 'seeds', 'id-prefix', 'no-follow'].filter((f) => values[f] !== undefined);
    if (starting.length) throw new UsageError(`--from-runs aggregates finished runs and starts nothing: drop ${starting.map((f) => `--${f}`).join(', ')}`, topic);
    const workflowIds = commaList(topic, 'from-runs', fromRuns).map((id) => checkWorkflowId(id, topic));
    if (new Set(workflowIds).size !== workflowIds.length) throw new UsageError('--from-runs names a run twice', topic);
    if (workflowIds.length < 2) throw new UsageError('--from-runs needs at least two runs (a spread needs two)', topic);
    return { command: 'seeds', action: 'aggregate', workflowIds, json, connection: resolveConnection(values, env, topic) };
  }
  const configPath = nonEmpty(topic, 'config', values.config);
  const seedList = nonEmpty(topic, 'seeds', values.seeds);
  if (!configPath || seedList === undefined) throw new UsageError('give --config FILE and --seeds S,S,... (or --from-runs RUN_ID,RUN_ID,... to aggregate finished runs)', topic);
  const seeds = parseSeedList(seedList, topic);
  const idPrefix = nonEmpty(topic, 'id-prefix', values['id-prefix']);
  // The longest id it makes is checked, so that every seed's run id is valid.
  if (idPrefix !== undefined) {
    checkNewRunId(idPrefix, topic, { what: 'run id prefix', flag: '--id-prefix' }, MAX_RUN_ID - `-seed-${Math.max(...seeds)}`.length);
  }
  return {
    command: 'seeds',
    action: 'start',
    configPath,
    seeds,
    ...(idPrefix !== undefined ? { idPrefix } : {}),
    follow: values['no-follow'] !== true,
    json,
    connection: resolveConnection(values, env, topic),
  };
}

function commaList(topic: CommandName, flag: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`--${flag} has an empty item in "${value}" (comma-separated, no spaces needed)`, topic);
  return items;
}

/** `0,1,2`: distinct non-negative whole numbers (loop.seed's range), at least two, at most MAX_SEEDS. */
export function parseSeedList(value: string, topic: CommandName = 'seeds'): number[] {
  const seeds = commaList(topic, 'seeds', value).map((s) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--seeds: "${s}" is not a whole number >= 0`, topic);
    return Number(s);
  });
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new UsageError(`--seeds lists seed ${twice} twice`, topic);
  if (seeds.length < 2) throw new UsageError('--seeds needs at least two seeds (a spread needs two), e.g. --seeds 0,1,2', topic);
  if (seeds.length > MAX_SEEDS) throw new UsageError(`--seeds lists ${seeds.length} seeds; at most ${MAX_SEEDS} runs at once`, topic);
  return seeds;
}

/** `report RUN_ID [--out FILE] [--open] [--config FILE]` */
function parseReport(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'report';
  const { values, positionals } = parseStrict(topic, rest, {
    out: { type: 'string', short: 'o' },
    open: { type: 'boolean' },
    config: { type: 'string', short: 'c' },
    ...connectionOptions,
  });
  if (values.help) return { command: 'help', topic };
  if (positionals.length === 0) throw new UsageError('missing RUN_ID (the workflow id of a completed run)', topic);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
  const out = nonEmpty(topic, 'out', values.out);
  const configPath = nonEmpty(topic, 'config', values.config);
  return {
    command: 'report',
    workflowId: checkWorkflowId(positionals[0], topic),
    ...(out !== undefined ? { out } : {}),
    open: values.open === true,
    ...(configPath !== undefined ? { configPath } : {}),
    connection: resolveConnection(values, env, topic),
  };
}

function parseReplay(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'replay';
  const { values, positionals } = parseStrict(topic, rest, {
    file: { type: 'string', multiple: true },
    'workflow-id': { type: 'string' },
    'no-children': { type: 'boolean' },
    json: { type: 'boolean' },
    ...connectionOptions,
  });
  if (values.help) return { command: 'help', topic };
  const rawFiles = values.file === undefined ? [] : Array.isArray(values.file) ? values.file : [values.file];
  const files = rawFiles.map((f) => nonEmpty(topic, 'file', f) ?? '');
  if (files.length > 0 && positionals.length > 0) throw new UsageError('give a RUN_ID or --file, not both', topic);
  if (files.length === 0 && positionals.length === 0) throw new UsageError('missing RUN_ID (or --file HISTORY.json)', topic);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
  const historyWorkflowId = nonEmpty(topic, 'workflow-id', values['workflow-id']);
  if (historyWorkflowId !== undefined && files.length !== 1) throw new UsageError('--workflow-id goes with exactly one --file', topic);
  return {
    command: 'replay',
    ...(positionals[0] !== undefined ? { workflowId: checkWorkflowId(positionals[0], topic) } : {}),
    children: values['no-children'] !== true,
    files,
    ...(historyWorkflowId !== undefined ? { historyWorkflowId } : {}),
    json: values.json === true,
    connection: resolveConnection(values, env, topic),
  };
}

function parseSchedule(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'schedule';
  const [action, ...args] = rest;
  if (action === undefined || action === '--help' || action === '-h') return { command: 'help', topic };
  const { values, positionals } = parseStrict(topic, args, { ...SCHEDULE_OPTIONS, ...connectionOptions } as Options);
  if (values.help) return { command: 'help', topic };
  const checked: Record<string, string | string[] | boolean | undefined> = {};
  for (const [k, v] of Object.entries(values)) {
    checked[k] = Array.isArray(v) ? v.map((x) => nonEmpty(topic, k, x) ?? '') : typeof v === 'string' ? nonEmpty(topic, k, v) : (v as boolean | undefined);
  }
  try {
    const cmd = scheduleCommand(action, positionals, checked, resolveConnection(values, env, topic));
    // A new schedule's id starts its runs' ids (<id>-<scheduled time>): it must make valid run ids.
    if (cmd.scheduleId !== undefined) {
      if (cmd.action === 'create') checkNewRunId(cmd.scheduleId, topic, { what: 'schedule id', flag: '--id' }, MAX_RUN_ID - SCHEDULED_RUN_SUFFIX);
      else checkWorkflowId(cmd.scheduleId, topic);
    }
    return cmd;
  } catch (e) {
    if (e instanceof ScheduleUsageError) throw new UsageError(e.message, topic);
    throw e;
  }
}

/** A non-negative integer flag value (iterations, limits, seeds). */
function intFlag(topic: CommandName, flag: string, v: FlagValue, min: number): number | undefined {
  const s = nonEmpty(topic, flag, v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) {
    throw new UsageError(`--${flag} must be an integer >= ${min}, got "${s}"`, topic);
  }
  return Number(s);
}

function parseReview(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'review';
  const [action, ...args] = rest;
  if (action === undefined || action === '--help' || action === '-h') return { command: 'help', topic };
  if (action === 'export') {
    const { values, positionals } = parseStrict(topic, args, {
      a: { type: 'string' },
      b: { type: 'string' },
      suite: { type: 'string', multiple: true },
      limit: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string', short: 'c' },
      ...connectionOptions,
    });
    if (values.help) return { command: 'help', topic };
    if (positionals.length === 0) throw new UsageError('missing RUN_ID (the workflow id of a completed run)', topic);
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
    const baseline = intFlag(topic, 'a', values.a, 0);
    const challenger = intFlag(topic, 'b', values.b, 0);
    if (baseline === undefined || challenger === undefined) throw new UsageError('missing --a ITER and --b ITER (the two iterations to compare)', topic);
    if (baseline === challenger) throw new UsageError(`--a and --b are both iteration ${baseline}; compare two different iterations`, topic);
    const outDir = nonEmpty(topic, 'out', values.out);
    if (!outDir) throw new UsageError('missing required flag --out DIR', topic);
    const rawSuites = values.suite === undefined ? [] : Array.isArray(values.suite) ? values.suite : [values.suite];
    const suites = rawSuites.map((s) => nonEmpty(topic, 'suite', s) ?? '');
    const limit = intFlag(topic, 'limit', values.limit, 1);
    const seed = intFlag(topic, 'seed', values.seed, 0);
    const configPath = nonEmpty(topic, 'config', values.config);
    return {
      command: 'review',
      action: 'export',
      workflowId: checkWorkflowId(positionals[0], topic),
      baseline,
      challenger,
      suites: [...new Set(suites)],
      ...(limit !== undefined ? { limit } : {}),
      ...(seed !== undefined ? { seed } : {}),
      outDir,
      ...(configPath !== undefined ? { configPath } : {}),
      connection: resolveConnection(values, env, topic),
    };
  }
  if (action === 'import') {
    const { values, positionals } = parseStrict(topic, args, { key: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) return { command: 'help', topic };
    const keyPath = nonEmpty(topic, 'key', values.key);
    if (!keyPath) throw new UsageError('missing required flag --key FILE (the review-key.json that export wrote)', topic);
    if (positionals.length === 0) throw new UsageError('missing ANSWERS: one or more answer files (.json from the page, or .csv sheets)', topic);
    return { command: 'review', action: 'import', keyPath, answerPaths: positionals, json: values.json === true };
  }
  throw new UsageError(`unknown review action "${action}" (expected export or import)`, topic);
}

/** `approve RUN_ID --iteration K [--reject] [--by NAME] [--reason TEXT]` */
function parseApprove(rest: string[], env: NodeJS.ProcessEnv): Command {
  const topic: CommandName = 'approve';
  const { values, positionals } = parseStrict(topic, rest, {
    iteration: { type: 'string' },
    reject: { type: 'boolean' },
    by: { type: 'string' },
    reason: { type: 'string' },
    ...connectionOptions,
  });
  if (values.help) return { command: 'help', topic };
  if (positionals.length === 0) throw new UsageError('missing RUN_ID (the workflow id of the run awaiting approval)', topic);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
  const iteration = intFlag(topic, 'iteration', values.iteration, 1);
  if (iteration === undefined) throw new UsageError('missing required flag --iteration K (the iteration awaiting approval; judgeloop status shows it)', topic);
  const by = nonEmpty(topic, 'by', values.by) ?? (env.USER?.trim() || env.USERNAME?.trim() || 'cli');
  if (by.length > 100) throw new UsageError('--by must be at most 100 characters', topic);
  const reason = nonEmpty(topic, 'reason', values.reason);
  return {
    command: 'approve',
    workflowId: checkWorkflowId(positionals[0], topic),
    iteration,
    approve: values.reject !== true,
    by,
    ...(reason !== undefined ? { reason } : {}),
    connection: resolveConnection(values, env, topic),
  };
}

/** `codec-server [--port N] [--host HOST] [--cors-origin ORIGIN]...` */
function parseCodecServer(rest: string[]): Command {
  const topic: CommandName = 'codec-server';
  const { values, positionals } = parseStrict(topic, rest, {
    port: { type: 'string' },
    host: { type: 'string' },
    'cors-origin': { type: 'string', multiple: true },
  });
  if (values.help) return { command: 'help', topic };
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`, topic);
  const port = intFlag(topic, 'port', values.port, 0) ?? DEFAULT_CODEC_PORT;
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`, topic);
  const host = nonEmpty(topic, 'host', values.host) ?? DEFAULT_CODEC_HOST;
  const rawOrigins = values['cors-origin'] === undefined ? [] : Array.isArray(values['cors-origin']) ? values['cors-origin'] : [values['cors-origin']];
  const corsOrigins = rawOrigins.map((o) => {
    const origin = nonEmpty(topic, 'cors-origin', o) ?? '';
    if (origin === '*') return origin;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // Browsers send the origin exactly as scheme://host[:port]; anything else would never match.
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new UsageError(`--cors-origin "${origin}" is not an origin: write scheme://host[:port] with no path, e.g. http://localhost:8233`, topic);
    }
    return origin;
  });
  return { command: 'codec-server', host, port, corsOrigins: corsOrigins.length ? [...new Set(corsOrigins)] : [...DEFAULT_CORS_ORIGINS] };
}

/** `registry JUDGE_NAME --config FILE [--json]` */
function parseRegistry(rest: string[]): Command {
  const topic: CommandName = 'registry';
  const { values, positionals } = parseStrict(topic, rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  if (values.help) return { command: 'help', topic };
  if (positionals.length === 0) throw new UsageError('missing JUDGE_NAME (the config\'s judge.name)', topic);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, topic);
  const judgeName = positionals[0];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(judgeName)) {
    throw new UsageError(`invalid judge name "${judgeName}": letters, digits, ".", "_" and "-", at most 63 (as judge.name)`, topic);
  }
  const configPath = nonEmpty(topic, 'config', values.config);
  if (!configPath) throw new UsageError('missing required flag --config FILE (a run config naming the registry\'s storage)', topic);
  return { command: 'registry', judgeName, configPath, json: values.json === true };
}
