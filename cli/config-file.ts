/**
 * Loading a run config file for the CLI: read, parse (a syntax error is reported by line and column),
 * validate with the zod schema (every problem listed by its path), and hash.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { formatConfigProblems, validateConfig, type ConfigProblem, type RunConfig } from '../core/config/config';
import { preRunProblems } from '../core/config/pre-run-checks';
import { priceBasis } from '../core/run/usage';
import { parseTemplate, type TemplateKind } from '../core/judging/prompt';
import { formatPerIteration } from '../core/config/per-iteration';
import { canonicalJson, sha256Hex } from '../activities/storage/hashing';
import { locateJsonError } from './json-locate';
import { CliError } from './connection';
import { EXIT_USAGE } from './args';

// The run's prepare activity hashes the validated config with these same functions, so the memo's
// configHash equals RunSummary.configHash.
export { canonicalJson };

export type ConfigFileErrorKind = 'missing' | 'unreadable' | 'json' | 'invalid';

export class ConfigFileError extends Error {
  constructor(
    readonly kind: ConfigFileErrorKind,
    message: string,
    readonly path: string,
    readonly problems: ConfigProblem[] = [],
    /** 1-based position of a JSON syntax error. */
    readonly position?: { line: number; column: number },
  ) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

export interface LoadedConfig {
  path: string;
  /** The file's JSON as written: this is what the run workflow receives as its only argument. */
  raw: unknown;
  /** The validated config with defaults filled in. */
  config: RunConfig;
  /** sha256 (hex) of the canonical JSON of the validated config. */
  configHash: string;
}

/**
 * The config hash recorded in the workflow memo: sha256 of the canonical JSON of the validated config, so
 * that key order, whitespace and spelled-out defaults do not change it.
 */
export function configHash(config: RunConfig): string {
  return sha256Hex(canonicalJson(config));
}

/** Parses config text; a syntax error becomes a ConfigFileError naming the line and column. */
export function parseConfigText(text: string, path: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const where = locateJsonError(body);
    if (where) {
      throw new ConfigFileError(
        'json',
        `${path}:${where.line}:${where.column}: invalid JSON at line ${where.line}, column ${where.column}: ${where.message}`,
        path,
        [],
        { line: where.line, column: where.column },
      );
    }
    throw new ConfigFileError('json', `${path}: invalid JSON: ${(e as Error).message}`, path);
  }
}

/** Validates parsed config JSON; throws a ConfigFileError listing every problem by path. */
export function checkConfig(raw: unknown, path: string): { config: RunConfig; configHash: string } {
  const result = validateConfig(raw);
  if (!result.ok) {
    throw new ConfigFileError('invalid', formatConfigProblems(result.problems, path), path, result.problems);
  }
  const budgets = preRunProblems(result.config);
  if (budgets.length > 0) throw new ConfigFileError('invalid', formatConfigProblems(budgets, path), path, budgets);
  return { config: result.config, configHash: configHash(result.config) };
}

export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  const raw = await readConfigWithExtends(path, []);
  const checked = checkConfig(raw, path);
  await checkTemplates(checked.config, path);
  return { path, raw, ...checked };
}

/** Project root: template paths in a config are relative to it (as the worker reads them). */
const PROJECT_ROOT = resolvePath(__dirname, '..');

/** The template files a config names, with the kind each must be. */
export function templatesOf(config: RunConfig): { key: string; file: string; kind: TemplateKind }[] {
  const list: { key: string; file: string; kind: TemplateKind }[] = [
    { key: 'judge.promptTemplate', file: config.judge.promptTemplate, kind: 'pointwise' },
  ];
  if (config.data.evalSuites.some((s) => s.kind === 'pairwise' && (s.mode === 'relative' || s.mode === 'both'))) {
    list.push({ key: 'judge.pairwiseTemplate', file: config.judge.pairwiseTemplate, kind: 'pairwise' });
  }
  config.loop.pairing.strategies.forEach((s, i) => {
    if (s.name === 'meta_judge') list.push({ key: `loop.pairing.strategies.${i}.template`, file: s.template, kind: 'meta' });
  });
  return list;
}

/**
 * Reads and checks every template the config names, so that a missing file or a missing placeholder stops
 * the run before it starts (the steps check again when they load them).
 */
async function checkTemplates(config: RunConfig, path: string): Promise<void> {
  const problems: ConfigProblem[] = [];
  for (const { key, file, kind } of templatesOf(config)) {
    let text: string;
    try {
      text = await readFile(resolvePath(PROJECT_ROOT, file), 'utf8');
    } catch {
      problems.push({ path: key, message: `cannot read the template ${file} (paths are relative to the project root)` });
      continue;
    }
    const parsed = parseTemplate(text, { kind, source: file });
    if (!parsed.ok) for (const message of parsed.problems) problems.push({ path: key, message });
  }
  if (problems.length) throw new ConfigFileError('invalid', formatConfigProblems(problems, path), path, problems);
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigFileError('missing', `config file not found: ${path} (try configs/local.json)`, path);
    }
    if (code === 'EISDIR') throw new ConfigFileError('unreadable', `${path} is a directory, not a config file`, path);
    throw new ConfigFileError('unreadable', `cannot read config file ${path}: ${(e as Error).message}`, path);
  }
}

/**
 * A config may start from another: `"extends": "../local.json"` (relative to the extending file). The base
 * is read first and the extending file's keys are merged over it (objects key by key, arrays and values
 * replaced), so an ablation config holds only what it changes. The result, without `extends`, is what the
 * run receives: the workflow never reads files.
 */
