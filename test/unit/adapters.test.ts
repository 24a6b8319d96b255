import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ADAPTER_KINDS,
  ADAPTER_NAMES,
  PROMETHEUS_HEADERS,
  describeAdapters,
  getAdapter,
  isAdapterName,
  parseAbsolutePrompt,
  parseRubricSection,
  roundHalfUp,
  tryGetAdapter,
} from '../../core/data/adapters';
import { AdapterName } from '../../core/config/config';
import {
  referenceJudgmentsOf,
  validatePairwiseExample,
  validatePointwiseExample,
  type PairwiseExample,
  type PointwiseExample,
} from '../../core/data/records';

import { BENCH, ROOT, adaptAll, readJsonl } from '../support/adapter-files';

const HEADER_FRAGMENTS = [
  '###Task Description',
  '###The instruction to evaluate',
  '###Response to evaluate',
  '###Reference Answer',
  '###Score Rubric',
  '###Feedback',
];

interface PrometheusRow {
  idx: number;
  category: string;
  response_source: string;
  instruction: string;
  gpt4_score: number[];
  gpt4_feedback: string[];
}

// --- real published files -------------------------------------------------------------------------

/**
 * `markers`: the GPT-4 feedbacks that end with a result marker, which their reference judgment's rationale
 * leaves out (mt_bench_eval row 37's third feedback ends "... persona. [RESULT] Score: 1.").
 */
const PROMETHEUS_FILES = [
  { file: 'vicuna_eval.jsonl', rows: 320, categories: 9, markers: [] as Array<[number, number]> },
  { file: 'mt_bench_eval.jsonl', rows: 320, categories: 8, markers: [[37, 2]] as Array<[number, number]> },
];

for (const { file, rows: expectedRows, categories, markers } of PROMETHEUS_FILES) {
  test(`prometheus-absolute: every row of ${file} adapts into a sane pointwise example`, () => {
    const rows = readJsonl(path.join(BENCH, 'prometheus-eval-benchmarks', file)) as PrometheusRow[];
    assert.equal(rows.length, expectedRows);
    const prefix = file.replace(/\.jsonl$/, '');
    const adapter = getAdapter('prometheus-absolute', { idPrefix: prefix });
    assert.equal(adapter.kind, 'pointwise');
    const { ok, failed } = adaptAll(rows, (r, i) => adapter.adaptRow(r, i));
    assert.deepEqual(failed, []);
    assert.equal(ok.length, expectedRows);
    assert.equal(new Set(ok.map((r) => r.id)).size, expectedRows, 'ids are unique');
    assert.equal(new Set(ok.map((r) => r.meta?.category)).size, categories);

    ok.forEach((rec, i) => {
      const raw = rows[i];
      const where = `${file}[${i}]`;
      assert.ok(validatePointwiseExample(rec).ok, where);
      assert.equal(rec.id, `${prefix}-${i}`);
      assert.ok(rec.instruction.length > 0 && rec.response.length > 0, where);
      assert.ok(rec.reference_answer && rec.reference_answer.length > 0, `${where}: reference answer`);
      for (const k of ['criteria', 'score1', 'score2', 'score3', 'score4', 'score5'] as const) {
        assert.ok(rec.rubric[k].length > 0, `${where}: rubric.${k}`);
        assert.doesNotMatch(rec.rubric[k], /^\[|\]$|^Score \d:/, `${where}: rubric.${k} keeps no markup`);
      }
      for (const text of [rec.instruction, rec.response, rec.reference_answer!, ...Object.values(rec.rubric)]) {
        for (const h of HEADER_FRAGMENTS) assert.ok(!text.includes(h), `${where}: a parsed field contains ${h}`);
      }
      // Gold: the rounded mean of the three GPT-4 scores; all of them in meta.
      const mean = raw.gpt4_score.reduce((a, b) => a + b, 0) / raw.gpt4_score.length;
      assert.equal(rec.gold_score, Math.round(mean), where);
      assert.ok(rec.gold_score! >= 1 && rec.gold_score! <= 5, where);
      assert.deepEqual(rec.gold, { gpt4: mean });
      assert.deepEqual(rec.meta, {
        source: 'prometheus-absolute',
        index: i,
        idx: raw.idx,
        category: raw.category,
        response_source: raw.response_source,
        gpt4_score: raw.gpt4_score,
        reference_judgments: rec.meta?.reference_judgments,
      });
      // Reference judgments: one per GPT-4 grading, its score, its feedback verbatim but for a trailing marker.
      const refs = referenceJudgmentsOf(rec);
      assert.equal(raw.gpt4_feedback.length, 3, where);
      assert.deepEqual(refs.map((r) => r.score), raw.gpt4_score, `${where}: reference scores are gpt4_score`);
      refs.forEach((ref, j) => {
        assert.ok(ref.rationale.trim().length > 0, `${where}: rationale ${j} is empty`);
        assert.doesNotMatch(ref.rationale, /\[RESULT\]/i, `${where}: rationale ${j} holds a marker`);
        assert.doesNotMatch(ref.rationale, /\s$/, `${where}: rationale ${j} ends with a blank`);
        const feedback = raw.gpt4_feedback[j];
        if (markers.some(([r, k]) => r === i && k === j)) {
          assert.notEqual(ref.rationale, feedback, `${where}: marker ${j} cut`);
          assert.ok(feedback.startsWith(ref.rationale), `${where}: rationale ${j} is the feedback's start`);
          assert.match(feedback.slice(ref.rationale.length), /^\s*\[RESULT\]\s*(Score:\s*)?\d\.?$/, `${where}: only the marker cut`);
        } else {
          assert.equal(ref.rationale, feedback, `${where}: rationale ${j} verbatim`);
        }
      });
      // Round trip: the published template rebuilt from the parsed parts is the prompt (up to whitespace,
      // since section texts are trimmed).
      const rebuilt =
        `###The instruction to evaluate:\n${rec.instruction}\n\n###Response to evaluate:\n${rec.response}\n\n` +
        `###Reference Answer (Score 5):\n${rec.reference_answer}\n\n###Score Rubrics:\n[${rec.rubric.criteria}]\n` +
        `Score 1: ${rec.rubric.score1}\nScore 2: ${rec.rubric.score2}\nScore 3: ${rec.rubric.score3}\n` +
        `Score 4: ${rec.rubric.score4}\nScore 5: ${rec.rubric.score5}\n\n###Feedback:`;
      const squash = (t: string) => t.replace(/\s+/g, ' ').trim();
      assert.ok(squash(raw.instruction).endsWith(squash(rebuilt)), `${where}: round trip`);
    });
  });
}

