/**
 * The row formats that cross S3 (core/run/formats.ts): one module owns them, the steps import them from
 * there (never from each other), the derived types are the interfaces they replaced, and a step that reads a
 * broken row stops with the file, the row and what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import * as formats from '../../core/run/formats';
import {
  ROW_FORMATS,
  brokenRowMessage,
  checkRow,
  fastCheckOf,
  type EvalOutputRow,
  type EvalRequest,
  type GenerationRequest,
  type JudgedRef,
  type MetaRating,
  type MetaRequest,
  type ParsedSample,
  type RawJudgment,
  type RelativeJudgment,
  type RelativeOutputRow,
  type RelativeRequest,
  type Rescore,
  type RescoreRequest,
  type RowFormatName,
  type ScoredJudgment,
  type SftExample,
  type TrainingMetricsRow,
} from '../../core/run/formats';
import type { Judgment, MarkerSource } from '../../core/data/records';
import type { RelativeOrder } from '../../core/evaluation/relative';
import { readRows } from '../../activities/steps/rows';
import { rawJudgmentOf } from '../../activities/steps/score';
import { curatePairs, type PairStore } from '../../activities/steps/pair';
import { validateConfig } from '../../core/config/config';
import localConfig from '../../configs/local.json';

const ROOT = path.resolve(__dirname, '../..');
const STEPS = path.join(ROOT, 'activities', 'steps');

// ------------------------------------------------------------------------------------- the import rule

/**
 * Files in activities/steps/ that are shared helpers, not steps: a step may import types from them. Each with
 * why it is shared.
 */
const SHARED_HELPERS: Record<string, string> = {
  'prompts.ts': 'loads and renders the prompt templates every judging step uses (LoadedTemplate)',
  'judge-side.ts': 'the input and helpers of the two judge-side steps, meta-judge and consistency (JudgeSideInput)',
  'generation.ts': 'what the steps that run generate.py share: a request set, the job activity\'s input and result (RequestSet, GenerationInput, GeneratedJudgments)',
  'rows.ts': 'reads rows checked against their formats (core/run/formats.ts)',
};

/** Type imports between two steps that are allowed, each with why: none of them is a format that crosses S3. */
const ALLOWED_TYPE_IMPORTS: Record<string, string> = {
  'evaluate.ts <- prepare.ts: PreparedDataset':
    "the prepare step's summary of a dataset, which the workflow hands to the evaluate step (it crosses Temporal, not S3)",
};

/** Re-exports of formats from a step, each with why (a caller outside the steps imports it from there). */
const ALLOWED_FORMAT_REEXPORTS: Record<string, string> = {
  'evaluate.ts: RelativeJudgment': 'test/integration/relative-eval.test.ts and test/unit/relative-eval.test.ts import it from activities/steps/evaluate',
  'evaluate.ts: RelativeRequest': 'test/integration/relative-eval.test.ts imports it from activities/steps/evaluate',
};

const stepFiles = readdirSync(STEPS).filter((f) => f.endsWith('.ts'));

interface SiblingImport {
  file: string;
  from: string;
  names: string[];
  typeNames: string[];
  reexport: boolean;
}

/** Every `import`/`export ... from './x'` of a steps file, with the names it brings and which of them are types. */
function siblingImports(file: string): SiblingImport[] {
  const source = readFileSync(path.join(STEPS, file), 'utf8');
  const out: SiblingImport[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\}|\*\s+as\s+[\w$]+)?\s*from\s+'\.\/([^']+)'/gm)) {
    const wholeType = Boolean(m[2]);
    const specifiers = (m[4] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const names = specifiers.map((s) => s.replace(/^type\s+/, '').split(/\s+as\s+/)[0]);
    const typeNames = specifiers.filter((s) => wholeType || s.startsWith('type ')).map((s) => s.replace(/^type\s+/, '').split(/\s+as\s+/)[0]);
    out.push({ file, from: `${m[5].replace(/\.ts$/, '')}.ts`, names, typeNames, reexport: m[1] === 'export' });
  }
  return out;
}

/** Names a steps file re-exports from core/run/formats.ts. */
function formatReexports(file: string): string[] {
  const source = readFileSync(path.join(STEPS, file), 'utf8');
  const names: string[] = [];
  for (const m of source.matchAll(/^\s*export\s+(?:type\s+)?\{([^}]*)\}\s*from\s+'\.\.\/\.\.\/core\/run\/formats'/gm)) {
    names.push(...m[1].split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]).filter(Boolean));
  }
  return names;
}

