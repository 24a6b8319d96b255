/**
 * A run summary's figures as text: number formats, the results, curation and usage tables, the change since
 * iteration 0. Shared by the CLI (`judgeloop results`, `follow`) and the HTML report, so both show the same
 * figures. Pure.
 */
import type {
  IterationSummary,
  PairwiseMetrics,
  PointwiseMetrics,
  RunSummary,
  SampleSummary,
  SuiteMetrics,
  WarmStartSummary,
} from '../run/run-types';
import type { UsageFigures, UsageTotals } from '../run/usage';

/** Shown for a value that is missing or null (no pairs in iteration 0, a correlation over constant scores). */
export const NONE = '—';

// ---------------------------------------------------------------------------------------------------------
// number formatting

export function finite(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Fixed decimals without the "-0.0" that toFixed gives for tiny negatives. */
function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** A fraction in [0, 1] as a percentage with one decimal, without the % sign (the header carries it). */
export function pct(x: number | null | undefined): string {
  return finite(x) ? fixed(x * 100, 1) : NONE;
}

export function num(x: number | null | undefined, digits = 3): string {
  return finite(x) ? fixed(x, digits) : NONE;
}

export function int(x: number | null | undefined): string {
  return finite(x) ? String(Math.round(x)) : NONE;
}

/** A signed difference in percentage points, e.g. `+24.5`, `-3.0`, `+0.0`. */
export function points(delta: number): string {
  const s = fixed(delta, 1);
  return s.startsWith('-') ? s : `+${s}`;
}

// ---------------------------------------------------------------------------------------------------------
// plain-text tables

export interface TableColumnGroup {
  /** Label printed above the group's columns ('' for none). */
  label: string;
  /** How many columns the group spans. */
  span: number;
}

export interface Table {
  /** Optional first header row: labels spanning several columns (eval suite names). */
  groups?: TableColumnGroup[];
  header: string[];
  rows: string[][];
  /** Per column: 'left' or 'right' (default right). */
  align?: ('left' | 'right')[];
}

const GAP = '  ';

/** Renders aligned columns separated by two spaces; trailing spaces are trimmed. */
export function renderTable(table: Table): string {
  const ncol = table.header.length;
  const widths = table.header.map((h, c) => Math.max(h.length, ...table.rows.map((r) => (r[c] ?? '').length)));
  // A group label wider than its columns widens the group's last column.
  if (table.groups) {
    let c = 0;
    for (const g of table.groups) {
      const span = widths.slice(c, c + g.span);
      const inner = span.reduce((a, b) => a + b, 0) + GAP.length * (g.span - 1);
      if (g.label.length > inner) widths[c + g.span - 1] += g.label.length - inner;
      c += g.span;
    }
  }
  const cell = (text: string, c: number): string =>
    (table.align?.[c] ?? 'right') === 'left' ? text.padEnd(widths[c]) : text.padStart(widths[c]);
  const line = (cells: string[]): string =>
    Array.from({ length: ncol }, (_, c) => cell(cells[c] ?? '', c))
      .join(GAP)
      .trimEnd();

  const out: string[] = [];
  if (table.groups) {
    let c = 0;
    const parts: string[] = [];
    for (const g of table.groups) {
      const w = widths.slice(c, c + g.span).reduce((a, b) => a + b, 0) + GAP.length * (g.span - 1);
      parts.push(g.label.padEnd(w));
      c += g.span;
    }
    out.push(parts.join(GAP).trimEnd());
  }
  out.push(line(table.header));
  out.push(widths.map((w) => '-'.repeat(w)).join(GAP));
  for (const r of table.rows) out.push(line(r));
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// the results table

export interface SuiteColumnInfo {
  name: string;
  kind: SuiteMetrics['kind'];
  /** Present (true) when some iteration has relative (A/B) metrics for this pairwise suite. */
  relative?: true;
}

/** Eval suites in order of first appearance across iterations (the kind is taken from the first sighting). */
export function suitesOf(summary: Pick<RunSummary, 'iterations'>): SuiteColumnInfo[] {
  const seen = new Map<string, SuiteColumnInfo>();
  for (const it of summary.iterations ?? []) {
    for (const [name, m] of Object.entries(it.eval ?? {})) {
      if (!seen.has(name)) seen.set(name, { name, kind: m.kind });
      const info = seen.get(name)!;
      if (info.kind === 'pairwise' && m.kind === 'pairwise' && m.relative) info.relative = true;
    }
  }
  return [...seen.values()];
}

const POINTWISE_HEADER = ['exact %', 'pearson', 'spearman', 'kendall', 'MAE', 'n'];
const PAIRWISE_HEADER = ['accuracy %', 'n'];
/** A pairwise suite with relative metrics: the pointwise comparison's accuracy, then the A/B accuracy. */
const RELATIVE_HEADER = ['accuracy %', 'A/B acc %', 'n'];

function suiteHeader(s: SuiteColumnInfo): string[] {
  if (s.kind === 'pointwise') return POINTWISE_HEADER;
  return s.relative ? RELATIVE_HEADER : PAIRWISE_HEADER;
}

function suiteCells(s: SuiteColumnInfo, m: SuiteMetrics | undefined): string[] {
  if (s.kind === 'pointwise') {
    const p = m?.kind === 'pointwise' ? (m as PointwiseMetrics) : undefined;
    if (!p) return POINTWISE_HEADER.map(() => NONE);
    return [pct(p.exactAgreement), num(p.pearson), num(p.spearman), num(p.kendall), num(p.mae), int(p.n)];
  }
  const q = m?.kind === 'pairwise' ? (m as PairwiseMetrics) : undefined;
  if (!q) return suiteHeader(s).map(() => NONE);
  if (!s.relative) return [pct(q.accuracy), int(q.n)];
  // In relative mode the pointwise comparison did not run: its column shows —.
  return [q.mode === 'relative' ? NONE : pct(q.accuracy), pct(q.relative?.accuracy), int(q.n)];
}

/** The table's cells: one row per iteration (0 = the seed judge). */
export function resultsTable(summary: RunSummary): Table {
  const suites = suitesOf(summary);
  const header = ['iteration', 'pairs', 'sample parse %', 'train loss'];
  const groups: TableColumnGroup[] = [{ label: '', span: header.length }];
  for (const s of suites) {
    const cols = suiteHeader(s);
    header.push(...cols);
    groups.push({ label: `${s.name} (${s.kind})`, span: cols.length });
  }
  const rows = [...(summary.iterations ?? [])]
    .sort((a, b) => a.iteration - b.iteration)
    .map((it) => [
      String(it.iteration),
      int(it.pairs?.pairs),
      sampleParseCell(it.sample),
      num(it.train?.finalLoss, 4),
      ...suites.flatMap((s) => suiteCells(s, it.eval?.[s.name])),
    ]);
  return { groups: suites.length ? groups : undefined, header, rows };
}

/**
 * The sample step's parse rate as the judge's own (a marker forced by decoding does not count), with the share
 * decoding forced beside it when there is one: `12.5 (+87.5 forced)`. Summaries recorded before own rates: parseRate.
 */
export function sampleParseCell(s: SampleSummary | undefined): string {
  if (!s) return NONE;
  const own = pct(s.ownParseRate ?? s.parseRate);
  return s.forcedMarkers && s.judgments > 0 ? `${own} (+${pct(s.forcedMarkers / s.judgments)} forced)` : own;
}

/** The main metric of a suite: exact agreement for pointwise, accuracy for pairwise (a fraction). */
export function mainMetric(m: SuiteMetrics | undefined): number | null {
  if (!m) return null;
  const v = m.kind === 'pointwise' ? m.exactAgreement : m.accuracy;
  return finite(v) ? v : null;
}

export function mainMetricName(kind: SuiteMetrics['kind']): string {
  return kind === 'pointwise' ? 'exact agreement' : 'accuracy';
}

/**
 * One line per suite: its main metric in iteration 0 against the last iteration that has it, e.g.
 * `synthetic (pointwise) exact agreement: 13.0% → 37.5% (+24.5 points, iteration 0 → 2)`. An evaluate-only
 * run (loop.iterations 0) has iteration 0 alone: its value, e.g. `… exact agreement: 13.0% [9.0, 18.0]`.
 */
export function changeLines(summary: RunSummary): string[] {
  const its = [...(summary.iterations ?? [])].sort((a, b) => a.iteration - b.iteration);
  const evaluateOnly = isEvaluateOnly(summary);
  return suitesOf(summary).map((s) => {
    const label = `${s.name} (${s.kind}) ${mainMetricName(s.kind)}`;
    const base = its.find((it) => it.iteration === 0);
    const baseV = mainMetric(base?.eval?.[s.name]);
    const last = [...its].reverse().find((it) => it.iteration !== 0 && mainMetric(it.eval?.[s.name]) !== null);
    const lastV = last ? mainMetric(last.eval[s.name]) : null;
    if (evaluateOnly && baseV !== null) {
      const c = base?.eval?.[s.name]?.ci;
      const [low, high] = !c ? [null, null] : s.kind === 'pointwise' ? (c as NonNullable<PointwiseMetrics['ci']>).intervals.exactAgreement : (c as NonNullable<PairwiseMetrics['ci']>).intervals.accuracy;
      const interval = low === null || high === null || !c ? '' : ` [${pct(low)}, ${pct(high)}] (${Math.round(c.confidence * 100)}% bootstrap interval)`;
      return `${label}: ${pct(baseV)}%${interval}`;
    }
    if (baseV === null || lastV === null || !last) {
      const why = baseV === null ? 'no iteration 0 value' : 'no later iteration';
      return `${label}: ${NONE} (${why})`;
    }
    const ci = (m: SuiteMetrics | undefined) => {
      const c = m?.ci;
      if (!c) return '';
      const [low, high] = m.kind === 'pointwise' ? m.ci!.intervals.exactAgreement : (m.ci as NonNullable<PairwiseMetrics['ci']>).intervals.accuracy;
      return low === null || high === null ? '' : ` [${pct(low)}, ${pct(high)}]`;
    };
    const level = last.eval[s.name]?.ci ?? base?.eval?.[s.name]?.ci;
    const note = level && (ci(base?.eval?.[s.name]) || ci(last.eval[s.name])) ? `; ${Math.round(level.confidence * 100)}% bootstrap intervals in brackets` : '';
    return `${label}: ${pct(baseV)}%${ci(base?.eval?.[s.name])} → ${pct(lastV)}%${ci(last.eval[s.name])} (${points((lastV - baseV) * 100)} points, iteration 0 → ${last.iteration}${note})`;
  });
}

/** A run that only evaluated its starting judge (loop.iterations 0): iteration 0 and nothing else. */
export function isEvaluateOnly(summary: Pick<RunSummary, 'iterations'>): boolean {
  const its = summary.iterations ?? [];
  return its.length > 0 && its.every((it) => it.iteration === 0);
}

/** Counts as `reason n, reason n` (largest first), or `0`. */
function countsLine(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {}).filter(([, n]) => n > 0);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : '0';
}

/** The curation section: one row per trained iteration (from each pair step's curation.json headline). */
export function curationTable(summary: RunSummary): Table | null {
  const rows = summary.iterations
    .filter((it) => it.pairs?.curation)
    .map((it) => {
      const c = it.pairs!.curation!;
      return [
        String(it.iteration),
        pct(c.parseFailureRate),
        pct(c.sampleAgreement.meanModalShare),
        pct(c.sampleAgreement.unanimousFraction),
        countsLine(c.pairsByStrategy),
        countsLine(c.droppedByReason),
        countsLine(c.withoutPairByReason),
        num(c.meanLengthDifference, 1),
      ];
    });
  if (rows.length === 0) return null;
  return {
    header: ['iter', 'unparseable %', 'modal share %', 'unanimous %', 'pairs by strategy', 'dropped', 'inputs without a pair', 'len diff'],
    rows,
    align: ['right', 'right', 'right', 'right', 'left', 'left', 'left', 'right'],
  };
}

/** The full report printed when a run completes. */
/** `$1.23` (`$0.0042` below a cent); `not priced` when no job had a price; `+ N unpriced` when some had none. */
export function formatCost(f: Pick<UsageFigures, 'usd' | 'unpricedJobs' | 'jobs'>): string {
  if (f.jobs > 0 && f.unpricedJobs === f.jobs) return 'not priced';
  const usd = f.usd >= 0.01 || f.usd === 0 ? `$${f.usd.toFixed(2)}` : `$${f.usd.toFixed(4)}`;
  return f.unpricedJobs > 0 ? `${usd} + ${f.unpricedJobs} unpriced` : usd;
}

/**
 * What a cost shown is: an estimate, billed time times the configured prices, with where the prices come from
 * and their date (`backend.priceSource`); null when nothing was priced.
 */
export function costBasisLine(u: Pick<UsageTotals, 'jobs' | 'unpricedJobs' | 'prices'> | undefined): string | null {
  if (!u || (u.jobs > 0 && u.unpricedJobs === u.jobs)) return null;
  const basis = u.prices;
  if (!basis) return 'costs are estimates: billed time × the configured prices per hour, not a bill';
  const source = basis.source
    ? `${basis.source}${basis.asOf ? `, as of ${basis.asOf}` : ''}`
    : 'no source or date given: set backend.priceSource';
  return `costs are estimates: billed time × ${basis.setting} (${source}), not a bill`;
}

/** Jobs, their time and cost per iteration and for the run (core/run/usage.ts); null without usage figures. */
export function usageTable(summary: Pick<RunSummary, 'iterations' | 'usage'>): Table | null {
  const rows = summary.iterations.filter((it) => it.usage);
  if (rows.length === 0) return null;
  const line = (label: string, u: UsageTotals): string[] => [
    label,
    String(u.jobs),
    formatDuration(u.seconds * 1000),
    formatDuration(u.billableSeconds * 1000),
    formatCost(u),
    Object.entries(u.byStep)
      .map(([step, f]) => `${step} ${formatDuration(f.seconds * 1000)}`)
      .join(' · '),
  ];
  return {
    header: ['iter', 'jobs', 'job time', 'billed', 'est. cost', 'time by step'],
    rows: [...rows.map((it) => line(String(it.iteration), it.usage!)), ...(summary.usage ? [line('run', summary.usage)] : [])],
    align: ['left', 'right', 'right', 'right', 'right', 'left'],
  };
}

/** The seed step in one line: what it trained on, how long, and whether it was reused. */
export function warmStartLine(w: WarmStartSummary): string {
  const left = w.rowsWithoutReference > 0 ? ` (${w.rowsWithoutReference} rows without one left out)` : '';
  const how = w.adopted ? 'reused from an identical job' : `${w.steps} steps, final loss ${num(w.finalLoss, 4)}`;
  return `warm start (iteration 0's judge): SFT on ${w.examples} reference judgments from ${w.rows} rows${left}; ${how} → ${w.modelUri}`;
}

/** `45s`, `3m12s`, `1h02m` (negative or non-finite durations read as 0s). */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}
