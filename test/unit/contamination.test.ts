import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ActivityDeps } from '../../activities/context';
import { checkContamination, type PreparedDataset } from '../../activities/steps/prepare';
import type { ObjectStore } from '../../activities/storage/object-store';
import { getAdapter, type AdapterResult } from '../../core/data/adapters';
import {
  ContaminationChecker,
  evalItemsOf,
  exactKey,
  hash53,
  jaccard,
  normalizeText,
  prefixLength,
  shingleSet,
  wordNgrams,
  type ContaminationItem,
  type EvalItem,
} from '../../core/data/contamination';
import type { PointwiseExample } from '../../core/data/records';
import { createRng } from '../../core/common/rng';
import { BENCH, ROOT, readJsonl } from '../support/adapter-files';
import { memoryStore } from '../support/memory-store';

test('normalizeText: case, whitespace, punctuation and Unicode compatibility forms are ignored, table', () => {
  const cases: Array<[string, string]> = [
    ['Hello,  World!', 'hello world'],
    ['  hello\n\tworld  ', 'hello world'],
    ['HELLO WORLD', 'hello world'],
    ['"Hello" — (world)...', 'hello world'],
    ['Ｈｅｌｌｏ　ｗｏｒｌｄ', 'hello world'],
    ['2 + 2 = 4', '2 2 4'],
    ['naïve café', 'naïve café'],
    ['', ''],
    ['?!', ''],
  ];
  for (const [input, want] of cases) assert.equal(normalizeText(input), want, JSON.stringify(input));
  assert.equal(exactKey({ instruction: 'What is 2+2?', response: 'Four.' }), exactKey({ instruction: 'what is 2 2', response: ' FOUR ' }));
  assert.notEqual(exactKey({ instruction: 'a b', response: 'c' }), exactKey({ instruction: 'a', response: 'b c' }));
});

test('wordNgrams, jaccard, prefixLength and hash53, table', () => {
  assert.deepEqual(wordNgrams('a b c d e f', 5), ['a b c d e', 'b c d e f']);
  assert.deepEqual(wordNgrams('a b c', 5), ['a b c']);
  assert.deepEqual(wordNgrams('a b c d e', 5), ['a b c d e']);
  assert.deepEqual(wordNgrams('', 5), []);
  assert.deepEqual(wordNgrams('a b c', 1), ['a', 'b', 'c']);

  const jcases: Array<[number[], number[], number]> = [
    [[], [], 1],
    [[1], [], 0],
    [[1, 2, 3], [1, 2, 3], 1],
    [[1, 2, 3, 4], [3, 4, 5, 6], 2 / 6],
    [[1, 2], [3, 4], 0],
    [[1, 2, 3, 4, 5], [1, 2, 3, 4], 4 / 5],
  ];
  for (const [a, b, want] of jcases) assert.equal(jaccard(a, b), want, `${a} | ${b}`);

  const pcases: Array<[number, number, number]> = [
    [0, 0.8, 0],
    [1, 0.8, 1],
    [5, 0.8, 2],
    [10, 0.8, 3],
    [10, 1, 1],
    [10, 0.5, 6],
    [3, 0.7, 1],
  ];
  for (const [size, t, want] of pcases) assert.equal(prefixLength(size, t), want, `${size} @ ${t}`);

  assert.equal(hash53('abc'), hash53('abc'));
  const seen = new Set<number>();
  for (let i = 0; i < 20000; i++) {
    const h = hash53(`shingle ${i}`);
    assert.ok(Number.isSafeInteger(h) && h >= 0);
    seen.add(h);
  }
  assert.equal(seen.size, 20000, 'no collisions among 20,000 shingles');

  const s = shingleSet({ instruction: 'One two three four five six.', response: 'One two three four five six' });
  assert.ok([...s].every((x, i) => i === 0 || s[i - 1] < x), 'sorted and distinct');
  assert.equal(s.length, 6, '12 words, 8 windows, two of them repeated');
});

test('evalItemsOf: one item per pointwise example, two per pair', () => {
  assert.deepEqual(evalItemsOf({ id: 'p', instruction: 'Q', response: 'A' }), [{ id: 'p', instruction: 'Q', response: 'A' }]);
  assert.deepEqual(evalItemsOf({ id: 'x', instruction: 'Q', chosen: 'good', rejected: 'bad' }), [
    { id: 'x', instruction: 'Q', response: 'good', side: 'chosen' },
    { id: 'x', instruction: 'Q', response: 'bad', side: 'rejected' },
  ]);
});

