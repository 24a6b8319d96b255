/** Reading benchmark files and running their rows through an adapter, for the adapter tests. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AdapterResult } from '../../core/adapters';

/** ../shared/benchmarks, beside the repository. */
export const BENCH = path.resolve(__dirname, '../../../shared/benchmarks');
export const ROOT = path.resolve(__dirname, '../..');

export function readJson(file: string): unknown {
  assert.ok(existsSync(file), `missing ${file}: the shared benchmarks folder must sit beside the repository`);
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

export function readJsonRows(file: string): unknown[] {
  const rows = readJson(file);
  assert.ok(Array.isArray(rows), `${file} is not a JSON list`);
  return rows;
}

export function readJsonl(file: string): unknown[] {
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
