/**
 * `judgeloop seeds`: the same config once per seed (loop.seed and training.seed set to it; one workflow id
 * per run), followed to the end, then per iteration and test suite the mean, sample standard deviation and
 * 95% t-interval of each headline metric across the runs (core/evaluation/seed-stats.ts). `--from-runs` does the
 * aggregation alone, over completed runs started anywhere.
 */
import type { SeedsCommand } from './args';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './args';
import { ConfigFileError, canonicalJson, checkConfig, loadConfigFile, mergeConfig, type LoadedConfig } from './config-file';
import { CliError, connect, hasWorkflowPollers, noWorkerWarning, type Connected } from './connection';
import { runSummaryOf } from './storage';
import { describeRun, followRun, println, recordedConfig, type FollowOutcome, type OutStream } from './follow';
import { formatFailureChain } from './format';
import { NONE, num, pct, renderTable, type Table } from '../core/report/summary-tables';
import { defaultWorkflowId, startRun, type StartedRun } from './start';
import type { RunConfig } from '../core/config/config';
import { isRunResult, type RunOutcome, type RunSummary } from '../core/run/run-types';
import { aggregateSeedRuns, testSuiteNames, type HeadlineMetric, type SeedAggregate, type SeedRun } from '../core/evaluation/seed-stats';

interface SeedsIO {
  out: OutStream;
  err: OutStream;
  signal?: AbortSignal;
}

const EXIT_INTERRUPTED = 130;

/** The run id of one seed's run. */
export function seedRunId(prefix: string, seed: number): string {
  return `${prefix}-seed-${seed}`;
}

/** The config file's JSON with loop.seed and training.seed set to `seed` (what that seed's run receives). */
export function seededRaw(raw: unknown, seed: number): unknown {
  return mergeConfig(raw, { loop: { seed }, training: { seed } });
}

/**
 * Why a config cannot be repeated over seeds, or null. Runs that start from the registry's champion would
 * start from whatever judge another seed's run has just promoted, so the seeds would not share a start.
 */
export function seedsProblem(config: RunConfig): string | null {
  if (config.registry.enabled && config.registry.startFrom === 'champion') {
    return (
      'the runs of one seed study must start from the same judge, but registry.startFrom is "champion" (the default): ' +
      'a run could start from a judge another seed promoted. Set registry.startFrom to "seed" (or registry.enabled to false).'
    );
  }
  return null;
}

function withoutSeeds(config: RunConfig): unknown {
  return { ...config, loop: { ...config.loop, seed: 0 }, training: { ...config.training, seed: 0 } };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function differingPaths(a: unknown, b: unknown, path: string, depth: number, out: Set<string>): void {
  if (canonicalJson(a) === canonicalJson(b)) return;
  if (depth === 0 || !isPlainObject(a) || !isPlainObject(b)) {
    out.add(path || '(root)');
    return;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) differingPaths(a[key], b[key], path ? `${path}.${key}` : key, depth - 1, out);
}

/**
 * Where run configs differ apart from their seeds (loop.seed, training.seed), as paths up to three levels
 * deep (e.g. `loop.samplesPerInput`, `data.evalSuites`); empty when they are the same experiment.
 */
export function configDifferences(configs: readonly RunConfig[]): string[] {
  const out = new Set<string>();
  const [first, ...rest] = configs.map(withoutSeeds);
  for (const other of rest) differingPaths(first, other, '', 3, out);
  return [...out].sort();
}

const METRIC_LABELS: Record<HeadlineMetric, string> = { exactAgreement: 'exact agreement %', pearson: 'pearson', accuracy: 'accuracy %' };
const PERCENT: ReadonlySet<HeadlineMetric> = new Set(['exactAgreement', 'accuracy']);

/** Runs shown one column each in the text table; beyond this only the summary columns (the JSON has every value). */
const MAX_RUN_COLUMNS = 8;

/** The aggregate as a table: one row per iteration, suite and metric; percentages for the rates. */
export function seedAggregateTable(agg: SeedAggregate): Table {
  const perRun = agg.runs.length <= MAX_RUN_COLUMNS;
  const runLabel = (r: SeedAggregate['runs'][number]) => (r.seed === null ? r.runId : `seed ${r.seed}`);
  const header = ['iter', 'suite', 'metric', 'n', 'mean', 'sd', '95% t-interval', ...(perRun ? agg.runs.map(runLabel) : [])];
  const rows = agg.rows.map((row) => {
    const f = (v: number | null) => (PERCENT.has(row.metric) ? pct(v) : num(v));
    return [
      String(row.iteration),
      row.suite,
      METRIC_LABELS[row.metric],
      String(row.n),
      f(row.mean),
      f(row.sd),
      row.low === null || row.high === null ? NONE : `[${f(row.low)}, ${f(row.high)}]`,
      ...(perRun ? row.values.map(f) : []),
    ];
  });
  return { header, rows, align: ['right', 'left', 'left', 'right', 'right', 'right', 'left', ...(perRun ? agg.runs.map(() => 'right' as const) : [])] };
}

export function formatSeedAggregate(agg: SeedAggregate): string {
  const seeds = agg.runs.map((r) => (r.seed === null ? '?' : String(r.seed)));
  return [
    `${agg.runs.length} runs (seeds ${seeds.join(', ')}): ${agg.runs.map((r) => r.runId).join(', ')}`,
    'per iteration and test suite: mean, sample sd and 95% t-interval of the mean across seeds (n = runs with the figure;',
    'rates in percent, sd and interval in points)',
    '',
    agg.rows.length ? renderTable(seedAggregateTable(agg)) : '(no test-suite figures in these runs)',
  ].join('\n');
}

/** Writes each line with a prefix (the progress of several runs on one stream). */
function prefixed(stream: OutStream, prefix: string): OutStream {
  let pending = '';
  return {
    write(chunk: string) {
      const text = pending + chunk;
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) stream.write(`${prefix}${line.replace(/^\r?\x1b\[2K/, '')}\n`);
      return true;
    },
  };
}

