/**
 * `judgeloop review export|import`: a blind A/B human review of two iterations' rationales.
 *
 * export: reads both iterations' `iter-K/evaluate/metrics/judgments.jsonl` and the prepared evaluation
 * suites (`data/eval-SUITE/data/rows.jsonl`, from the run summary) from S3, pairs the judgments
 * (core/review/human-review.ts) and writes DIR/review.html (the annotators' page), DIR/review.csv (the same items as
 * a sheet) and DIR/review-key.json (the un-blinding key). `exportReview` is the whole of it given a store and a
 * RunSummary-shaped object; the command only adds Temporal (the summary and the recorded config).
 *
 * import: reads the key and the answer files, and prints the win rate of the challenger (--b) with its
 * interval, the tie rate, and Fleiss' kappa (core/review/human-review-stats.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { joinUri, stepPrefix } from '../core/run/artifacts';
import { buildReview, parseReviewKey, reviewJudgmentRow, type JudgeRole, type ReviewExampleText, type ReviewJudgmentRow, type ReviewKey } from '../core/review/human-review';
import { AnswerFileError, parseAnswerFile, type AnswerSheet } from '../core/review/human-review-answers';
import { renderReviewPage, renderReviewSheet } from '../core/review/human-review-page';
import { aggregateReview, type HumanReviewReport } from '../core/review/human-review-stats';
import type { Rubric } from '../core/data/records';
import { deriveSeed, hashString32 } from '../core/common/rng';
import type { DatasetSummary, IterationSummary, RunSummary } from '../core/run/run-types';
import { DEFAULT_PAIRWISE_RUBRIC } from '../activities/steps/evaluate';
import type { ObjectStore } from '../activities/storage/object-store';
import { cliObjectStore } from './storage';
import { EXIT_USAGE, type ReviewCommand } from './args';
import { CliError } from './connection';
import { completedRun, println, type OutStream } from './follow';

export const REVIEW_FILES = { page: 'review.html', sheet: 'review.csv', key: 'review-key.json' } as const;

/** What export needs of a run: the RunSummary's URIs. */
export interface ReviewRunSource {
  runId: string;
  runPrefixUri: string;
  datasets: ReadonlyArray<Pick<DatasetSummary, 'name' | 'uri'>>;
  iterations: ReadonlyArray<Pick<IterationSummary, 'iteration' | 'modelUri'>>;
}

export interface ExportReviewOptions {
  baseline: number;
  challenger: number;
  suites?: readonly string[];
  limit?: number;
  seed?: number;
  outDir: string;
  /** Creation time recorded in the review (default now). */
  now?: Date;
}

export interface ExportedReview {
  key: ReviewKey;
  files: { page: string; sheet: string; key: string };
}

/** The review's id: a hash of what it is made of, so the page's file names say nothing about the judges. */
export function reviewId(runId: string, options: Pick<ExportReviewOptions, 'baseline' | 'challenger' | 'limit' | 'suites'>, seed: number): string {
  const what = JSON.stringify([runId, options.baseline, options.challenger, options.limit ?? null, [...(options.suites ?? [])].sort(), seed]);
  return `rv-${hashString32(what).toString(16).padStart(8, '0')}`;
}

/** The default seed: fixed per run and pair of iterations, so an export can be repeated exactly. */
export function defaultReviewSeed(runId: string, baseline: number, challenger: number): number {
  return deriveSeed(0, 'human-review', runId, baseline, challenger);
}

function iterationRange(run: ReviewRunSource): string {
  const its = run.iterations.map((i) => i.iteration).sort((a, b) => a - b);
  if (its.length === 0) return 'no iteration';
  const contiguous = its.every((v, i) => v === its[0] + i);
  return contiguous ? `iterations ${its[0]}..${its[its.length - 1]}` : `iterations ${its.join(', ')}`;
}

