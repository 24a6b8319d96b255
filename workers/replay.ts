/**
 * Replay for debugging: runs recorded workflow histories through the current workflow code (a replay worker,
 * no server needed) and says, per history, whether the code reproduces it; where it does not, which history
 * event it diverges at and what the code wanted to do there instead.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { payloadCodecsFromEnv } from './codec';
import { firstLine } from '../core/common/errors';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface RecordedHistory {
  workflowId: string;
  history: History;
  /** Where it came from: a file path, or `server`. */
  source: string;
}

export interface ReplayOutcome {
  workflowId: string;
  workflowType: string;
  source: string;
  events: number;
  deterministic: boolean;
  /** When not deterministic: the error, and the history event it points at (with its neighbours). */
  error?: string;
  divergence?: { eventId: number; context: string[] };
}

/** The short name of an event type (`EVENT_TYPE_ACTIVITY_TASK_SCHEDULED` → `ActivityTaskScheduled`). */
export function eventTypeName(e: HistoryEvent): string {
  const raw = e.eventType as unknown;
  const text = typeof raw === 'string' ? raw : String(raw ?? '');
  if (/^\d+$/.test(text)) {
    const attrs = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
    return attrs ? attrs[0].toUpperCase() + attrs.slice(1, -'EventAttributes'.length) : `event type ${text}`;
  }
  return text
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

/** One line for an event: `23 ActivityTaskScheduled trainJudge`, `5 StartChildWorkflowExecutionInitiated run-iter-0`. */
export function describeEvent(e: HistoryEvent): string {
  const detail =
    e.activityTaskScheduledEventAttributes?.activityType?.name ??
    e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ??
    e.markerRecordedEventAttributes?.markerName ??
    e.timerStartedEventAttributes?.timerId ??
    e.workflowExecutionStartedEventAttributes?.workflowType?.name ??
    '';
  return `${String(e.eventId)} ${eventTypeName(e)}${detail ? ` ${detail}` : ''}`;
}

export function workflowTypeOf(history: History): string {
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
}

/** The ids of the child workflows a history started (the run's iterations). */
export function childWorkflowIds(history: History): string[] {
  return (history.events ?? []).flatMap((e) => {
    const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    return id ? [id] : [];
  });
}

/**
 * The history event a nondeterminism error names (the SDK's messages say e.g. "… at event 23 …" or
 * "… eventId: 23 …"), else the first event after the last completed workflow task: where replay stopped.
 */
export function divergenceEvent(message: string, history: History): number | null {
  const m = /HistoryEvent\(id: (\d+)/.exec(message) ?? /event(?:[ _]?id)?[:= ]+(\d+)/i.exec(message) ?? /\bevent\s+#?(\d+)/i.exec(message);
  if (m) return Number(m[1]);
  const events = history.events ?? [];
  return events.length ? Number(events[events.length - 1].eventId) : null;
}

function context(history: History, eventId: number, around = 3): string[] {
  const events = history.events ?? [];
  const at = events.findIndex((e) => Number(e.eventId) === eventId);
  if (at < 0) return [];
  return events.slice(Math.max(0, at - around), at + around + 1).map((e) => `${Number(e.eventId) === eventId ? '>' : ' '} ${describeEvent(e)}`);
}

/**
 * A history file as `temporal workflow show --output json` writes it (or scripts/record-histories.ts). The
 * file does not hold the workflow id, which replay needs (the run names its children after it): it is
 * `workflowId`, else the file's name without `.json` (the recorder names files so).
 */
export async function readHistoryFile(path: string, workflowId?: string): Promise<RecordedHistory> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a JSON history (${firstLine(e)}); export one with \`temporal workflow show --workflow-id ID --output json > FILE\``);
  }
  let history: History;
  try {
    history = historyFromJSON(json);
  } catch (e) {
    throw new Error(`${path}: not a workflow history (${firstLine(e)})`);
  }
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`${path}: the first event is not WorkflowExecutionStarted; is this a whole history?`);
  return { workflowId: workflowId ?? basename(path).replace(/\.json$/, ''), history, source: path };
}

/** `payloadCodecs`: default, the worker's (JUDGELOOP_CODEC_KEYS), so histories of encrypting workers replay. */
export async function replayHistories(
  histories: RecordedHistory[],
  workflowBundle: WorkflowBundleWithSourceMap,
  payloadCodecs: PayloadCodec[] = payloadCodecsFromEnv(),
): Promise<ReplayOutcome[]> {
  const byId = new Map(histories.map((h) => [h.workflowId, h]));
  const outcomes: ReplayOutcome[] = [];
  const results = Worker.runReplayHistories(
    { workflowBundle, replayName: 'judgeloop-replay', dataConverter: { payloadCodecs } },
    histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
  );
  for await (const r of results) {
    const h = byId.get(r.workflowId)!;
    const base = { workflowId: r.workflowId, workflowType: workflowTypeOf(h.history), source: h.source, events: h.history.events?.length ?? 0 };
    if (!r.error) {
      outcomes.push({ ...base, deterministic: true });
      continue;
    }
    const message = r.error.message + (r.error.cause instanceof Error ? `: ${r.error.cause.message}` : '');
    const eventId = divergenceEvent(message, h.history);
    outcomes.push({
      ...base,
      deterministic: false,
      error: message,
      ...(eventId !== null ? { divergence: { eventId, context: context(h.history, eventId) } } : {}),
    });
  }
  return outcomes;
}

export function formatReplayOutcomes(outcomes: ReplayOutcome[]): string {
  const lines: string[] = [];
  for (const o of outcomes) {
    if (o.deterministic) {
      lines.push(`deterministic    ${o.workflowId} (${o.workflowType}, ${o.events} events, ${o.source})`);
      continue;
    }
    lines.push(`NONDETERMINISTIC ${o.workflowId} (${o.workflowType}, ${o.events} events, ${o.source})`);
    lines.push(`  ${o.error?.split('\n').join('\n  ')}`);
    if (o.divergence) {
      lines.push(`  diverges at history event ${o.divergence.eventId}; the history around it:`);
      for (const c of o.divergence.context) lines.push(`    ${c}`);
    }
  }
  const bad = outcomes.filter((o) => !o.deterministic).length;
  lines.push(
    bad === 0
      ? `${outcomes.length} histor${outcomes.length === 1 ? 'y replays' : 'ies replay'} deterministically with the current workflow code`
      : `${bad} of ${outcomes.length} diverge: the workflow code changed in a way these runs cannot follow; guard the change with patched() (docs/operations.md, "Replay for debugging")`,
  );
  return lines.join('\n');
}