const LONG =
  'The mitochondria is the powerhouse of the cell because it produces most of the chemical energy needed to power ' +
  'the biochemical reactions of the cell and that energy is stored in a molecule called adenosine triphosphate';

test('ContaminationChecker: exact, near-duplicate and clean rows, per-suite counts and the report', () => {
  const checker = new ContaminationChecker({ nearDuplicateThreshold: 0.8 });
  checker.addSuite('pointwise-suite', [
    { id: 'e1', instruction: 'What is 2+2?', response: 'It is 4.' },
    { id: 'e2', instruction: 'Explain mitochondria.', response: LONG },
    { id: 'e3', instruction: 'Unrelated question here', response: 'An unrelated answer that shares nothing with the training rows.' },
  ]);
  checker.addSuite('pairwise-suite', evalItemsOf({ id: 'p1', instruction: 'what is 2 + 2', chosen: 'it is 4', rejected: 'it is 5' }));
  // One word changed at the end touches one 5-gram (a change mid-text touches five: Jaccard (n-5)/(n+5)).
  const oneWordChanged = LONG.replace('triphosphate', 'triphosphates');
  const train: ContaminationItem[] = [
    { id: 't-exact', instruction: 'WHAT IS 2+2', response: 'it is  4!' },
    { id: 't-near', instruction: 'Explain mitochondria.', response: oneWordChanged },
    { id: 't-clean', instruction: 'Write a haiku about autumn.', response: 'Leaves fall, the wind sighs, a cold moon.' },
    { id: 't-far', instruction: 'Explain mitochondria.', response: LONG.split(' ').slice(0, 12).join(' ') },
  ];
  const results = train.map((t) => checker.check(t));
  assert.deepEqual(results[0], [
    { trainId: 't-exact', suite: 'pointwise-suite', evalId: 'e1', kind: 'exact', similarity: 1 },
    { trainId: 't-exact', suite: 'pairwise-suite', evalId: 'p1', side: 'chosen', kind: 'exact', similarity: 1 },
  ]);
  const expected = jaccard(shingleSet(train[1]), shingleSet({ instruction: 'Explain mitochondria.', response: LONG }));
  assert.ok(expected >= 0.8 && expected < 1, String(expected));
  assert.deepEqual(results[1], [{ trainId: 't-near', suite: 'pointwise-suite', evalId: 'e2', kind: 'near', similarity: expected }]);
  assert.deepEqual(results[2], []);
  assert.deepEqual(results[3], [], 'a prefix of the eval text is far below 0.8');

  assert.deepEqual(checker.report({ excludedTrainRows: 2 }), {
    normalisation: 'NFKC, lower case, punctuation and symbols removed, whitespace collapsed',
    ngram: 5,
    nearDuplicateThreshold: 0.8,
    trainRows: 4,
    flaggedTrainRows: 2,
    excludedTrainRows: 2,
    suites: {
      'pointwise-suite': { evalItems: 3, exactMatches: 1, nearDuplicates: 1, trainRowsFlagged: 2, evalExamplesHit: 2 },
      'pairwise-suite': { evalItems: 2, exactMatches: 1, nearDuplicates: 0, trainRowsFlagged: 1, evalExamplesHit: 1 },
    },
    matchesTotal: 3,
    matches: [...results[0], ...results[1]],
    matchesTruncated: false,
  });
  assert.throws(() => checker.addSuite('late', []), /addSuite after check/);
});

test('ContaminationChecker: the threshold is configurable; the matches list is capped, the counts are not', () => {
  const evalItems: EvalItem[] = [{ id: 'e', instruction: 'Explain mitochondria.', response: LONG }];
  const half = { id: 't', instruction: 'Explain mitochondria.', response: LONG.split(' ').slice(0, 22).join(' ') };
  const sim = jaccard(shingleSet(half), shingleSet(evalItems[0]));
  assert.ok(sim > 0.4 && sim < 0.8, String(sim));
  for (const [t, flagged] of [
    [0.8, false],
    [sim, true],
    [0.4, true],
  ] as const) {
    const c = new ContaminationChecker({ nearDuplicateThreshold: t });
    c.addSuite('s', evalItems);
    assert.equal(c.check(half).length > 0, flagged, `threshold ${t}`);
  }
  const capped = new ContaminationChecker({ nearDuplicateThreshold: 0.8, maxReportedMatches: 2 });
  capped.addSuite('s', evalItems);
  for (let i = 0; i < 5; i++) capped.check({ id: `t${i}`, instruction: 'explain MITOCHONDRIA', response: LONG });
  const r = capped.report();
  assert.equal(r.matchesTotal, 5);
  assert.equal(r.matches.length, 2);
  assert.equal(r.matchesTruncated, true);
  assert.equal(r.suites.s.exactMatches, 5);
  assert.equal(r.suites.s.evalExamplesHit, 1);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new ContaminationChecker({ nearDuplicateThreshold: bad }), /nearDuplicateThreshold must be in \(0, 1\]/);
  }
  assert.throws(() => new ContaminationChecker({ nearDuplicateThreshold: 0.8, ngram: 0 }), /ngram/);
});