test('the import reader sees the imports of a known steps file', () => {
  const imports = siblingImports('consistency.ts');
  const judgeSide = imports.find((i) => i.from === 'judge-side.ts');
  assert.ok(judgeSide, JSON.stringify(imports));
  assert.deepEqual(judgeSide.typeNames, ['JudgeSideInput']);
  assert.ok(judgeSide.names.includes('parsedSamples'));
  assert.deepEqual(formatReexports('evaluate.ts').sort(), ['RelativeJudgment', 'RelativeRequest']);
});

test("no step imports a type from another step (formats come from core/run/formats.ts); the exceptions say why", () => {
  const found: string[] = [];
  for (const file of stepFiles) {
    for (const imp of siblingImports(file)) {
      if (imp.from in SHARED_HELPERS) continue;
      for (const name of imp.typeNames) {
        const key = `${file} <- ${imp.from}: ${name}`;
        if (!(key in ALLOWED_TYPE_IMPORTS)) found.push(key);
      }
    }
  }
  assert.deepEqual(found, [], 'import these types from core/run/formats.ts (an S3 format) or move them to a shared helper');
  for (const key of Object.keys(ALLOWED_TYPE_IMPORTS)) {
    const [file, rest] = key.split(' <- ');
    const [from, name] = rest.split(': ');
    assert.ok(siblingImports(file).some((i) => i.from === from && i.typeNames.includes(name)), `${key} is no longer imported: drop it from the list`);
  }
  for (const helper of Object.keys(SHARED_HELPERS)) assert.ok(stepFiles.includes(helper), `${helper} is listed as a shared helper but does not exist`);
});

test('no step declares or re-exports a format of its own: core/run/formats.ts is the one place', () => {
  const formatNames = new Set(Object.keys(formats));
  const found: string[] = [];
  for (const file of stepFiles) {
    const source = readFileSync(path.join(STEPS, file), 'utf8');
    for (const m of source.matchAll(/^\s*(?:export\s+)?(?:interface|type|const)\s+([\w$]+)/gm)) {
      if (formatNames.has(m[1])) found.push(`${file} declares ${m[1]}`);
    }
    for (const name of formatReexports(file)) {
      if (!(`${file}: ${name}` in ALLOWED_FORMAT_REEXPORTS)) found.push(`${file} re-exports ${name}`);
    }
  }
  assert.deepEqual(found, []);
});

// ------------------------------------------------------------------------- the types are the old interfaces

/** The named keys of T (an index signature, `[extra: string]: unknown`, is not one). */
type Known<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };
/** True when A and B are assignable both ways and name the same keys: the same fields, optionality and types. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([Known<A>] extends [Known<B>] ? ([Known<B>] extends [Known<A>] ? true : false) : false) : false) : false;

// The interfaces as the steps declared them before the formats moved here (activities/steps/*.ts).
interface WasGenerationRequest {
  request_id: string;
  example_id: string;
  messages: { role: string; content: string }[];
  prompt_hash: string;
  template_hash: string;
  assistant_prefix?: string;
  gold_score?: number;
  [extra: string]: unknown;
}
interface WasRawJudgment {
  request_id: string;
  example_id: string;
  sample_index: number;
  text: string;
  seed: number;
  prompt_hash: string;
  template_hash?: string;
  gold_score?: number;
  logprob?: number;
  marker_source?: MarkerSource;
  completion_ids?: number[];
  prompt_ids_sha256?: string;
  [extra: string]: unknown;
}
type WasScoredJudgment = Judgment & { request_id: string; gold_score?: number; logprob?: number };
interface WasParsedSample {
  request_id: string;
  example_id: string;
  sample_index: number;
  rationale: string;
  score: number;
}
interface WasJudgedRef {
  judged_request_id: string;
  judged_sample_index: number;
  judged_score: number;
}
type WasMetaRequest = WasGenerationRequest & WasJudgedRef;
interface WasMetaRating {
  request_id: string;
  example_id: string;
  sample_index: number;
  meta_score: number | null;
  meta_status: 'ok' | 'unparseable';
  ratings?: number[];
  reason?: string;
}
type WasRescoreRequest = WasGenerationRequest & WasJudgedRef & { assistant_prefix: string };
interface WasRescore {
  request_id: string;
  example_id: string;
  sample_index: number;
  score: number;
  rescore: number | null;
  consistent: boolean;
}
type WasEvalRequest = WasGenerationRequest & { suite: string; side?: 'chosen' | 'rejected'; group?: string; golds?: Record<string, number>; gold_tie?: true };
interface WasEvalOutputRow extends WasRawJudgment {
  suite: string;
  side?: 'chosen' | 'rejected';
  group?: string;
  golds?: Record<string, number>;
  gold_tie?: true;
}
type WasRelativeRequest = WasGenerationRequest & { suite: string; relative_order: RelativeOrder; relative_first: boolean; gold_tie?: true };
interface WasRelativeOutputRow {
  request_id: string;
  example_id: string;
  suite: string;
  prompt_hash: string;
  template_hash?: string;
  relative_order: RelativeOrder;
  relative_first: boolean;
  gold_tie?: boolean;
  text: string;
  seed: number;
}
interface WasRelativeJudgment {
  request_id: string;
  example_id: string;
  suite: string;
  model_id: string;
  prompt_hash: string;
  template_hash?: string;
  text: string;
  seed: number;
  relative_order: RelativeOrder;
  relative_first: boolean;
  status: 'ok' | 'unparseable';
  rationale?: string;
  verdict?: 'A' | 'B';
  picked: 'chosen' | 'rejected' | null;
  reason?: string;
  gold_tie?: true;
}
interface WasSftExample {
  example_id: string;
  prompt: { role: string; content: string }[];
  completion: string;
}
/** train.ts's MetricsRow, with `null` for a metric that was not finite (training.py writes it; see formats.ts). */
interface WasTrainingMetricsRow {
  step?: number;
  loss?: number | null;
  'rewards/accuracies'?: number | null;
  'rewards/margins'?: number | null;
  [extra: string]: unknown;
}

