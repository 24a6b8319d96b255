/**
 * The report step: renders the run report (core/report/report-html.ts) from the run's summary and writes it, with
 * the summary itself, beside the run's other artifacts:
 *
 *   <run prefix>/report/report.html   one self-contained page (charts, tables, the summary as JSON)
 *   <run prefix>/report/summary.json  the RunSummary, for tools
 *
 * Runs from `run-summary-in-s3-v1` on pass their RunResult, and the iterations' summaries are read from
 * `iter-K/summary.json` (activities/storage/run-summary.ts), which `recordIterationSummary` wrote as each
 * iteration ended; older runs pass the RunSummary itself.
 *
 * The summary carries each suite's headline figures; the detail (groups, baselines, the
 * comparison with iteration 0, the confusion matrices) is read back from each iteration's
 * `iter-K/evaluate/metrics/report.json` (its suites' `reportUri`), at most MAX_REPORT_READS objects, and the
 * summary.json written here is the whole of it. Idempotent: the same input and the same report.json objects give the same
 * bytes, so a retried attempt rewrites identical objects.
 */
import type { RunConfig } from '../../core/config/config';
import { renderRunReport, reportUris, type RunReportExtras, type SuiteDetail } from '../../core/report/report-html';
import type { EvaluationReportFile } from '../../core/run/formats';
import type { IterationSummary, PointwiseMetrics, RunResult, RunSummary } from '../../core/run/run-types';
import { iterationSummaryUri } from '../../core/run/artifacts';
import { IterationSummaryError, readRunSummary } from '../storage/run-summary';
import { evaluationReportUris, withEvaluationDetail } from '../../core/run/evaluation-detail';
import { badInput, storageSettings, throttledHeartbeat, type ActivityDeps } from '../context';
import type { ObjectStore } from '../storage/object-store';
import { firstLine } from '../../core/common/errors';
import { trackingStatusUri, type TrackingStatus } from '../tracking/send-records';

export interface WriteRunReportInput {
  /** Where the run's objects are: the report reads nothing else of the config. */
  config: Pick<RunConfig, 'storage'>;
  /** The run's result, its iterations' summaries in S3 (runs from `run-summary-in-s3-v1` on). */
  result?: RunResult;
  /** The whole summary (runs started before). */
  summary?: RunSummary;
  /** The run's own start and end (ISO 8601, from the workflow), shown in the header; the clock is never read here. */
  startedAt?: string;
  finishedAt?: string;
}

export interface RecordIterationSummaryInput {
  config: Pick<RunConfig, 'storage'>;
  runPrefixUri: string;
  /** The iteration's summary as the run has it, its gate decision included. */
  summary: IterationSummary;
}

export interface WrittenRunReport {
  htmlUri: string;
  summaryUri: string;
}

/** At most this many report.json objects are read for one report (one per iteration is the most needed). */
export const MAX_REPORT_READS = 32;

type Confusion = NonNullable<PointwiseMetrics['confusion']>;
type ScoreDistribution = NonNullable<PointwiseMetrics['scoreDistribution']>;

const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** report.json is our own artifact, but an old or hand-edited one must not break the page: shapes are checked. */
function asConfusion(v: unknown): Confusion | null | undefined {
  if (v === null) return null;
  const c = v as Partial<Confusion> | undefined;
  if (!c || !isNumberArray(c.levels) || !isNumberArray(c.unparseable) || !Array.isArray(c.counts) || !c.counts.every(isNumberArray)) return undefined;
  return { levels: c.levels, counts: c.counts, unparseable: c.unparseable };
}

function asDistribution(v: unknown): ScoreDistribution | null | undefined {
  if (v === null) return null;
  const d = v as Partial<ScoreDistribution> | undefined;
  if (!d || !isNumberArray(d.levels) || !isNumberArray(d.counts) || typeof d.unparseable !== 'number') return undefined;
  return { levels: d.levels, counts: d.counts, unparseable: d.unparseable };
}