async function readJudgments(store: ObjectStore, run: ReviewRunSource, iteration: number, role: JudgeRole) {
  const entry = run.iterations.find((i) => i.iteration === iteration);
  if (!entry) throw new CliError(`iteration ${iteration} has no evaluation judgments; the run ${run.runId} has ${iterationRange(run)}`, EXIT_USAGE);
  const uri = joinUri(stepPrefix(run.runPrefixUri, iteration, 'evaluate'), 'metrics', 'judgments.jsonl');
  if (!(await store.exists(uri))) {
    throw new CliError(`iteration ${iteration} has no evaluation judgments: ${uri} does not exist (the run has ${iterationRange(run)}; was its evaluation cleaned up?)`);
  }
  const rows: ReviewJudgmentRow[] = [];
  for await (const line of store.readJsonlLines(uri)) {
    if (line.error) throw new CliError(line.error);
    rows.push(reviewJudgmentRow(line.value, `${uri} line ${line.line} (${role} judge)`));
  }
  return { uri, modelUri: entry.modelUri, rows };
}

type SuiteRow = { id: string; instruction: string; response?: string; chosen?: string; rejected?: string; rubric?: Rubric };

/** The prepared rows of the suites the judgments cover, by suite and example id. */
async function readSuites(store: ObjectStore, run: ReviewRunSource, suites: ReadonlySet<string>): Promise<Map<string, Map<string, SuiteRow>>> {
  const out = new Map<string, Map<string, SuiteRow>>();
  for (const suite of suites) {
    const ds = run.datasets.find((d) => d.name === suite);
    if (!ds) {
      throw new CliError(`the run's summary lists no prepared dataset "${suite}" (it has ${run.datasets.map((d) => d.name).join(', ') || 'none'}); cannot show its inputs`);
    }
    const rows = new Map<string, SuiteRow>();
    for await (const line of store.readJsonlLines(ds.uri)) {
      if (line.error) throw new CliError(line.error);
      const row = line.value as SuiteRow;
      if (row && typeof row.id === 'string') rows.set(row.id, row);
    }
    out.set(suite, rows);
  }
  return out;
}

function exampleText(suites: Map<string, Map<string, SuiteRow>>, j: ReviewJudgmentRow): ReviewExampleText | undefined {
  const row = suites.get(j.suite)?.get(j.exampleId);
  if (!row) return undefined;
  const response = j.side ? row[j.side] : row.response;
  if (typeof response !== 'string') return undefined;
  // Pairwise suites without a rubric were judged on DEFAULT_PAIRWISE_RUBRIC (activities/steps/evaluate.ts).
  const rubric = row.rubric ?? (j.side ? DEFAULT_PAIRWISE_RUBRIC : undefined);
  return {
    instruction: row.instruction,
    response,
    criteria: rubric?.criteria ?? '',
    ...(rubric ? { scoreDescriptions: [rubric.score1, rubric.score2, rubric.score3, rubric.score4, rubric.score5] } : {}),
  };
}

