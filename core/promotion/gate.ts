/**
 * The promotion gate: does a challenger judge replace the champion? Pure and deterministic, because it runs
 * inside the run workflow (on replay it must decide the same way from the same metrics).
 *
 * Rules (`evaluation.gate`, core/config/config.ts), each reported as one reason whether it passes or fails:
 * - no-drop: on every gated suite the challenger's primary metric (`metrics.pointwise` / `metrics.pairwise`)
 *   is at most `maxDrop` worse than the champion's (MAE: lower is better, so "worse" means higher);
 * - parse floor: the challenger parses at least `parseRateFloor` of every gated suite's items;
 * - require gain (optional): on one named suite, the challenger is better by at least `min`.
 * A metric that is undefined (a correlation over constant scores is `null`) is handled explicitly:
 * - no-drop: challenger null → fails (nothing shows it did not drop); champion null and challenger defined →
 *   passes (there is no baseline to drop from, e.g. a seed judge that gives every item the same score);
 *   both null → passes, "not compared";
 * - require gain: either null → fails (a gain cannot be measured);
 * - parse floor: a suite without items has no parse rate → fails.
 * A suite that the champion has and the challenger lacks fails; one only the challenger has is new and
 * passes with no baseline.
 */
import type { PairwiseMetrics, PointwiseMetrics, SuiteMetrics } from '../run/run-types';

export const POINTWISE_GATE_METRICS = ['pearson', 'spearman', 'kendall', 'exactAgreement', 'mae'] as const;
export const PAIRWISE_GATE_METRICS = ['accuracy'] as const;
export type PointwiseGateMetric = (typeof POINTWISE_GATE_METRICS)[number];
export type PairwiseGateMetric = (typeof PAIRWISE_GATE_METRICS)[number];
export type GateMetric = PointwiseGateMetric | PairwiseGateMetric;

/** `evaluation.gate` as the gate reads it (the parsed config has this shape). */
export interface GateRules {
  /** false: every challenger is promoted (the paper's loop: each iteration continues from the last). */
  enabled: boolean;
  maxDrop: number;
  metrics: { pointwise: PointwiseGateMetric; pairwise: PairwiseGateMetric };
  /**
   * The suites the no-drop and parse-floor rules check (the run passes `gatedSuiteNames`: every suite without
   * `data.evalSuites[].gate: false`); absent: every suite either judge was evaluated on.
   */
  suites?: string[];
  parseRateFloor: number;
  requireGain?: { suite: string; metric?: GateMetric; min: number };
}

export type GateRule = 'no-drop' | 'parse-floor' | 'require-gain';

export interface GateCheck {
  rule: GateRule;
  suite: string;
  /** The metric compared (`parseRate` for the parse floor). */
  metric: string;
  champion: number | null;
  challenger: number | null;
  /** maxDrop, parseRateFloor or the required gain. */
  threshold: number;
  passed: boolean;
  reason: string;
}

export interface GateDecision {
  promote: boolean;
  /** One line per check, passed or failed, with the numbers. */
  reasons: string[];
  checks: GateCheck[];
}

/** Metrics where a smaller value is better. */
const LOWER_IS_BETTER: ReadonlySet<string> = new Set(['mae']);

export function isLowerBetter(metric: string): boolean {
  return LOWER_IS_BETTER.has(metric);
}

