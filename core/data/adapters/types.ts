/**
 * The adapter interface: a pure function from one row of a published format to one canonical record
 * (core/data/records.ts), or a reason why the row cannot be used. Rows that fail are quarantined with their
 * reason by the ingest activity; adapters never throw on bad data.
 */
import type { PairwiseExample, PointwiseExample } from '../records';

export type AdapterResult<T> = { ok: true; record: T } | { ok: false; reason: string };

export type AdapterKind = 'pointwise' | 'pairwise';

/** Options a dataset source may give its adapter. Adapters ignore the options they have no use for. */
export interface AdapterOptions {
  /**
   * Prefix of generated ids (`<idPrefix>-<index>`), for formats whose rows have no id of their own
   * (prometheus-absolute, llmbar); usually the suite or dataset name.
   */
  idPrefix?: string;
  /** Subset name written into pairwise records (llmbar), e.g. `llmbar-natural`. */
  subset?: string;
  /**
   * For adapters whose rows are joined by id to a table read from the dataset's `uri` (biggen: the BiGGen
   * instances keyed by id, while the rows come from the `join` file). Built with `instanceTable` (biggen.ts).
   */
  instances?: ReadonlyMap<string, unknown>;
}

interface AdapterBase<N extends string> {
  name: N;
  /** One line for `describeAdapters()` and error messages. */
  description: string;
}

export interface PointwiseAdapter<N extends string = string> extends AdapterBase<N> {
  kind: 'pointwise';
  /** `index` is the row's 0-based position in its source (used for generated ids and provenance). */
  adaptRow(raw: unknown, index: number): AdapterResult<PointwiseExample>;
}

export interface PairwiseAdapter<N extends string = string> extends AdapterBase<N> {
  kind: 'pairwise';
  /** `index` is the row's 0-based position in its source (used for generated ids and provenance). */
  adaptRow(raw: unknown, index: number): AdapterResult<PairwiseExample>;
}

export type Adapter = PointwiseAdapter | PairwiseAdapter;

/** Helpers shared by the adapters. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string ("${v.slice(0, 37)}...")` : `"${v}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `a ${typeof v}`;
}

export function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

/** `<prefix>-<index>`; the index must be a non-negative integer. */
export function generatedId(prefix: string, index: number): string {
  return `${prefix}-${index}`;
}

export function checkIndex(index: number): string | undefined {
  return Number.isInteger(index) && index >= 0 ? undefined : `row index must be a non-negative integer, got ${String(index)}`;
}

/** An integer score given as a number or as a string of digits (`"3"`, as some Python writers emit). */
export function readIntScore(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}