test('parseAbsolutePrompt: all 442 HHH-alignment prompts (no reference answer) parse', () => {
  const rows = readJsonl(path.join(BENCH, 'prometheus-eval-benchmarks', 'hhh_alignment_eval.jsonl')) as Array<
    Record<string, string>
  >;
  assert.equal(rows.length, 221);
  let parsed = 0;
  for (const row of rows) {
    for (const key of ['chosen_instruction', 'rejected_instruction']) {
      const p = parseAbsolutePrompt(row[key]);
      assert.ok(p.ok, p.ok ? '' : p.reason);
      assert.equal(p.record.reference_answer, undefined);
      assert.ok(p.record.response.length > 0);
      for (const h of HEADER_FRAGMENTS) assert.ok(!p.record.instruction.includes(h));
      parsed++;
    }
  }
  assert.equal(parsed, 442);
});

/** Every dataset.jsonl under llmbar/ (all of LLMBar's dataset.json files, copied in full), with its row count and label split (ATTRIBUTION.md). */
const LLMBAR_FILES: Record<string, { rows: number; label1: number; subset: string }> = {
  'LLMBar/Natural/dataset.jsonl': { rows: 100, label1: 42, subset: 'llmbar-natural' },
  'LLMBar/Adversarial/Neighbor/dataset.jsonl': { rows: 134, label1: 75, subset: 'llmbar-adver-neighbor' },
  'LLMBar/Adversarial/GPTInst/dataset.jsonl': { rows: 92, label1: 45, subset: 'llmbar-adver-GPTInst' },
  'LLMBar/Adversarial/GPTOut/dataset.jsonl': { rows: 47, label1: 22, subset: 'llmbar-adver-GPTOut' },
  'LLMBar/Adversarial/Manual/dataset.jsonl': { rows: 46, label1: 22, subset: 'llmbar-adver-manual' },
  'Processed/MT-Bench/dataset.jsonl': { rows: 200, label1: 101, subset: 'mt-bench-human' },
};

/** The files under `dir` named `name` (or whose name matches it), relative to `dir`, with / separators. */
function findFiles(dir: string, name: string | RegExp, base = dir): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return findFiles(full, name, base);
    const hit = typeof name === 'string' ? entry === name : name.test(entry);
    return hit ? [path.relative(base, full).split(path.sep).join('/')] : [];
  });
}

test('llmbar: the table covers every dataset.jsonl in the in-repository llmbar folder', () => {
  const dir = path.join(BENCH, 'llmbar');
  assert.ok(existsSync(dir), `missing ${dir}`);
  assert.deepEqual(findFiles(dir, 'dataset.jsonl').sort(), Object.keys(LLMBAR_FILES).sort());
});

for (const [rel, expected] of Object.entries(LLMBAR_FILES)) {
  test(`llmbar: every row of ${rel} adapts into a pairwise example`, () => {
    const rows = readJsonl(path.join(BENCH, 'llmbar', rel)) as Array<{
      input: string;
      output_1: string;
      output_2: string;
      label: 1 | 2;
    }>;
    const adapter = getAdapter('llmbar', { subset: expected.subset });
    assert.equal(adapter.kind, 'pairwise');
    const { ok, failed } = adaptAll(rows, (r, i) => adapter.adaptRow(r, i));
    assert.deepEqual(failed, []);
    assert.equal(ok.length, expected.rows);
    assert.equal(rows.filter((r) => r.label === 1).length, expected.label1);
    assert.equal(new Set(ok.map((r) => r.id)).size, expected.rows);
    ok.forEach((rec, i) => {
      const raw = rows[i];
      assert.ok(validatePairwiseExample(rec).ok);
      assert.deepEqual(rec, {
        id: `${expected.subset}-${i}`,
        instruction: raw.input,
        chosen: raw.label === 1 ? raw.output_1 : raw.output_2,
        rejected: raw.label === 1 ? raw.output_2 : raw.output_1,
        subset: expected.subset,
      });
    });
  });
}

