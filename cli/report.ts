/**
 * `judgeloop report RUN_ID [--out FILE] [--open] [--config FILE]`: fetches a completed run's report.
 *
 * The run's summary comes from Temporal (the workflow's result), its storage settings from the config the
 * run was started with (the first history event's input; --config overrides them). The page is the one the
 * run wrote, `<run prefix>/report/report.html`; for a run that finished before reports were written, the page
 * is rendered here from the summary (core/report/report-html.ts, with each suite's detail read back from S3 as
 * the activity does) and the command says so. It is written to --out (default `./<run id>-report.html`).
 *
 * `obtainReport` is the whole of it given a store and a summary, for the tests; the command adds Temporal.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderRunReport, reportUris, type RunReportExtras } from '../core/report/report-html';
import type { RunSummary } from '../core/run/run-types';
import { readEvaluationDetail } from '../activities/steps/report';
import type { ObjectStore } from '../activities/storage/object-store';
import { EXIT_OK, type ConnectionOptions } from './args';
import type { CliIO } from './commands';
import { CliError } from './connection';
import { completedRun, println } from './follow';
import { cliObjectStore } from './storage';
import { startProcess } from '../activities/jobs/process-group';
import { firstLine } from '../core/common/errors';

/** What `report` needs (args.ts builds it as `{ command: 'report', ... }`). */
export interface ReportOptions {
  workflowId: string;
  /** Where to write the page (default `./<workflowId>-report.html`). */
  out?: string;
  /** Open the written page in the desktop's browser. */
  open?: boolean;
  /** Take the storage settings from this config file instead of the run's recorded config. */
  configPath?: string;
  connection: ConnectionOptions;
}

export interface ObtainedReport {
  html: string;
  /** `stored`: the page the run wrote; `rendered`: rendered here from the summary. */
  source: 'stored' | 'rendered';
  /** Where the stored page is (or would be). */
  uri: string;
  /** Why the page was rendered here, for the user. */
  note?: string;
}

/** The default output file: the run id made safe as a file name. */
export function defaultReportPath(workflowId: string): string {
  return `${workflowId.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_')}-report.html`;
}

/**
 * The run's stored page, or one rendered from the summary when there is none. An S3 error other than "not
 * there" is not fatal either: the page is rendered from the summary alone and the note says why.
 */
export async function obtainReport(
  store: Pick<ObjectStore, 'getBytes' | 'getJson'>,
  summary: RunSummary,
  times: Pick<RunReportExtras, 'startedAt' | 'finishedAt'> = {},
): Promise<ObtainedReport> {
  const { htmlUri } = reportUris(summary.runPrefixUri);
  let reason: string;
  let full = summary;
  let detail: RunReportExtras['suiteDetail'];
  try {
    const stored = await store.getBytes(htmlUri);
    if (stored) return { html: stored.toString('utf8'), source: 'stored', uri: htmlUri };
    reason = `${htmlUri} does not exist (the run finished before run reports were written)`;
    ({ summary: full, suiteDetail: detail } = await readEvaluationDetail(store, summary));
  } catch (e) {
    reason = `${htmlUri} could not be read (${firstLine(e)})`;
  }
  const note = `Rendered by judgeloop report from the run summary: ${reason}.`;
  const html = renderRunReport(full, { ...times, ...(detail && Object.keys(detail).length ? { suiteDetail: detail } : {}), note });
  return { html, source: 'rendered', uri: htmlUri, note };
}

export interface DetailedSummary {
  summary: RunSummary;
  /** What could not be read, for the user; absent when every report.json was read. */
  note?: string;
}

/** The note for report.json objects that could not be read: the headline figures are shown instead. */
export function detailNote(unread: ReadonlyArray<{ uri: string; reason: string }>): string {
  const first = unread[0];
  const what = unread.length === 1 ? 'one iteration' : `${unread.length} iterations`;
  return (
    `the evaluation detail (groups, baselines, change vs iteration 0) of ${what} could not be read (${first.uri}: ${first.reason}); ` +
    "showing the headline figures. Check that the run's bucket is reachable from here (its config's storage settings, JUDGELOOP_S3_ENDPOINT, AWS credentials)."
  );
}

/**
 * A completed run's summary with each suite's detail (groups, baselines, the change vs iteration 0, matrices)
 * read back from the iterations' report.json objects: the workflow's result carries the headline figures.
 * What cannot be read is left as the headline, and the note says so.
 */
export async function detailedSummary(store: Pick<ObjectStore, 'getJson'>, summary: RunSummary): Promise<DetailedSummary> {
  const read = await readEvaluationDetail(store, summary);
  return read.unread.length ? { summary: read.summary, note: detailNote(read.unread) } : { summary: read.summary };
}

// ------------------------------------------------------------------------------------------ Temporal

/** The summary of a completed run, with its start and close times. */
/** Opens a file with the desktop's default handler; resolves false when no opener could be started. */
export function openWithDesktop(file: string): Promise<boolean> {
  const [cmd, args]: [string, string[]] =
    process.platform === 'darwin' ? ['open', [file]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', file]] : ['xdg-open', [file]];
  // Detached and not waited for: the browser is the desktop's, not this command's.
  return startProcess({ command: cmd, args, output: 'ignore', unref: true }).then(
    () => true,
    () => false,
  );
}

export interface ReportDeps {
  /** How --open opens the page (tests pass a fake). */
  open?: (file: string) => Promise<boolean>;
}

export async function cmdReport(cmd: ReportOptions, io: CliIO, deps: ReportDeps = {}): Promise<number> {
  const run = await completedRun(cmd.connection, cmd.workflowId, cmd.configPath, (status) =>
    status === 'RUNNING'
      ? `run ${cmd.workflowId} is still running; its report is written when it completes (wait for it with: judgeloop results ${cmd.workflowId})`
      : `run ${cmd.workflowId} is ${status}: only a completed run has a summary to report on (judgeloop status ${cmd.workflowId} says why)`,
  );
  const store = cliObjectStore(run.config, cmd.connection.address, io.env ?? process.env);
  let report: ObtainedReport;
  try {
    report = await obtainReport(store, run.summary, { startedAt: run.startedAt, finishedAt: run.finishedAt });
  } finally {
    store.client.destroy();
  }
  const out = path.resolve(cmd.out ?? defaultReportPath(cmd.workflowId));
  try {
    await writeFile(out, report.html);
  } catch (e) {
    throw new CliError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (report.source === 'rendered') println(io.err, `note: ${report.note}`);
  println(io.out, `report of run ${cmd.workflowId}: ${out}`);
  println(io.out, `  stored at: ${report.source === 'stored' ? report.uri : `${report.uri} (not there; rendered from the summary)`}`);
  if (cmd.open) {
    const opened = await (deps.open ?? openWithDesktop)(out);
    if (!opened) println(io.err, `could not open a browser here; open ${out} yourself`);
  }
  return EXIT_OK;
}