/** Builds the review from S3 and writes its three files into `outDir`. */
export async function exportReview(store: ObjectStore, run: ReviewRunSource, options: ExportReviewOptions): Promise<ExportedReview> {
  if (options.baseline === options.challenger) throw new CliError(`--a and --b are both iteration ${options.baseline}`, EXIT_USAGE);
  const baseline = await readJudgments(store, run, options.baseline, 'baseline');
  const challenger = await readJudgments(store, run, options.challenger, 'challenger');
  const wanted = options.suites && options.suites.length ? new Set(options.suites) : null;
  const covered = new Set([...baseline.rows, ...challenger.rows].map((r) => r.suite));
  if (wanted) {
    const unknown = [...wanted].filter((s) => !covered.has(s));
    if (unknown.length) {
      throw new CliError(`no judgments of suite ${unknown.join(', ')}; iterations ${options.baseline} and ${options.challenger} judged ${[...covered].sort().join(', ') || 'nothing'}`, EXIT_USAGE);
    }
  }
  const suites = await readSuites(store, run, wanted ?? covered);
  const seed = options.seed ?? defaultReviewSeed(run.runId, options.baseline, options.challenger);
  const id = reviewId(run.runId, options, seed);
  const describe = (role: JudgeRole, iteration: number, j: { uri: string; modelUri: string }) => ({
    role,
    runId: run.runId,
    iteration,
    modelUri: j.modelUri,
    judgmentsUri: j.uri,
  });
  const built = buildReview({
    id,
    seed,
    created: (options.now ?? new Date()).toISOString(),
    judges: { baseline: describe('baseline', options.baseline, baseline), challenger: describe('challenger', options.challenger, challenger) },
    judgments: { baseline: baseline.rows, challenger: challenger.rows },
    example: (row) => exampleText(suites, row),
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(wanted ? { suites: [...wanted] } : {}),
  });
  if (built.page.items.length === 0) {
    const p = built.key.pairing;
    throw new CliError(
      `nothing to review: iterations ${options.baseline} and ${options.challenger} share no judged item with a prepared example ` +
        `(only ${options.baseline}: ${p.onlyBaseline.count}, only ${options.challenger}: ${p.onlyChallenger.count}, example missing: ${p.missingExample.count})`,
    );
  }

  await mkdir(options.outDir, { recursive: true });
  const files = {
    page: path.join(options.outDir, REVIEW_FILES.page),
    sheet: path.join(options.outDir, REVIEW_FILES.sheet),
    key: path.join(options.outDir, REVIEW_FILES.key),
  };
  // Replacing another review's key would orphan the answers to its page.
  if (existsSync(files.key)) {
    let old: { reviewId?: unknown } = {};
    try {
      old = JSON.parse(await readFile(files.key, 'utf8')) as { reviewId?: unknown };
    } catch {
      /* unreadable: treated as another review's key */
    }
    if (old?.reviewId !== id) {
      throw new CliError(`${files.key} holds the key of review ${String(old.reviewId)}; write this review (${id}) to another --out folder, or remove that one first`);
    }
  }
  await writeFile(files.page, renderReviewPage(built.page));
  await writeFile(files.sheet, renderReviewSheet(built.page));
  await writeFile(files.key, JSON.stringify(built.key, null, 2) + '\n');
  return { key: built.key, files };
}