test('ContaminationChecker: prefix filtering finds exactly the pairs that brute force finds (seeded random texts)', () => {
  // 5-grams over 60 words: planted near-duplicates among unrelated texts; 1- and 2-grams over 25 words:
  // similarities spread over the whole range, the hard case for the candidate filter.
  for (const [ngram, vocabSize] of [
    [5, 60],
    [2, 25],
    [1, 25],
  ] as const) {
    const rng = createRng(7);
    const vocab = Array.from({ length: vocabSize }, (_, i) => `w${i}`);
    const text = (n: number) => Array.from({ length: n }, () => vocab[rng.int(vocab.length)]).join(' ');
    const mutate = (t: string, k: number) => {
      const words = t.split(' ');
      for (let i = 0; i < k; i++) words[rng.int(words.length)] = vocab[rng.int(vocab.length)];
      return words.join(' ');
    };
    const evalItems: EvalItem[] = Array.from({ length: 60 }, (_, i) => ({ id: `e${i}`, instruction: text(3), response: text(10 + rng.int(30)) }));
    const train: ContaminationItem[] = Array.from({ length: 200 }, (_, i) => {
      if (i % 3 === 0) {
        const src = evalItems[rng.int(evalItems.length)];
        return { id: `t${i}`, instruction: src.instruction, response: mutate(src.response, rng.int(3)) };
      }
      return { id: `t${i}`, instruction: text(3), response: text(10 + rng.int(30)) };
    });
    for (const threshold of [0.3, 0.5, 0.8, 1]) {
      const where = `${ngram}-grams, threshold ${threshold}`;
      const checker = new ContaminationChecker({ nearDuplicateThreshold: threshold, ngram, maxReportedMatches: 100000 });
      checker.addSuite('s', evalItems);
      const got = new Map<string, number>();
      for (const t of train) for (const m of checker.check(t)) got.set(`${m.trainId}|${m.evalId}`, m.similarity);
      const want = new Map<string, number>();
      for (const t of train) {
        for (const e of evalItems) {
          const sim = jaccard(shingleSet(t, ngram), shingleSet(e, ngram));
          if (exactKey(t) === exactKey(e)) want.set(`${t.id}|${e.id}`, 1);
          else if (sim >= threshold) want.set(`${t.id}|${e.id}`, sim);
        }
      }
      assert.deepEqual([...got.entries()].sort(), [...want.entries()].sort(), where);
      if (ngram === 5 && threshold === 0.8) assert.ok(want.size >= 20, `${where}: planted near-duplicates found: ${want.size}`);
      if (ngram === 1 && threshold === 0.3) assert.ok(want.size >= 1000, `${where}: many pairs: ${want.size}`);
    }
  }
});

function adaptFile(file: string): PointwiseExample[] {
  const rows = readJsonl(file);
  const adapter = getAdapter('prometheus-absolute', { idPrefix: path.basename(file).split('.')[0] });
  return rows.map((r, i) => adapter.adaptRow(r, i) as AdapterResult<PointwiseExample>).flatMap((r) => (r.ok ? [r.record] : []));
}

