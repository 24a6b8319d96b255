/**
 * The bad-input corpus (test/bad-input/, issue 14 §3): loading its cases, building each input from its
 * description, and the "Bad input" section of docs/reliability.md, which is rendered from the corpus so the
 * two cannot disagree (test/unit/bad-input.test.ts compares them; `node --import tsx test/support/bad-input.ts
 * --write` rewrites the section after the corpus changes).
 *
 * One JSON file per case; each holds what it tries (`what`), the input and the expected outcome (`expect`):
 * - configs/: a patch over `_base.json` (or `base`), `expect.problems`: path → fragments of its message;
 * - rows/: a dataset file built from `content` parts, `expect`: rows kept, quarantined lines with fragments
 *   of their reasons, fields kept verbatim, or `error` (the dataset fails) with fragments;
 * - outputs/: a model output built from `text` parts, `expect`: parse status, reason, fragments of the detail;
 * - ids/: a run id, `expect`: `accepted` or `error` fragments;
 * - cli/: an argv, `expect`: exit code, fragments of stderr, the usage line printed;
 * - html/payloads.json: script-bearing strings put into every field of every HTML page the project writes.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REVIEW_FORMAT, type BlindReview } from '../../core/review/human-review';
import type { RunSummary } from '../../core/run/run-types';
import { realisticRunSummary } from '../fixtures/run-summary';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CORPUS = path.join(ROOT, 'test', 'bad-input');
export const DOC = path.join(ROOT, 'docs', 'reliability.md');

export const KINDS = ['configs', 'rows', 'outputs', 'ids', 'cli', 'html'] as const;
export type Kind = (typeof KINDS)[number];

export interface Case<T> {
  name: string;
  file: string;
  spec: T;
}

/** The cases of one kind, by file name; files starting with `_` are bases, not cases. */
export function loadCases<T>(kind: Exclude<Kind, 'html'>): Array<Case<T>> {
  const dir = path.join(CORPUS, kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('_'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), file: path.join(dir, f), spec: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as T }));
}

// ------------------------------------------------------------------------------------------------ configs

export interface ConfigCase {
  what: string;
  base?: string;
  /** Dotted paths (numeric segments index arrays) → values. */
  set?: Record<string, unknown>;
  unset?: string[];
  expect: { problems: Record<string, string[]> };
}

type Json = Record<string, unknown> | unknown[];

function step(container: Json, key: string): unknown {
  return Array.isArray(container) ? container[Number(key)] : container[key];
}

function assign(container: Json, key: string, value: unknown): void {
  if (Array.isArray(container)) container[Number(key)] = value;
  else container[key] = value;
}

export function buildConfig(spec: ConfigCase): unknown {
  const raw = JSON.parse(readFileSync(path.join(CORPUS, 'configs', spec.base ?? '_base.json'), 'utf8')) as Record<string, unknown>;
  for (const [dotted, value] of Object.entries(spec.set ?? {})) {
    const keys = dotted.split('.');
    let cur: Json = raw;
    for (const k of keys.slice(0, -1)) {
      let next = step(cur, k);
      if (typeof next !== 'object' || next === null) {
        next = {};
        assign(cur, k, next);
      }
      cur = next as Json;
    }
    assign(cur, keys[keys.length - 1], value);
  }
  for (const dotted of spec.unset ?? []) {
    const keys = dotted.split('.');
    let cur: Json = raw;
    for (const k of keys.slice(0, -1)) cur = step(cur, k) as Json;
    if (Array.isArray(cur)) cur.splice(Number(keys[keys.length - 1]), 1);
    else delete cur[keys[keys.length - 1]];
  }
  return raw;
}

// --------------------------------------------------------------------------------------------------- rows