async function readConfigWithExtends(path: string, chain: string[]): Promise<unknown> {
  const raw = parseConfigText(await readConfigText(path), path);
  if (!isPlainObject(raw) || !('extends' in raw)) return raw;
  const { extends: base, ...own } = raw;
  if (typeof base !== 'string' || base === '') {
    throw new ConfigFileError('invalid', `${path}: "extends" must be the path of another config file`, path);
  }
  const basePath = resolvePath(dirname(path), base);
  if (chain.includes(basePath) || basePath === resolvePath(path)) {
    throw new ConfigFileError('invalid', `${path}: "extends" makes a cycle (${[...chain, resolvePath(path), basePath].join(' → ')})`, path);
  }
  if (chain.length >= 8) throw new ConfigFileError('invalid', `${path}: more than 8 levels of "extends"`, path);
  return mergeConfig(await readConfigWithExtends(basePath, [...chain, resolvePath(path)]), own);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `override` over `base`: plain objects merge key by key; anything else (arrays too) replaces. An object
 * whose `kind` differs from the base's replaces it whole: `backend: {"kind": "sagemaker", ...}` over a local
 * backend must not inherit the local-only keys (python, workDir), which the sagemaker schema rejects.
 */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  if ('kind' in override && base.kind !== override.kind) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = key in base ? mergeConfig(base[key], value) : value;
  return out;
}

/** The few lines `validate` prints for a valid config. */
function describeBackend(b: RunConfig['backend']): string {
  const basis = priceBasis(b);
  // Costs are estimates made with these prices: say where they come from, or that nobody said.
  const prices = basis ? `; prices ${b.priceSource ? `from ${b.priceSource.source}, as of ${b.priceSource.asOf}` : 'of unknown source and date (set backend.priceSource)'}` : '';
  if (b.kind === 'local') return `local${b.pricePerHour !== undefined ? ` ($${b.pricePerHour}/h${prices})` : ''}`;
  const types = [...new Set([b.instanceTypes.generation, b.instanceTypes.training])];
  const priced = types.map((t) => `${t}${b.pricesPerHour?.[t] !== undefined ? ` $${b.pricesPerHour[t]}/h` : ' (no price)'}`);
  return `sagemaker ${b.region}, ${b.instanceCount} × ${priced.join(' / ')}${b.spot.enabled ? ', spot' : ''}, at most ${b.maxRuntimeHours} h per job${prices}`;
}

function describeBudget(budget: RunConfig['budget']): string {
  const limits = [
    ...(budget?.maxUsd !== undefined ? [`$${budget.maxUsd}`] : []),
    ...(budget?.maxJobHours !== undefined ? [`${budget.maxJobHours} job-hours`] : []),
  ];
  return limits.length ? `${limits.join(' and ')} (no job starts past it)` : 'none';
}

export function describeConfig(loaded: LoadedConfig): string {
  const c = loaded.config;
  const l = c.loop;
  const t = c.training;
  const s = c.storage;
  const endpoint = s.endpoint ? ` via ${s.endpoint}` : '';
  return [
    `${loaded.path} is valid`,
    `  run:      ${c.name}`,
    `  judge:    ${c.judge.name} (seed model ${c.judge.seedModel}, scale ${c.judge.scale.min}-${c.judge.scale.max})`,
    l.iterations === 0
      ? `  loop:     0 iterations: evaluate-only (the starting judge on every suite, as iteration 0), seed ${l.seed}`
      : `  loop:     ${l.iterations} iteration${l.iterations === 1 ? '' : 's'} × ${formatPerIteration(l.inputsSchedule ?? l.inputsPerIteration)} inputs${l.reuseInputs ? '' : ' (no reuse)'} × N=${formatPerIteration(l.samplesPerInput)} at T=${formatPerIteration(l.temperature)}, seed ${l.seed}`,
    `  pairing:  ${l.pairing.strategies.map((s) => `${s.name} (margin ${formatPerIteration(s.margin)}, at most ${s.maxPairsPerInput} per input)`).join(' + ')}`,
    `  training: ${t.method}${t.rpoAlpha > 0 && t.method === 'dpo' ? ` + NLL (rpoAlpha ${t.rpoAlpha})` : ''}${t.lora.enabled ? ` + LoRA r=${t.lora.r}` : ' (full)'}, beta ${t.beta}, lr ${t.learningRate}, ${t.epochs} epoch${t.epochs === 1 ? '' : 's'}`,
    `  train:    ${c.data.train.uri} (${c.data.train.adapter})`,
    `  eval:     ${c.data.evalSuites.map((e) => `${e.name} (${e.kind})`).join(', ')}`,
    `  backend:  ${describeBackend(c.backend)}`,
    `  budget:   ${describeBudget(c.budget)}`,
    `  storage:  s3://${s.bucket}/${s.prefix}${endpoint}`,
    `  hash:     ${loaded.configHash}`,
  ].join('\n');
}

/** `--config FILE` of the commands that read a finished run (review, report): the file's config, or undefined. */
export async function optionalConfigFile(path: string | undefined): Promise<RunConfig | undefined> {
  if (!path) return undefined;
  try {
    return (await loadConfigFile(path)).config;
  } catch (e) {
    if (e instanceof ConfigFileError) throw new CliError(e.message, EXIT_USAGE);
    throw e;
  }
}