test('real data: the bundled Vicuna subset is flagged against the full Vicuna file, not against MT-Bench', () => {
  const bundled = adaptFile(path.join(ROOT, 'datasets/bundled/prometheus-vicuna-eval.first24.jsonl'));
  const vicuna = adaptFile(path.join(BENCH, 'prometheus-eval-benchmarks/vicuna_eval.jsonl'));
  const mtBench = adaptFile(path.join(BENCH, 'prometheus-eval-benchmarks/mt_bench_eval.jsonl'));
  assert.equal(bundled.length, 24);
  const checker = new ContaminationChecker({ nearDuplicateThreshold: 0.8 });
  checker.addSuite('vicuna', vicuna.flatMap(evalItemsOf));
  checker.addSuite('mt-bench', mtBench.flatMap(evalItemsOf));
  for (const row of bundled) {
    const matches = checker.check(row);
    const exact = matches.filter((m) => m.kind === 'exact');
    assert.equal(exact.length, 1, row.id);
    assert.deepEqual([exact[0].suite, exact[0].evalId], ['vicuna', row.id.replace('prometheus-vicuna-eval', 'vicuna_eval')]);
  }
  const r = checker.report();
  assert.equal(r.flaggedTrainRows, 24);
  assert.equal(r.suites.vicuna.exactMatches, 24);
  assert.equal(r.suites['mt-bench'].exactMatches + r.suites['mt-bench'].nearDuplicates, 0);
});