test('each derived type is the interface it replaced (same fields, optionality and types)', () => {
  const same: Record<string, true> = {
    GenerationRequest: true satisfies Same<GenerationRequest, WasGenerationRequest>,
    RawJudgment: true satisfies Same<RawJudgment, WasRawJudgment>,
    ScoredJudgment: true satisfies Same<ScoredJudgment, WasScoredJudgment>,
    ParsedSample: true satisfies Same<ParsedSample, WasParsedSample>,
    JudgedRef: true satisfies Same<JudgedRef, WasJudgedRef>,
    MetaRequest: true satisfies Same<MetaRequest, WasMetaRequest>,
    MetaRating: true satisfies Same<MetaRating, WasMetaRating>,
    RescoreRequest: true satisfies Same<RescoreRequest, WasRescoreRequest>,
    Rescore: true satisfies Same<Rescore, WasRescore>,
    EvalRequest: true satisfies Same<EvalRequest, WasEvalRequest>,
    EvalOutputRow: true satisfies Same<EvalOutputRow, WasEvalOutputRow>,
    RelativeRequest: true satisfies Same<RelativeRequest, WasRelativeRequest>,
    RelativeOutputRow: true satisfies Same<RelativeOutputRow, WasRelativeOutputRow>,
    RelativeJudgment: true satisfies Same<RelativeJudgment, WasRelativeJudgment>,
    SftExample: true satisfies Same<SftExample, WasSftExample>,
    TrainingMetricsRow: true satisfies Same<TrainingMetricsRow, WasTrainingMetricsRow>,
  };
  // The check is the compiler's (tsc -p tsconfig.json covers test/); this only records that it ran.
  assert.equal(Object.keys(same).length, 16);
});

// ------------------------------------------------------------------------------------------- row checks

const request: GenerationRequest = { request_id: 'r1', example_id: 'e1', messages: [{ role: 'user', content: 'Grade it.' }], prompt_hash: 'p', template_hash: 't', gold_score: 4 };
const raw: RawJudgment = { request_id: 'r1', example_id: 'e1', sample_index: 0, text: 'Good. [RESULT] 4', seed: 7, prompt_hash: 'p', template_hash: 't', num_tokens: 5, logprob: -1.5, marker_source: 'model' };
const scored: ScoredJudgment = { request_id: 'r1', example_id: 'e1', sample_index: 0, model_id: 'm', prompt_hash: 'p', text: 'Good. [RESULT] 4', rationale: 'Good.', score: 4, status: 'ok', seed: 7 };