function fromRunsHint(ids: readonly string[]): string {
  return `npm run judgeloop -- seeds --from-runs ${ids.join(',')}`;
}

function printAggregate(agg: SeedAggregate, extras: { suites: string[] | null; warnings: string[]; failed: Array<{ runId: string; error: string }> }, json: boolean, io: SeedsIO): void {
  for (const w of extras.warnings) println(io.err, `warning: ${w}`);
  if (json) {
    println(io.out, JSON.stringify({ ...agg, suites: extras.suites, warnings: extras.warnings, failed: extras.failed }, null, 2));
  } else {
    println(io.out, formatSeedAggregate(agg));
  }
}

async function startSeeds(cmd: Extract<SeedsCommand, { action: 'start' }>, io: SeedsIO): Promise<number> {
  let base: LoadedConfig;
  const seeded: Array<{ seed: number; loaded: LoadedConfig }> = [];
  try {
    base = await loadConfigFile(cmd.configPath);
    for (const seed of cmd.seeds) {
      const raw = seededRaw(base.raw, seed);
      seeded.push({ seed, loaded: { path: cmd.configPath, raw, ...checkConfig(raw, `${cmd.configPath} with seed ${seed}`) } });
    }
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e;
    println(io.err, e.message);
    return EXIT_USAGE;
  }
  const problem = seedsProblem(base.config);
  if (problem) {
    println(io.err, `${cmd.configPath}: ${problem}`);
    return EXIT_USAGE;
  }
  const prefix = cmd.idPrefix ?? defaultWorkflowId(base.config.name);
  const info = cmd.json ? io.err : io.out;
  const conn = await connect(cmd.connection);
  try {
    const started: Array<StartedRun & { seed: number }> = [];
    for (const { seed, loaded } of seeded) {
      try {
        started.push({ ...(await startRun(conn, loaded, { workflowId: seedRunId(prefix, seed) })), seed });
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        println(io.err, `seed ${seed}: ${e.message}`);
        if (started.length) println(io.err, `started before that, and still running: ${started.map((s) => s.workflowId).join(', ')}`);
        return EXIT_FAILED;
      }
    }
    const ids = started.map((s) => s.workflowId);
    println(info, `started ${started.length} runs of ${cmd.configPath} (loop.seed and training.seed per run):`);
    for (const s of started) println(info, `  seed ${s.seed}: ${s.workflowId}  ${s.url}  (config hash ${s.configHash.slice(0, 12)})`);
    if ((await hasWorkflowPollers(conn)) === false) println(io.err, noWorkerWarning(conn.options.taskQueue));
    if (!cmd.follow) {
      if (cmd.json) println(io.out, JSON.stringify({ runs: started }, null, 2));
      else println(info, `aggregate them once they have finished with: ${fromRunsHint(ids)}`);
      return EXIT_OK;
    }
    println(info, `following ${started.length} runs (Ctrl-C stops following; the runs continue)`);
    const outcomes: FollowOutcome[] = await Promise.all(
      started.map((s) => followRun(conn, s.workflowId, { progress: prefixed(info, `[seed ${s.seed}] `), signal: io.signal })),
    );
    if (outcomes.some((o) => o.kind === 'interrupted')) {
      println(io.err, `stopped following; the runs continue. Aggregate them once they have finished with: ${fromRunsHint(ids)}`);
      return EXIT_INTERRUPTED;
    }
    const runs: SeedRun[] = [];
    const failed: Array<{ runId: string; error: string }> = [];
    for (const [i, o] of outcomes.entries()) {
      if (o.kind === 'completed') {
        const summary = await runSummaryOf(o.result, seeded[i].loaded.config, conn.options.address);
        runs.push({ runId: started[i].workflowId, seed: started[i].seed, summary });
      } else if (o.kind === 'failed') failed.push({ runId: started[i].workflowId, error: `${o.status}: ${formatFailureChain(o.error)}` });
    }
    for (const f of failed) println(io.err, `run ${f.runId} did not complete (${f.error.split('\n')[0]}); it is left out of the aggregate`);
    const suites = testSuiteNames(base.config);
    printAggregate(aggregateSeedRuns(runs, suites), { suites, warnings: [], failed }, cmd.json, io);
    return failed.length ? EXIT_FAILED : EXIT_OK;
  } finally {
    await conn.close();
  }
}