/** Reads the key and the answer files and aggregates them. File problems are CliErrors naming the file. */
export async function importReview(keyPath: string, answerPaths: readonly string[]): Promise<HumanReviewReport> {
  let keyText: string;
  try {
    keyText = await readFile(keyPath, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the review key ${keyPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass the review-key.json that export wrote`, EXIT_USAGE);
  }
  let key: ReviewKey;
  try {
    key = parseReviewKey(JSON.parse(keyText), keyPath);
  } catch (e) {
    throw new CliError(e instanceof SyntaxError ? `${keyPath} is not valid JSON: ${e.message}` : (e as Error).message, EXIT_USAGE);
  }
  const context = { reviewId: key.reviewId, itemIds: new Set(key.items.map((i) => i.itemId)) };
  const sheets: AnswerSheet[] = [];
  const problems: string[] = [];
  for (const file of answerPaths) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      problems.push(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    try {
      sheets.push(parseAnswerFile(file, text, context));
    } catch (e) {
      if (!(e instanceof AnswerFileError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length) throw new CliError(`${problems.join('\n')}\nfix the answer files above and import again`, EXIT_USAGE);
  try {
    return aggregateReview(key, sheets);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT_USAGE);
  }
}

const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const interval = (low: number | null, high: number | null) => (low === null || high === null ? '' : ` [${pct(low)}, ${pct(high)}]`);

/** The report as a table (what `review import` prints). */
export function formatReviewReport(r: HumanReviewReport): string {
  const { baseline, challenger } = r.judges;
  const ci = r.ci.winRate;
  const rows: string[][] = [['annotator', 'answered', 'wins', 'losses', 'ties', 'win rate', 'tie rate']];
  for (const a of r.perAnnotator) rows.push([a.annotator, `${a.answered}/${r.items}`, `${a.wins}`, `${a.losses}`, `${a.ties}`, pct(a.winRate), pct(a.tieRate)]);
  rows.push(['all', `${r.rates.votes}`, `${r.counts.wins}`, `${r.counts.losses}`, `${r.counts.ties}`, pct(r.rates.winRate), pct(r.rates.tieRate)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const table = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  const k = r.agreement;
  return [
    `review ${r.reviewId}: challenger iteration ${challenger.iteration} vs baseline iteration ${baseline.iteration} (run ${challenger.runId})`,
    `items: ${r.items} (${r.itemsAnswered} answered), annotators: ${r.annotators}`,
    '',
    ...table,
    '',
    `win rate (ties count half): ${pct(r.rates.winRate)}${interval(ci.low, ci.high)} (${Math.round(ci.confidence * 100)}% bootstrap over items)`,
    `wins / all answers:         ${pct(r.rates.strictWinRate)}`,
    `wins / (wins + losses):     ${pct(r.rates.decisiveWinRate)}${interval(r.ci.decisiveWinRate.low, r.ci.decisiveWinRate.high)}`,
    `tie rate:                   ${pct(r.rates.tieRate)}`,
    `Fleiss' kappa:              ${k.kappa === null ? `undefined (${k.note})` : k.kappa.toFixed(3)} over ${k.subjects} item(s) every annotator answered` +
      (k.observedAgreement === null ? '' : `, observed agreement ${pct(k.observedAgreement)}`),
  ].join('\n');
}

// ------------------------------------------------------------------------------------------- the commands


/** The run's summary (completed runs only: it lists the iterations' models and the prepared suites). */
async function cmdExport(cmd: Extract<ReviewCommand, { action: 'export' }>, io: { out: OutStream; err: OutStream }): Promise<number> {
  const { summary, config } = await completedRun(
    cmd.connection,
    cmd.workflowId,
    cmd.configPath,
    (status) => `run ${cmd.workflowId} is ${status}; review export reads the summary of a completed run (wait for it with: judgeloop results ${cmd.workflowId})`,
  );
  const store = cliObjectStore(config, cmd.connection.address);
  try {
    const done = await exportReview(store, summary, {
      baseline: cmd.baseline,
      challenger: cmd.challenger,
      suites: cmd.suites,
      ...(cmd.limit !== undefined ? { limit: cmd.limit } : {}),
      ...(cmd.seed !== undefined ? { seed: cmd.seed } : {}),
      outDir: cmd.outDir,
    });
    const p = done.key.pairing;
    println(io.out, `review ${done.key.reviewId}: ${p.reviewed} items (seed ${done.key.seed}); baseline iteration ${cmd.baseline}, challenger iteration ${cmd.challenger}`);
    println(io.out, `  suites:  ${Object.entries(p.bySuite).map(([s, n]) => `${s} ${n}`).join(', ')}`);
    if (p.onlyBaseline.count || p.onlyChallenger.count || p.missingExample.count) {
      println(
        io.err,
        `  left out: judged only by iteration ${cmd.baseline}: ${p.onlyBaseline.count}, only by ${cmd.challenger}: ${p.onlyChallenger.count}, ` +
          `example missing from the prepared suite: ${p.missingExample.count} (details in ${REVIEW_FILES.key})`,
      );
    }
    println(io.out, `  page:    ${done.files.page}   (send to annotators; they save a .json file)`);
    println(io.out, `  sheet:   ${done.files.sheet}   (the same items as CSV: fill in choice = A, B or tie)`);
    println(io.out, `  key:     ${done.files.key}   (keep it from the annotators)`);
    println(io.out, `then: judgeloop review import --key ${done.files.key} ANSWERS...`);
    return 0;
  } finally {
    store.client.destroy();
  }
}

export async function cmdReview(cmd: ReviewCommand, io: { out: OutStream; err: OutStream }): Promise<number> {
  if (cmd.action === 'export') return cmdExport(cmd, io);
  const report = await importReview(cmd.keyPath, cmd.answerPaths);
  println(io.out, cmd.json ? JSON.stringify(report, null, 2) : formatReviewReport(report));
  return 0;
}
