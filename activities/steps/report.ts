/**
 * The report step: renders the run report (core/report/report-html.ts) from the run's summary and writes it, with
 * the summary itself, beside the run's other artifacts:
 *
 *   <run prefix>/report/report.html   one self-contained page (charts, tables, the summary as JSON)
 *   <run prefix>/report/summary.json  the RunSummary, for tools
 *
 * The summary carries almost everything; the only extra reads are the pointwise suites' confusion matrices
 * that an older or slimmed summary lacks, from `iter-K/evaluate/metrics/report.json` (its `reportUri`),
 * at most MAX_REPORT_READS objects. Idempotent: the same input and the same report.json objects give the same
 * bytes, so a retried attempt rewrites identical objects.
 */
import type { RunConfig } from '../../core/config/config';
import { renderRunReport, reportUris, type RunReportExtras, type SuiteDetail } from '../../core/report/report-html';
import type { EvaluationReportFile } from '../../core/run/formats';
import type { PointwiseMetrics, RunSummary } from '../../core/run/run-types';
import { badInput, storageSettings, throttledHeartbeat, type ActivityDeps } from '../context';
import type { ObjectStore } from '../storage/object-store';

export interface WriteRunReportInput {
  config: RunConfig;
  summary: RunSummary;
  /** The run's own start and end (ISO 8601, from the workflow), shown in the header; the clock is never read here. */
  startedAt?: string;
  finishedAt?: string;
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

/**
 * The confusion matrices the summary lacks, from report.json: only for pointwise suites without a matrix
 * (older summaries, or a matrix that is null and whose reason is in report.json's notes), one read per
 * distinct reportUri, at most `maxReads`. A missing or unreadable object is skipped: the page then says "—".
 */
export async function collectSuiteDetail(
  store: Pick<ObjectStore, 'getJson'>,
  summary: RunSummary,
  maxReads = MAX_REPORT_READS,
  /** Called before each read (the activity heartbeats; a large report.json can take a while). */
  beforeRead: () => void = () => undefined,
): Promise<NonNullable<RunReportExtras['suiteDetail']>> {
  const wanted = new Map<string, Array<{ iteration: number; suite: string }>>();
  for (const it of [...(summary.iterations ?? [])].sort((a, b) => a.iteration - b.iteration)) {
    for (const [suite, m] of Object.entries(it.eval ?? {})) {
      if (m.kind !== 'pointwise' || m.confusion || !m.reportUri) continue;
      const list = wanted.get(m.reportUri) ?? [];
      list.push({ iteration: it.iteration, suite });
      wanted.set(m.reportUri, list);
    }
  }
  const out: NonNullable<RunReportExtras['suiteDetail']> = {};
  for (const [uri, entries] of [...wanted].slice(0, maxReads)) {
    let file: EvaluationReportFile | null;
    beforeRead();
    try {
      file = await store.getJson<EvaluationReportFile>(uri);
    } catch {
      // Not valid JSON: the report shows what the summary has.
      continue;
    }
    if (!file || typeof file !== 'object') continue;
    for (const { iteration, suite } of entries) {
      const detail = suiteDetailFrom(file, suite);
      if (!detail) continue;
      (out[iteration] ??= {})[suite] = detail;
    }
  }
  return out;
}

export function createReportActivities(deps: ActivityDeps) {
  return {
    async writeRunReport(input: WriteRunReportInput): Promise<WrittenRunReport> {
      const { summary } = input;
      if (!summary?.runPrefixUri?.startsWith('s3://')) {
        throw badInput(`writeRunReport: the summary's runPrefixUri is not an s3:// URI (${String(summary?.runPrefixUri)})`);
      }
      const store = deps.storeFor(storageSettings(input.config));
      const suiteDetail = await collectSuiteDetail(store, summary, MAX_REPORT_READS, throttledHeartbeat());
      const html = renderRunReport(summary, {
        ...(input.startedAt ? { startedAt: input.startedAt } : {}),
        ...(input.finishedAt ? { finishedAt: input.finishedAt } : {}),
        ...(Object.keys(suiteDetail).length ? { suiteDetail } : {}),
      });
      const { htmlUri, summaryUri } = reportUris(summary.runPrefixUri);
      await store.putJson(summaryUri, summary);
      await store.putBytes(htmlUri, html, 'text/html; charset=utf-8');
      return { htmlUri, summaryUri };
    },
  };
}
