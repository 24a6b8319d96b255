/**
 * Pure text for promotions: the results' Promotion section, the progress line while a promotion waits for
 * sign-off, the `approve` command's answer and the `registry` command's report.
 */
import { lineage, type ApprovalOutcome, type RegistryEntry } from '../core/promotion/registry';
import type { RunProgress, RunSummary, SuiteMetrics } from '../core/run/run-types';
import { NONE, mainMetric, pct, renderTable, type Table } from '../core/report/summary-tables';

/** How a user signs off on iteration K of run `workflowId`. */
export function approveHint(workflowId: string, iteration: number): string {
  return `judgeloop approve ${workflowId} --iteration ${iteration}`;
}

/** The progress line while a promotion waits, or null when none does. */
export function awaitingApprovalLine(progress: RunProgress): string | null {
  const a = progress.awaitingApproval;
  if (!a) return null;
  const until = a.deadline ? `; rejected if not decided by ${a.deadline}` : '';
  return `awaiting approval of iteration ${a.iteration} (${approveHint(progress.runId, a.iteration)}; add --reject to reject${until})`;
}

function decisionText(promoted: boolean, decidedBy: string): string {
  const by = decidedBy === 'gate' ? 'by the gate' : decidedBy === 'approval-timeout' ? 'approval timed out' : `by ${decidedBy}`;
  return `${promoted ? 'promoted' : 'kept the champion'} (${by})`;
}

/** The results' Promotion section; empty for summaries of runs without the gate. */
export function promotionLines(summary: RunSummary): string[] {
  const gated = (summary.iterations ?? []).filter((it) => it.gate).sort((a, b) => a.iteration - b.iteration);
  if (!summary.champion && gated.length === 0) return [];
  const lines = ['promotion (evaluation.gate):'];
  const s = summary.startedFrom;
  if (s) {
    lines.push(
      s.kind === 'champion'
        ? `  started from the registry's champion: run ${s.runId}, iteration ${s.iteration} (${s.modelUri})`
        : `  started from the seed judge (${s.modelUri})`,
    );
  }
  for (const it of gated) {
    const g = it.gate!;
    lines.push(`  iteration ${it.iteration}: ${decisionText(g.promote, g.decidedBy)}`);
    for (const r of g.reasons) lines.push(`    - ${r}`);
  }
  const c = summary.champion;
  if (c) {
    const where = c.runId === summary.runId ? `iteration ${c.iteration} of this run` : `run ${c.runId}, iteration ${c.iteration} (unchanged by this run)`;
    lines.push(`  champion: ${where} (${c.modelUri})`);
  }
  lines.push('');
  return lines;
}

/** The `approve` command's answer. */
export function formatApprovalOutcome(o: ApprovalOutcome): string {
  return [
    `iteration ${o.iteration}: ${decisionText(o.promoted, o.decidedBy)}`,
    ...o.reasons.map((r) => `  - ${r}`),
    `champion: run ${o.champion.runId}, iteration ${o.champion.iteration} (${o.champion.modelUri})`,
  ].join('\n');
}

/** Each suite's headline figure (exact agreement or accuracy, %), e.g. `synthetic-heldout 79.0%`. */
function keyMetrics(metrics: Record<string, SuiteMetrics>): string {
  const parts = Object.entries(metrics ?? {}).map(([name, m]) => `${name} ${pct(mainMetric(m))}${mainMetric(m) === null ? '' : '%'}`);
  return parts.length ? parts.join(', ') : NONE;
}

export function registryHistoryTable(history: RegistryEntry[]): Table {
  return {
    header: ['decided at', 'run', 'iter', 'decision', 'decided by', 'champion replaced', 'key metrics (exact % / accuracy %)'],
    rows: history.map((e) => [
      e.decision.at,
      e.runId,
      String(e.iteration),
      e.decision.promoted ? 'promoted' : 'rejected',
      e.decision.decidedBy,
      e.championReplaced ? 'yes' : 'no',
      keyMetrics(e.metrics),
    ]),
    align: ['left', 'left', 'right', 'left', 'left', 'left', 'left'],
  };
}

/** The `registry` command's report: champion, its lineage, then every decision with its reasons. */
export function formatRegistry(judgeName: string, prefixUri: string, champion: RegistryEntry | null, history: RegistryEntry[]): string {
  const lines = [`judge ${judgeName} · registry ${prefixUri}/`, ''];
  if (!champion) {
    lines.push('no champion yet: the first run of this judge registers its seed judge after evaluating it.');
  } else {
    lines.push(`champion: ${champion.modelUri}`, `  run ${champion.runId}, iteration ${champion.iteration}, decided ${champion.decision.at}`);
    const chain = lineage(champion, history);
    lines.push('', 'lineage (newest first; each judge was trained from the next):');
    for (const e of chain.chain) {
      lines.push(`  run ${e.runId} iteration ${e.iteration}: ${e.modelUri}${e.data.pairsUri ? ` (pairs ${e.data.pairsUri})` : ''}`);
    }
    lines.push(`  seed: ${chain.root}${chain.complete ? '' : ' (a parent has no entry here: its run started from judge.seedModel)'}`);
  }
  lines.push('', `history (${history.length} decision${history.length === 1 ? '' : 's'}, oldest first):`);
  if (history.length) {
    lines.push(renderTable(registryHistoryTable(history)));
    for (const e of history) {
      lines.push('', `run ${e.runId} iteration ${e.iteration}: ${e.decision.promoted ? 'promoted' : 'rejected'} by ${e.decision.decidedBy}`);
      for (const r of e.decision.reasons) lines.push(`  - ${r}`);
      if (e.note) lines.push(`  note: ${e.note}`);
    }
  }
  return lines.join('\n');
}
