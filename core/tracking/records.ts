/**
 * What a run sends to an experiment tracker (MLflow): the config as parameters, each iteration's figures as
 * metrics, and tags that find the runs again and link back to the run's artifacts. Pure: the records of a run
 * are a function of its config and its iterations' summaries, so sending them twice sends the same records
 * (MLflow keeps one copy of a metric logged twice with the same step and timestamp).
 *
 * Layout (docs/tracking.md): one MLflow run per Judgeloop run, named after its run id, with every iteration's
 * metrics at step = iteration (the tracker's charts then read as the loop's progress), and a child run per
 * iteration (`iteration-K`) with that iteration's metrics and its training job's loss curve.
 */
import type { RunConfig } from '../config/config';
import type { IterationSummary, PairwiseMetrics, PointwiseMetrics, SuiteMetrics } from '../run/run-types';
import type { UsageFigures } from '../run/usage';
import { iterationPrefix, iterationSummaryUri, joinUri } from '../run/artifacts';

/** MLflow's limits (mlflow/utils/validation.py): longer keys and values are refused. */
export const MLFLOW_LIMITS = {
  paramKey: 250,
  paramValue: 6000,
  tagValue: 8000,
  paramsPerBatch: 100,
  metricsPerBatch: 1000,
  tagsPerBatch: 100,
} as const;

/** Tags that identify Judgeloop's runs in a tracker (searched for on every send, so a resend finds them). */
export const TAG = {
  runId: 'judgeloop.run_id',
  kind: 'judgeloop.kind',
  iteration: 'judgeloop.iteration',
} as const;

export interface Param {
  key: string;
  value: string;
}

export interface Metric {
  key: string;
  value: number;
}

export type Tags = Record<string, string>;

/** The experiment a config's runs go to. */
export function experimentName(config: Pick<RunConfig, 'judge' | 'tracking'>): string {
  return config.tracking?.mlflow?.experiment ?? `judgeloop/${config.judge.name}`;
}

/** The child run's name of iteration K. */
export function iterationRunName(iteration: number): string {
  return `iteration-${iteration}`;
}

/** Characters MLflow accepts in a metric or param key; anything else (a group name's `(`, `,`…) becomes `_`. */
export function trackerKey(key: string): string {
  return key.replace(/[^0-9A-Za-z_\-. :/]/g, '_').slice(0, MLFLOW_LIMITS.paramKey);
}

