/**
 * The run report: one self-contained HTML file per run (inline CSS, inline SVG charts drawn by
 * core/report/report-charts.ts, a few lines of inline script for the confusion-matrix selector; no network, works
 * from file://), with the run summary embedded as JSON for tools. The activity in activities/steps/report.ts
 * writes it to `<run prefix>/report/report.html` beside `report/summary.json`; `judgeloop report` fetches it.
 *
 * Pure and deterministic: the same summary and extras give the same bytes (no clock; the run's own times
 * only when the caller passes them), so a retried activity rewrites the same object. (Node only, not for
 * workflow code: the script's CSP hash uses node:crypto.)
 *
 * Escaping (as core/review/human-review-page.ts): every string from the summary (run, judge and suite names, model
 * URIs, gate reasons, dataset names) goes through `escapeHtml`, in text and in attributes alike; element ids
 * are built from indexes, never from names. The summary travels in a `<script type="application/json">`
 * element through `scriptSafeJson` (every `<` escaped, so no `</script>` can end it). The page's
 * Content-Security-Policy allows no network at all and only the page's own script (by its hash), so even a
 * missed escape could not load or run anything.
 *
 * Older summaries lack usage, curation, intervals, confusion matrices or whole suites in some iterations:
 * each section then says what is missing with "—" instead of failing.
 *
 * The figures are formatted by summary-tables.ts and evaluation-tables.ts beside it (pure text, no I/O), which
 * `judgeloop results` prints too, so the report and the CLI always show the same numbers the same way.
 */
import { createHash } from 'node:crypto';
import {
  NONE,
  curationTable,
  formatCost,
  costBasisLine,
  formatDuration,
  int,
  mainMetric,
  mainMetricName,
  num,
  pct,
  points,
  resultsTable,
  suitesOf,
  usageTable,
  type SuiteColumnInfo,
  type Table,
} from './summary-tables';
import { baselinesTable, goldColumnsTable, groupsTable, rewardBenchTable, suiteDetailTable } from './evaluation-tables';
import { escapeHtml, scriptSafeJson } from '../review/human-review-page';
import {
  NEUTRAL,
  barChart,
  finiteOrNull,
  hasBars,
  hasPoints,
  heatColor,
  paletteColor,
  pointChart,
  topSeries,
  type BarSeries,
  type PointSeries,
} from './report-charts';
import type { IterationSummary, PairwiseMetrics, PointwiseMetrics, RunSummary, SuiteMetrics } from '../run/run-types';
import type { UsageFigures } from '../run/usage';

/** Where a run's report lives, relative to its prefix. */
export const REPORT_FILES = { html: 'report/report.html', summary: 'report/summary.json' } as const;

export function reportUris(runPrefixUri: string): { htmlUri: string; summaryUri: string } {
  const base = runPrefixUri.replace(/\/+$/, '');
  return { htmlUri: `${base}/${REPORT_FILES.html}`, summaryUri: `${base}/${REPORT_FILES.summary}` };
}

type Confusion = NonNullable<PointwiseMetrics['confusion']>;
type ScoreDistribution = NonNullable<PointwiseMetrics['scoreDistribution']>;

/** What metrics/report.json adds for a pointwise suite whose summary lacks it (older or slimmed summaries). */
export interface SuiteDetail {
  confusion?: Confusion | null;
  scoreDistribution?: ScoreDistribution | null;
  /** Why the matrix is missing (e.g. a gold value off the scale), from report.json's notes. */
  notes?: string[];
}

export interface RunReportExtras {
  /** When the run started and ended (ISO 8601): the workflow's own times, never the renderer's clock. */
  startedAt?: string;
  finishedAt?: string;
  /** By iteration, then suite: figures read from `iter-K/evaluate/metrics/report.json`. */
  suiteDetail?: Record<number, Record<string, SuiteDetail>>;
  /** A line under the title (e.g. that the report was rendered locally from the summary). */
  note?: string;
  /** What reached the experiment tracker (`tracking/mlflow.json`); absent when the run does not track. */
  tracking?: ReportTracking;
}

/** The part of a run's tracking status (activities/tracking/send-records.ts TrackingStatus) the report shows. */
export interface ReportTracking {
  trackingUri: string | null;
  experiment: string;
  runUrl?: string;
  tracked: number[];
  untracked: Array<{ iteration: number; reason: string }>;
}

/** The header's tracking line, and the warning when some iterations are not in the tracker. */
export function trackingText(t: ReportTracking, runId: string): { fact: string; warning?: string } {
  const where = t.runUrl ?? (t.trackingUri ? `${t.trackingUri} (experiment ${t.experiment})` : 'no tracking server');
  const fact = `MLflow: ${where}`;
  if (t.untracked.length === 0) return { fact };
  const list = t.untracked.map((u) => u.iteration).join(', ');
  return {
    fact,
    warning: `Not in the experiment tracker: iteration${t.untracked.length > 1 ? 's' : ''} ${list} (${t.untracked[0].reason}). Send ${t.untracked.length > 1 ? 'them' : 'it'} with: judgeloop track ${runId}`,
  };
}

// ------------------------------------------------------------------------------------------ helpers

function sorted(summary: RunSummary): IterationSummary[] {
  return [...(summary.iterations ?? [])].sort((a, b) => a.iteration - b.iteration);
}

/** A fraction as `37.5%`, or — . */
function pctText(v: number | null | undefined): string {
  const s = pct(v);
  return s === NONE ? s : `${s}%`;
}

function iterLabel(i: number): string {
  return i === 0 ? '0 (seed)' : String(i);
}

type Interval = [number | null, number | null] | undefined;

/** The primary metric's interval: exact agreement (pointwise), accuracy (pairwise; A/B accuracy in relative mode). */
function primaryInterval(m: SuiteMetrics | undefined): Interval {
  if (!m) return undefined;
  if (m.kind === 'pointwise') return m.ci?.intervals.exactAgreement;
  if (m.mode === 'relative') return m.relative?.ci?.intervals.accuracy;
  return m.ci?.intervals.accuracy;
}