// --- bundled subsets --------------------------------------------------------------------------------

const BUNDLED = [
  {
    file: 'prometheus-vicuna-eval.first24.jsonl',
    source: 'prometheus-eval-benchmarks/vicuna_eval.jsonl',
    adapter: 'prometheus-absolute' as const,
  },
  { file: 'llmbar-natural.first24.jsonl', source: 'llmbar/LLMBar/Natural/dataset.jsonl', adapter: 'llmbar' as const },
];

for (const { file, source, adapter } of BUNDLED) {
  test(`bundled ${file}: the first 24 published rows, unmodified, all adaptable`, () => {
    const bundled = readJsonl(path.join(ROOT, 'datasets/bundled', file));
    assert.equal(bundled.length, 24);
    assert.deepEqual(bundled, readJsonl(path.join(BENCH, source)).slice(0, 24));
    const a = getAdapter(adapter, { idPrefix: 'bundled', subset: 'llmbar-natural' });
    const { ok, failed } = adaptAll<PointwiseExample | PairwiseExample>(bundled, (r, i) => a.adaptRow(r, i));
    assert.deepEqual(failed, []);
    assert.equal(ok.length, 24);
  });
}

test('bundled ATTRIBUTION.md names both sources, their commits and licenses, and the OpenAI terms', () => {
  const text = readFileSync(path.join(ROOT, 'datasets/bundled/ATTRIBUTION.md'), 'utf8');
  for (const s of [
    'https://github.com/prometheus-eval/prometheus-eval',
    'dcfb44272d5d0414832f5dbb8c2a05ebc2614234',
    '0516bec3da48890d49bc55b73bc3642b0dd40130',
    'Apache-2.0',
    'https://github.com/princeton-nlp/LLMBar',
    '900616bff90b6c6c8e1681f7d079250637c55992',
    '618394ab1ddef21e7cbba6b9a8fe99b6dbe7f505',
    'MIT',
    'OpenAI',
  ]) {
    assert.ok(text.includes(s), s);
  }
});

