import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ALL_LEVEL_WORDS,
  FILLER_TEMPLATES,
  LEVEL_WORDS,
  PRODUCT_ITEMS,
  SYNTHETIC_RUBRIC,
  SYNTHETIC_TASK,
  VERDICT_TEMPLATES,
  balancedLevels,
  findLevelWords,
  makeReview,
  makeSyntheticSplits,
  renderSyntheticFiles,
  syntheticId,
  syntheticInstruction,
  tokenizeWords,
} from '../../core/data/synthetic';
import { createRng } from '../../core/common/rng';
import { validatePointwiseExample, type PointwiseExample } from '../../core/data/records';

const ROOT = path.resolve(__dirname, '../..');
const DATA_DIR = path.join(ROOT, 'datasets/synthetic');

function readRows(file: string): PointwiseExample[] {
  return readFileSync(path.join(DATA_DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as PointwiseExample);
}

test('regenerating with the defaults gives the committed files byte for byte', () => {
  const files = renderSyntheticFiles();
  for (const name of ['train.jsonl', 'heldout.jsonl', 'validation.jsonl'] as const) {
    assert.equal(files[name], readFileSync(path.join(DATA_DIR, name), 'utf8'), `${name} differs: rerun scripts/make-synthetic.ts`);
  }
});

test('scripts/make-synthetic.ts writes the same bytes, and honours its options', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'synthetic-'));
  try {
    const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
    execFileSync(tsx, ['scripts/make-synthetic.ts', '--out', out], { cwd: ROOT, stdio: 'pipe' });
    for (const name of ['train.jsonl', 'heldout.jsonl', 'validation.jsonl']) {
      assert.equal(readFileSync(path.join(out, name), 'utf8'), readFileSync(path.join(DATA_DIR, name), 'utf8'), name);
    }
    execFileSync(tsx, ['scripts/make-synthetic.ts', '--seed', '7', '--train', '12', '--heldout', '6', '--validation', '5', '--out', out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const want = renderSyntheticFiles({ seed: 7, train: 12, heldout: 6, validation: 5 });
    assert.equal(readFileSync(path.join(out, 'train.jsonl'), 'utf8'), want['train.jsonl']);
    assert.equal(readFileSync(path.join(out, 'heldout.jsonl'), 'utf8'), want['heldout.jsonl']);
    assert.equal(readFileSync(path.join(out, 'validation.jsonl'), 'utf8'), want['validation.jsonl']);
    assert.equal(want['validation.jsonl'].split('\n').length - 1, 5);
    assert.throws(
      () => execFileSync(tsx, ['scripts/make-synthetic.ts', '--train', 'many'], { cwd: ROOT, stdio: 'pipe' }),
      /--train needs a non-negative integer/,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

const SPLITS: Array<{ file: string; split: 'train' | 'heldout' | 'validation'; rows: number }> = [
  { file: 'train.jsonl', split: 'train', rows: 400 },
  { file: 'heldout.jsonl', split: 'heldout', rows: 100 },
  { file: 'validation.jsonl', split: 'validation', rows: 60 },
];

for (const { file, split, rows } of SPLITS) {
  test(`${file}: ${rows} valid canonical rows, balanced levels, one level word each, gold == its level`, () => {
    const data = readRows(file);
    assert.equal(data.length, rows);
    const perLevel = new Map<number, number>();
    data.forEach((row, i) => {
      const v = validatePointwiseExample(row);
      assert.ok(v.ok, `${row.id}: ${v.ok ? '' : v.reason}`);
      assert.equal(row.id, `syn-${split}-${String(i + 1).padStart(4, '0')}`);
      const found = findLevelWords(row.response);
      assert.equal(found.length, 1, `${row.id} has ${found.length} level words: ${row.response}`);
      assert.equal(row.gold_score, found[0].level, row.id);
      assert.deepEqual(row.meta, { task: SYNTHETIC_TASK, keyword: found[0].word, level: found[0].level });
      assert.deepEqual(row.rubric, SYNTHETIC_RUBRIC);
      assert.equal(row.reference_answer, undefined);
      assert.equal(findLevelWords(row.instruction).length, 0, row.id);
      const item = PRODUCT_ITEMS.find((it) => row.instruction === syntheticInstruction(it));
      assert.ok(item, `${row.id}: unexpected instruction ${row.instruction}`);
      const words = row.response.split(' ').length;
      assert.ok(words >= 15 && words <= 32, `${row.id}: ${words} words`);
      const sentences = row.response.split(/(?<=\.) /).length;
      assert.ok(sentences === 2 || sentences === 3, `${row.id}: ${sentences} sentences`);
      perLevel.set(row.gold_score!, (perLevel.get(row.gold_score!) ?? 0) + 1);
    });
    assert.deepEqual([...perLevel.entries()].sort(), [1, 2, 3, 4, 5].map((l) => [l, rows / 5]));
  });
}

test('the verdict word varies and always ends the review, right before its final period', () => {
  const train = readRows('train.jsonl');
  const keywords = new Set(train.map((r) => (r.meta as { keyword: string }).keyword));
  assert.deepEqual([...keywords].sort(), ALL_LEVEL_WORDS.map((e) => e.word).sort());
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const templatesUsed = new Set<string>();
  for (const r of [...train, ...readRows('heldout.jsonl')]) {
    const keyword = (r.meta as { keyword: string }).keyword;
    assert.ok(r.response.endsWith(` ${keyword}.`), `${r.id}: "${r.response}" ends with its verdict word`);
    const sentences = r.response.split(/(?<=\.) /);
    const last = sentences[sentences.length - 1];
    const template = VERDICT_TEMPLATES.find((t) =>
      new RegExp(`^${escape(t).replace('\\{item\\}', '.+').replace('\\{word\\}', keyword)}$`).test(last),
    );
    assert.ok(template, `${r.id}: the last sentence "${last}" is a verdict sentence`);
    templatesUsed.add(template);
  }
  assert.equal(templatesUsed.size, VERDICT_TEMPLATES.length);
  const items = new Set(train.map((r) => r.instruction));
  assert.ok(items.size >= 25, `${items.size} distinct products`);
});

test('the three splits are disjoint: no (instruction, response) in two of them; no duplicates within a split', () => {
  const key = (r: PointwiseExample) => `${r.instruction}\n${r.response}`;
  const train = readRows('train.jsonl').map(key);
  const heldout = readRows('heldout.jsonl').map(key);
  const validation = readRows('validation.jsonl').map(key);
  assert.equal(new Set(train).size, train.length);
  assert.equal(new Set(heldout).size, heldout.length);
  assert.equal(new Set(validation).size, validation.length);
  const trainSet = new Set(train);
  const heldoutSet = new Set(heldout);
  assert.deepEqual(heldout.filter((k) => trainSet.has(k)), []);
  assert.deepEqual(validation.filter((k) => trainSet.has(k) || heldoutSet.has(k)), []);
});

test('no level word in fillers, verdict templates (outside the slot), items, instruction or rubric', () => {
  const levelWords = new Set(ALL_LEVEL_WORDS.map((e) => e.word));
  const texts = [
    ...FILLER_TEMPLATES,
    ...VERDICT_TEMPLATES.map((t) => t.replace(/\{[Ww]ord\}/g, '')),
    ...PRODUCT_ITEMS,
    syntheticInstruction('thing'),
    ...Object.values(SYNTHETIC_RUBRIC),
  ];
  for (const t of texts) {
    for (const tok of tokenizeWords(t)) assert.ok(!levelWords.has(tok), `"${tok}" in ${t}`);
  }
  assert.equal(ALL_LEVEL_WORDS.length, 15);
  for (const level of [1, 2, 3, 4, 5] as const) assert.equal(LEVEL_WORDS[level].length, 3);
});

test('findLevelWords: table', () => {
  const cases: Array<[string, Array<{ word: string; level: number }>]> = [
    ['Superb value for the price.', [{ word: 'superb', level: 5 }]],
    ['I found it OKAY. It is nice.', [{ word: 'okay', level: 3 }, { word: 'nice', level: 4 }]],
    ['Goodness, the goods arrived.', []],
    ['', []],
  ];
  for (const [text, want] of cases) assert.deepEqual(findLevelWords(text), want, text);
});

test('generator: deterministic per seed, different across seeds, options respected', () => {
  assert.deepEqual(makeSyntheticSplits({ seed: 5, train: 20, heldout: 10 }), makeSyntheticSplits({ seed: 5, train: 20, heldout: 10 }));
  assert.notDeepEqual(makeSyntheticSplits({ seed: 5, train: 20, heldout: 10 }).train, makeSyntheticSplits({ seed: 6, train: 20, heldout: 10 }).train);
  const small = makeSyntheticSplits({ seed: 5, train: 7, heldout: 0 });
  assert.equal(small.train.length, 7);
  assert.equal(small.heldout.length, 0);
  const counts = [1, 2, 3, 4, 5].map((l) => small.train.filter((r) => r.gold_score === l).length);
  assert.deepEqual(counts, [2, 2, 1, 1, 1]);
  assert.throws(() => makeSyntheticSplits({ train: -1 }), /train must be a non-negative integer/);
  assert.throws(() => makeSyntheticSplits({ heldout: 1.5 }), /heldout must be a non-negative integer/);
  assert.equal(renderSyntheticFiles({ train: 0, heldout: 0 })['train.jsonl'], '');
});

test('syntheticId and balancedLevels', () => {
  assert.equal(syntheticId('train', 0, 400), 'syn-train-0001');
  assert.equal(syntheticId('heldout', 99, 100), 'syn-heldout-0100');
  assert.equal(syntheticId('train', 0, 12345), 'syn-train-00001');
  const levels = balancedLevels(createRng(1), 13);
  assert.deepEqual([1, 2, 3, 4, 5].map((l) => levels.filter((x) => x === l).length), [3, 3, 3, 2, 2]);
});

test('makeReview: always exactly one level word of the requested level', () => {
  const rng = createRng(99);
  for (let i = 0; i < 500; i++) {
    const level = ((i % 5) + 1) as 1 | 2 | 3 | 4 | 5;
    const r = makeReview(rng, PRODUCT_ITEMS[i % PRODUCT_ITEMS.length], level);
    assert.deepEqual(findLevelWords(r.response), [{ word: r.keyword, level }]);
  }
});