function confidenceLevel(summary: RunSummary): number | null {
  for (const it of sorted(summary)) {
    for (const m of Object.values(it.eval ?? {})) {
      const c = m.ci?.confidence ?? (m.kind === 'pairwise' ? m.relative?.ci?.confidence : undefined);
      if (typeof c === 'number') return c;
    }
  }
  return null;
}

function pointwiseOf(it: IterationSummary, suite: string): PointwiseMetrics | undefined {
  const m = it.eval?.[suite];
  return m?.kind === 'pointwise' ? m : undefined;
}

/**
 * A cell's text, escaped; a value with its interval (`37.5 [28.1, 47.0]`, `+26.0 [+16.0, +36.0] p=0.001`)
 * shows the interval on a second, quieter line, so wide tables of intervals stay narrow and scannable.
 */
function cellHtml(text: string): string {
  const m = /^(\S+) (\[[^\]]*\].*)$/.exec(text);
  if (!m) return escapeHtml(text);
  return `${escapeHtml(m[1])}<span class="ci">${escapeHtml(m[2])}</span>`;
}

/** A format.ts Table as an HTML table (cells escaped), in a wrapper that scrolls sideways when too wide. */
export function tableHtml(t: Table, className = ''): string {
  const cls = (c: number) => ((t.align?.[c] ?? 'right') === 'left' ? ' class="l"' : '');
  const groups = t.groups
    ? `<tr class="groups">${t.groups.map((g) => `<th colspan="${g.span}">${escapeHtml(g.label)}</th>`).join('')}</tr>`
    : '';
  const head = `<tr>${t.header.map((h, c) => `<th${cls(c)}>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${t.header.map((_, c) => `<td${cls(c)}>${cellHtml(r[c] ?? '')}</td>`).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table class="data${className ? ` ${className}` : ''}"><thead>${groups}${head}</thead><tbody>${body}</tbody></table></div>`;
}

function empty(text: string): string {
  return `<p class="empty">${NONE} ${escapeHtml(text)}</p>`;
}

function figure(title: string, note: string, svg: string): string {
  return `<figure class="chart-box"><figcaption><strong>${escapeHtml(title)}</strong>${note ? `<span>${escapeHtml(note)}</span>` : ''}</figcaption>${svg}</figure>`;
}

function section(id: string, title: string, intro: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${intro ? `<p class="intro">${escapeHtml(intro)}</p>` : ''}${body}</section>`;
}

const percentTick = (v: number) => `${Math.round(v * 100)}%`;
const percentValue = (v: number) => pctText(v);
const corrTick = (v: number) => (Math.abs(v) < 1e-9 ? '0' : v.toFixed(1));
const countTick = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

// -------------------------------------------------------------------------------------------- header

function wallTime(extras: RunReportExtras): string | null {
  if (!extras.startedAt || !extras.finishedAt) return null;
  const ms = Date.parse(extras.finishedAt) - Date.parse(extras.startedAt);
  return Number.isFinite(ms) ? formatDuration(ms) : null;
}

function championText(summary: RunSummary): string {
  const c = summary.champion;
  if (!c) return NONE;
  return c.runId === summary.runId ? `iteration ${c.iteration} of this run` : `iteration ${c.iteration} of run ${c.runId}`;
}

function startedFromText(summary: RunSummary): string {
  const s = summary.startedFrom;
  if (!s) return NONE;
  return s.kind === 'seed' ? 'the seed judge (judge.seedModel)' : `the registry's champion: iteration ${s.iteration} of run ${s.runId}`;
}

function headerHtml(summary: RunSummary, extras: RunReportExtras): string {
  const tracking = extras.tracking ? trackingText(extras.tracking, summary.runId) : undefined;
  const its = sorted(summary);
  const trained = its.filter((i) => i.iteration > 0).length;
  const u = summary.usage;
  const facts: Array<[string, string, string?]> = [
    ['run id', summary.runId || NONE],
    ['judge', summary.judgeName || NONE],
    ['iterations', its.length ? `${trained} trained + the seed judge` : NONE],
    ['champion', championText(summary)],
    ['final model', summary.finalModelUri || NONE, 'uri'],
    ['started from', startedFromText(summary)],
    ['job time', u ? formatDuration(u.seconds * 1000) : NONE],
    ['estimated cost', u ? formatCost(u) : NONE],
    ['wall time', wallTime(extras) ?? NONE],
    ...(summary.scheduledFor ? ([['scheduled for', summary.scheduledFor]] as Array<[string, string]>) : []),
    ['started', extras.startedAt ?? NONE],
    ['finished', extras.finishedAt ?? NONE],
    ['config hash', summary.configHash ? summary.configHash.slice(0, 16) : NONE],
    ['artifacts', summary.runPrefixUri || NONE, 'uri'],
    ...(tracking ? ([['experiment tracking', tracking.fact, 'uri']] as Array<[string, string, string]>) : []),
  ];
  const dl = facts
    .map(([k, v, kind]) => `<div class="fact${kind === 'uri' ? ' wide' : ''}"><dt>${escapeHtml(k)}</dt><dd${kind === 'uri' ? ' class="uri"' : ''}>${escapeHtml(v)}</dd></div>`)
    .join('');
  return (
    `<header><p class="kicker">Judgeloop run report</p><h1>${escapeHtml(summary.runName || summary.runId || 'run')}</h1>` +
    (extras.note ? `<p class="note">${escapeHtml(extras.note)}</p>` : '') +
    (tracking?.warning ? `<p class="note">${escapeHtml(tracking.warning)}</p>` : '') +
    `<dl class="facts">${dl}</dl>${keyResults(summary)}</header>`
  );
}

/** One card per suite: the primary metric at iteration 0 and at the last iteration that has it. */
function keyResults(summary: RunSummary): string {
  const its = sorted(summary);
  const suites = suitesOf(summary);
  if (suites.length === 0) return '';
  const cards = suites.map((s) => {
    const first = its.find((it) => mainMetric(it.eval?.[s.name]) !== null);
    const last = [...its].reverse().find((it) => mainMetric(it.eval?.[s.name]) !== null);
    const v0 = first ? mainMetric(first.eval[s.name]) : null;
    const v1 = last ? mainMetric(last.eval[s.name]) : null;
    const ci = last ? primaryInterval(last.eval[s.name]) : undefined;
    const m = last?.eval[s.name];
    const level = m?.ci?.confidence ?? (m?.kind === 'pairwise' ? m.relative?.ci?.confidence : undefined);
    const ciText = ci && ci[0] !== null && ci[1] !== null ? `${level ? `${Math.round(level * 100)}% CI ` : ''}[${pctText(ci[0])}, ${pctText(ci[1])}]` : '';
    let delta = '';
    if (first && last && first !== last && v0 !== null && v1 !== null) {
      const d = (v1 - v0) * 100;
      const dir = d > 0.05 ? 'up' : d < -0.05 ? 'down' : 'flat';
      const arrow = dir === 'up' ? '▲' : dir === 'down' ? '▼' : '■';
      delta = `<span class="delta ${dir}">${arrow} ${escapeHtml(points(d))} points since iteration ${first.iteration}</span>`;
    }
    const range = first && last && first !== last ? `${pctText(v0)} → ` : '';
    return (
      `<div class="card"><div class="card-title">${escapeHtml(s.name)} <span class="muted">${escapeHtml(`${s.kind} · ${mainMetricName(s.kind)}`)}</span></div>` +
      `<div class="card-value">${escapeHtml(range)}<b>${escapeHtml(pctText(v1))}</b> <span class="card-ci">${escapeHtml(ciText)}</span></div>` +
      `${delta}<div class="muted small">${escapeHtml(last ? `iteration ${last.iteration}` : 'no value in any iteration')}</div></div>`
    );
  });
  return `<div class="cards">${cards.join('')}</div>`;
}

// ------------------------------------------------------------------------------------------- metrics

function primarySeries(summary: RunSummary, suites: SuiteColumnInfo[], its: IterationSummary[]): PointSeries[] {
  const out: PointSeries[] = [];
  for (const s of suites) {
    out.push({
      name: `${s.name} (${s.kind === 'pointwise' ? 'exact agreement' : 'accuracy'})`,
      points: its.map((it) => {
        const m = it.eval?.[s.name];
        const ci = primaryInterval(m);
        return { y: mainMetric(m), low: ci?.[0] ?? null, high: ci?.[1] ?? null };
      }),
    });
    // In `both` mode the A/B grading is a second figure of the same suite.
    const both = its.some((it) => {
      const m = it.eval?.[s.name];
      return m?.kind === 'pairwise' && m.mode === 'both' && m.relative;
    });
    if (both) {
      out.push({
        name: `${s.name} (A/B accuracy)`,
        points: its.map((it) => {
          const m = it.eval?.[s.name] as PairwiseMetrics | undefined;
          const r = m?.kind === 'pairwise' ? m.relative : undefined;
          return { y: finiteOrNull(r?.accuracy), low: r?.ci?.intervals.accuracy[0] ?? null, high: r?.ci?.intervals.accuracy[1] ?? null };
        }),
      });
    }
  }
  return out;
}

function correlationSeries(its: IterationSummary[], suite: string): PointSeries[] {
  const keys = ['pearson', 'spearman', 'kendall'] as const;
  return keys.map((k) => ({
    name: k,
    points: its.map((it) => {
      const m = pointwiseOf(it, suite);
      const ci = m?.ci?.intervals[k];
      return { y: finiteOrNull(m?.[k]), low: ci?.[0] ?? null, high: ci?.[1] ?? null };
    }),
  }));
}

function metricsSection(summary: RunSummary): string {
  const its = sorted(summary);
  const suites = suitesOf(summary);
  const level = confidenceLevel(summary);
  const bars = level !== null ? `error bars: ${Math.round(level * 100)}% bootstrap intervals` : 'no bootstrap intervals (evaluation.bootstrap.resamples is 0)';
  if (its.length === 0 || suites.length === 0) return section('metrics', 'Metrics per iteration', '', empty('no evaluated iteration in this summary'));
  const categories = its.map((it) => iterLabel(it.iteration));
  const charts: string[] = [];
  const primary = primarySeries(summary, suites, its);
  charts.push(
    hasPoints(primary)
      ? figure(
          'Primary metric per iteration',
          `each suite's primary metric; ${bars}`,
          pointChart({
            id: 'metric-primary',
            title: 'Primary metric per iteration',
            categories,
            xLabel: 'iteration (0 = the seed judge)',
            yLabel: 'exact agreement / accuracy',
            series: primary,
            yDomain: [0, 1],
            format: percentTick,
            valueFormat: percentValue,
          }),
        )
      : figure('Primary metric per iteration', '', empty('no suite has a value')),
  );
  suites.forEach((s, i) => {
    if (s.kind !== 'pointwise') return;
    const series = correlationSeries(its, s.name);
    if (!hasPoints(series)) return;
    charts.push(
      figure(
        `${s.name}: correlation with gold`,
        `Pearson, Spearman and Kendall per iteration; ${bars}`,
        pointChart({
          id: `metric-correlation-${i}`,
          title: `${s.name}: correlation with gold`,
          categories,
          xLabel: 'iteration (0 = the seed judge)',
          yLabel: 'correlation with gold',
          series,
          yDomain: [0, 1],
          yBounds: [-1, 1],
          format: corrTick,
          valueFormat: (v) => num(v),
        }),
      ),
    );
  });
  const tables = suites.map((s) => {
    const detail = suiteDetailTable(summary, s.name, s.kind);
    const extras: string[] = [];
    const baselines = baselinesTable(summary, s.name);
    if (baselines) extras.push(`<h4>Inference-time baselines (N = ${escapeHtml(String(baselines.samples))} samples at temperature ${escapeHtml(String(baselines.temperature))})</h4>${tableHtml(baselines.table)}`);
    const groups = groupsTable(summary, s.name);
    if (groups) extras.push(`<h4>Per group (${escapeHtml(groups.by)})</h4>${tableHtml(groups.table)}`);
    const golds = goldColumnsTable(summary, s.name);
    if (golds) extras.push(`<h4>Against the other gold columns</h4>${tableHtml(golds)}`);
    const rb = rewardBenchTable(summary, s.name);
    if (rb) extras.push(`<h4>RewardBench roll-up (* = mean over the subsets present)</h4>${tableHtml(rb)}`);
    const missing = its.filter((it) => !it.eval?.[s.name]).map((it) => it.iteration);
    return (
      `<h3>${escapeHtml(s.name)} <span class="muted">(${escapeHtml(s.kind)})</span></h3>` +
      (detail.rows.length ? tableHtml(detail) : empty('no figures')) +
      (missing.length ? `<p class="muted small">not evaluated in iteration ${escapeHtml(missing.join(', '))}: ${NONE}</p>` : '') +
      (extras.length ? `<details><summary>baselines, groups and other gold columns</summary>${extras.join('')}</details>` : '')
    );
  });
  const note = level !== null ? `Values with their ${Math.round(level * 100)}% bootstrap intervals in brackets; Δ vs iteration 0 by paired bootstrap on the same items.` : 'No bootstrap intervals were computed for this run.';
  return section(
    'metrics',
    'Metrics per iteration',
    'How each evaluation suite scored the judge of every iteration (0 is the seed judge).',
    `<div class="charts">${charts.join('')}</div><h3>All iterations at a glance</h3>${tableHtml(resultsTable(summary), 'compact')}<p class="muted small">${escapeHtml(note)}</p>${tables.join('')}`,
  );
}

// ------------------------------------------------------------------------- distributions and matrices

function detailOf(extras: RunReportExtras, iteration: number, suite: string): SuiteDetail | undefined {
  return extras.suiteDetail?.[iteration]?.[suite];
}

function confusionOf(it: IterationSummary, suite: string, extras: RunReportExtras): Confusion | null {
  const m = pointwiseOf(it, suite);
  return m?.confusion ?? detailOf(extras, it.iteration, suite)?.confusion ?? null;
}

function distributionOf(it: IterationSummary, suite: string, extras: RunReportExtras): ScoreDistribution | null {
  const m = pointwiseOf(it, suite);
  const d = m?.scoreDistribution ?? detailOf(extras, it.iteration, suite)?.scoreDistribution ?? null;
  if (d) return d;
  // A matrix alone still gives the judge's scores: its column sums, plus the unparseable column.
  const c = confusionOf(it, suite, extras);
  if (!c) return null;
  return { levels: c.levels, counts: c.levels.map((_, j) => c.counts.reduce((a, row) => a + (row[j] ?? 0), 0)), unparseable: c.unparseable.reduce((a, b) => a + b, 0) };
}

/** Items per gold level: the matrix's row sums (unparseable judgments included). */
function goldDistribution(c: Confusion): number[] {
  return c.levels.map((_, r) => (c.counts[r] ?? []).reduce((a, b) => a + b, 0) + (c.unparseable[r] ?? 0));
}

/** At most four iterations for a histogram: all of them, or the first, two evenly spaced and the last. */
export function histogramIterations<T>(its: readonly T[]): T[] {
  if (its.length <= 4) return [...its];
  const idx = [0, 1, 2, 3].map((k) => Math.round((k * (its.length - 1)) / 3));
  return [...new Set(idx)].map((i) => its[i]);
}

/** One suite's histogram: the judge's scores of up to four iterations beside the gold scores. */
function histogramFigure(its: IterationSummary[], suite: string, index: number, extras: RunReportExtras): string {
  const title = `${suite}: scores against gold`;
  const withDist = its.filter((it) => distributionOf(it, suite, extras));
  if (withDist.length === 0) {
    return figure(title, '', empty('no score distribution recorded (scores or gold off the scale, or a summary that predates distributions)'));
  }
  const goldSource = its.map((it) => confusionOf(it, suite, extras)).find((c): c is Confusion => c !== null);
  const shown = histogramIterations(withDist);
  const levels = distributionOf(shown[0], suite, extras)!.levels;
  const anyUnparseable = shown.some((it) => distributionOf(it, suite, extras)!.unparseable > 0);
  const categories = [...levels.map(String), ...(anyUnparseable ? ['unparseable'] : [])];
  const series: BarSeries[] = [];
  if (goldSource) {
    const gold = goldDistribution(goldSource);
    series.push({ name: 'gold', values: [...levels.map((l) => gold[goldSource.levels.indexOf(l)] ?? 0), ...(anyUnparseable ? [null] : [])], color: NEUTRAL });
  }
  shown.forEach((it, k) => {
    const d = distributionOf(it, suite, extras)!;
    series.push({
      name: `judge, iteration ${it.iteration}`,
      values: [...levels.map((l) => d.counts[d.levels.indexOf(l)] ?? 0), ...(anyUnparseable ? [d.unparseable] : [])],
      color: paletteColor(k),
    });
  });
  const n = pointwiseOf(shown[shown.length - 1], suite)?.n;
  const notes = [
    `items per score${n !== undefined ? ` (n = ${n})` : ''}`,
    goldSource ? 'grey: the gold scores' : 'the gold distribution was not recorded',
    ...(withDist.length > shown.length ? [`${shown.length} of ${withDist.length} iterations shown`] : []),
  ];
  return figure(
    title,
    notes.join('; '),
    barChart({
      id: `histogram-${index}`,
      title: `${suite}: judge scores against gold`,
      categories,
      xLabel: 'score',
      yLabel: 'items',
      series,
      format: countTick,
      valueFormat: (v) => `${int(v)} items`,
    }),
  );
}

function confusionTableHtml(c: Confusion, caption: string): string {
  const cols = [...c.levels.map(String), 'unparseable'];
  const head = `<tr><th class="corner">gold ↓ judge →</th>${cols.map((l) => `<th>${escapeHtml(l === 'unparseable' ? 'none' : l)}</th>`).join('')}<th>total</th></tr>`;
  const rows = c.levels.map((g, r) => {
    const counts = [...(c.counts[r] ?? c.levels.map(() => 0)), c.unparseable[r] ?? 0];
    const total = counts.reduce((a, b) => a + b, 0);
    const cells = counts.map((v, j) => {
      const share = total > 0 ? v / total : 0;
      const { background, color } = heatColor(share);
      const diag = j === r ? ' class="diag"' : '';
      const title = `gold ${g}, judge ${cols[j]}: ${v} of ${total} (${pctText(share)} of the row)`;
      return `<td${diag} style="background:${background};color:${color}" title="${escapeHtml(title)}">${escapeHtml(String(v))}</td>`;
    });
    return `<tr><th>${escapeHtml(String(g))}</th>${cells.join('')}<td class="total">${escapeHtml(String(total))}</td></tr>`;
  });
  return `<div class="table-wrap"><table class="heat"><caption>${escapeHtml(caption)}</caption><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** One suite's confusion matrices: the last iteration shown, a selector for the others. */
function confusionBox(its: IterationSummary[], suite: string, index: number, extras: RunReportExtras): string {
  const title = `${suite}: confusion matrix`;
  const note = 'rows: gold score; columns: the judge\'s score (none: did not parse); shade: share of the row; outlined: agreement';
  const withMatrix = its.filter((it) => confusionOf(it, suite, extras));
  if (withMatrix.length === 0) {
    const notes = its.flatMap((it) => detailOf(extras, it.iteration, suite)?.notes ?? []);
    return figure(title, '', empty(`no confusion matrix recorded${notes.length ? `: ${notes[0]}` : ' (scores or gold off the scale, or a summary that predates matrices)'}`));
  }
  const last = withMatrix[withMatrix.length - 1];
  const options = withMatrix
    .map((it) => `<option value="${escapeHtml(String(it.iteration))}"${it === last ? ' selected' : ''}>${escapeHtml(iterLabel(it.iteration))}</option>`)
    .join('');
  const select = withMatrix.length > 1 ? `<label class="picker">iteration <select data-cm="${index}">${options}</select></label>` : '';
  const panels = withMatrix
    .map((it) => {
      const m = pointwiseOf(it, suite);
      const caption = `iteration ${iterLabel(it.iteration)}: exact agreement ${pctText(m?.exactAgreement)} of ${m?.n ?? NONE} items`;
      return `<div class="cm-panel" data-cm-panel="${index}" data-iteration="${escapeHtml(String(it.iteration))}"${it === last ? '' : ' hidden'}>${confusionTableHtml(confusionOf(it, suite, extras)!, caption)}</div>`;
    })
    .join('');
  return `<figure class="chart-box confusion" data-confusion="${index}"><figcaption><strong>${escapeHtml(title)}</strong><span>${escapeHtml(note)}</span></figcaption>${select}${panels}</figure>`;
}

function scoresSection(summary: RunSummary, extras: RunReportExtras): string {
  const its = sorted(summary);
  const suites = suitesOf(summary).filter((s) => s.kind === 'pointwise');
  if (suites.length === 0) return section('scores', 'Scores against gold', '', empty('no pointwise suite in this run'));
  const blocks = suites.map(
    (s, i) => `<div class="charts">${histogramFigure(its, s.name, i, extras)}${confusionBox(its, s.name, i, extras)}</div>`,
  );
  return section(
    'scores',
    'Scores against gold',
    'Pointwise suites: how often the judge gave each score next to how often each score is the gold one (a judge that agrees with gold has bars that match the grey ones), and which score it gave for each gold score.',
    blocks.join(''),
  );
}

// ------------------------------------------------------------------------------------------ curation

/** Keys of several count records, in order of first appearance. */
function keysOf(records: Array<Record<string, number> | undefined>): string[] {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r ?? {})) seen.add(k);
  return [...seen];
}

function trainingTable(its: IterationSummary[]): Table | null {
  const rows = its.filter((it) => it.sample || it.pairs || it.train);
  if (rows.length === 0) return null;
  return {
    header: ['iter', 'sampled inputs', 'judgments', 'sample parse % (own)', 'markers forced %', 'sample = gold %', 'pairs', 'inputs with a pair', 'without', 'train steps', 'final loss', 'reward acc %', 'reward margin'],
    rows: rows.map((it) => [
      String(it.iteration),
      int(it.sample?.inputs),
      int(it.sample?.judgments),
      pct(it.sample?.ownParseRate ?? it.sample?.parseRate),
      it.sample?.forcedMarkers !== undefined && it.sample.judgments > 0 ? pct(it.sample.forcedMarkers / it.sample.judgments) : '—',
      pct(it.sample?.agreementWithGold),
      int(it.pairs?.pairs),
      int(it.pairs?.inputsWithPair),
      int(it.pairs?.inputsWithoutPair),
      int(it.train?.steps),
      num(it.train?.finalLoss, 4),
      pct(it.train?.finalRewardAccuracy),
      num(it.train?.finalRewardMargin),
    ]),
  };
}

type Curation = NonNullable<NonNullable<IterationSummary['pairs']>['curation']>;

/**
 * A stacked bar chart per iteration of one of the curation's count tables (by strategy or by reason), the
 * seven largest keys and `other`; with no count at all, the `none` note, or nothing when there is none.
 */
function countsChart(curated: IterationSummary[]) {
  const categories = curated.map((it) => String(it.iteration));
  return (
    counts: (c: Curation) => Record<string, number>,
    chart: { id: string; heading: string; caption: string; title: string; yLabel: string; none?: string },
  ): string => {
    const keys = keysOf(curated.map((it) => counts(it.pairs!.curation!)));
    const series: BarSeries[] = keys.map((k) => ({ name: k, values: curated.map((it) => counts(it.pairs!.curation!)[k] ?? 0) }));
    if (hasBars(series)) {
      return figure(
        chart.heading,
        chart.caption,
        barChart({ id: chart.id, title: chart.title, categories, xLabel: 'iteration', yLabel: chart.yLabel, series: topSeries(series, 7), stacked: true, totals: true, format: countTick, valueFormat: (v) => int(v) }),
      );
    }
    return chart.none ? figure(chart.heading, '', empty(chart.none)) : '';
  };
}

function curationSection(summary: RunSummary): string {
  const its = sorted(summary);
  const curated = its.filter((it) => it.pairs?.curation);
  const charts: string[] = [];
  if (curated.length) {
    const chart = countsChart(curated);
    charts.push(
      chart((c) => c.pairsByStrategy, {
        id: 'curation-strategies',
        heading: 'Pairs kept per strategy',
        caption: 'preference pairs that went into training, by the strategy that built them',
        title: 'Pairs kept per strategy and iteration',
        yLabel: 'pairs',
        none: 'no pair was kept',
      }),
      chart((c) => c.droppedByReason, {
        id: 'curation-dropped',
        heading: 'Dropped, by reason',
        caption: 'samples excluded (consistency filter) and pairs dropped (de-duplication, hygiene, balance)',
        title: 'Samples and pairs dropped per reason and iteration',
        yLabel: 'dropped',
        none: 'nothing was dropped',
      }),
      // Shown only when some input was left without a pair.
      chart((c) => c.withoutPairByReason, {
        id: 'curation-without',
        heading: 'Inputs left without a pair',
        caption: 'training inputs that gave no pair, by reason',
        title: 'Inputs without a pair per reason and iteration',
        yLabel: 'inputs',
      }),
    );
  }
  const curation = curationTable(summary);
  const training = trainingTable(its);
  const body =
    (charts.length ? `<div class="charts">${charts.join('')}</div>` : empty('no curation statistics in this summary (recorded before pair curation summaries, or no trained iteration)')) +
    (curation ? `<h3>Curation per iteration</h3>${tableHtml(curation, 'wrap')}<p class="muted small">unparseable: sampled judgments that did not parse; modal share: mean share of an input's most frequent score among its samples; len diff: mean length(chosen) − length(rejected), characters.</p>` : '') +
    (training ? `<h3>Sampling, pairs and training</h3>${tableHtml(training)}` : '');
  return section('curation', 'Pair curation', 'Where the training pairs of each iteration came from and what was filtered out.', body);
}

// -------------------------------------------------------------------------------------- time and cost

/** Steps in the order a run does them, so each step keeps its colour across charts. */
const STEP_ORDER = ['prepare', 'sample', 'score', 'meta-judge', 'consistency', 'pair', 'train', 'evaluate'];

function stepsOf(records: Array<Record<string, UsageFigures> | undefined>): string[] {
  const found = keysOf(records.map((r) => (r ? Object.fromEntries(Object.keys(r).map((k) => [k, 1])) : undefined)));
  const rank = (s: string) => {
    const i = STEP_ORDER.indexOf(s);
    return i < 0 ? STEP_ORDER.length : i;
  };
  return found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A fixed colour per step (Okabe–Ito), so a step looks the same in every chart of every report; the big
 * steps (sample, train, evaluate) get the strongest colours, yellow goes to a rare one.
 */
const STEP_COLORS: Record<string, string> = {
  prepare: '#000000',
  sample: '#0072B2',
  score: '#56B4E9',
  'meta-judge': '#CC79A7',
  consistency: '#F0E442',
  pair: '#D55E00',
  train: '#E69F00',
  evaluate: '#009E73',
};

/** Greys for steps this code does not know (`other`: jobs outside an iteration), told apart by lightness. */
const UNKNOWN_STEP_COLORS = [NEUTRAL, '#B4B4B4', '#3A3A3A'];

function stepColor(step: string, steps: string[]): string {
  const known = STEP_COLORS[step];
  if (known) return known;
  const i = steps.filter((s) => !STEP_COLORS[s]).indexOf(step);
  return UNKNOWN_STEP_COLORS[Math.max(0, i) % UNKNOWN_STEP_COLORS.length];
}

/** A unit that keeps the axis numbers small: seconds, minutes or hours. */
function timeUnit(maxSeconds: number): { div: number; label: string } {
  if (maxSeconds >= 3 * 3600) return { div: 3600, label: 'h' };
  if (maxSeconds >= 120) return { div: 60, label: 'min' };
  return { div: 1, label: 's' };
}

function usdText(v: number): string {
  return v === 0 ? '$0' : v >= 0.01 ? `$${v.toFixed(2)}` : `$${v.toFixed(4)}`;
}

/** What the run took from earlier runs instead of doing it (cost nothing, so it is in no figure above). */
function reusedLines(run: RunSummary['usage']): string {
  const lines = [
    run?.reused?.length ? `<p><b>Jobs reused, not run</b> (same inputs as a job that finished earlier): ${escapeHtml(run.reused.join(', '))}</p>` : '',
    run?.reusedSteps?.length
      ? `<p><b>Data steps reused, not recomputed</b> (copied from the same step of an earlier run with the same inputs): ${escapeHtml(run.reusedSteps.join(', '))}</p>`
      : '',
  ].join('');
  return lines ? `<h3>Reused from earlier runs</h3>${lines}` : '';
}

function usageSection(summary: RunSummary): string {
  const its = sorted(summary).filter((it) => it.usage);
  if (its.length === 0) return section('usage', 'Time and cost per step', '', empty('no usage figures in this summary (recorded before usage accounting)'));
  const steps = stepsOf([...its.map((it) => it.usage!.byStep), summary.usage?.byStep]);
  const basisLine = costBasisLine(summary.usage);
  const categories = its.map((it) => iterLabel(it.iteration));
  const maxTotal = Math.max(...its.map((it) => it.usage!.seconds));
  const unit = timeUnit(maxTotal);
  const timeSeries: BarSeries[] = steps.map((step) => ({
    name: step,
    values: its.map((it) => (it.usage!.byStep[step]?.seconds ?? 0) / unit.div),
    color: stepColor(step, steps),
  }));
  const charts: string[] = [];
  charts.push(
    hasBars(timeSeries)
      ? figure(
          'Job time per iteration, by step',
          'wall time of the jobs (local: the process; SageMaker: training time)',
          barChart({
            id: 'usage-time',
            title: 'Job time per iteration and step',
            categories,
            xLabel: 'iteration (0 = the seed judge)',
            yLabel: `job time (${unit.label})`,
            series: timeSeries,
            stacked: true,
            totals: true,
            // The unit is in the axis title; bare numbers keep the tick labels clear of it.
            format: (v) => String(Number(v.toFixed(2))),
            valueFormat: (v) => formatDuration(v * unit.div * 1000),
          }),
        )
      : figure('Job time per iteration, by step', '', empty('no job time recorded')),
  );
  const costSeries: BarSeries[] = steps.map((step) => ({ name: step, values: its.map((it) => it.usage!.byStep[step]?.usd ?? 0), color: stepColor(step, steps) }));
  charts.push(
    hasBars(costSeries)
      ? figure(
          'Estimated cost per iteration, by step',
          basisLine ?? 'billed seconds × instances × price per hour',
          barChart({ id: 'usage-cost', title: 'Cost per iteration and step', categories, xLabel: 'iteration (0 = the seed judge)', yLabel: 'cost (USD)', series: costSeries, stacked: true, totals: true, format: usdText, valueFormat: usdText }),
        )
      : figure('Estimated cost per iteration, by step', '', empty(`not priced: ${summary.usage ? formatCost(summary.usage) : 'no job had a price'} (set backend.pricePerHour for local jobs, backend.pricesPerHour for SageMaker)`)),
  );
  const run = summary.usage;
  const runRows = run
    ? steps.map((step) => {
        const f = run.byStep[step];
        return [step, int(f?.jobs), f ? formatDuration(f.seconds * 1000) : NONE, f ? formatDuration(f.billableSeconds * 1000) : NONE, f ? formatCost(f) : NONE, f && run.seconds > 0 ? pct(f.seconds / run.seconds) : NONE];
      })
    : [];
  if (run) runRows.push(['all steps', int(run.jobs), formatDuration(run.seconds * 1000), formatDuration(run.billableSeconds * 1000), formatCost(run), run.seconds > 0 ? '100.0' : NONE]);
  const perIteration = usageTable(summary);
  const body =
    `<div class="charts">${charts.join('')}</div>` +
    (run ? `<h3>The run, per step</h3>${tableHtml({ header: ['step', 'jobs', 'job time', 'billed', 'est. cost', 'share of time %'], rows: runRows, align: ['left', 'right', 'right', 'right', 'right', 'right'] })}` : empty('no run-level usage totals')) +
    (basisLine ? `<p class="muted small">${escapeHtml(basisLine)}</p>` : '') +
    (perIteration ? `<h3>Per iteration</h3>${tableHtml(perIteration)}<p class="muted small">billed: instance time; iter-K/usage.json lists every job.</p>` : '') +
    reusedLines(run);
  return section('usage', 'Time and cost per step', 'What the jobs of each step used and cost (a retried job is counted once).', body);
}

// ------------------------------------------------------------------------------- promotion and data

function promotionSection(summary: RunSummary): string {
  const gated = sorted(summary).filter((it) => it.gate);
  if (gated.length === 0 && !summary.champion) return '';
  const table: Table = {
    header: ['iter', 'decision', 'decided by', 'reasons'],
    rows: gated.map((it) => [String(it.iteration), it.gate!.promote ? 'promoted' : 'kept the champion', it.gate!.decidedBy, it.gate!.reasons.join('; ') || NONE]),
    align: ['right', 'left', 'left', 'left'],
  };
  return section(
    'promotion',
    'Promotion decisions',
    `The gate's decision for each trained judge. Champion at the end: ${championText(summary)}.`,
    gated.length ? tableHtml(table, 'wrap') : empty('no gated iteration'),
  );
}

function dataSection(summary: RunSummary): string {
  const ds = summary.datasets ?? [];
  if (ds.length === 0) return section('data', 'Datasets', '', empty('no datasets listed'));
  const table: Table = {
    header: ['dataset', 'rows', 'quarantined', 'contamination excluded', 'location'],
    rows: ds.map((d) => [d.name, int(d.rows), int(d.quarantined), int(d.contaminationExcluded), d.uri]),
    align: ['left', 'right', 'right', 'right', 'left'],
  };
  return section('data', 'Datasets', 'The prepared training set and evaluation suites (rows after quarantine).', tableHtml(table, 'wrap'));
}

// ------------------------------------------------------------------------------------------- the page

const CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d232a;background:#f3f4f6}
main{max-width:1200px;margin:0 auto;padding:20px 20px 48px}
header,section{background:#fff;border:1px solid #d9dce1;border-radius:8px;padding:18px 20px;margin-bottom:16px}
.kicker{margin:0;font-size:12px;letter-spacing:.06em;text-transform:uppercase;color:#0072B2;font-weight:600}
h1{font-size:24px;margin:2px 0 10px;overflow-wrap:anywhere}
h2{font-size:18px;margin:0 0 4px}
h3{font-size:15px;margin:18px 0 6px;overflow-wrap:anywhere}
h4{font-size:13px;margin:12px 0 4px;color:#3b4450}
.note{margin:0 0 10px;padding:6px 10px;background:#fff8e1;border-left:3px solid #E69F00;border-radius:4px}
.intro{margin:0 0 12px;color:#5b6470}
.muted{color:#5b6470;font-weight:400}
.small{font-size:12px}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin:0 0 16px;font-size:13px}
nav a{color:#0a5a8c;text-decoration:none}
nav a:hover{text-decoration:underline}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:8px 18px;margin:0 0 14px}
.fact{min-width:0}
.fact.wide{grid-column:span 2}
dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#5b6470}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
dd.uri{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:400}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}
.card{border:1px solid #d9dce1;border-radius:6px;padding:10px 12px;background:#fafbfc;min-width:0}
.card-title{font-weight:600;overflow-wrap:anywhere}
.card-value{font-size:20px;margin:2px 0}
.card-value b{font-size:24px}
.card-ci{display:block;font-size:12px;color:#5b6470}
.card-title .muted{display:block;font-size:12px}
.delta{font-size:13px;font-weight:600}
.delta.up{color:#00704f}
.delta.down{color:#b03a00}
.delta.flat{color:#5b6470}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:14px;margin-bottom:8px}
.chart-box{margin:0;border:1px solid #e3e5e8;border-radius:6px;padding:10px 10px 4px;min-width:0}
.chart-box figcaption{margin:0 0 6px}
.chart-box figcaption strong{display:block;overflow-wrap:anywhere}
.chart-box figcaption span{display:block;font-size:12px;color:#5b6470}
svg.chart{display:block;width:100%;height:auto;max-width:560px;margin:0 auto}
svg.chart text{font-size:12px;fill:#3b4450}
svg.chart .tick{fill:#5b6470;font-size:11px}
svg.chart .axis-title{font-weight:600;fill:#3b4450}
svg.chart .value{font-size:11px;fill:#1d232a}
svg.chart .grid{stroke:#e8eaed;stroke-width:1}
svg.chart .axis{stroke:#9aa3ad;stroke-width:1}
svg.chart .line{fill:none;stroke-width:2;stroke-linejoin:round}
svg.chart .errorbar{fill:none;stroke-width:1.5}
svg.chart .mark{stroke:#fff;stroke-width:1}
.table-wrap{overflow-x:auto;max-width:100%;margin:4px 0 8px}
table.data{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:4px 8px;border-bottom:1px solid #e8eaed;text-align:right;white-space:nowrap}
table.data th{background:#f6f7f9;font-weight:600;color:#3b4450;white-space:normal;vertical-align:bottom;min-width:3em}
table.data .ci{display:block;font-size:11px;color:#5b6470}
table.data tr.groups th{text-align:center;border-bottom:2px solid #d9dce1}
table.data .l{text-align:left}
table.data.wrap td{white-space:normal;overflow-wrap:anywhere}
table.data.compact th,table.data.compact td{padding:3px 6px}
details{margin:6px 0 10px}
details summary{cursor:pointer;color:#0a5a8c}
.empty{color:#5b6470;margin:6px 0}
.picker{font-size:13px;color:#3b4450}
.picker select{font:inherit;margin-left:6px;padding:2px 4px}
table.heat{border-collapse:separate;border-spacing:2px;font-variant-numeric:tabular-nums;margin-top:6px}
table.heat caption{caption-side:top;text-align:left;font-size:12px;color:#5b6470;padding-bottom:4px}
table.heat th{font-size:12px;font-weight:600;color:#3b4450;padding:4px 8px;text-align:center}
table.heat th.corner{font-weight:400;color:#5b6470;font-size:11px}
table.heat td{min-width:46px;padding:8px 6px;text-align:center;border-radius:3px;font-size:13px}
table.heat td.diag{outline:2px solid #E69F00;outline-offset:-2px;font-weight:700}
table.heat td.total{background:#f6f7f9;color:#3b4450}
[hidden]{display:none!important}
footer{color:#5b6470;font-size:12px;text-align:center;margin-top:8px}
@media print{body{background:#fff}header,section{break-inside:avoid}}
`;

/** The confusion-matrix selector: shows the chosen iteration's panel. Plain ES5; no data in it. */
const SCRIPT = `(function(){var s=document.querySelectorAll('select[data-cm]');for(var i=0;i<s.length;i++){s[i].addEventListener('change',function(e){var sel=e.target;var p=document.querySelectorAll('[data-cm-panel="'+sel.getAttribute('data-cm')+'"]');for(var j=0;j<p.length;j++){p[j].hidden=p[j].getAttribute('data-iteration')!==sel.value;}});}})();`;

/** The page may load nothing and run only its own script. */
function contentSecurityPolicy(): string {
  const hash = createHash('sha256').update(SCRIPT).digest('base64');
  return `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${hash}'; img-src data:; base-uri 'none'; form-action 'none'`;
}

/** The run report as one HTML document (see the top of this file). */
export function renderRunReport(original: RunSummary, extras: RunReportExtras = {}): string {
  // The page tolerates a summary with parts missing (a hand-made or truncated one); the JSON keeps it as given.
  const summary: RunSummary = {
    ...original,
    datasets: original.datasets ?? [],
    iterations: (original.iterations ?? []).map((it) => ({ ...it, eval: it.eval ?? {} })),
  };
  const title = `Judgeloop report · ${summary.runName || summary.runId}`;
  const sections = [
    metricsSection(summary),
    scoresSection(summary, extras),
    curationSection(summary),
    usageSection(summary),
    promotionSection(summary),
    dataSection(summary),
  ].filter(Boolean);
  const nav = [
    ['metrics', 'Metrics'],
    ['scores', 'Scores against gold'],
    ['curation', 'Pair curation'],
    ['usage', 'Time and cost'],
    ['promotion', 'Promotion'],
    ['data', 'Datasets'],
  ]
    .filter(([id]) => sections.some((s) => s.startsWith(`<section id="${id}"`)))
    .map(([id, label]) => `<a href="#${id}">${label}</a>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy()}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="judgeloop">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${headerHtml(summary, extras)}
<nav aria-label="sections">${nav}<a href="#summary-json">Summary JSON</a></nav>
${sections.join('\n')}
<footer id="summary-json">The run summary is embedded in this file as JSON (<code>&lt;script type="application/json" id="run-summary"&gt;</code>) and stored beside it as summary.json.</footer>
</main>
<script type="application/json" id="run-summary">${scriptSafeJson(original)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