test('benchmarks ATTRIBUTION.md: its table lists every in-repository benchmark file with its exact row count', () => {
  const text = readFileSync(path.join(BENCH, 'ATTRIBUTION.md'), 'utf8');
  // | `file` | rows | of upstream | adapter | included |
  const table = [...text.matchAll(/^\| `([^`]+\.jsonl)` \| (\d+) \| (\d+) \|/gm)].map((m) => ({
    file: m[1],
    rows: Number(m[2]),
    upstream: Number(m[3]),
  }));
  assert.deepEqual(
    table.map((t) => t.file).sort(),
    findFiles(BENCH, /\.jsonl$/).sort(),
    'the table names each .jsonl under datasets/benchmarks once',
  );
  for (const t of table) {
    assert.equal(readJsonl(path.join(BENCH, t.file)).length, t.rows, t.file);
    assert.ok(t.rows <= t.upstream, `${t.file}: more rows than upstream`);
  }
  for (const s of [
    'https://github.com/prometheus-eval/prometheus-eval',
    'https://github.com/princeton-nlp/LLMBar',
    'https://github.com/WeOpenML/PandaLM',
    'Apache-2.0',
    'MIT',
    'CC-BY-SA-4.0',
    'OpenAI',
  ]) {
    assert.ok(text.includes(s), s);
  }
});

// --- rows the tests write themselves ----------------------------------------------------------------

const RUBRIC_SECTION =
  '###Score Rubrics:\n[Is the answer correct?]\nScore 1: Wrong.\nScore 2: Mostly wrong.\nScore 3: Half right.\n' +
  'Score 4: Mostly right.\nScore 5: Right.\n\n###Feedback: ';

function prompt(parts: { instruction?: string; response?: string; reference?: string; rubric?: string }): string {
  const sections = ['###Task Description:\nAn instruction, a response to evaluate and a score rubric are given.\n\n'];
  if (parts.instruction !== undefined) sections.push(`###The instruction to evaluate:\n${parts.instruction}\n\n`);
  if (parts.response !== undefined) sections.push(`###Response to evaluate:\n${parts.response}\n\n`);
  if (parts.reference !== undefined) sections.push(`###Reference Answer (Score 5):\n${parts.reference}\n\n`);
  sections.push(parts.rubric ?? RUBRIC_SECTION);
  return sections.join('');
}

const GOOD = { instruction: 'What is 2+2?', response: 'It is 4.', reference: '4' };

test('prometheus-absolute: hand-written rows, good and malformed, table', () => {
  const adapter = getAdapter('prometheus-absolute');
  const cases: Array<{ name: string; row: unknown; index?: number; reason?: RegExp; check?: (r: PointwiseExample) => void }> = [
    {
      name: 'well formed, default id prefix',
      row: { instruction: prompt(GOOD), gpt4_score: [4, 5, 5] },
      index: 3,
      check: (r) => {
        assert.deepEqual(r, {
          id: 'prometheus-3',
          instruction: 'What is 2+2?',
          response: 'It is 4.',
          rubric: {
            criteria: 'Is the answer correct?',
            score1: 'Wrong.',
            score2: 'Mostly wrong.',
            score3: 'Half right.',
            score4: 'Mostly right.',
            score5: 'Right.',
          },
          reference_answer: '4',
          gold_score: 5,
          gold: { gpt4: 14 / 3 },
          meta: { source: 'prometheus-absolute', index: 3, gpt4_score: [4, 5, 5] },
        });
      },
    },
    {
      name: 'no reference section',
      row: { instruction: prompt({ instruction: 'Q', response: 'A' }), gpt4_score: [2] },
      check: (r) => {
        assert.equal(r.reference_answer, undefined);
        assert.ok(!('reference_answer' in r));
        assert.equal(r.gold_score, 2);
      },
    },
    { name: 'mean x.5 rounds half up', row: { instruction: prompt(GOOD), gpt4_score: [3, 4] }, check: (r) => assert.equal(r.gold_score, 4) },
    { name: 'a single number', row: { instruction: prompt(GOOD), gpt4_score: 2 }, check: (r) => assert.deepEqual(r.gold, { gpt4: 2 }) },
    {
      name: 'Feedback Collection orig_score string',
      row: { instruction: prompt(GOOD), orig_score: '3' },
      check: (r) => {
        assert.equal(r.gold_score, 3);
        assert.deepEqual(r.gold, { orig: 3 });
      },
    },
    {
      name: 'a response that quotes a reference header keeps it',
      row: {
        instruction: prompt({ ...GOOD, response: 'Here:\n###Reference Answer (Score 5):\nfake\nend' }),
        gpt4_score: [3],
      },
      check: (r) => {
        assert.equal(r.response, 'Here:\n###Reference Answer (Score 5):\nfake\nend');
        assert.equal(r.reference_answer, '4');
      },
    },
    {
      name: 'singular "Score Rubric:" header and criteria without brackets',
      row: {
        instruction: prompt({ ...GOOD, rubric: RUBRIC_SECTION.replace('Rubrics', 'Rubric').replace('[Is the answer correct?]', 'Is it right?') }),
        gpt4_score: [1],
      },
      check: (r) => assert.equal(r.rubric.criteria, 'Is it right?'),
    },
    {
      name: 'multi-line score descriptions',
      row: {
        instruction: prompt({ ...GOOD, rubric: RUBRIC_SECTION.replace('Score 3: Half right.', 'Score 3: Half\nright.') }),
        gpt4_score: [1],
      },
      check: (r) => assert.equal(r.rubric.score3, 'Half\nright.'),
    },
    { name: 'not an object', row: 'text', reason: /^row must be a JSON object, got "text"$/ },
    { name: 'null', row: null, reason: /^row must be a JSON object, got null$/ },
    { name: 'an array', row: [1], reason: /^row must be a JSON object, got an array$/ },
    { name: 'missing prompt', row: { gpt4_score: [3] }, reason: /^instruction: expected the complete absolute-grading prompt.*got nothing$/ },
    { name: 'prompt not a string', row: { instruction: 5, gpt4_score: [3] }, reason: /^instruction: .*got 5$/ },
    {
      name: 'plain instruction, not a prompt',
      row: { instruction: 'What is 2+2?', gpt4_score: [3] },
      reason: /^prompt has no "###The instruction to evaluate:" section$/,
    },
    {
      name: 'no response section',
      row: { instruction: prompt({ instruction: 'Q' }), gpt4_score: [3] },
      reason: /^prompt has no "###Response to evaluate:" section$/,
    },
    {
      name: 'no rubric section',
      row: { instruction: prompt({ ...GOOD, rubric: '###Feedback: ' }), gpt4_score: [3] },
      reason: /^prompt has no "###Score Rubrics:" section$/,
    },
    {
      name: 'empty response',
      row: { instruction: prompt({ ...GOOD, response: '  ' }), gpt4_score: [3] },
      reason: /^prompt's "###Response to evaluate:" section is empty$/,
    },
    {
      name: 'rubric with four levels',
      row: { instruction: prompt({ ...GOOD, rubric: RUBRIC_SECTION.replace('Score 5: Right.\n', '') }), gpt4_score: [3] },
      reason: /^rubric section must describe "Score 1:" to "Score 5:" once each, in order; found Score 1, Score 2, Score 3, Score 4$/,
    },
    {
      name: 'rubric without criteria',
      row: { instruction: prompt({ ...GOOD, rubric: RUBRIC_SECTION.replace('[Is the answer correct?]', '') }), gpt4_score: [3] },
      reason: /^rubric section has no criteria before "Score 1:"$/,
    },
    {
      name: 'rubric without score lines',
      row: { instruction: prompt({ ...GOOD, rubric: '###Score Rubrics:\n[Is it right?]\n\n###Feedback: ' }), gpt4_score: [3] },
      reason: /^rubric section has no "Score 1:" \.\.\. "Score 5:" descriptions$/,
    },
    {
      name: 'empty score description',
      row: { instruction: prompt({ ...GOOD, rubric: RUBRIC_SECTION.replace('Score 2: Mostly wrong.', 'Score 2: ') }), gpt4_score: [3] },
      reason: /^rubric section: "Score 2:" has an empty description$/,
    },
    { name: 'no gold', row: { instruction: prompt(GOOD) }, reason: /^no gold score: expected gpt4_score .* or orig_score$/ },
    { name: 'empty gpt4_score', row: { instruction: prompt(GOOD), gpt4_score: [] }, reason: /^gpt4_score: expected a non-empty list of integer scores, got an array$/ },
    { name: 'string gpt4_score', row: { instruction: prompt(GOOD), gpt4_score: '[3, 4]' }, reason: /^gpt4_score: .*got "\[3, 4\]"$/ },
    { name: 'fractional gpt4_score', row: { instruction: prompt(GOOD), gpt4_score: [3.5] }, reason: /^gpt4_score: / },
    { name: 'bad orig_score', row: { instruction: prompt(GOOD), orig_score: 'four' }, reason: /^orig_score: expected an integer score, got "four"$/ },
    { name: 'negative index', row: { instruction: prompt(GOOD), gpt4_score: [3] }, index: -1, reason: /^row index must be a non-negative integer, got -1$/ },
  ];
  for (const c of cases) {
    const r = adapter.adaptRow(c.row, c.index ?? 0);
    if (c.reason) {
      assert.equal(r.ok, false, c.name);
      if (!r.ok) assert.match(r.reason, c.reason, c.name);
    } else {
      assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.reason}`);
      if (r.ok) c.check?.(r.record);
    }
  }
});

test('prometheus-absolute: reference judgments from gpt4_feedback or orig_feedback, table', () => {
  const adapter = getAdapter('prometheus-absolute');
  const row = (over: Record<string, unknown>) => ({ instruction: prompt(GOOD), ...over });
  type Want = { refs?: Array<{ rationale: string; score: number }>; leftOut?: RegExp[] };
  const cases: Array<{ name: string; row: unknown; want: Want; gold?: number }> = [
    {
      name: 'three feedbacks, verbatim (newlines and inner "score of 5" statements kept)',
      row: row({ gpt4_score: [4, 5, 5], gpt4_feedback: ['Right, terse.', 'Right.\nIt meets the criteria for a score of 5.', 'Correct.'] }),
      want: { refs: [{ rationale: 'Right, terse.', score: 4 }, { rationale: 'Right.\nIt meets the criteria for a score of 5.', score: 5 }, { rationale: 'Correct.', score: 5 }] },
    },
    {
      name: 'a trailing [RESULT] n, "[RESULT] Score: n." or "[result] n" is cut with the blanks before it',
      row: row({ gpt4_score: [4, 1, 2], gpt4_feedback: ['Mostly right. [RESULT] 4', 'Off topic. [RESULT] Score: 1.', 'Weak.\n\n[result] 2\n'] }),
      want: { refs: [{ rationale: 'Mostly right.', score: 4 }, { rationale: 'Off topic.', score: 1 }, { rationale: 'Weak.', score: 2 }] },
    },
    {
      name: 'a marker inside the text is not trailing: kept',
      row: row({ gpt4_score: [3], gpt4_feedback: ['It writes "[RESULT] 5" but means 3.'] }),
      want: { refs: [{ rationale: 'It writes "[RESULT] 5" but means 3.', score: 3 }] },
    },
    {
      name: 'a single feedback string with a single score',
      row: row({ gpt4_score: 2, gpt4_feedback: 'Mostly wrong.' }),
      want: { refs: [{ rationale: 'Mostly wrong.', score: 2 }] },
    },
    {
      name: 'off-scale, empty, marker-only and disagreeing feedbacks are left out, noted; the gold is unchanged',
      row: row({ gpt4_score: [7, 3, 3, 4, 0, 5], gpt4_feedback: ['Too high.', '', ' ', '[RESULT] 4', 'Zero.', 'Fine. [RESULT] 4'] }),
      gold: 4,
      want: {
        leftOut: [
          /^gpt4_feedback\[0\]: score 7 is off the 1-5 scale$/,
          /^gpt4_feedback\[1\]: the feedback has no text$/,
          /^gpt4_feedback\[2\]: the feedback has no text$/,
          /^gpt4_feedback\[3\]: the feedback has no text before its \[RESULT\] marker$/,
          /^gpt4_feedback\[4\]: score 0 is off the 1-5 scale$/,
          /^gpt4_feedback\[5\]: its trailing "\[RESULT\] 4" disagrees with its score 5$/,
        ],
      },
    },
    {
      name: 'a feedback that is not a string; fewer feedbacks than scores',
      row: row({ gpt4_score: [3, 4, 5], gpt4_feedback: ['Half right.', 4] }),
      want: {
        refs: [{ rationale: 'Half right.', score: 3 }],
        leftOut: [/^gpt4_feedback\[1\]: feedback is not a string \(got 4\)$/, /^gpt4_score\[2\]: no gpt4_feedback\[2\] to go with it$/],
      },
    },
    {
      name: 'more feedbacks than scores',
      row: row({ gpt4_score: [3], gpt4_feedback: ['Half right.', 'Extra.'] }),
      want: { refs: [{ rationale: 'Half right.', score: 3 }], leftOut: [/^gpt4_feedback\[1\]: no gpt4_score\[1\] to go with it$/] },
    },
    {
      name: 'gpt4_feedback neither a string nor a list',
      row: row({ gpt4_score: [3], gpt4_feedback: { a: 'x' } }),
      want: { leftOut: [/^gpt4_feedback: expected a list of feedback texts, got a object$/] },
    },
    { name: 'no gpt4_feedback (or null): none, no note', row: row({ gpt4_score: [3], gpt4_feedback: null }), want: {} },
    {
      name: 'Feedback Collection: orig_feedback with orig_score ("3" read as 3), marker cut',
      row: row({ orig_score: '3', orig_feedback: 'Half right: misses the carry. [RESULT] 3' }),
      want: { refs: [{ rationale: 'Half right: misses the carry.', score: 3 }] },
    },
    { name: 'Feedback Collection: no orig_feedback', row: row({ orig_score: 3 }), want: {} },
    {
      name: 'Feedback Collection: orig_score off the scale',
      row: row({ orig_score: 9, orig_feedback: 'Odd.' }),
      gold: 9,
      want: { leftOut: [/^orig_feedback: score 9 is off the 1-5 scale$/] },
    },
    {
      name: 'gpt4 gold: the reference judgments are GPT-4\'s, not orig_feedback',
      row: row({ gpt4_score: [2], gpt4_feedback: ['Weak.'], orig_score: 5, orig_feedback: 'Great.' }),
      want: { refs: [{ rationale: 'Weak.', score: 2 }] },
    },
  ];
  for (const c of cases) {
    const r = adapter.adaptRow(c.row, 0);
    assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.reason}`);
    if (!r.ok) continue;
    assert.ok(validatePointwiseExample(r.record).ok, c.name);
    assert.deepEqual(r.record.meta?.reference_judgments, c.want.refs, c.name);
    assert.deepEqual(referenceJudgmentsOf(r.record), c.want.refs ?? [], c.name);
    const notes = r.record.meta?.reference_judgments_left_out as string[] | undefined;
    if (!c.want.leftOut) assert.equal(notes, undefined, c.name);
    else {
      assert.equal(notes?.length, c.want.leftOut.length, `${c.name}: ${JSON.stringify(notes)}`);
      c.want.leftOut.forEach((re, i) => assert.match(notes![i], re, c.name));
    }
    if (c.gold !== undefined) assert.equal(r.record.gold_score, c.gold, c.name);
  }
});

