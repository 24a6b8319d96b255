/**
 * Contamination check (docs/method.md, "Contamination check"): training inputs that also appear in an evaluation
 * suite. Two kinds of match, both on instruction + response:
 *
 * - **exact**: equal after normalisation (Unicode NFKC, lower case, punctuation and symbols removed,
 *   whitespace collapsed);
 * - **near**: word n-gram (default 5-gram) Jaccard similarity at or above a threshold (default 0.8) on the
 *   normalised text. Computed exactly, not estimated: candidates come from prefix filtering (a classic
 *   set-similarity join: two sets with Jaccard >= t must share a token among the rarest |A| - ceil(t|A|) + 1
 *   of each, in any fixed token order; rarest-first keeps the candidate lists short), and each candidate's
 *   Jaccard is then counted in full.
 *
 * A pairwise evaluation example contributes two items, (instruction, chosen) and (instruction, rejected).
 *
 *   const checker = new ContaminationChecker({ nearDuplicateThreshold: 0.8 });
 *   checker.addSuite('heldout', heldoutRows.flatMap(evalItemsOf));
 *   for (const row of train) { const matches = checker.check(row); ... }
 *   const report = checker.report({ excludedTrainRows: 0 });
 *
 * Pure and deterministic (no `node:` imports, no clocks, no randomness): the same inputs give the same
 * report, byte for byte, on every machine.
 */

export interface ContaminationOptions {
  /** Jaccard similarity of word n-gram sets at or above which a pair is a near-duplicate; (0, 1]. */
  nearDuplicateThreshold: number;
  /** Words per shingle (default 5). Texts with fewer words are one shingle: they match only near-exactly. */
  ngram?: number;
  /** The report lists at most this many matching pairs (default 1000); the counts are always complete. */
  maxReportedMatches?: number;
}

/** One text to compare: an id plus the instruction and the response. */
export interface ContaminationItem {
  id: string;
  instruction: string;
  response: string;
}

/** An evaluation item; `side` says which response of a pairwise example it is. */
export interface EvalItem extends ContaminationItem {
  side?: 'chosen' | 'rejected';
}

export interface ContaminationMatch {
  trainId: string;
  suite: string;
  evalId: string;
  side?: 'chosen' | 'rejected';
  kind: 'exact' | 'near';
  /** Jaccard similarity of the n-gram sets (1 for exact matches). */
  similarity: number;
}

export interface SuiteContamination {
  /** Items compared (two per pairwise example). */
  evalItems: number;
  /** Matching (train row, eval item) pairs, exact after normalisation. */
  exactMatches: number;
  /** Matching pairs at or above the threshold that are not exact matches. */
  nearDuplicates: number;
  /** Training rows with at least one match in this suite. */
  trainRowsFlagged: number;
  /** Distinct evaluation ids (examples) hit by at least one training row. */
  evalExamplesHit: number;
}

export interface ContaminationReport {
  normalisation: string;
  ngram: number;
  nearDuplicateThreshold: number;
  trainRows: number;
  /** Training rows with at least one match in any suite. */
  flaggedTrainRows: number;
  /** Flagged rows dropped from the training set (0 unless the run excludes them). */
  excludedTrainRows: number;
  suites: Record<string, SuiteContamination>;
  /** All matching pairs found. */
  matchesTotal: number;
  /** The first `maxReportedMatches` pairs, in training order. */
  matches: ContaminationMatch[];
  matchesTruncated: boolean;
}

export const NORMALISATION = 'NFKC, lower case, punctuation and symbols removed, whitespace collapsed';

/** Case, punctuation and whitespace are ignored: `"Hello,  World!"` and `"hello world"` are equal. */
export function normalizeText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** The exact-match key of an item: its normalised instruction and response. */
export function exactKey(item: { instruction: string; response: string }): string {
  return `${normalizeText(item.instruction)}\u0001${normalizeText(item.response)}`;
}

/** Word n-grams of a normalised text; a text with fewer than n words is one shingle (none when empty). */
export function wordNgrams(normalized: string, n: number): string[] {
  const words = normalized === '' ? [] : normalized.split(' ');
  if (words.length === 0) return [];
  if (words.length < n) return [words.join(' ')];
  const out: string[] = [];
  for (let i = 0; i + n <= words.length; i++) out.push(words.slice(i, i + n).join(' '));
  return out;
}