function clip(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 40)}… (${value.length} characters, cut)`;
}

/**
 * The config as parameters: one per leaf, keyed by its path (`training.beta`, `data.evalSuites.0.name`), so
 * that runs compare setting by setting. Arrays of scalars stay one value (`[1,2]`).
 */
export function configParams(config: unknown): Param[] {
  const out: Param[] = [];
  const visit = (value: unknown, path: string): void => {
    if (value === undefined) return;
    if (Array.isArray(value) && value.some((v) => v !== null && typeof v === 'object')) {
      value.forEach((v, i) => visit(v, `${path}.${i}`));
      return;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(v, path ? `${path}.${k}` : k);
      return;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    out.push({ key: trackerKey(path), value: clip(text, MLFLOW_LIMITS.paramValue) });
  };
  visit(config, '');
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const POINTWISE_FIGURES = ['exactAgreement', 'mae', 'pearson', 'spearman', 'kendall'] as const;

/** snake_case of a figure's name, as trackers' keys usually are (`exactAgreement` → `exact_agreement`). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

class MetricList {
  readonly items: Metric[] = [];
  add(key: string, value: number | null | undefined): void {
    // MLflow stores NaN, but a figure that is undefined (a correlation of constant scores) is absent here.
    if (typeof value === 'number' && Number.isFinite(value)) this.items.push({ key: trackerKey(key), value });
  }
  interval(key: string, interval: [number | null, number | null] | undefined): void {
    if (!interval) return;
    this.add(`${key}_ci_low`, interval[0]);
    this.add(`${key}_ci_high`, interval[1]);
  }
}

function pointwiseMetrics(m: MetricList, base: string, s: PointwiseMetrics): void {
  m.add(`${base}/n`, s.n);
  m.add(`${base}/parse_rate`, s.parseRate);
  m.add(`${base}/own_parse_rate`, s.ownParseRate);
  for (const figure of POINTWISE_FIGURES) {
    m.add(`${base}/${snake(figure)}`, s[figure]);
    m.interval(`${base}/${snake(figure)}`, s.ci?.intervals[figure]);
    const vs = s.vsIteration0?.diffs[figure];
    if (vs) {
      m.add(`${base}/${snake(figure)}_vs_iter0`, vs.diff);
      m.interval(`${base}/${snake(figure)}_vs_iter0`, [vs.low, vs.high]);
    }
  }
}

function pairwiseMetrics(m: MetricList, base: string, s: PairwiseMetrics): void {
  m.add(`${base}/n`, s.n);
  m.add(`${base}/accuracy`, s.accuracy);
  m.interval(`${base}/accuracy`, s.ci?.intervals.accuracy);
  m.add(`${base}/ties`, s.ties);
  m.add(`${base}/unparseable`, s.unparseable);
  m.add(`${base}/own_parse_rate`, s.ownParseRate);
  const vs = s.vsIteration0?.diffs.accuracy;
  if (vs) {
    m.add(`${base}/accuracy_vs_iter0`, vs.diff);
    m.interval(`${base}/accuracy_vs_iter0`, [vs.low, vs.high]);
  }
  if (s.relative) {
    m.add(`${base}/relative_accuracy`, s.relative.accuracy);
    m.interval(`${base}/relative_accuracy`, s.relative.ci?.intervals.accuracy);
    m.add(`${base}/position_consistency`, s.relative.positionConsistency);
    m.add(`${base}/prefer_a`, s.relative.preferA);
  }
  m.add(`${base}/rewardbench_overall`, s.rewardbench?.overall);
}

function usageMetrics(m: MetricList, base: string, u: UsageFigures): void {
  m.add(`${base}/jobs`, u.jobs);
  m.add(`${base}/seconds`, u.seconds);
  m.add(`${base}/billable_seconds`, u.billableSeconds);
  // An estimate (billed time × the configured prices), named so wherever it is charted.
  m.add(`${base}/est_usd`, u.usd);
}

/** Every figure of one iteration: the evaluation with its intervals, sampling, pairs, training, the gate, time and cost. */
export function iterationMetrics(it: IterationSummary): Metric[] {
  const m = new MetricList();
  for (const [suite, metrics] of Object.entries(it.eval) as Array<[string, SuiteMetrics]>) {
    if (metrics.kind === 'pointwise') pointwiseMetrics(m, `eval/${suite}`, metrics);
    else pairwiseMetrics(m, `eval/${suite}`, metrics);
  }
  if (it.sample) {
    m.add('sample/inputs', it.sample.inputs);
    m.add('sample/judgments', it.sample.judgments);
    m.add('sample/parsed', it.sample.parsed);
    m.add('sample/parse_rate', it.sample.parseRate);
    m.add('sample/own_parse_rate', it.sample.ownParseRate);
    m.add('sample/forced_markers', it.sample.forcedMarkers);
    m.add('sample/agreement_with_gold', it.sample.agreementWithGold);
  }
  if (it.metaJudge) {
    m.add('meta_judge/rated', it.metaJudge.rated);
    m.add('meta_judge/unparseable', it.metaJudge.unparseable);
  }
  if (it.consistency) {
    m.add('consistency/rescored', it.consistency.rescored);
    m.add('consistency/inconsistent', it.consistency.inconsistent);
  }
  if (it.pairs) {
    m.add('pairs/pairs', it.pairs.pairs);
    m.add('pairs/inputs_with_pair', it.pairs.inputsWithPair);
    m.add('pairs/inputs_without_pair', it.pairs.inputsWithoutPair);
    const c = it.pairs.curation;
    if (c) {
      for (const [strategy, n] of Object.entries(c.pairsByStrategy)) m.add(`pairs/by_strategy/${strategy}`, n);
      for (const [reason, n] of Object.entries(c.droppedByReason)) m.add(`pairs/dropped/${reason}`, n);
      m.add('pairs/parse_failure_rate', c.parseFailureRate);
      m.add('pairs/mean_length_difference', c.meanLengthDifference);
    }
  }
  if (it.train) {
    m.add('train/steps', it.train.steps);
    m.add('train/final_loss', it.train.finalLoss);
    m.add('train/final_reward_accuracy', it.train.finalRewardAccuracy);
    m.add('train/final_reward_margin', it.train.finalRewardMargin);
  }
  if (it.gate) m.add('gate/promoted', it.gate.promote ? 1 : 0);
  if (it.usage) {
    usageMetrics(m, 'usage', it.usage);
    for (const [step, figures] of Object.entries(it.usage.byStep)) usageMetrics(m, `usage/${step}`, figures);
  }
  return m.items;
}

export interface RunFacts {
  runId: string;
  runName: string;
  judgeName: string;
  configHash: string;
  runPrefixUri: string;
}

/** Where the run report is: core/report/report-html.ts REPORT_FILES.html (not imported: that module is Node's). */
export function reportHtmlUri(runPrefixUri: string): string {
  return joinUri(runPrefixUri, 'report', 'report.html');
}

/** The parent run's tags: the run's identity and links to its artifacts and report. */
export function runTags(facts: RunFacts): Tags {
  const report = reportHtmlUri(facts.runPrefixUri);
  return {
    [TAG.runId]: facts.runId,
    [TAG.kind]: 'run',
    'judgeloop.run_name': facts.runName,
    'judgeloop.judge': facts.judgeName,
    'judgeloop.config_hash': facts.configHash,
    'judgeloop.artifacts': facts.runPrefixUri,
    'judgeloop.report': report,
    'mlflow.runName': facts.runId,
    // The run's description in the tracker's UI (Markdown).
    'mlflow.note.content': clip(
      [
        `Judgeloop run \`${facts.runId}\` (${facts.runName}) of judge \`${facts.judgeName}\`.`,
        '',
        `- artifacts: \`${facts.runPrefixUri}\``,
        `- run report: \`${report}\` (\`judgeloop report ${facts.runId}\`)`,
        `- config hash: \`${facts.configHash}\``,
      ].join('\n'),
      MLFLOW_LIMITS.tagValue,
    ),
  };
}

/** An iteration's child run: its identity, its judge, and links to its summary and artifacts. */
export function iterationTags(facts: Pick<RunFacts, 'runId' | 'runPrefixUri'>, iteration: number, it?: IterationSummary): Tags {
  const prefix = iterationPrefix(facts.runPrefixUri, iteration);
  return {
    [TAG.runId]: facts.runId,
    [TAG.kind]: 'iteration',
    [TAG.iteration]: String(iteration),
    'mlflow.runName': iterationRunName(iteration),
    'judgeloop.artifacts': prefix,
    ...(it
      ? {
          'judgeloop.summary': iterationSummaryUri(facts.runPrefixUri, iteration),
          'judgeloop.model': it.modelUri,
          ...(it.gate ? { 'judgeloop.promoted': String(it.gate.promote), 'judgeloop.decided_by': it.gate.decidedBy } : {}),
        }
      : {}),
  };
}

/** Splits a list into batches of at most `size` (MLflow's per-request limits). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