test('parseRubricSection and roundHalfUp: table', () => {
  assert.deepEqual(parseRubricSection('[C]\nScore 1: a\nScore 2: b\nScore 3: c\nScore 4: d\nScore 5: e'), {
    ok: true,
    record: { criteria: 'C', score1: 'a', score2: 'b', score3: 'c', score4: 'd', score5: 'e' },
  });
  const dup = parseRubricSection('[C]\nScore 1: a\nScore 1: b\nScore 3: c\nScore 4: d\nScore 5: e');
  assert.equal(dup.ok, false);
  const cases: Array<[number, number]> = [
    [1, 1],
    [1.49, 1],
    [1.5, 2],
    [2.5, 3],
    [14 / 3, 5],
    [13 / 3, 4],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfUp(x), want, String(x));
  assert.equal(PROMETHEUS_HEADERS.rubric, '###Score Rubrics:');
});

test('llmbar: hand-written rows, good and malformed, table', () => {
  const cases: Array<{ name: string; options?: object; row: unknown; index?: number; want?: PairwiseExample; reason?: RegExp }> = [
    {
      name: 'label 1, subset from options',
      options: { subset: 'llmbar-natural' },
      row: { input: 'Q', output_1: 'good', output_2: 'bad', label: 1 },
      index: 7,
      want: { id: 'llmbar-natural-7', instruction: 'Q', chosen: 'good', rejected: 'bad', subset: 'llmbar-natural' },
    },
    {
      name: 'label 2, idPrefix wins for the id, no subset',
      options: { idPrefix: 'mine' },
      row: { input: 'Q', output_1: 'bad', output_2: 'good', label: 2, extra: 'ignored' },
      index: 0,
      want: { id: 'mine-0', instruction: 'Q', chosen: 'good', rejected: 'bad' },
    },
    { name: 'default id', row: { input: 'Q', output_1: 'a', output_2: 'b', label: 1 }, index: 2, want: { id: 'llmbar-2', instruction: 'Q', chosen: 'a', rejected: 'b' } },
    { name: 'label 0', row: { input: 'Q', output_1: 'a', output_2: 'b', label: 0 }, reason: /^label: expected 1 or 2 \(the better output\), got 0$/ },
    { name: 'label as a string', row: { input: 'Q', output_1: 'a', output_2: 'b', label: '1' }, reason: /^label: expected 1 or 2 .*got "1"$/ },
    { name: 'label missing', row: { input: 'Q', output_1: 'a', output_2: 'b' }, reason: /^label: expected 1 or 2 .*got nothing$/ },
    { name: 'input missing', row: { output_1: 'a', output_2: 'b', label: 1 }, reason: /^input: expected a string, got nothing$/ },
    { name: 'output_2 a number', row: { input: 'Q', output_1: 'a', output_2: 3, label: 1 }, reason: /^output_2: expected a string, got 3$/ },
    { name: 'empty input', row: { input: '', output_1: 'a', output_2: 'b', label: 1 }, reason: /^input: must be a non-empty string$/ },
    { name: 'empty chosen', row: { input: 'Q', output_1: 'a', output_2: '', label: 2 }, reason: /^output_2: must be a non-empty string \(it is the chosen output\)$/ },
    { name: 'empty rejected', row: { input: 'Q', output_1: 'a', output_2: '', label: 1 }, reason: /^output_2: must be a non-empty string \(it is the rejected output\)$/ },
    { name: 'not an object', row: 42, reason: /^row must be a JSON object, got 42$/ },
    { name: 'bad index', row: { input: 'Q', output_1: 'a', output_2: 'b', label: 1 }, index: 1.5, reason: /^row index must be a non-negative integer/ },
  ];
  for (const c of cases) {
    const r = getAdapter('llmbar', c.options).adaptRow(c.row, c.index ?? 0);
    if (c.reason) {
      assert.equal(r.ok, false, c.name);
      if (!r.ok) assert.match(r.reason, c.reason, c.name);
    } else {
      assert.deepEqual(r, { ok: true, record: c.want }, c.name);
    }
  }
});