/** What one suite's entry in report.json adds: the matrix, the distribution and why they may be missing. */
export function suiteDetailFrom(file: EvaluationReportFile, suite: string): SuiteDetail | undefined {
  const headline = file.suites?.[suite];
  const grouped = file.detail?.[suite];
  const columns = Array.isArray(grouped?.goldColumns) ? (grouped!.goldColumns as unknown[]) : [];
  const primary = typeof columns[0] === 'string' ? grouped?.overall?.golds?.[columns[0]] : undefined;
  const confusion = asConfusion(headline?.confusion) ?? asConfusion(primary?.confusion);
  const scoreDistribution = asDistribution(headline?.scoreDistribution) ?? asDistribution(primary?.scoreDistribution);
  const notes = Array.isArray(primary?.notes) ? primary!.notes.filter((n): n is string => typeof n === 'string') : [];
  if (confusion === undefined && scoreDistribution === undefined && notes.length === 0) return undefined;
  return {
    ...(confusion !== undefined ? { confusion } : {}),
    ...(scoreDistribution !== undefined ? { scoreDistribution } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

/** What the run's report.json objects add to its summary. */
export interface EvaluationDetail {
  /** The summary with every suite's detail (groups, baselines, vs iteration 0, matrices...) merged back. */
  summary: RunSummary;
  /** For pointwise suites still without a matrix: the primary gold column's matrix, or why there is none. */
  suiteDetail: NonNullable<RunReportExtras['suiteDetail']>;
  /** The report.json objects that could not be read (missing, not JSON, S3 unreachable), each with why. */
  unread: Array<{ uri: string; reason: string }>;
}

/**
 * Reads each iteration's report.json once (the distinct `reportUri`s of the summary's suites, at most
 * `maxReads`) and merges back what the payloads leave out (core/run/evaluation-detail.ts). A missing or
 * unreadable object is skipped: its suites show what the summary has, and the page says "—".
 */
export async function readEvaluationDetail(
  store: Pick<ObjectStore, 'getJson'>,
  summary: RunSummary,
  maxReads = MAX_REPORT_READS,
  /** Called before each read (the activity heartbeats; a large report.json can take a while). */
  beforeRead: () => void = () => undefined,
): Promise<EvaluationDetail> {
  const files = new Map<string, EvaluationReportFile>();
  const unread: EvaluationDetail['unread'] = [];
  for (const uri of evaluationReportUris(summary).slice(0, maxReads)) {
    beforeRead();
    try {
      const file = await store.getJson<EvaluationReportFile>(uri);
      if (file && typeof file === 'object') files.set(uri, file);
      else unread.push({ uri, reason: file === null ? 'not found' : 'not a JSON object' });
    } catch (e) {
      // Not valid JSON, or S3 not answering: the report shows what the summary has.
      unread.push({ uri, reason: firstLine(e) });
    }
  }
  const hydrated = withEvaluationDetail(summary, files);
  const suiteDetail: EvaluationDetail['suiteDetail'] = {};
  for (const it of hydrated.iterations) {
    for (const [suite, m] of Object.entries(it.eval ?? {})) {
      const file = m.reportUri ? files.get(m.reportUri) : undefined;
      if (m.kind !== 'pointwise' || m.confusion || !file) continue;
      const detail = suiteDetailFrom(file, suite);
      if (detail) (suiteDetail[it.iteration] ??= {})[suite] = detail;
    }
  }
  return { summary: hydrated, suiteDetail, unread };
}

export function createReportActivities(deps: ActivityDeps) {
  return {
    async writeRunReport(input: WriteRunReportInput): Promise<WrittenRunReport> {
      const given = input.result ?? input.summary;
      if (!given?.runPrefixUri?.startsWith('s3://')) {
        throw badInput(`writeRunReport: the run's runPrefixUri is not an s3:// URI (${String(given?.runPrefixUri)})`);
      }
      const store = deps.storeFor(storageSettings(input.config));
      const beat = throttledHeartbeat();
      let summary: RunSummary;
      try {
        summary = await readRunSummary(store, given, beat);
      } catch (err) {
        // A missing or foreign iteration summary will not change on a retry; S3 not answering may.
        if (err instanceof IterationSummaryError) throw badInput(`writeRunReport: ${err.message}`);
        throw err;
      }
      const { summary: full, suiteDetail } = await readEvaluationDetail(store, summary, MAX_REPORT_READS, beat);
      // What the tracking step sent (runs that track): the report says what is not in the tracker.
      const tracking = await store.getJson<TrackingStatus>(trackingStatusUri(summary.runPrefixUri));
      const html = renderRunReport(full, {
        ...(tracking ? { tracking } : {}),
        ...(input.startedAt ? { startedAt: input.startedAt } : {}),
        ...(input.finishedAt ? { finishedAt: input.finishedAt } : {}),
        ...(Object.keys(suiteDetail).length ? { suiteDetail } : {}),
      });
      const { htmlUri, summaryUri } = reportUris(summary.runPrefixUri);
      await store.putJson(summaryUri, full);
      await store.putBytes(htmlUri, html, 'text/html; charset=utf-8');
      return { htmlUri, summaryUri };
    },

    /** Writes an iteration's summary where the run's result points (`iter-K/summary.json`); idempotent. */
    async recordIterationSummary(input: RecordIterationSummaryInput): Promise<{ uri: string }> {
      if (!input.runPrefixUri?.startsWith('s3://')) {
        throw badInput(`recordIterationSummary: runPrefixUri is not an s3:// URI (${String(input.runPrefixUri)})`);
      }
      const uri = iterationSummaryUri(input.runPrefixUri, input.summary.iteration);
      await deps.storeFor(storageSettings(input.config)).putJson(uri, input.summary);
      return { uri };
    },
  };
}