/** A 53-bit hash of a string (two 32-bit multiplicative hashes mixed), exact as a JavaScript number. */
export function hash53(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a ^= Math.imul(b ^ (b >>> 13), 0xc2b2ae35);
  b = Math.imul(b ^ (b >>> 16), 0x85ebca6b);
  b ^= Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  return (b & 0x1fffff) * 4294967296 + (a >>> 0);
}

/** The item's shingle set: sorted, distinct 53-bit hashes of the word n-grams of instruction + response. */
export function shingleSet(item: { instruction: string; response: string }, n = 5): Float64Array {
  const text = `${normalizeText(item.instruction)} ${normalizeText(item.response)}`.trim();
  const hashes = Float64Array.from(new Set(wordNgrams(text, n).map(hash53)));
  return hashes.sort();
}

/** Jaccard similarity of two sorted sets of distinct numbers (1 when both are empty). */
export function jaccard(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length === 0 && b.length === 0) return 1;
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      shared++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return shared / (a.length + b.length - shared);
}

/** How many of a set's tokens (rarest first) must be indexed/probed so that no pair >= t is missed. */
export function prefixLength(size: number, threshold: number): number {
  if (size === 0) return 0;
  return size - Math.ceil(threshold * size - 1e-9) + 1;
}

/** The items a canonical record contributes: pointwise → one; pairwise → chosen and rejected. */
export function evalItemsOf(record: { id: string; instruction: string; response?: string; chosen?: string; rejected?: string }): EvalItem[] {
  if (typeof record.response === 'string') return [{ id: record.id, instruction: record.instruction, response: record.response }];
  const out: EvalItem[] = [];
  if (typeof record.chosen === 'string') out.push({ id: record.id, instruction: record.instruction, response: record.chosen, side: 'chosen' });
  if (typeof record.rejected === 'string') {
    out.push({ id: record.id, instruction: record.instruction, response: record.rejected, side: 'rejected' });
  }
  return out;
}

interface IndexedItem {
  suite: string;
  id: string;
  side?: 'chosen' | 'rejected';
  shingles: Float64Array;
}

interface SuiteTally {
  evalItems: number;
  exactMatches: number;
  nearDuplicates: number;
  trainRowsFlagged: number;
  evalIdsHit: Set<string>;
}

/**
 * Collects the evaluation suites, then checks training items one at a time (so a training set can be
 * streamed) and tallies the report. Add every suite before the first `check`.
 */
export class ContaminationChecker {
  readonly threshold: number;
  readonly ngram: number;
  readonly maxReportedMatches: number;
  private readonly items: IndexedItem[] = [];
  private readonly exact = new Map<string, number[]>();
  private readonly tallies = new Map<string, SuiteTally>();
  private frequency: Map<number, number> | undefined;
  private prefixIndex: Map<number, number[]> | undefined;
  private trainRows = 0;
  private flagged = 0;
  private matchesTotal = 0;
  private readonly reported: ContaminationMatch[] = [];