test('canonical and canonical-pairwise: validate rows and name the bad field', () => {
  const synthetic = readJsonl(path.join(ROOT, 'datasets/synthetic/heldout.jsonl'));
  const canonical = getAdapter('canonical');
  const { ok, failed } = adaptAll(synthetic, (r, i) => canonical.adaptRow(r, i));
  assert.deepEqual(failed, []);
  assert.deepEqual(ok, synthetic);

  const row = synthetic[0] as Record<string, unknown>;
  const cases: Array<[string, unknown, RegExp]> = [
    ['missing response', { ...row, response: undefined }, /^response: required \(expected string\)$/],
    ['fractional gold', { ...row, gold_score: 3.5 }, /^gold_score: expected an integer, got 3\.5$/],
    ['rubric missing score4', { ...row, rubric: { ...(row.rubric as object), score4: undefined } }, /^rubric\.score4: required/],
    ['typo field', { ...row, goldscore: 3 }, /^\(root\): unknown field "goldscore"$/],
    ['not an object', 'x', /^\(root\): expected object, got string$/],
  ];
  for (const [name, raw, reason] of cases) {
    const r = canonical.adaptRow(raw, 0);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.match(r.reason, reason, name);
  }

  const pairwise = getAdapter('canonical-pairwise');
  assert.deepEqual(pairwise.adaptRow({ id: 'p1', instruction: 'Q', chosen: 'a', rejected: 'b', subset: null }, 0), {
    ok: true,
    record: { id: 'p1', instruction: 'Q', chosen: 'a', rejected: 'b' },
  });
  const bad = pairwise.adaptRow({ id: 'p1', instruction: 'Q', chosen: 'a' }, 0);
  assert.deepEqual(bad, { ok: false, reason: 'rejected: required (expected string)' });
});

