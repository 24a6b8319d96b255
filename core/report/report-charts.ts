/**
 * Small, pure SVG charts for the run report (core/report/report-html.ts): a point chart with error bars, a grouped
 * or stacked bar chart, and the colour of a heat-map cell. No chart library and no script: each function
 * returns an `<svg>` string whose every text is escaped, so the report stays one self-contained file.
 *
 * Conventions that keep the charts readable for everyone and the output byte-for-byte reproducible:
 * - colours come from the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies),
 *   and point series also differ by marker shape, so colour is never the only cue;
 * - coordinates are rounded to 0.1 px, so the same data always gives the same bytes;
 * - every data mark has class `mark` and a `<title>` (the browser's tooltip: the exact value), so a test
 *   can count what was drawn, and a reader can hover for the number behind a bar or point.
 */
import { escapeHtml } from '../review/human-review-page';

/** Okabe & Ito (2008), "Color Universal Design": eight colours told apart with any common colour deficiency. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'] as const;

/** A neutral colour for reference series (the gold distribution) and for "other". */
export const NEUTRAL = '#6E6E6E';

export function paletteColor(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** 0.1 px precision: enough for the eye, and the same string for the same data. */
export function px(x: number): string {
  const r = Math.round(x * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

export function finiteOrNull(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** Cuts a label to `max` characters with an ellipsis (the full text stays in the element's `<title>`). */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten, about `target` of them.
 * A flat range is widened so the axis still has a span.
 */
export function niceTicks(min: number, max: number, target = 5): number[] {
  let lo = Number.isFinite(min) ? min : 0;
  let hi = Number.isFinite(max) ? max : 1;
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(lo) > 1e-12 ? Math.abs(lo) * 0.5 : 1;
    lo -= lo === 0 ? 0 : pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toFixed(10)));
  return ticks;
}

// ---------------------------------------------------------------------------------------------- layout

const WIDTH = 560;
const MARGIN = { left: 62, right: 16, bottom: 48 };
const PLOT_HEIGHT = 210;
const FONT = 12;
/** Rough width of a character of the 12 px UI font, for laying out legends without measuring text. */
const CHAR_W = 6.6;

interface LegendItem {
  name: string;
  color: string;
  shape: MarkerShape | 'bar';
}

/** Legend entries laid out in rows across the chart's width; returns the SVG and its height. */
function legend(items: LegendItem[], width: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const parts: string[] = [];
  let x = MARGIN.left;
  let row = 0;
  const rowH = 18;
  for (const item of items) {
    const label = truncate(item.name, 44);
    const w = 16 + label.length * CHAR_W + 16;
    if (x + w > width - MARGIN.right && x > MARGIN.left) {
      x = MARGIN.left;
      row++;
    }
    const cy = 12 + row * rowH;
    const swatch =
      item.shape === 'bar'
        ? `<rect class="swatch" x="${px(x)}" y="${px(cy - 5)}" width="10" height="10" fill="${item.color}"/>`
        : `<line x1="${px(x - 2)}" y1="${px(cy)}" x2="${px(x + 12)}" y2="${px(cy)}" stroke="${item.color}" stroke-width="2"/>${marker(item.shape, x + 5, cy, item.color, 'swatch')}`;
    parts.push(
      `<g class="legend-item"><title>${escapeHtml(item.name)}</title>${swatch}<text x="${px(x + 16)}" y="${px(cy + 4)}">${escapeHtml(label)}</text></g>`,
    );
    x += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: (row + 1) * rowH + 8 };
}

export type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond';
const SHAPES: MarkerShape[] = ['circle', 'square', 'triangle', 'diamond'];

function marker(shape: MarkerShape, x: number, y: number, color: string, cls: string, title = ''): string {
  const t = title ? `<title>${escapeHtml(title)}</title>` : '';
  const r = 4.5;
  switch (shape) {
    case 'circle':
      return `<circle class="${cls}" cx="${px(x)}" cy="${px(y)}" r="${r}" fill="${color}">${t}</circle>`;
    case 'square':
      return `<rect class="${cls}" x="${px(x - r)}" y="${px(y - r)}" width="${r * 2}" height="${r * 2}" fill="${color}">${t}</rect>`;
    case 'triangle':
      return `<polygon class="${cls}" points="${px(x)},${px(y - r - 1)} ${px(x + r + 1)},${px(y + r)} ${px(x - r - 1)},${px(y + r)}" fill="${color}">${t}</polygon>`;
    case 'diamond':
      return `<polygon class="${cls}" points="${px(x)},${px(y - r - 1)} ${px(x + r + 1)},${px(y)} ${px(x)},${px(y + r + 1)} ${px(x - r - 1)},${px(y)}" fill="${color}">${t}</polygon>`;
  }
}

interface Frame {
  top: number;
  height: number;
  plotLeft: number;
  plotRight: number;
  plotTop: number;
  plotBottom: number;
  yOf(v: number): number;
  ticks: number[];
}

function frame(legendHeight: number, ticks: number[]): Frame {
  const top = Math.max(12, legendHeight + 6);
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const plotTop = top;
  const plotBottom = top + PLOT_HEIGHT;
  return {
    top,
    height: plotBottom + MARGIN.bottom,
    plotLeft: MARGIN.left,
    plotRight: WIDTH - MARGIN.right,
    plotTop,
    plotBottom,
    ticks,
    // Clamped to the plot: a value past a hard bound is drawn at the edge, never outside the frame.
    yOf: (v: number) => plotBottom - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo || 1)) * PLOT_HEIGHT,
  };
}

/** Grid lines, y tick labels, the axes' titles and the x category labels. */
function axes(f: Frame, categories: string[], xLabel: string, yLabel: string, format: (v: number) => string): string {
  const parts: string[] = [];
  for (const t of f.ticks) {
    const y = f.yOf(t);
    parts.push(`<line class="grid" x1="${px(f.plotLeft)}" y1="${px(y)}" x2="${px(f.plotRight)}" y2="${px(y)}"/>`);
    parts.push(`<text class="tick" x="${px(f.plotLeft - 6)}" y="${px(y + 4)}" text-anchor="end">${escapeHtml(format(t))}</text>`);
  }
  // The zero line is drawn darker when the range spans it (correlations can be negative).
  if (f.ticks[0] < 0 && f.ticks[f.ticks.length - 1] > 0) {
    parts.push(`<line class="axis" x1="${px(f.plotLeft)}" y1="${px(f.yOf(0))}" x2="${px(f.plotRight)}" y2="${px(f.yOf(0))}"/>`);
  }
  parts.push(`<line class="axis" x1="${px(f.plotLeft)}" y1="${px(f.plotBottom)}" x2="${px(f.plotRight)}" y2="${px(f.plotBottom)}"/>`);
  parts.push(`<line class="axis" x1="${px(f.plotLeft)}" y1="${px(f.plotTop)}" x2="${px(f.plotLeft)}" y2="${px(f.plotBottom)}"/>`);
  const band = (f.plotRight - f.plotLeft) / Math.max(1, categories.length);
  const maxChars = Math.max(3, Math.floor(band / CHAR_W));
  categories.forEach((c, i) => {
    const x = f.plotLeft + (i + 0.5) * band;
    parts.push(`<text class="tick" x="${px(x)}" y="${px(f.plotBottom + 16)}" text-anchor="middle"><title>${escapeHtml(c)}</title>${escapeHtml(truncate(c, maxChars))}</text>`);
  });
  parts.push(`<text class="axis-title" x="${px((f.plotLeft + f.plotRight) / 2)}" y="${px(f.plotBottom + 38)}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  const cy = (f.plotTop + f.plotBottom) / 2;
  parts.push(`<text class="axis-title" x="14" y="${px(cy)}" text-anchor="middle" transform="rotate(-90 14 ${px(cy)})">${escapeHtml(yLabel)}</text>`);
  return parts.join('');
}

function svgOpen(title: string, height: number, id: string): string {
  return (
    `<svg class="chart" data-chart="${escapeHtml(id)}" viewBox="0 0 ${WIDTH} ${px(height)}" width="${WIDTH}" height="${px(height)}" ` +
    `role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg"><title>${escapeHtml(title)}</title>`
  );
}

// ------------------------------------------------------------------------------------ point chart

export interface PointValue {
  y: number | null;
  /** The interval around y (a bootstrap confidence interval); drawn as an error bar when both ends are set. */
  low?: number | null;
  high?: number | null;
}

export interface PointSeries {
  name: string;
  /** One per category (missing: null). */
  points: PointValue[];
}

export interface PointChartSpec {
  /** A stable id for the chart (data-chart attribute). */
  id: string;
  title: string;
  categories: string[];
  xLabel: string;
  yLabel: string;
  series: PointSeries[];
  /** A range the axis always covers (e.g. [0, 1] for a fraction); data outside it widens it. */
  yDomain?: [number, number];
  /** Hard limits of the axis (a correlation's [-1, 1]): an interval reaching past one does not stretch it. */
  yBounds?: [number, number];
  /** Tick labels. */
  format: (v: number) => string;
  /** Tooltip values (default: format). */
  valueFormat?: (v: number) => string;
}

/** Whether a chart has anything to draw. */
export function hasPoints(series: PointSeries[]): boolean {
  return series.some((s) => s.points.some((p) => finiteOrNull(p.y) !== null));
}

/** Values per category as points and lines, with error bars; a missing value breaks the line. */
export function pointChart(spec: PointChartSpec): string {
  const values = spec.series.flatMap((s) => s.points.flatMap((p) => [p.y, p.low, p.high].map(finiteOrNull))).filter((v): v is number => v !== null);
  // The axis covers the data, the intervals and the requested domain; [0, 1] when there is none of them.
  const span = [...values, ...(spec.yDomain ?? [])].map((v) => (spec.yBounds ? Math.min(spec.yBounds[1], Math.max(spec.yBounds[0], v)) : v));
  const ticks = span.length ? niceTicks(Math.min(...span), Math.max(...span)) : niceTicks(0, 1);
  const items: LegendItem[] = spec.series.map((s, i) => ({ name: s.name, color: paletteColor(i), shape: SHAPES[i % SHAPES.length] }));
  const leg = legend(items, WIDTH);
  const f = frame(leg.height, ticks);
  const band = (f.plotRight - f.plotLeft) / Math.max(1, spec.categories.length);
  const dodge = Math.min(10, (band * 0.5) / Math.max(1, spec.series.length));
  const fmt = spec.valueFormat ?? spec.format;
  const parts: string[] = [svgOpen(spec.title, f.height, spec.id), leg.svg, axes(f, spec.categories, spec.xLabel, spec.yLabel, spec.format)];
  spec.series.forEach((s, si) => {
    const color = paletteColor(si);
    const shape = SHAPES[si % SHAPES.length];
    const xOf = (i: number) => f.plotLeft + (i + 0.5) * band + (si - (spec.series.length - 1) / 2) * dodge;
    // The line: segments between consecutive present values.
    let d = '';
    let pen = false;
    s.points.forEach((p, i) => {
      const y = finiteOrNull(p.y);
      if (y === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${px(xOf(i))} ${px(f.yOf(y))}`;
      pen = true;
    });
    const g: string[] = [];
    if (d) g.push(`<path class="line" d="${d}" stroke="${color}"/>`);
    s.points.forEach((p, i) => {
      const y = finiteOrNull(p.y);
      if (y === null) return;
      const low = finiteOrNull(p.low);
      const high = finiteOrNull(p.high);
      const x = xOf(i);
      if (low !== null && high !== null) {
        const y1 = f.yOf(low);
        const y2 = f.yOf(high);
        g.push(`<path class="errorbar" d="M${px(x)} ${px(y1)}V${px(y2)}M${px(x - 4)} ${px(y1)}H${px(x + 4)}M${px(x - 4)} ${px(y2)}H${px(x + 4)}" stroke="${color}"/>`);
      }
      const ci = low !== null && high !== null ? ` [${fmt(low)}, ${fmt(high)}]` : '';
      g.push(marker(shape, x, f.yOf(y), color, 'mark', `${s.name} · ${spec.categories[i]}: ${fmt(y)}${ci}`));
    });
    parts.push(`<g class="series">${g.join('')}</g>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

// -------------------------------------------------------------------------------------- bar chart

export interface BarSeries {
  name: string;
  /** One per category (missing: null, drawn as nothing). Negative values are drawn as 0. */
  values: Array<number | null>;
  /** Default: the palette colour of the series' position. */
  color?: string;
}

export interface BarChartSpec {
  id: string;
  title: string;
  categories: string[];
  xLabel: string;
  yLabel: string;
  series: BarSeries[];
  /** Stacked: one bar per category, its series on top of each other; otherwise side by side. */
  stacked?: boolean;
  format: (v: number) => string;
  valueFormat?: (v: number) => string;
  /** Print each category's total above its stack (stacked charts). */
  totals?: boolean;
}

export function hasBars(series: BarSeries[]): boolean {
  return series.some((s) => s.values.some((v) => (finiteOrNull(v) ?? 0) > 0));
}

function positive(v: number | null | undefined): number {
  const x = finiteOrNull(v);
  return x !== null && x > 0 ? x : 0;
}

export function barChart(spec: BarChartSpec): string {
  const n = spec.categories.length;
  const max = spec.stacked
    ? Math.max(0, ...spec.categories.map((_, i) => spec.series.reduce((a, s) => a + positive(s.values[i]), 0)))
    : Math.max(0, ...spec.series.flatMap((s) => s.values.map(positive)));
  const ticks = niceTicks(0, max > 0 ? max : 1);
  const colors = spec.series.map((s, i) => s.color ?? paletteColor(i));
  const leg = legend(
    spec.series.map((s, i) => ({ name: s.name, color: colors[i], shape: 'bar' as const })),
    WIDTH,
  );
  const f = frame(leg.height, ticks);
  const band = (f.plotRight - f.plotLeft) / Math.max(1, n);
  const fmt = spec.valueFormat ?? spec.format;
  const parts: string[] = [svgOpen(spec.title, f.height, spec.id), leg.svg, axes(f, spec.categories, spec.xLabel, spec.yLabel, spec.format)];
  const bars: string[] = [];
  for (let i = 0; i < n; i++) {
    const left = f.plotLeft + i * band;
    if (spec.stacked) {
      const w = Math.min(56, band * 0.6);
      const x = left + (band - w) / 2;
      let acc = 0;
      spec.series.forEach((s, si) => {
        const v = positive(s.values[i]);
        if (v <= 0) return;
        const y0 = f.yOf(acc);
        const y1 = f.yOf(acc + v);
        acc += v;
        bars.push(
          `<rect class="mark" x="${px(x)}" y="${px(y1)}" width="${px(w)}" height="${px(Math.max(0.5, y0 - y1))}" fill="${colors[si]}"><title>${escapeHtml(`${s.name} · ${spec.categories[i]}: ${fmt(v)}`)}</title></rect>`,
        );
      });
      if (spec.totals && acc > 0) {
        bars.push(`<text class="value" x="${px(x + w / 2)}" y="${px(f.yOf(acc) - 4)}" text-anchor="middle">${escapeHtml(fmt(acc))}</text>`);
      }
    } else {
      const inner = band * 0.8;
      const w = inner / Math.max(1, spec.series.length);
      spec.series.forEach((s, si) => {
        const v = positive(s.values[i]);
        if (v <= 0) return;
        const x = left + (band - inner) / 2 + si * w;
        const y1 = f.yOf(v);
        bars.push(
          `<rect class="mark" x="${px(x + 0.5)}" y="${px(y1)}" width="${px(Math.max(1, w - 1))}" height="${px(Math.max(0.5, f.plotBottom - y1))}" fill="${colors[si]}"><title>${escapeHtml(`${s.name} · ${spec.categories[i]}: ${fmt(v)}`)}</title></rect>`,
        );
      });
    }
  }
  parts.push(`<g class="bars">${bars.join('')}</g>`, '</svg>');
  return parts.join('');
}

/**
 * Keeps the `keep` largest series (by total) and sums the rest into one "other" series, so a stacked chart
 * never needs more colours than the palette has.
 */
export function topSeries(series: BarSeries[], keep: number, otherName = 'other'): BarSeries[] {
  if (series.length <= keep + 1) return series;
  const total = (s: BarSeries) => s.values.reduce<number>((a, v) => a + positive(v), 0);
  const ranked = series.map((s, i) => ({ s, i, t: total(s) })).sort((a, b) => b.t - a.t || a.i - b.i);
  const kept = ranked.slice(0, keep).sort((a, b) => a.i - b.i).map((r) => r.s);
  const rest = ranked.slice(keep).map((r) => r.s);
  const len = Math.max(...series.map((s) => s.values.length));
  const other: BarSeries = {
    name: `${otherName} (${rest.length})`,
    values: Array.from({ length: len }, (_, i) => rest.reduce((a, s) => a + positive(s.values[i]), 0)),
    color: NEUTRAL,
  };
  return [...kept, other];
}

// ---------------------------------------------------------------------------------------- heat map

/** Stops of ColorBrewer's single-hue "Blues": ordered by lightness, so they read in grey scale too. */
const BLUES: Array<[number, number, number]> = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];

/** The background of a heat-map cell for a share in [0, 1], and a text colour that stays legible on it. */
export function heatColor(share: number): { background: string; color: string } {
  const t = Math.min(1, Math.max(0, Number.isFinite(share) ? share : 0));
  const pos = t * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(pos));
  const frac = pos - i;
  const [r, g, b] = BLUES[i].map((c, k) => Math.round(c + (BLUES[i + 1][k] - c) * frac));
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return { background: `#${hex(r)}${hex(g)}${hex(b)}`, color: t > 0.5 ? '#ffffff' : '#1d232a' };
}