/** One valid row per checked format. */
const VALID: { [N in RowFormatName]: unknown } = {
  'generation request': request,
  'generation request (as the pair step reads it)': { request_id: 'r1', example_id: 'e1', messages: [], prompt_hash: 'p' },
  'raw judgment': raw,
  'evaluation output row': { ...raw, suite: 'held', side: 'chosen', group: 'g', golds: { human: 3 }, gold_tie: true },
  'relative output row': { request_id: 'r1', example_id: 'e1', suite: 'pairs', prompt_hash: 'p', relative_order: 'chosen_a', relative_first: true, text: 'A [RESULT] A', seed: 0, sample_index: 0 },
  'judge-side output row': { request_id: 'r1#0', example_id: 'e1', sample_index: 0, judged_request_id: 'r1', judged_sample_index: 0, judged_score: 4, text: '5', prompt_hash: 'p' },
  'training metrics row': { step: 3, loss: null, 'rewards/margins': 0.5, epoch: 1 },
  'scored judgment': scored,
  'sampled judgment': scored,
  'evaluation judgment': { ...scored, suite: 'held', golds: { gpt4: 3.5 } },
};

test('every checked format passes a valid row and returns it as it was read', () => {
  for (const name of Object.keys(ROW_FORMATS) as RowFormatName[]) {
    const checked = checkRow(name, VALID[name]);
    assert.ok(checked.ok, `${name}: ${!checked.ok && checked.reason}`);
    assert.equal(checked.record, VALID[name], `${name}: the row itself, not a copy`);
  }
});

test('a structurally broken row is refused, naming each field; what the model wrote is never a broken row', () => {
  const cases: Array<[RowFormatName, unknown, RegExp]> = [
    ['raw judgment', { ...raw, sample_index: undefined }, /^sample_index: required \(expected number\)$/],
    ['raw judgment', { ...raw, seed: '7' }, /^seed: expected number, got string "7"$/],
    ['raw judgment', { ...raw, marker_source: 'guess' }, /^marker_source: expected one of "model", "forced", "absent", "prefix", got "guess"$/],
    ['raw judgment', [raw], /^\(root\): expected object, got array$/],
    ['generation request', { ...request, messages: [{ role: 'user' }] }, /^messages\[0\]\.content: required \(expected string\)$/],
    ['scored judgment', { ...scored, score: undefined }, /^score: required when status is "ok"$/],
    ['scored judgment', { ...scored, request_id: '' }, /^request_id: must be a non-empty string$/],
    ['evaluation output row', { ...raw, suite: 3, side: 'left' }, /^suite: expected string, got number; side: expected one of "chosen", "rejected", got "left"$/],
    ['training metrics row', { loss: 'nan' }, /^loss: expected number, got string "nan"$/],
  ];
  for (const [name, row, reason] of cases) {
    const checked = checkRow(name, row);
    assert.ok(!checked.ok, `${name}: ${JSON.stringify(row)} passed`);
    assert.match(checked.reason, reason);
  }
  // The model's text: not a string, or missing, is the parser's business (unparseable, invalid_text).
  const withText = (row: unknown, text: unknown) => {
    const out: Record<string, unknown> = { ...(row as object), text };
    if (text === undefined) delete out.text;
    return out;
  };
  for (const text of [null, 3, ['a'], undefined]) {
    for (const name of ['raw judgment', 'judge-side output row', 'relative output row', 'evaluation output row'] as const) {
      assert.ok(checkRow(name, withText(VALID[name], text)).ok, `${name}: text ${JSON.stringify(text)}`);
    }
  }
});

test("the hot path's fast checks accept the usual rows and never a row their schema refuses", () => {
  const values: unknown[] = [
    undefined, null, '', 'x', 0, -0, -1, 1.5, 2 ** 60, Infinity, NaN, true, false, [], [1, 2], [-1], [1.5], {}, 'ok', 'unparseable', 'model', 'typed',
    'chosen', 'rejected', 'left', { human: 3 }, { human: 'x' }, { human: null }, { a: 1, b: Infinity }, [3],
  ];
  let fast = 0;
  for (const name of ['raw judgment', 'scored judgment', 'evaluation output row'] as const) {
    const check = fastCheckOf(name);
    assert.ok(check, `${name} has a fast check`);
    const base = VALID[name] as Record<string, unknown>;
    const rows: unknown[] = [base, { ...base, completion_ids: [5, 6, 2], prompt_ids_sha256: 'abc', marker_source: 'forced' }, null, [base], 'row'];
    if (name === 'scored judgment') rows.push({ ...base, status: 'unparseable', score: undefined, rationale: undefined, reason: 'no_marker' });
    const keys = [
      ...new Set([...Object.keys(base), 'completion_ids', 'prompt_ids_sha256', 'marker_source', 'logprob', 'gold_score', 'template_hash', 'reason', 'rationale', 'score', 'suite', 'side', 'group', 'golds', 'gold_tie']),
    ];
    for (const k of keys) {
      for (const v of values) {
        const row = { ...base, [k]: v };
        if (v === undefined) delete row[k];
        rows.push(row);
      }
    }
    for (const row of rows.slice(0, 2)) assert.ok(check(row), `${name}: the fast check takes ${JSON.stringify(row)}`);
    for (const row of rows) {
      if (!check(row)) continue;
      fast++;
      assert.ok(ROW_FORMATS[name].safeParse(row).success, `${name}: the fast check took ${JSON.stringify(row)}, which the schema refuses`);
    }
  }
  assert.ok(fast > 20, `only ${fast} rows took the fast path`);
});