test('canonical: meta.reference_judgments is validated, kept, and null read as absent; a bad entry names its field', () => {
  const [row] = readJsonl(path.join(ROOT, 'datasets/synthetic/heldout.jsonl')) as Array<Record<string, unknown>>;
  const canonical = getAdapter('canonical');
  const withRefs = (refs: unknown, extra: Record<string, unknown> = {}) => ({ ...row, meta: { source: 'x', ...extra, reference_judgments: refs } });
  const good = [
    { rationale: 'Names the verdict word and its level.', score: 4 },
    { rationale: ' kept verbatim\n', score: 2 },
  ];
  const okCases: Array<[string, unknown, unknown]> = [
    ['two judgments', withRefs(good), { source: 'x', reference_judgments: good }],
    ['none (empty array)', withRefs([]), { source: 'x', reference_judgments: [] }],
    ['null is absent', withRefs(null, { n: 1 }), { source: 'x', n: 1 }],
    ['other meta keys untouched', withRefs(good, { tags: [{ a: null }] }), { source: 'x', tags: [{ a: null }], reference_judgments: good }],
    // Any integer: the scale is the run config's concern, as for gold_score.
    ['score off 1-5', withRefs([{ rationale: 'r', score: 7 }]), { source: 'x', reference_judgments: [{ rationale: 'r', score: 7 }] }],
  ];
  for (const [name, raw, meta] of okCases) {
    const r = canonical.adaptRow(raw, 0);
    assert.ok(r.ok, `${name}: ${r.ok ? '' : r.reason}`);
    if (r.ok) assert.deepEqual(r.record.meta, meta, name);
    if (r.ok) assert.deepEqual(referenceJudgmentsOf(r.record), (meta as { reference_judgments?: unknown }).reference_judgments ?? [], name);
  }
  const badCases: Array<[string, unknown, RegExp]> = [
    ['not an array', withRefs('Good. [RESULT] 4'), /^meta\.reference_judgments: expected array, got string$/],
    ['an object, not a list', withRefs(good[0]), /^meta\.reference_judgments: expected array, got object$/],
    ['empty rationale', withRefs([good[0], { rationale: '', score: 3 }]), /^meta\.reference_judgments\[1\]\.rationale: must be a non-empty string$/],
    ['blank rationale', withRefs([{ rationale: ' \n', score: 3 }]), /^meta\.reference_judgments\[0\]\.rationale: must be a non-empty string$/],
    ['no rationale', withRefs([{ score: 3 }]), /^meta\.reference_judgments\[0\]\.rationale: required \(expected string\)$/],
    ['fractional score', withRefs([{ rationale: 'r', score: 3.5 }]), /^meta\.reference_judgments\[0\]\.score: expected an integer, got 3\.5$/],
    ['score as a string', withRefs([{ rationale: 'r', score: '3' }]), /^meta\.reference_judgments\[0\]\.score: expected number, got string "3"$/],
    ['no score', withRefs([{ rationale: 'r' }]), /^meta\.reference_judgments\[0\]\.score: required \(expected number\)$/],
    ['unknown key', withRefs([{ rationale: 'r', score: 3, judge: 'gpt-4' }]), /^meta\.reference_judgments\[0\]: unknown field "judge"$/],
    ['entry not an object', withRefs(['r']), /^meta\.reference_judgments\[0\]: expected object, got string$/],
  ];
  for (const [name, raw, reason] of badCases) {
    const r = canonical.adaptRow(raw, 0);
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.match(r.reason, reason, name);
  }
  // Pairwise meta stays free-form: the key has no meaning there.
  const pairwise = getAdapter('canonical-pairwise').adaptRow(
    { id: 'p1', instruction: 'Q', chosen: 'a', rejected: 'b', meta: { reference_judgments: 'anything' } },
    0,
  );
  assert.ok(pairwise.ok);
});

