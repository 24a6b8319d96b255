/** Reading benchmark files and running their rows through an adapter, for the adapter tests. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AdapterResult } from '../../core/data/adapters';

export const ROOT = path.resolve(__dirname, '../..');
/** The in-repository copies of the published judge benchmarks (datasets/benchmarks/ATTRIBUTION.md). */
export const BENCH = path.join(ROOT, 'datasets/benchmarks');

function assertExists(file: string): void {
  assert.ok(
    existsSync(file),
    `missing ${file}: ${file.startsWith(BENCH) ? 'the benchmark copies are tracked in the repository (datasets/benchmarks/ATTRIBUTION.md tells how they were cut)' : 'no such file'}`,
  );
}

/** A JSONL file's rows (blank lines skipped); fails, saying where the file should come from, when it is missing. */
export function readJsonl(file: string): unknown[] {
  assertExists(file);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** Every row through `adapt`: the records of the rows it accepts and the reasons of those it refuses. */
export function adaptAll<T>(rows: unknown[], adapt: (raw: unknown, i: number) => AdapterResult<T>) {
  const ok: T[] = [];
  const failed: Array<{ index: number; reason: string }> = [];
  rows.forEach((row, index) => {
    const r = adapt(row, index);
    if (r.ok) ok.push(r.record);
    else failed.push({ index, reason: r.reason });
  });
  return { ok, failed };
}