/** An in-memory store holding JSONL rows by URI. */
function rowsStore(files: Record<string, unknown[]>) {
  return {
    async *readJsonl<T>(uri: string): AsyncGenerator<T> {
      for (const row of files[uri] ?? []) yield row as T;
    },
  };
}

test('readRows: a broken row stops the read, non-retryable, with the file, the row, the reason and what to do', async () => {
  const uri = 's3://b/run/iter-1/sample/job/model/judgments.jsonl';
  const store = rowsStore({ [uri]: [raw, { ...raw, sample_index: -1 }] });
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const r of readRows(store, uri, 'raw judgment', { job: 'sample' })) seen.push(r);
    })(),
    (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure);
      assert.equal(e.nonRetryable, true);
      assert.equal(e.type, 'InvalidJobOutput');
      assert.equal(
        e.message,
        `${uri}: row 2 is not a valid raw judgment: sample_index: Too small: expected number to be >=0. The sample job wrote a broken row; rerun the job (delete its outputs, then reset the run to this iteration)`,
      );
      return true;
    },
  );
  assert.equal(seen.length, 1, 'the rows before it were read');
  const step = brokenRowMessage('s3://b/x.jsonl', 3, 'scored judgment', 'status: required', { step: 'score' });
  assert.match(step, /^s3:\/\/b\/x\.jsonl: row 3 is not a valid scored judgment: status: required\. The score step does not write such a row/);
});

test("the score step: a job's row without a sample_index stops it, naming the line; the old messages stay", () => {
  const at = (value: unknown) => rawJudgmentOf({ index: 4, line: 5, value }, 's3://b/job/judgments.jsonl');
  assert.throws(
    () => at({ ...raw, sample_index: undefined }),
    (e: unknown) =>
      e instanceof ApplicationFailure &&
      e.type === 'InvalidJobOutput' &&
      e.nonRetryable === true &&
      e.message.startsWith('s3://b/job/judgments.jsonl: line 5 is not a valid raw judgment: sample_index: required (expected number). The generation job wrote a broken line'),
  );
  assert.throws(() => at({ ...raw, example_id: undefined }), /line 5 has no example_id/);
  assert.equal(at({ ...raw, text: null }).raw.text, null, "a text that is not a string is the parser's to mark");
});

test('the pair step: a scored judgment without its request id stops the step, naming the file and the row', async () => {
  const r = validateConfig({ ...localConfig, loop: { ...localConfig.loop, pairing: { ...localConfig.loop.pairing, strategies: [{ name: 'gold_margin', margin: 2, maxPairsPerInput: 4 }] } } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const judgmentsUri = 's3://b/run/iter-1/score/data/judgments.jsonl';
  const files: Record<string, unknown[]> = {
    's3://b/run/iter-1/sample/requests.jsonl': [request],
    [judgmentsUri]: [scored, { ...scored, sample_index: 1, request_id: undefined }],
  };
  const store: PairStore = {
    ...rowsStore(files),
    async *readJsonlLines() {
      yield* [];
    },
    async writeJsonl(uri: string, rows: AsyncIterable<unknown> | Iterable<unknown>) {
      for await (const _ of rows) {
        // drained: the rows are what is under test
      }
      return { uri, bytes: 0, sha256: '' };
    },
    async putJson(uri: string) {
      return { uri, bytes: 0, sha256: '' };
    },
  };
  await assert.rejects(
    curatePairs(store, { config: r.config, runPrefixUri: 's3://b/run', iteration: 1, requestsUri: 's3://b/run/iter-1/sample/requests.jsonl', judgmentsUri }),
    (e: unknown) =>
      e instanceof ApplicationFailure &&
      e.type === 'InvalidData' &&
      e.message.startsWith(`${judgmentsUri}: row 2 is not a valid scored judgment: request_id: required (expected string). The score step does not write such a row`),
  );
});