function finiteOrNull(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** A suite's value of a gate metric; null when undefined or when the metric does not apply to the suite's kind. */
export function gateMetricValue(m: SuiteMetrics | undefined, metric: GateMetric): number | null {
  if (!m) return null;
  if (m.kind === 'pointwise') {
    return metric === 'accuracy' ? null : finiteOrNull((m as PointwiseMetrics)[metric]);
  }
  return metric === 'accuracy' ? finiteOrNull((m as PairwiseMetrics).accuracy) : null;
}

/**
 * The share of a suite's judgments that the judge parsed on its own: `ownParseRate` (a marker forced by
 * decoding does not count) where the evaluation recorded it; for metrics recorded before it existed,
 * pointwise `parseRate` and pairwise 1 − unparseable/n (in `relative` mode over the A/B verdicts, two per
 * pair). Null for an empty suite.
 */
export function suiteParseRate(m: SuiteMetrics | undefined): number | null {
  if (!m) return null;
  if (m.n > 0 && m.ownParseRate !== undefined && !(m.kind === 'pairwise' && m.mode === 'relative')) return finiteOrNull(m.ownParseRate);
  if (m.kind === 'pointwise') return m.n > 0 ? finiteOrNull(m.parseRate) : null;
  if (m.mode === 'relative' && m.relative) {
    return m.relative.requests > 0 ? Math.max(0, 1 - m.relative.unparseable / m.relative.requests) : null;
  }
  return m.n > 0 ? Math.max(0, Math.min(1, 1 - m.unparseable / m.n)) : null;
}

function fmt(x: number): string {
  const s = x.toFixed(3);
  return /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

/** A signed change, e.g. `+0.050`, `−0.030` (a true minus sign, as in the reasons' arrows). */
function signed(x: number): string {
  const s = fmt(Math.abs(x));
  return x < 0 && s !== fmt(0) ? `−${s}` : `+${s}`;
}

function pctText(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** How much better the challenger is (positive = better), direction-aware. */
function improvement(metric: string, champion: number, challenger: number): number {
  return isLowerBetter(metric) ? champion - challenger : challenger - champion;
}

function metricFor(rules: GateRules, m: SuiteMetrics): GateMetric {
  return m.kind === 'pointwise' ? rules.metrics.pointwise : rules.metrics.pairwise;
}

function noDropCheck(suite: string, champion: SuiteMetrics | undefined, challenger: SuiteMetrics | undefined, rules: GateRules): GateCheck {
  const kindSource = challenger ?? champion;
  const base = { rule: 'no-drop' as const, suite, threshold: rules.maxDrop };
  if (!kindSource) {
    return { ...base, metric: '?', champion: null, challenger: null, passed: false, reason: `${suite}: neither judge was evaluated on it (evaluation.gate.suites names it): failed` };
  }
  const metric = metricFor(rules, kindSource);
  const a = gateMetricValue(champion, metric);
  const b = gateMetricValue(challenger, metric);
  const head = `${suite} ${metric}`;
  const result = (passed: boolean, reason: string): GateCheck => ({ ...base, metric, champion: a, challenger: b, passed, reason });
  if (!challenger) return result(false, `${head}: missing from the challenger's evaluation: failed`);
  if (!champion) return result(true, `${head}: new suite (the champion has no value; nothing to drop from): ok`);
  if (b === null && a === null) return result(true, `${head}: undefined for both judges (constant scores?); not compared: ok`);
  if (b === null) return result(false, `${head} ${fmt(a!)} → undefined (constant scores?): cannot show it did not drop: failed`);
  if (a === null) return result(true, `${head} undefined → ${fmt(b)}: the champion has no value to drop from: ok`);
  const gain = improvement(metric, a, b);
  const dir = isLowerBetter(metric) ? ', lower is better' : '';
  const numbers = `${head} ${fmt(a)} → ${fmt(b)} (${signed(b - a)}, tolerance ${fmt(rules.maxDrop)}${dir})`;
  // A small epsilon so that a drop of exactly maxDrop, computed in floating point, passes.
  return gain >= -rules.maxDrop - 1e-12 ? result(true, `${numbers}: ok`) : result(false, `${numbers}: dropped`);
}

function parseFloorCheck(suite: string, challenger: SuiteMetrics | undefined, rules: GateRules): GateCheck {
  const rate = suiteParseRate(challenger);
  const base = { rule: 'parse-floor' as const, suite, metric: 'parseRate', champion: null, challenger: rate, threshold: rules.parseRateFloor };
  const floor = pctText(rules.parseRateFloor);
  if (!challenger) return { ...base, passed: false, reason: `${suite} parse rate: missing from the challenger's evaluation: failed` };
  if (rate === null) return { ...base, passed: false, reason: `${suite} parse rate: undefined (no items), floor ${floor}: failed` };
  const passed = rate >= rules.parseRateFloor;
  return { ...base, passed, reason: `${suite} parse rate ${pctText(rate)} (floor ${floor}): ${passed ? 'ok' : 'below the floor'}` };
}

function requireGainCheck(
  champion: Record<string, SuiteMetrics>,
  challenger: Record<string, SuiteMetrics>,
  need: NonNullable<GateRules['requireGain']>,
  rules: GateRules,
): GateCheck {
  const { suite, min } = need;
  const a0 = champion[suite];
  const b0 = challenger[suite];
  const kindSource = b0 ?? a0;
  const metric: string = need.metric ?? (kindSource ? metricFor(rules, kindSource) : '?');
  const base = { rule: 'require-gain' as const, suite, metric, threshold: min };
  const head = `${suite} ${metric} required gain ${fmt(min)}`;
  if (!a0 || !b0) {
    const who = !b0 ? "the challenger's" : "the champion's";
    return { ...base, champion: null, challenger: null, passed: false, reason: `${head}: the suite is missing from ${who} evaluation: failed` };
  }
  const a = gateMetricValue(a0, metric as GateMetric);
  const b = gateMetricValue(b0, metric as GateMetric);
  const result = (passed: boolean, reason: string): GateCheck => ({ ...base, champion: a, challenger: b, passed, reason });
  if (a === null || b === null) {
    const show = (x: number | null) => (x === null ? 'undefined' : fmt(x));
    return result(false, `${head}: ${show(a)} → ${show(b)}, the gain cannot be measured: failed`);
  }
  const gain = improvement(metric, a, b);
  const numbers = `${suite} ${metric} ${fmt(a)} → ${fmt(b)} (gain ${signed(gain)}, required ${fmt(min)})`;
  return gain >= min - 1e-12 ? result(true, `${numbers}: ok`) : result(false, `${numbers}: not enough`);
}

/** The suites the no-drop and parse-floor rules check, in a deterministic order. */
function gatedSuites(champion: Record<string, SuiteMetrics>, challenger: Record<string, SuiteMetrics>, rules: GateRules): string[] {
  if (rules.suites) return [...rules.suites];
  const names = Object.keys(champion);
  for (const n of Object.keys(challenger)) if (!names.includes(n)) names.push(n);
  return names;
}

/** Decides whether the challenger replaces the champion; every rule is reported, pass or fail. */
export function decidePromotion(
  champion: Record<string, SuiteMetrics>,
  challenger: Record<string, SuiteMetrics>,
  rules: GateRules,
): GateDecision {
  if (!rules.enabled) {
    return { promote: true, reasons: ['gate disabled (evaluation.gate.enabled: false): every iteration is promoted'], checks: [] };
  }
  const checks: GateCheck[] = [];
  for (const suite of gatedSuites(champion, challenger, rules)) {
    checks.push(noDropCheck(suite, champion[suite], challenger[suite], rules));
    checks.push(parseFloorCheck(suite, challenger[suite], rules));
  }
  if (rules.requireGain) checks.push(requireGainCheck(champion, challenger, rules.requireGain, rules));
  return { promote: checks.every((c) => c.passed), reasons: checks.map((c) => c.reason), checks };
}
