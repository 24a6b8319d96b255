/**
 * Reading the rows that another step or a job wrote, each checked against its format (core/run/formats.ts):
 * a broken row stops the step, non-retryable, with the file, the row and what is wrong. Shared by the steps;
 * not a step itself.
 */
import { ApplicationFailure } from '@temporalio/common';
import { brokenRowMessage, checkRow, type RowFormatName, type RowOf, type RowWriter } from '../../core/run/formats';
import type { ObjectStore } from '../storage/object-store';

/** The failure for a broken row: `InvalidJobOutput` for a job's output, `InvalidData` for a step's. */
export function brokenRow(uri: string, row: number, format: RowFormatName, reason: string, writer: RowWriter): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'job' in writer ? 'InvalidJobOutput' : 'InvalidData',
    message: brokenRowMessage(uri, row, format, reason, writer),
    nonRetryable: true,
  });
}

/**
 * The rows of a JSONL object, each checked against `format`. Rows are counted as `readJsonl` yields them (the
 * file's non-blank lines; the steps and the jobs write none).
 */
export async function* readRows<N extends RowFormatName>(
  store: Pick<ObjectStore, 'readJsonl'>,
  uri: string,
  format: N,
  writer: RowWriter,
): AsyncGenerator<RowOf<N>> {
  let row = 0;
  for await (const value of store.readJsonl<unknown>(uri)) {
    row++;
    const checked = checkRow(format, value);
    if (!checked.ok) throw brokenRow(uri, row, format, checked.reason, writer);
    yield checked.record;
  }
}