test('real data: the synthetic training set against its held-out split (the embedded default): one near-duplicate', () => {
  const read = (f: string) =>
    readFileSync(path.join(ROOT, 'datasets/synthetic', f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PointwiseExample);
  const checker = new ContaminationChecker({ nearDuplicateThreshold: 0.8 });
  checker.addSuite('heldout', read('heldout.jsonl').flatMap(evalItemsOf));
  for (const row of read('train.jsonl')) checker.check(row);
  const r = checker.report();
  assert.equal(r.trainRows, 400);
  assert.equal(r.suites.heldout.exactMatches, 0);
  assert.deepEqual(
    r.matches.map((m) => [m.trainId, m.evalId, m.kind, Math.round(m.similarity * 1000) / 1000]),
    [['syn-train-0130', 'syn-heldout-0047', 'near', 0.917]],
  );
});

test('core/data/contamination.ts stays pure (no node: imports, Math.random, Date)', () => {
  const src = readFileSync(path.join(ROOT, 'core/data/contamination.ts'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
  assert.doesNotMatch(src, /from ['"]node:|require\(|Math\.random|Date\.now|new Date|process\./);
});

// --- the prepare step's check (activities/steps/prepare.ts: checkContamination) ----------------------------

/** Just the ObjectStore methods the check uses, in memory; counts writes so a reuse is visible. */

const RUBRIC = { criteria: 'c', score1: 'a', score2: 'b', score3: 'c', score4: 'd', score5: 'e' };

async function preparedRun(store: ReturnType<typeof memoryStore>) {
  const run = 's3://b/runs/r1';
  const train: PointwiseExample[] = [
    { id: 'tr-0', instruction: 'What is 2+2?', response: 'It is 4.', rubric: RUBRIC, gold_score: 5 },
    { id: 'tr-1', instruction: 'Explain mitochondria.', response: LONG.replace('triphosphate', 'triphosphates'), rubric: RUBRIC, gold_score: 4 },
    { id: 'tr-2', instruction: 'Write a haiku.', response: 'Leaves fall, the wind sighs.', rubric: RUBRIC, gold_score: 3 },
  ];
  const trainObj = await store.writeJsonl(`${run}/data/train/data/rows.jsonl`, train);
  await store.putJson(`${run}/data/train/manifest.json`, { objects: [trainObj] });
  const pointwise = await store.writeJsonl(`${run}/data/eval-held/data/rows.jsonl`, [
    { id: 'h-0', instruction: 'what is 2 + 2', response: 'it is 4', rubric: RUBRIC, gold_score: 5 },
    { id: 'h-1', instruction: 'Explain mitochondria.', response: LONG, rubric: RUBRIC, gold_score: 5 },
  ]);
  await store.putJson(`${run}/data/eval-held/manifest.json`, { objects: [pointwise] });
  const pairs = await store.writeJsonl(`${run}/data/eval-pairs/data/rows.jsonl`, [{ id: 'p-0', instruction: 'Q', chosen: 'Leaves fall, the wind sighs.', rejected: 'x' }]);
  await store.putJson(`${run}/data/eval-pairs/manifest.json`, { objects: [pairs] });
  const ds = (name: string, kind: 'pointwise' | 'pairwise', uri: string, rows: number): PreparedDataset => ({
    name,
    kind,
    uri,
    rows,
    quarantined: 0,
    quarantineUri: `${uri}.q`,
  });
  return {
    runPrefix: run,
    train: ds('train', 'pointwise', trainObj.uri, 3),
    evalSuites: [ds('held', 'pointwise', pointwise.uri, 2), ds('pairs', 'pairwise', pairs.uri, 1)],
  };
}

const deps = (store: ReturnType<typeof memoryStore>): ActivityDeps => ({
  projectRoot: ROOT,
  codeVersion: 'test',
  storeFor: () => store as unknown as ObjectStore,
  runnerFor: () => {
    throw new Error('no jobs in this test');
  },
});

test('prepare: the check writes data/contamination.json and keeps every row unless told to exclude', async () => {
  const store = memoryStore();
  const run = await preparedRun(store);
  const { summary, trainUri } = await checkContamination(deps(store), store as unknown as ObjectStore, {
    ...run,
    settings: { check: true, exclude: false, nearDuplicateThreshold: 0.8 },
  });
  assert.equal(trainUri, run.train.uri, 'the training set is untouched');
  assert.deepEqual(summary, {
    reportUri: 's3://b/runs/r1/data/contamination.json',
    trainRows: 3,
    flaggedTrainRows: 2,
    excludedTrainRows: 0,
    matchesTotal: 2,
    suites: {
      held: { exactMatches: 1, nearDuplicates: 1, trainRowsFlagged: 2 },
      pairs: { exactMatches: 0, nearDuplicates: 0, trainRowsFlagged: 0 },
    },
  });
  const report = (await store.getJson<Record<string, unknown>>(summary.reportUri))!;
  assert.equal(report.exclude, false);
  assert.deepEqual(
    (report.matches as Array<{ trainId: string; evalId: string; kind: string }>).map((m) => [m.trainId, m.evalId, m.kind]),
    [
      ['tr-0', 'h-0', 'exact'],
      ['tr-1', 'h-1', 'near'],
    ],
  );
  // Idempotent: the same data and settings reuse the manifest and write nothing.
  const writes = store.writes();
  const again = await checkContamination(deps(store), store as unknown as ObjectStore, {
    ...run,
    settings: { check: true, exclude: false, nearDuplicateThreshold: 0.8 },
  });
  assert.deepEqual(again.summary, summary);
  assert.equal(store.writes(), writes);
  // Another threshold is another input: the check runs again (tr-2 is far from everything at any threshold).
  const loose = await checkContamination(deps(store), store as unknown as ObjectStore, {
    ...run,
    settings: { check: true, exclude: false, nearDuplicateThreshold: 0.5 },
  });
  assert.ok(store.writes() > writes);
  assert.equal(loose.summary.flaggedTrainRows, 2);
});

test('prepare: exclude drops the flagged rows, lists them, counts them; nothing is lost silently', async () => {
  const store = memoryStore();
  const run = await preparedRun(store);
  const { summary, trainUri } = await checkContamination(deps(store), store as unknown as ObjectStore, {
    ...run,
    settings: { check: true, exclude: true, nearDuplicateThreshold: 0.8 },
  });
  assert.equal(trainUri, 's3://b/runs/r1/data/contamination/train-rows.jsonl');
  assert.equal(summary.excludedTrainRows, 2);
  assert.equal(summary.excludedUri, 's3://b/runs/r1/data/contamination/excluded.jsonl');
  assert.deepEqual((store.rows(trainUri) as PointwiseExample[]).map((r) => r.id), ['tr-2']);
  const excluded = store.rows(summary.excludedUri!) as Array<{ index: number; id: string; matches: unknown[] }>;
  assert.deepEqual(excluded.map((e) => [e.index, e.id, e.matches.length]), [
    [0, 'tr-0', 1],
    [1, 'tr-1', 1],
  ]);
  const report = (await store.getJson<Record<string, unknown>>(summary.reportUri))!;
  assert.equal(report.excludedTrainRows, 2);
  assert.equal(report.keptTrainUri, trainUri);
  assert.equal(store.rows(run.train.uri).length, 3, 'the ingested training set stays complete');
});

test('prepare: excluding every training row is an error, not an empty training set', async () => {
  const store = memoryStore();
  const run = await preparedRun(store);
  const onlyContaminated = await store.writeJsonl('s3://b/runs/r1/data/train/data/rows.jsonl', [
    { id: 'tr-0', instruction: 'What is 2+2?', response: 'It is 4.', rubric: RUBRIC, gold_score: 5 },
  ]);
  await assert.rejects(
    checkContamination(deps(store), store as unknown as ObjectStore, {
      ...run,
      train: { ...run.train, rows: 1, uri: onlyContaminated.uri },
      settings: { check: true, exclude: true, nearDuplicateThreshold: 0.8 },
    }),
    (e: Error & { type?: string }) => e.type === 'InvalidData' && /all 1 training rows match an evaluation suite/.test(e.message),
  );
});