/** A canonical pointwise row that every adapter check accepts; `good` parts start from it. */
export const GOOD_ROW = {
  instruction: 'What is 2+2?',
  response: 'The answer is 4.',
  rubric: {
    criteria: 'Is the answer correct?',
    score1: 'Wrong.',
    score2: 'Mostly wrong.',
    score3: 'Partly right.',
    score4: 'Right, unclear.',
    score5: 'Right and clear.',
  },
  gold_score: 4,
};

export type RowsPart =
  | { text: string }
  | { hex: string }
  | { row: Record<string, unknown>; eol?: string }
  | {
      good: string;
      with?: Record<string, unknown>;
      without?: string[];
      /** Grows one string field until the row's JSON is this many bytes. */
      pad?: { field: string; bytes: number };
      eol?: string;
    };

export interface RowsCase {
  what: string;
  adapter?: string;
  /** `jsonl` (default) or `json` (one array). */
  file?: 'jsonl' | 'json';
  eol?: string;
  maxInvalidFraction?: number;
  content: RowsPart[];
  expect:
    | {
        rows: number;
        quarantined: Array<{ line?: number; index?: number; reason: string[] }>;
        kept?: Array<{ id: string; field: string; equals?: unknown; absent?: boolean }>;
      }
    | { error: string[] };
}

function goodRow(part: Extract<RowsPart, { good: string }>): Record<string, unknown> {
  const row: Record<string, unknown> = { id: part.good, ...structuredClone(GOOD_ROW), ...(part.with ?? {}) };
  for (const k of part.without ?? []) delete row[k];
  if (part.pad) {
    const base = Buffer.byteLength(JSON.stringify(row));
    row[part.pad.field] = String(row[part.pad.field] ?? '') + 'x'.repeat(Math.max(0, part.pad.bytes - base));
  }
  return row;
}

/** The dataset file's bytes. */
export function rowsFileBytes(spec: RowsCase): Buffer {
  const eol = spec.eol ?? '\n';
  return Buffer.concat(
    spec.content.map((part) => {
      if ('text' in part) return Buffer.from(part.text, 'utf8');
      if ('hex' in part) return Buffer.from(part.hex, 'hex');
      const row = 'row' in part ? part.row : goodRow(part);
      return Buffer.from(JSON.stringify(row) + (part.eol ?? eol), 'utf8');
    }),
  );
}

// ------------------------------------------------------------------------------------------------ outputs

export type TextPart = string | { repeat: string; times: number } | { hex: string };

export interface OutputCase {
  what: string;
  parser: 'pointwise' | 'pairwise';
  /** `job-output`: the text travels as a line of the generation job's output file (bytes, then the score step's reader). */
  source?: 'job-output';
  text: TextPart[];
  /** Fields of the job's output row that replace the generated ones (e.g. `text: null`). */
  raw?: Record<string, unknown>;
  maxMs?: number;
  expect: { status: 'ok'; score?: number; verdict?: 'A' | 'B' } | { status: 'unparseable'; reason: string; detail?: string[] };
}

/** The output as a string (hex parts decoded as UTF-8 with replacement, as a lenient reader would). */
export function outputText(spec: OutputCase): string {
  return spec.text
    .map((p) => (typeof p === 'string' ? p : 'repeat' in p ? p.repeat.repeat(p.times) : Buffer.from(p.hex, 'hex').toString('utf8')))
    .join('');
}

/** One line of a generation job's output file holding the output (hex parts as raw bytes inside the JSON string). */
export function jobOutputLine(spec: OutputCase): Buffer {
  const head = { request_id: 'req-1', example_id: 'ex-1', sample_index: 0, seed: 7, prompt_hash: 'ph', ...(spec.raw ?? {}) };
  if (spec.raw && 'text' in spec.raw) return Buffer.from(JSON.stringify(head) + '\n');
  const text = Buffer.concat(
    spec.text.map((p) =>
      typeof p === 'string'
        ? Buffer.from(JSON.stringify(p).slice(1, -1), 'utf8')
        : 'repeat' in p
          ? Buffer.from(JSON.stringify(p.repeat.repeat(p.times)).slice(1, -1), 'utf8')
          : Buffer.from(p.hex, 'hex'),
    ),
  );
  const json = JSON.stringify({ ...head, text: '\u0000' });
  const [before, after] = json.split('"\\u0000"');
  return Buffer.concat([Buffer.from(`${before}"`), text, Buffer.from(`"${after}\n`)]);
}

