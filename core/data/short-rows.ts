/**
 * Cuts a small-judge dataset from a published pointwise set: rows whose rendered prompt is short enough
 * for a CPU, split into train and validation by instruction (every response to one instruction lands on
 * the same side, so validation never grades an instruction the judge trained on). Pure and deterministic:
 * the split depends on the instruction text only, never on the file's order. `scripts/cut-real-small.ts`
 * writes `datasets/real-small/` with it.
 *
 * Why characters and not tokens: the cut must not depend on which tokenizer a user has built. For
 * SmolLM2's tokenizer and `prompts/pointwise-short-v1.txt`, 2,000 rendered characters come to about 500
 * tokens after the chat template (datasets/real-small/README.md gives the measured range).
 */
import { createHash } from 'node:crypto';
import { getAdapter } from './adapters/index';
import { renderPointwise, type Template } from '../judging/prompt';
import type { PointwiseExample } from './records';

export interface ShortRowsOptions {
  /** Keep rows whose rendered prompt (system + user text) has at most this many characters. */
  maxPromptChars: number;
  scale: { min: number; max: number };
  marker: string;
}

export interface ShortRow {
  /** 0-based line of the row in its source file. */
  index: number;
  /** The source row, unmodified. */
  raw: unknown;
  example: PointwiseExample;
  promptChars: number;
}

export interface ShortRowsResult {
  rows: ShortRow[];
  /** Rows the adapter refused, with its reason (a cut never drops a row silently). */
  refused: { index: number; reason: string }[];
  /** Rows longer than the limit. */
  tooLong: number;
}

/** The `prometheus-absolute` rows of `lines` whose prompt, rendered with `template`, fits `maxPromptChars`. */
export function shortPrometheusRows(lines: readonly string[], template: Template, options: ShortRowsOptions): ShortRowsResult {
  const adapter = getAdapter('prometheus-absolute', { idPrefix: 'row' });
  const result: ShortRowsResult = { rows: [], refused: [], tooLong: 0 };
  lines.forEach((line, index) => {
    const raw: unknown = JSON.parse(line);
    const adapted = adapter.adaptRow(raw, index);
    if (!adapted.ok) {
      result.refused.push({ index, reason: adapted.reason });
      return;
    }
    const messages = renderPointwise(template, adapted.record, { scale: options.scale, marker: options.marker, systemPlacement: 'system' });
    const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
    if (promptChars > options.maxPromptChars) result.tooLong += 1;
    else result.rows.push({ index, raw, example: adapted.record, promptChars });
  });
  return result;
}

/** A stable key per instruction: its sha256, so the split does not follow the file's order. */
export function instructionKey(instruction: string): string {
  return createHash('sha256').update(instruction.trim()).digest('hex');
}

/**
 * Splits rows by instruction: instructions in ascending key order go to validation until it holds at
 * least `validationRows` rows; the rest train. Each side keeps the source order.
 */
export function splitByInstruction(rows: readonly ShortRow[], validationRows: number): { train: ShortRow[]; validation: ShortRow[] } {
  const keyOf = new Map(rows.map((r) => [r, instructionKey(r.example.instruction)] as const));
  const rowsPerKey = new Map<string, number>();
  for (const key of keyOf.values()) rowsPerKey.set(key, (rowsPerKey.get(key) ?? 0) + 1);
  const validationKeys = new Set<string>();
  let taken = 0;
  for (const key of [...rowsPerKey.keys()].sort()) {
    if (taken >= validationRows) break;
    validationKeys.add(key);
    taken += rowsPerKey.get(key)!;
  }
  const validation = rows.filter((r) => validationKeys.has(keyOf.get(r)!));
  const train = rows.filter((r) => !validationKeys.has(keyOf.get(r)!));
  return { train, validation };
}
