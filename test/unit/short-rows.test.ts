import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTemplate, type Template } from '../../core/judging/prompt';
import { instructionKey, shortPrometheusRows, splitByInstruction, type ShortRow } from '../../core/data/short-rows';
import { cutRealSmall, REAL_SMALL } from '../../scripts/cut-real-small';
import { validateConfig } from '../../core/config/config';
import realSmallConfig from '../../configs/real-small.json';

const ROOT = path.resolve(__dirname, '../..');
const DATA_DIR = path.join(ROOT, 'datasets/real-small');

function shortTemplate(): Template {
  const parsed = parseTemplate(readFileSync(path.join(ROOT, REAL_SMALL.template), 'utf8'));
  assert.ok(parsed.ok);
  return parsed.template;
}

/** A Prometheus absolute-grading prompt row, the shape of vicuna_eval / mt_bench_eval. */
function prometheusRow(instruction: string, response: string, score: number): string {
  const prompt =
    '###Task Description:\nAn instruction, a response and a rubric.\n\n' +
    `###The instruction to evaluate:\n${instruction}\n\n###Response to evaluate:\n${response}\n\n` +
    '###Score Rubrics:\n[Is it helpful?]\nScore 1: no.\nScore 2: barely.\nScore 3: partly.\nScore 4: mostly.\nScore 5: fully.\n\n###Feedback: ';
  return JSON.stringify({ instruction: prompt, gpt4_score: [score, score, score], gpt4_feedback: ['ok', 'ok', 'ok'] });
}

const options = { scale: { min: 1, max: 5 }, marker: '[RESULT]' };

test('shortPrometheusRows keeps rows up to the limit, counts longer ones and the ones the adapter refuses', () => {
  const lines = [
    prometheusRow('Say hi.', 'Hi.', 5),
    prometheusRow('Say hi.', 'x'.repeat(5000), 1),
    JSON.stringify({ instruction: 'no sections here', gpt4_score: [3] }),
  ];
  const limit = 1000;
  const result = shortPrometheusRows(lines, shortTemplate(), { ...options, maxPromptChars: limit });
  assert.deepEqual(result.rows.map((r) => r.index), [0]);
  assert.ok(result.rows[0]!.promptChars <= limit && result.rows[0]!.promptChars > 100, String(result.rows[0]!.promptChars));
  assert.equal(result.tooLong, 1);
  assert.equal(result.refused.length, 1);
  assert.equal(result.refused[0]!.index, 2);
  assert.deepEqual(result.rows[0]!.raw, JSON.parse(lines[0]!), 'the source row is kept unmodified');
});

test('splitByInstruction keeps every instruction on one side and fills validation first, in key order', () => {
  const row = (index: number, instruction: string): ShortRow =>
    ({ index, raw: {}, promptChars: 1, example: { id: `r${index}`, instruction } }) as unknown as ShortRow;
  const rows = ['a', 'b', 'a', 'c', 'd', 'b', 'e'].map((ins, i) => row(i, ins));
  const cases: { validationRows: number; validationInstructions: number }[] = [
    { validationRows: 0, validationInstructions: 0 },
    { validationRows: 1, validationInstructions: 1 },
    { validationRows: 3, validationInstructions: -1 },
    { validationRows: 100, validationInstructions: 5 },
  ];
  const byKey = [...new Set(rows.map((r) => r.example.instruction))].sort((x, y) => (instructionKey(x) < instructionKey(y) ? -1 : 1));
  for (const c of cases) {
    const { train, validation } = splitByInstruction(rows, c.validationRows);
    assert.equal(train.length + validation.length, rows.length, `${c.validationRows}: no row lost`);
    const trainIns = new Set(train.map((r) => r.example.instruction));
    for (const r of validation) assert.ok(!trainIns.has(r.example.instruction), `${c.validationRows}: ${r.example.instruction} on both sides`);
    assert.ok(validation.length >= Math.min(c.validationRows, rows.length), `${c.validationRows}: validation holds ${validation.length}`);
    const validationIns = [...new Set(validation.map((r) => r.example.instruction))];
    if (c.validationInstructions >= 0) assert.equal(validationIns.length, c.validationInstructions);
    assert.deepEqual([...validationIns].sort(), byKey.slice(0, validationIns.length).sort(), 'the smallest keys go first');
    assert.deepEqual(validation.map((r) => r.index), [...validation.map((r) => r.index)].sort((x, y) => x - y), 'source order kept');
  }
});

test('datasets/real-small/ is what scripts/cut-real-small.ts writes, byte for byte', () => {
  const { files } = cutRealSmall();
  for (const [name, text] of Object.entries(files)) {
    assert.equal(readFileSync(path.join(DATA_DIR, name), 'utf8'), text, `${name} differs: rerun npx tsx scripts/cut-real-small.ts`);
  }
});

test('datasets/real-small/: the row counts its README gives, no instruction in both train and validation', () => {
  const rows = (name: string): { instruction: string }[] =>
    readFileSync(path.join(DATA_DIR, name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { instruction: string });
  const train = rows('train.jsonl');
  const validation = rows('validation.jsonl');
  const test = rows('test-vicuna.jsonl');
  assert.deepEqual([train.length, validation.length, test.length], [47, 20, 45]);
  const readme = readFileSync(path.join(DATA_DIR, 'README.md'), 'utf8');
  for (const [name, n] of [['train.jsonl', 47], ['validation.jsonl', 20], ['test-vicuna.jsonl', 45]] as const) {
    assert.match(readme, new RegExp(`\\| \`${name.replace('.', '\\.')}\` \\| ${n} \\|`), `README row for ${name}`);
  }
  const section = (prompt: string): string => prompt.split('###The instruction to evaluate:')[1]!.split('###Response to evaluate:')[0]!.trim();
  const trainInstructions = new Set(train.map((r) => section(r.instruction)));
  for (const r of validation) assert.ok(!trainInstructions.has(section(r.instruction)), `shared instruction: ${section(r.instruction).slice(0, 60)}`);
});

test('configs/real-small.json is valid, trains on train.jsonl and gates on the validation split only', () => {
  const config = validateConfig(realSmallConfig);
  if (!config.ok) assert.fail(config.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  assert.equal(config.config.data.train.uri, 'datasets/real-small/train.jsonl');
  const roles = config.config.data.evalSuites.map((s) => [s.name, s.role]);
  assert.deepEqual(roles.filter(([, role]) => role === 'validation').map(([name]) => name), ['mt-bench-validation']);
  assert.ok(config.config.data.evalSuites.some((s) => s.kind === 'pairwise' && s.role === 'test'), 'a pairwise test suite');
  assert.ok(config.config.data.evalSuites.some((s) => s.kind === 'pointwise' && s.role === 'test'), 'a pointwise test suite');
  assert.equal(config.config.judge.promptTemplate, REAL_SMALL.template);
  assert.ok(config.config.loop.iterations >= 2);
});