// ----------------------------------------------------------------------------------------------- ids, cli

export interface IdCase {
  what: string;
  id: string;
  expect: { accepted: true } | { error: string[] };
}

export interface CliCase {
  what: string;
  argv: string[];
  expect: { exit: number; stderr: string[]; usage?: string };
}

/** argv with corpus paths made absolute, so the case runs from any working directory. */
export function cliArgv(spec: CliCase): string[] {
  return spec.argv.map((a) => (a.startsWith('test/bad-input/') ? path.join(ROOT, a) : a));
}

export interface HtmlPayload {
  what: string;
  text: string;
}

export function htmlPayloads(): HtmlPayload[] {
  return JSON.parse(readFileSync(path.join(CORPUS, 'html', 'payloads.json'), 'utf8')) as HtmlPayload[];
}

/** Every string value of `v` replaced by a payload in turn (and, for the report, every suite name too). */
function poison<T>(v: T, next: () => string): T {
  if (typeof v === 'string') return next() as T;
  if (Array.isArray(v)) return v.map((x) => poison(x, next)) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x, next)])) as T;
  return v;
}

function cycler(): () => string {
  const payloads = htmlPayloads().map((p) => p.text);
  let i = 0;
  return () => payloads[i++ % payloads.length];
}

/** The report's summary with payloads in every string, suite names (keys of each iteration's eval) included. */
export function hostileSummary(): RunSummary {
  const next = cycler();
  const s = poison(realisticRunSummary(), next);
  const names = new Map<string, string>();
  for (const it of s.iterations) {
    it.eval = Object.fromEntries(Object.entries(it.eval).map(([k, v]) => {
      if (!names.has(k)) names.set(k, `${next()} ${names.size}`);
      return [names.get(k)!, v];
    }));
  }
  return s;
}

export function hostileReview(): BlindReview {
  const next = cycler();
  return {
    format: REVIEW_FORMAT,
    id: next(),
    created: next(),
    items: htmlPayloads().map(() => ({
      itemId: next(),
      instruction: next(),
      response: next(),
      criteria: next(),
      scoreDescriptions: [next(), next(), next(), next(), next()],
      a: { rationale: next(), score: 4 },
      b: { rationale: next(), score: null },
    })),
  };
}

// ---------------------------------------------------------------------------------------- the doc section

const BEGIN = '<!-- bad-input:begin (generated from test/bad-input by test/support/bad-input.ts; do not edit by hand) -->';
const END = '<!-- bad-input:end -->';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function quoted(fragments: string[]): string {
  return fragments.map((f) => `“${f}”`).join(', ');
}