test('registry: names match the config schema, kinds, lookups and the unknown-adapter message', () => {
  // The run config accepts exactly these names.
  for (const name of ADAPTER_NAMES) assert.ok(AdapterName.safeParse(name).success, name);
  assert.equal(AdapterName.safeParse('nope').success, false);
  for (const name of ADAPTER_NAMES) {
    const a = getAdapter(name, { idPrefix: 'x', subset: 'y' });
    assert.equal(a.name, name);
    assert.equal(a.kind, ADAPTER_KINDS[name]);
    assert.ok(isAdapterName(name));
  }
  assert.deepEqual(
    ADAPTER_NAMES.map((n) => ADAPTER_KINDS[n]),
    ['pointwise', 'pairwise', 'pointwise', 'pairwise', 'pointwise', 'pairwise', 'pointwise', 'pairwise', 'pairwise'],
  );
  const lines = describeAdapters();
  assert.equal(lines.length, 9);
  assert.match(lines[2], /^prometheus-absolute \(pointwise\): /);
  assert.match(lines[3], /^llmbar \(pairwise\): /);
  assert.throws(
    () => getAdapter('reward-bench'),
    (e: Error) => e.message === 'unknown adapter "reward-bench"; known: canonical, canonical-pairwise, prometheus-absolute, llmbar, feedback-collection, prometheus-hhh, biggen, rewardbench, pandalm',
  );
  assert.deepEqual(tryGetAdapter('nope'), {
    ok: false,
    reason: 'unknown adapter "nope"; known: canonical, canonical-pairwise, prometheus-absolute, llmbar, feedback-collection, prometheus-hhh, biggen, rewardbench, pandalm',
  });
  assert.deepEqual(tryGetAdapter('llmbar', { subset: '' }), { ok: false, reason: 'adapter option subset must be a non-empty string' });
  assert.equal(isAdapterName('Canonical'), false);
  assert.equal(isAdapterName(undefined), false);
});

test('core/data/adapters and core/data/records stay pure (no node: imports, Math.random, Date)', () => {
  const files = [
    ...readdirSync(path.join(ROOT, 'core/data/adapters')).map((f) => path.join(ROOT, 'core/data/adapters', f)),
    path.join(ROOT, 'core/data/records.ts'),
    path.join(ROOT, 'core/data/synthetic.ts'),
  ];
  for (const file of files) {
    const src = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(src, /from ['"]node:|require\(|Math\.random|Date\.now|new Date|process\./, file);
  }
});

test('test/fixtures/data: the mixed-validity files give the results their README lists', () => {
  const dir = path.join(ROOT, 'test/fixtures/data');
  const run = (file: string, adapterName: 'canonical' | 'llmbar') => {
    const adapter = getAdapter(adapterName);
    return readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((line, i) => {
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          return 'not JSON';
        }
        const r = adapter.adaptRow(raw, i);
        return r.ok ? 'ok' : r.reason;
      });
  };
  assert.deepEqual(run('canonical-mixed.jsonl', 'canonical'), [
    'ok',
    'gold_score: expected an integer, got 3.5',
    'ok',
    'ok',
    'response: required (expected string)',
    'not JSON',
    'ok',
    'ok',
    '(root): unknown field "goldscore"',
  ]);
  assert.deepEqual(run('llmbar-mixed.jsonl', 'llmbar'), [
    'ok',
    'ok',
    'label: expected 1 or 2 (the better output), got 0',
    'output_2: must be a non-empty string (it is the rejected output)',
    'ok',
  ]);
});