  constructor(options: ContaminationOptions) {
    const t = options.nearDuplicateThreshold;
    if (!(t > 0 && t <= 1)) throw new RangeError(`nearDuplicateThreshold must be in (0, 1], got ${String(t)}`);
    const n = options.ngram ?? 5;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ngram must be a positive integer, got ${String(n)}`);
    const cap = options.maxReportedMatches ?? 1000;
    if (!Number.isInteger(cap) || cap < 0) throw new RangeError(`maxReportedMatches must be a non-negative integer, got ${String(cap)}`);
    this.threshold = t;
    this.ngram = n;
    this.maxReportedMatches = cap;
  }

  /** Adds an evaluation suite's items (a suite may be added in several calls). */
  addSuite(name: string, items: Iterable<EvalItem>): void {
    if (this.prefixIndex) throw new Error('addSuite after check: add every suite first');
    let tally = this.tallies.get(name);
    if (!tally) {
      tally = { evalItems: 0, exactMatches: 0, nearDuplicates: 0, trainRowsFlagged: 0, evalIdsHit: new Set() };
      this.tallies.set(name, tally);
    }
    for (const item of items) {
      const at = this.items.length;
      this.items.push({ suite: name, id: item.id, ...(item.side ? { side: item.side } : {}), shingles: shingleSet(item, this.ngram) });
      const key = exactKey(item);
      const list = this.exact.get(key);
      if (list) list.push(at);
      else this.exact.set(key, [at]);
      tally.evalItems++;
    }
  }

  /** Token order: rarer in the evaluation items first; ties (and tokens absent from them) by hash. */
  private sortByRarity(set: Float64Array): Float64Array {
    const freq = this.frequency!;
    return Float64Array.from(set).sort((x, y) => (freq.get(x) ?? 0) - (freq.get(y) ?? 0) || x - y);
  }

  private buildIndex(): Map<number, number[]> {
    const freq = new Map<number, number>();
    for (const it of this.items) for (const h of it.shingles) freq.set(h, (freq.get(h) ?? 0) + 1);
    this.frequency = freq;
    const index = new Map<number, number[]>();
    this.items.forEach((it, at) => {
      const ordered = this.sortByRarity(it.shingles);
      const k = prefixLength(ordered.length, this.threshold);
      for (let i = 0; i < k; i++) {
        const list = index.get(ordered[i]);
        if (list) list.push(at);
        else index.set(ordered[i], [at]);
      }
    });
    this.prefixIndex = index;
    return index;
  }

  /** Every evaluation item that a training item matches, exact ones first, then near-duplicates by item order. */
  check(train: ContaminationItem): ContaminationMatch[] {
    const index = this.prefixIndex ?? this.buildIndex();
    this.trainRows++;
    const found = new Map<number, ContaminationMatch>();
    for (const at of this.exact.get(exactKey(train)) ?? []) {
      const it = this.items[at];
      found.set(at, { trainId: train.id, suite: it.suite, evalId: it.id, ...(it.side ? { side: it.side } : {}), kind: 'exact', similarity: 1 });
    }
    const shingles = shingleSet(train, this.ngram);
    // Tokens absent from every evaluation item come first in the order and can match nothing: when they
    // fill the whole prefix there is no candidate, and otherwise only the rest needs sorting.
    const freq = this.frequency!;
    const present = shingles.filter((h) => freq.has(h));
    const absent = shingles.length - present.length;
    const k = prefixLength(shingles.length, this.threshold);
    const candidates = new Set<number>();
    if (k > absent) {
      const ordered = this.sortByRarity(present);
      for (let i = 0; i < k - absent; i++) for (const at of index.get(ordered[i]) ?? []) candidates.add(at);
    }
    const near: number[] = [...candidates].filter((at) => !found.has(at)).sort((x, y) => x - y);
    for (const at of near) {
      const it = this.items[at];
      const size = it.shingles.length;
      if (size < this.threshold * shingles.length - 1e-9 || shingles.length < this.threshold * size - 1e-9) continue;
      const sim = jaccard(shingles, it.shingles);
      if (sim + 1e-12 >= this.threshold) {
        found.set(at, { trainId: train.id, suite: it.suite, evalId: it.id, ...(it.side ? { side: it.side } : {}), kind: 'near', similarity: sim });
      }
    }
    const matches = [...found.entries()]
      .sort(([a, ma], [b, mb]) => (ma.kind === mb.kind ? a - b : ma.kind === 'exact' ? -1 : 1))
      .map(([, m]) => m);
    if (matches.length) {
      this.flagged++;
      const suitesHit = new Set<string>();
      for (const m of matches) {
        const tally = this.tallies.get(m.suite)!;
        if (m.kind === 'exact') tally.exactMatches++;
        else tally.nearDuplicates++;
        tally.evalIdsHit.add(m.evalId);
        suitesHit.add(m.suite);
        this.matchesTotal++;
        if (this.reported.length < this.maxReportedMatches) this.reported.push(m);
      }
      for (const s of suitesHit) this.tallies.get(s)!.trainRowsFlagged++;
    }
    return matches;
  }

  report(opts: { excludedTrainRows?: number } = {}): ContaminationReport {
    const suites: Record<string, SuiteContamination> = {};
    for (const [name, t] of this.tallies) {
      suites[name] = {
        evalItems: t.evalItems,
        exactMatches: t.exactMatches,
        nearDuplicates: t.nearDuplicates,
        trainRowsFlagged: t.trainRowsFlagged,
        evalExamplesHit: t.evalIdsHit.size,
      };
    }
    return {
      normalisation: NORMALISATION,
      ngram: this.ngram,
      nearDuplicateThreshold: this.threshold,
      trainRows: this.trainRows,
      flaggedTrainRows: this.flagged,
      excludedTrainRows: opts.excludedTrainRows ?? 0,
      suites,
      matchesTotal: this.matchesTotal,
      matches: this.reported.slice(),
      matchesTruncated: this.matchesTotal > this.reported.length,
    };
  }
}
