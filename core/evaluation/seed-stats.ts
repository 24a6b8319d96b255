/**
 * Spread across seeds (docs/method.md, "Seeds and variance"): the same config run once per seed
 * (`judgeloop seeds`), and per iteration and test suite, each headline metric's mean, sample standard
 * deviation and 95% Student-t interval of the mean across the runs. Pure: the CLI gathers the run summaries.
 *
 * The interval is mean ± t(0.975, n − 1) · sd / √n over the n runs that have the figure (a run whose figure is
 * undefined, e.g. a Pearson correlation of constant scores, is left out of that cell and n says so). It
 * describes seed-to-seed variation of the whole pipeline (sampling, pair selection, training order, bootstrap
 * seeds), not the sampling error of the evaluation items, which the per-run bootstrap intervals describe.
 */
import type { RunSummary, SuiteMetrics } from '../run/run-types';

/**
 * t(0.975, df) for df = 1..30: the quantiles of Student's t distribution behind two-sided 95% intervals, as
 * printed in standard t tables, to six decimals (test/unit/seed-stats.test.ts checks them against a
 * numerical integration of the t density).
 */
export const T_975: readonly number[] = [
  12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985, 2.178813, 2.160369,
  2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529,
  2.051831, 2.048407, 2.04523, 2.042272,
];

/** The standard normal's 0.975 quantile. */
export const Z_975 = 1.959963984540054;

/**
 * t(0.975, df): from the table for df ≤ 30; above it, the Cornish–Fisher expansion of t in powers of 1/df
 * around the normal quantile (Abramowitz & Stegun 26.7.5), within 1e-6 of the exact value there (df 31: 2.039513).
 */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new RangeError(`degrees of freedom must be a whole number >= 1, got ${df}`);
  if (df <= T_975.length) return T_975[df - 1];
  const z = Z_975;
  const z2 = z * z;
  const g1 = (z * (z2 + 1)) / 4;
  const g2 = (z * ((5 * z2 + 16) * z2 + 3)) / 96;
  const g3 = (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / 384;
  const g4 = (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / 92160;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
}

export interface SpreadStats {
  /** Values that entered (finite ones). */
  n: number;
  mean: number | null;
  /** Sample standard deviation (n − 1 in the denominator); null below two values. */
  sd: number | null;
  /** 95% t-interval of the mean; null below two values. */
  low: number | null;
  high: number | null;
}

/** Mean, sample standard deviation and 95% t-interval of the finite values (nulls and NaNs are left out). */
export function spreadOf(values: ReadonlyArray<number | null | undefined>): SpreadStats {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: null, sd: null, low: null, high: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, sd: null, low: null, high: null };
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (tQuantile975(n - 1) * sd) / Math.sqrt(n);
  return { n, mean, sd, low: mean - half, high: mean + half };
}

/** The headline metrics of a suite kind, as `judgeloop seeds` reports them. */
export const HEADLINE_METRICS = {
  pointwise: ['exactAgreement', 'pearson'],
  pairwise: ['accuracy'],
} as const satisfies Record<SuiteMetrics['kind'], readonly string[]>;

export type HeadlineMetric = (typeof HEADLINE_METRICS)[keyof typeof HEADLINE_METRICS][number];

/** A metric's value in a suite's metrics; null when absent, of the other kind, or not finite. */
export function headlineValue(m: SuiteMetrics | undefined, metric: HeadlineMetric): number | null {
  if (!m) return null;
  const v = m.kind === 'pointwise' ? (metric === 'exactAgreement' || metric === 'pearson' ? m[metric] : undefined) : metric === 'accuracy' ? m.accuracy : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The suites a multi-seed summary reports: the test suites (`role` other than `validation`), in config order. */
export function testSuiteNames(config: { data: { evalSuites: ReadonlyArray<{ name: string; role?: 'validation' | 'test' }> } }): string[] {
  return config.data.evalSuites.filter((s) => s.role !== 'validation').map((s) => s.name);
}

export interface SeedRun {
  runId: string;
  /** loop.seed of the run, when known. */
  seed?: number;
  summary: Pick<RunSummary, 'iterations'>;
}

export interface SeedAggregateRow extends SpreadStats {
  iteration: number;
  suite: string;
  kind: SuiteMetrics['kind'];
  metric: HeadlineMetric;
  /** One value per run, in the order of `runs` (null: the run has no such figure). */
  values: Array<number | null>;
}

export interface SeedAggregate {
  confidence: 0.95;
  runs: Array<{ runId: string; seed: number | null }>;
  rows: SeedAggregateRow[];
}

/**
 * Per iteration (every iteration any run has, ascending), per suite (`suites` in order, else every suite
 * in order of first appearance) and per headline metric of its kind: the spread across the runs.
 */
export function aggregateSeedRuns(runs: readonly SeedRun[], suites?: readonly string[]): SeedAggregate {
  const kinds = new Map<string, SuiteMetrics['kind']>();
  for (const run of runs) {
    for (const it of run.summary.iterations ?? []) {
      for (const [name, m] of Object.entries(it.eval ?? {})) if (!kinds.has(name)) kinds.set(name, m.kind);
    }
  }
  const names = (suites ?? [...kinds.keys()]).filter((s) => kinds.has(s));
  const iterations = [...new Set(runs.flatMap((r) => (r.summary.iterations ?? []).map((it) => it.iteration)))].sort((a, b) => a - b);
  const rows: SeedAggregateRow[] = [];
  for (const iteration of iterations) {
    const evals = runs.map((r) => (r.summary.iterations ?? []).find((it) => it.iteration === iteration)?.eval);
    for (const suite of names) {
      const kind = kinds.get(suite)!;
      for (const metric of HEADLINE_METRICS[kind]) {
        const values = evals.map((e) => headlineValue(e?.[suite], metric));
        rows.push({ iteration, suite, kind, metric, values, ...spreadOf(values) });
      }
    }
  }
  return { confidence: 0.95, runs: runs.map((r) => ({ runId: r.runId, seed: r.seed ?? null })), rows };
}