/** A completed run's summary and recorded config (null when the recorded config no longer validates). */
async function readCompleted(conn: Connected, workflowId: string): Promise<{ summary?: RunSummary; config: RunConfig | null; status: string }> {
  const desc = await describeRun(conn, workflowId);
  const status = desc.status.name;
  if (status !== 'COMPLETED') return { config: null, status };
  const result = (await conn.client.workflow.getHandle(workflowId).result()) as RunOutcome;
  const config = await recordedConfig(conn, workflowId).catch(() => null);
  if (isRunResult(result) && !config) {
    throw new CliError(`the recorded config of ${workflowId} does not validate now, so the bucket that holds its iterations' summaries is unknown; leave it out`);
  }
  return { summary: config ? await runSummaryOf(result, config, conn.options.address) : (result as RunSummary), config, status };
}

async function aggregateRuns(cmd: Extract<SeedsCommand, { action: 'aggregate' }>, io: SeedsIO): Promise<number> {
  const conn = await connect(cmd.connection);
  try {
    const read = [];
    for (const id of cmd.workflowIds) read.push({ id, ...(await readCompleted(conn, id)) });
    const open = read.filter((r) => r.status !== 'COMPLETED');
    if (open.length) {
      println(io.err, `only completed runs can be aggregated: ${open.map((r) => `${r.id} is ${r.status}`).join(', ')}`);
      println(io.err, '(wait for a running one with `npm run judgeloop -- follow RUN_ID`, or leave a failed one out)');
      return EXIT_FAILED;
    }
    const warnings: string[] = [];
    const configs = read.map((r) => r.config);
    const known = configs.filter((c): c is RunConfig => c !== null);
    if (known.length < configs.length) {
      warnings.push(`the recorded config of ${read.filter((r) => !r.config).map((r) => r.id).join(', ')} does not validate now: its seed is unknown and every suite of its summary counts`);
    }
    const differences = configDifferences(known);
    if (differences.length) warnings.push(`these runs differ in more than their seeds: ${differences.join(', ')}`);
    const seedsOf = known.map((c) => c.loop.seed);
    if (new Set(seedsOf).size < seedsOf.length) warnings.push(`some runs share a seed (loop.seed ${seedsOf.join(', ')}): their spread is not across seeds`);
    const suites = known.length ? testSuiteNames(known[0]) : null;
    const runs: SeedRun[] = read.map((r) => ({ runId: r.id, ...(r.config ? { seed: r.config.loop.seed } : {}), summary: r.summary! }));
    printAggregate(aggregateSeedRuns(runs, suites ?? undefined), { suites, warnings, failed: [] }, cmd.json, io);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

export async function cmdSeeds(cmd: SeedsCommand, io: SeedsIO): Promise<number> {
  return cmd.action === 'start' ? startSeeds(cmd, io) : aggregateRuns(cmd, io);
}