/** The generated part of `## Bad input`: one table per kind, one line per case, its outcome from `expect`. */
export function renderBadInputTables(): string {
  const out: string[] = [];
  const table = (title: string, intro: string, rows: Array<[string, string, string]>) => {
    out.push(`### ${title}`, '', intro, '', '| case | input | outcome |', '| --- | --- | --- |');
    for (const [name, what, outcome] of rows) out.push(`| \`${name}\` | ${cell(what)} | ${cell(outcome)} |`);
    out.push('');
  };
  table(
    'Configs (`test/bad-input/configs/`)',
    'Through `checkConfig` (cli/config-file.ts; the workflow validates with the same schema). Outcome: the problems, each at its path, all at once; `judgeloop validate` exits 2.',
    loadCases<ConfigCase>('configs').map(({ name, spec }) => [
      name,
      spec.what,
      `error at ${Object.keys(spec.expect.problems).map((p) => `\`${p}\``).join(', ')}`,
    ]),
  );
  table(
    'Dataset rows (`test/bad-input/rows/`)',
    'Through the prepare step\'s ingest (`ingestDataset`, activities/steps/prepare.ts), from a local file and from S3. A quarantined row goes to the dataset\'s `quarantine.jsonl` with its line and reason, and is counted in the run summary; the run fails only past `data.maxInvalidFraction` or with no valid row.',
    loadCases<RowsCase>('rows').map(({ name, spec }) => {
      const e = spec.expect;
      if ('error' in e) return [name, spec.what, `the dataset fails: ${quoted(e.error.slice(0, 2))}`];
      const q = e.quarantined.map((x) => `${x.line !== undefined ? `line ${x.line}` : `row ${x.index}`} (${quoted(x.reason.slice(0, 1))})`);
      const kept = e.kept?.length ? `; kept verbatim: ${[...new Set(e.kept.map((k) => k.field))].join(', ')}` : '';
      return [name, spec.what, `${e.rows} row${e.rows === 1 ? '' : 's'} accepted${q.length ? `; quarantined: ${q.join(', ')}` : ''}${kept}`];
    }),
  );
  table(
    'Model outputs (`test/bad-input/outputs/`)',
    'Through `parseJudgment` / `parsePairwiseVerdict` (core/judging/judgment.ts) and the score step\'s reader (`rawJudgmentOf`, `scoreRawJudgment`). An unparseable judgment is kept with its reason and counted in the parse rate; 100k-character outputs parse in linear time.',
    loadCases<OutputCase>('outputs').map(({ name, spec }) => {
      const e = spec.expect;
      const outcome = e.status === 'ok' ? `parsed: ${e.score !== undefined ? `score ${e.score}` : `verdict ${e.verdict}`}` : `unparseable, \`${e.reason}\``;
      return [name, spec.what, `${outcome}${spec.maxMs ? ` (under ${spec.maxMs} ms)` : ''}`];
    }),
  );
  table(
    'Run ids (`test/bad-input/ids/`)',
    'Through `judgeloop run --id`, `seeds --id-prefix`, `schedule create --id` and the prepare step (a run started by another client). A run id names the run\'s folder of S3 keys.',
    loadCases<IdCase>('ids').map(({ name, spec }) => [name, spec.what, 'accepted' in spec.expect ? 'accepted' : `refused: ${quoted(spec.expect.error.slice(0, 1))}`]),
  );
  table(
    'Command line (`test/bad-input/cli/`)',
    'Through `main` (cli/judgeloop.ts): the error names the flag or argument, then the command\'s usage line and `judgeloop help COMMAND`.',
    loadCases<CliCase>('cli').map(({ name, spec }) => [name, spec.what, `exit ${spec.expect.exit}: ${quoted(spec.expect.stderr.slice(0, 1))}`]),
  );
  table(
    'HTML pages (`test/bad-input/html/payloads.json`)',
    'Each payload goes into every text field of the run report (core/report/report-html.ts) and the blind-review page (core/review/human-review-page.ts); the pages are checked as text and opened in Chromium (test/integration/report-browser.test.ts).',
    htmlPayloads().map((p, i) => [`payload ${i + 1}`, p.what, 'shown as text; nothing runs or loads']),
  );
  return [BEGIN, '', ...out, END].join('\n');
}

/** The generated part of the doc as it stands, or null when its markers are missing. */
export function docTables(doc: string): string | null {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  return a < 0 || b < a ? null : doc.slice(a, b + END.length);
}

if (require.main === module && process.argv.includes('--write')) {
  const doc = readFileSync(DOC, 'utf8');
  const current = docTables(doc);
  if (current === null) throw new Error(`${DOC} has no bad-input markers: add them under "## Bad input"`);
  writeFileSync(DOC, doc.replace(current, renderBadInputTables()));
  console.log(`rewrote the bad-input tables of ${path.relative(ROOT, DOC)}`);
}
