/**
 * The blind human review (core/review/human-review*.ts, core/review/csv.ts): pairing and seeded blinding, answer files,
 * aggregation with hand-computed values, Fleiss' kappa (Wikipedia's worked example and the degenerate cases),
 * the page's escaping and blindness, and the review command's argument parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, UsageError } from '../../cli/args';
import { formatReviewReport, reviewId } from '../../cli/review';
import { csvRow, parseCsv } from '../../core/review/csv';
import {
  balancedSides,
  buildReview,
  parseReviewKey,
  reviewJudgmentRow,
  type BuildReviewInput,
  type JudgeRole,
  type ReviewJudgmentRow,
  type ReviewKey,
} from '../../core/review/human-review';
import { AnswerFileError, parseAnswersCsv, parseAnswersJson, parseChoice, type AnswerSheet } from '../../core/review/human-review-answers';
import { renderReviewPage, renderReviewSheet, SHEET_COLUMNS } from '../../core/review/human-review-page';
import { aggregateReview, fleissKappa, unblind, winRates } from '../../core/review/human-review-stats';

const close = (actual: number | null, expected: number, eps = 1e-9) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `expected ${expected}, got ${actual}`);

// ------------------------------------------------------------------------------------------ Fleiss' kappa

test("Fleiss' kappa: Wikipedia's worked example (10 subjects, 14 raters, 5 categories) gives 0.210", () => {
  const table = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  const k = fleissKappa(table);
  // P̄ = 688 / 1820 (Σ_i (Σ_j n_ij² − 14) / 182 / 10), P_e = (20² + 28² + 39² + 21² + 32²) / 140² = 4170 / 19600.
  close(k.observedAgreement, 688 / 1820);
  close(k.expectedAgreement, 4170 / 19600);
  close(k.kappa, (688 / 1820 - 4170 / 19600) / (1 - 4170 / 19600));
  assert.equal(k.kappa!.toFixed(3), '0.210');
  assert.equal(k.subjects, 10);
  assert.equal(k.raters, 14);
});

test("Fleiss' kappa: hand-computed cases and the degenerate ones (null with a note, never NaN)", () => {
  const cases: Array<{ name: string; table: number[][]; kappa: number | null; note?: RegExp }> = [
    // P̄ = 1, p = (1/2, 1/2, 0), P_e = 1/2 → 1.
    { name: 'perfect agreement over two categories', table: [[2, 0, 0], [0, 2, 0]], kappa: 1 },
    // P̄ = 0, p = (1/2, 1/2, 0), P_e = 1/2 → −1.
    { name: 'two raters always disagreeing', table: [[1, 1, 0], [1, 1, 0]], kappa: -1 },
    // P_i = 1, 1, 0 → P̄ = 2/3; p = (1/2, 1/3, 1/6), P_e = 14/36 → (2/3 − 7/18) / (11/18) = 5/11.
    { name: 'three subjects, two raters', table: [[2, 0, 0], [0, 2, 0], [1, 0, 1]], kappa: 5 / 11 },
    { name: 'every answer in one category', table: [[3, 0, 0], [3, 0, 0]], kappa: null, note: /one category.*P_e = 1/ },
    { name: 'one rater', table: [[1, 0, 0], [0, 1, 0]], kappa: null, note: /at least two raters/ },
    { name: 'no subject', table: [], kappa: null, note: /no subject/ },
  ];
  for (const c of cases) {
    const k = fleissKappa(c.table);
    if (c.kappa === null) {
      assert.equal(k.kappa, null, c.name);
      assert.match(k.note ?? '', c.note!, c.name);
    } else close(k.kappa, c.kappa);
    for (const v of [k.kappa, k.observedAgreement, k.expectedAgreement]) assert.ok(v === null || Number.isFinite(v), c.name);
  }
  assert.throws(() => fleissKappa([[2, 0], [1, 0]]), /same raters/);
});

// ------------------------------------------------------------------------------------------ building a review

function row(role: JudgeRole, suite: string, example: string, extra: Partial<ReviewJudgmentRow> = {}): ReviewJudgmentRow {
  return {
    itemId: `${suite}::${example}${extra.side ? `::${extra.side}` : ''}`,
    suite,
    exampleId: example,
    status: 'ok',
    rationale: `${role} rationale of ${example}`,
    score: role === 'baseline' ? 2 : 4,
    ...extra,
  };
}

const JUDGES: BuildReviewInput['judges'] = {
  baseline: { role: 'baseline', runId: 'run-x', iteration: 0, modelUri: 's3://b/runs/run-x/models/seed', judgmentsUri: 's3://b/i0' },
  challenger: { role: 'challenger', runId: 'run-x', iteration: 2, modelUri: 's3://b/runs/run-x/iter-2/train/job/model', judgmentsUri: 's3://b/i2' },
};

function input(over: Partial<BuildReviewInput> = {}): BuildReviewInput {
  const ids = Array.from({ length: 10 }, (_, i) => `e${i}`);
  return {
    id: 'rv-test',
    seed: 7,
    created: '2025-01-01T00:00:00.000Z',
    judges: JUDGES,
    judgments: {
      // e8 only the baseline judged, e9 only the challenger; ex-missing has no example text.
      baseline: [...ids.slice(0, 9).map((e) => row('baseline', 'held', e)), row('baseline', 'held', 'ex-missing'), row('baseline', 'pairs', 'p1', { side: 'chosen' })],
      challenger: [...ids.filter((e) => e !== 'e8').map((e) => row('challenger', 'held', e)), row('challenger', 'held', 'ex-missing'), row('challenger', 'pairs', 'p1', { side: 'chosen' })],
    },
    example: (r) => (r.exampleId === 'ex-missing' ? undefined : { instruction: `do ${r.exampleId}`, response: `answer ${r.exampleId}`, criteria: 'helpful?' }),
    ...over,
  };
}

test('buildReview pairs by item, counts what is left out, and keeps the judges off the page', () => {
  const { page, key } = buildReview(input());
  assert.equal(key.pairing.paired, 9); // e0..e7 and pairs::p1::chosen
  assert.deepEqual(key.pairing.onlyBaseline, { count: 1, examples: ['held::e8'] });
  assert.deepEqual(key.pairing.onlyChallenger, { count: 1, examples: ['held::e9'] });
  assert.deepEqual(key.pairing.missingExample, { count: 1, examples: ['held::ex-missing'] });
  assert.deepEqual(key.pairing.bySuite, { held: 8, pairs: 1 });
  assert.equal(page.items.length, 9);
  assert.deepEqual(page.items.map((i) => i.itemId), key.items.map((i) => i.itemId));
  // Each position shows the judge the key says.
  for (const [i, item] of page.items.entries()) {
    const a = key.items[i].a;
    assert.equal(item.a.rationale.startsWith(a), true);
    assert.equal(item.b.rationale.startsWith(a === 'baseline' ? 'challenger' : 'baseline'), true);
  }
  // Balanced sides: 9 items → 4 and 5.
  const baselineA = key.items.filter((i) => i.a === 'baseline').length;
  assert.ok(baselineA === 4 || baselineA === 5);
  // Nothing about the judges on the page half.
  const text = JSON.stringify(page);
  for (const secret of ['run-x', 'models/seed', 'iter-2', 'iteration', 'baseline', 'challenger']) {
    assert.ok(!text.replace(/(baseline|challenger) rationale/g, '').includes(secret), `page data mentions ${secret}`);
  }
  assert.equal(key.items.find((i) => i.itemId === 'pairs::p1::chosen')?.side, 'chosen');
});

test('buildReview is deterministic in the seed, independent of input order, and samples with limit', () => {
  const one = buildReview(input());
  const reversed = input();
  reversed.judgments = { baseline: [...reversed.judgments.baseline].reverse(), challenger: [...reversed.judgments.challenger].reverse() };
  assert.deepEqual(buildReview(reversed).key.items, one.key.items);
  const other = buildReview(input({ seed: 8 }));
  assert.notDeepEqual(other.key.items, one.key.items);
  const limited = buildReview(input({ limit: 4 }));
  assert.equal(limited.page.items.length, 4);
  assert.equal(limited.key.pairing.reviewed, 4);
  assert.equal(limited.key.pairing.paired, 9);
  assert.deepEqual(buildReview(input({ limit: 4 })).key.items, limited.key.items);
  assert.equal(limited.key.items.filter((i) => i.a === 'baseline').length, 2);
  const suite = buildReview(input({ suites: ['pairs'] }));
  assert.deepEqual(suite.key.items.map((i) => i.itemId), ['pairs::p1::chosen']);
  assert.equal(suite.key.pairing.otherSuites, 20); // the held suite: 10 judgments per judge
  assert.throws(() => buildReview(input({ suites: ['nope'] })), /no judgments of suite "nope"; the judgments cover held, pairs/);
  assert.throws(() => buildReview(input({ limit: 0 })), /limit must be a positive integer/);
  const dup = input();
  dup.judgments = { ...dup.judgments, challenger: [...dup.judgments.challenger, row('challenger', 'held', 'e1')] };
  assert.throws(() => buildReview(dup), /challenger judge has two judgments of item "held::e1"/);
});

test('balancedSides: half each, the odd one by coin, seeded', () => {
  for (const n of [0, 1, 2, 7, 40]) {
    const s = balancedSides(n, 3);
    assert.equal(s.length, n);
    const b = s.filter((x) => x === 'baseline').length;
    assert.ok(b === Math.floor(n / 2) || b === Math.ceil(n / 2), `n=${n}`);
    assert.deepEqual(balancedSides(n, 3), s);
  }
});

test('reviewJudgmentRow reads evaluate rows and names the line of a bad one', () => {
  const ok = { request_id: 's::e1', example_id: 'e1', suite: 's', status: 'ok', rationale: 'fine', score: 4, text: 'fine [RESULT] 4' };
  assert.deepEqual(reviewJudgmentRow(ok, 'f line 1'), { itemId: 's::e1', suite: 's', exampleId: 'e1', status: 'ok', rationale: 'fine', score: 4 });
  const bad = { request_id: 's::e2::rejected', example_id: 'e2', suite: 's', side: 'rejected', status: 'unparseable', text: 'no marker' };
  assert.deepEqual(reviewJudgmentRow(bad, 'f line 2'), {
    itemId: 's::e2::rejected', suite: 's', exampleId: 'e2', side: 'rejected', status: 'unparseable', rationale: 'no marker', score: null,
  });
  const errors: Array<[unknown, RegExp]> = [
    [[], /f line 3: expected a JSON object/],
    [{ ...ok, suite: '' }, /f line 3: "suite" must be a non-empty string/],
    [{ ...ok, status: 'maybe' }, /"status" must be "ok" or "unparseable"/],
    [{ ...ok, score: undefined }, /needs a numeric "score"/],
    [{ ...ok, side: 'left' }, /"side" must be "chosen" or "rejected"/],
  ];
  for (const [value, re] of errors) assert.throws(() => reviewJudgmentRow(value, 'f line 3'), re);
});

test('parseReviewKey checks what import relies on', () => {
  const { key } = buildReview(input());
  assert.deepEqual(parseReviewKey(JSON.parse(JSON.stringify(key)), 'k.json'), key);
  assert.throws(() => parseReviewKey({ ...key, format: 'x' }, 'k.json'), /k.json: "format" is "x"/);
  assert.throws(() => parseReviewKey({ ...key, items: [{ itemId: 'a', a: 'left' }] }, 'k.json'), /items\[0\]\.a must be "baseline" or "challenger"/);
  assert.throws(() => parseReviewKey({ ...key, items: [key.items[0], key.items[0]] }, 'k.json'), /listed twice/);
});

// ------------------------------------------------------------------------------------------ answer files

const CONTEXT = { reviewId: 'rv-1', itemIds: new Set(['s::1', 's::2', 's::3', 's::4']) };

test('parseChoice: A, B, tie in any case; empty is blank; anything else invalid', () => {
  const table: Array<[string, ReturnType<typeof parseChoice>]> = [
    ['A', 'A'], ['a', 'A'], [' b ', 'B'], ['TIE', 'tie'], ['Tie', 'tie'], ['', null], ['  ', null], ['C', undefined], ['AB', undefined], ['draw', undefined],
  ];
  for (const [raw, want] of table) assert.equal(parseChoice(raw), want, JSON.stringify(raw));
});

test('CSV answers: extra columns, quoted fields, BOM, blanks counted, annotator from column or file name', () => {
  const text = '\ufeffItem_ID,choice,comment,annotator,rationale_a\r\n' + 's::1,a,"good, specific",,"line one\nline two"\r\ns::2,TIE,,,\r\ns::3,,,,\r\n,,,,\r\n';
  const sheet = parseAnswersCsv('answers/carol.csv', text, CONTEXT);
  assert.equal(sheet.annotator, 'carol');
  assert.equal(sheet.blank, 1);
  assert.deepEqual(sheet.answers, [
    { itemId: 's::1', choice: 'A', comment: 'good, specific' },
    { itemId: 's::2', choice: 'tie' },
  ]);
  const named = parseAnswersCsv('sheet.csv', 'item_id,choice,annotator\ns::1,B,dave\ns::2,A,\n', CONTEXT);
  assert.equal(named.annotator, 'dave');
});

test('CSV answers: every bad row is reported with its line, and the file is rejected', () => {
  const text = 'item_id,choice\ns::1,A\ns::9,B\ns::2,maybe\ns::1,B\n"s::3",tie\n';
  const err = (() => {
    try {
      parseAnswersCsv('x.csv', text, CONTEXT);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof AnswerFileError);
  assert.deepEqual(err.problems, [
    'line 3: item_id "s::9" is not an item of review rv-1',
    'line 4: choice "maybe" for item "s::2" is not A, B or tie',
    'line 5: item "s::1" is answered twice (first at line 2)',
  ]);
  assert.match(err.message, /^x\.csv: 3 problems:/);
  const cases: Array<[string, RegExp]> = [
    ['id,answer\ns::1,A\n', /line 1: the header has no item_id and choice column/],
    ['', /the file is empty/],
    ['item_id,choice\ns::1,\n', /no item is answered \(1 left blank\)/],
    ['item_id,choice,annotator\ns::1,A,ann\ns::2,B,bob\n', /the annotator column names "ann", "bob"/],
    ['item_id,choice\n"s::1,A\n', /not valid CSV: line 2: a quoted field is not closed/],
    ['item_id,choice\ns::"1",A\n', /line 2: a quote inside an unquoted field/],
  ];
  for (const [t, re] of cases) assert.throws(() => parseAnswersCsv('x.csv', t, CONTEXT), re, t);
});

test('JSON answers (what the page saves): read, and rejected with the index of each bad answer', () => {
  const good = { format: 'judgeloop-human-review-answers/v1', reviewId: 'rv-1', annotator: ' ann ', answers: [{ item_id: 's::2', choice: 'b', comment: ' hmm ' }, { item_id: 's::1', choice: 'tie' }] };
  const sheet = parseAnswersJson('ann.json', JSON.stringify(good), CONTEXT);
  assert.deepEqual(sheet, { source: 'ann.json', annotator: 'ann', blank: 0, answers: [{ itemId: 's::2', choice: 'B', comment: 'hmm' }, { itemId: 's::1', choice: 'tie' }] });
  const bad = { reviewId: 'rv-2', annotator: '', answers: [{ item_id: 's::1', choice: 'X' }, { choice: 'A' }, { item_id: 's::1', choice: 'A' }, { item_id: 's::1', choice: 'B' }] };
  assert.throws(
    () => parseAnswersJson('ann.json', JSON.stringify(bad), CONTEXT),
    (e: unknown) => {
      assert.ok(e instanceof AnswerFileError);
      assert.deepEqual(e.problems, [
        'reviewId: these are answers to review "rv-2", not to "rv-1" (wrong key file?)',
        'annotator: missing or empty (type a name in the page before saving)',
        'answers[0]: choice "X" for item "s::1" is not A, B or tie',
        'answers[1]: item_id missing or not a string',
        'answers[3]: item "s::1" is answered twice (first at answers[2])',
      ]);
      return true;
    },
  );
  assert.throws(() => parseAnswersJson('a.json', '{nope', CONTEXT), /a\.json: a problem:\n {2}not valid JSON/);
  assert.throws(() => parseAnswersJson('a.json', '{"reviewId":"rv-1","annotator":"x"}', CONTEXT), /answers: missing or not an array/);
});

// ------------------------------------------------------------------------------------------ aggregation

function keyOf(sides: JudgeRole[]): ReviewKey {
  return {
    format: 'judgeloop-human-review/v1',
    reviewId: 'rv-1',
    created: '2025-01-01T00:00:00.000Z',
    seed: 1,
    limit: null,
    suites: null,
    judges: JUDGES,
    pairing: {
      baselineJudgments: 4, challengerJudgments: 4, paired: 4, otherSuites: 0, reviewed: 4, bySuite: { s: 4 },
      onlyBaseline: { count: 0, examples: [] }, onlyChallenger: { count: 0, examples: [] }, missingExample: { count: 0, examples: [] },
    },
    items: sides.map((a, i) => ({ itemId: `s::${i + 1}`, suite: 's', exampleId: `${i + 1}`, a })),
  };
}

function sheet(annotator: string, choices: Record<string, 'A' | 'B' | 'tie'>): AnswerSheet {
  return { source: `${annotator}.json`, annotator, blank: 0, answers: Object.entries(choices).map(([itemId, choice]) => ({ itemId, choice })) };
}

test('unblind and winRates', () => {
  assert.equal(unblind('A', 'baseline'), 'baseline');
  assert.equal(unblind('B', 'baseline'), 'challenger');
  assert.equal(unblind('A', 'challenger'), 'challenger');
  assert.equal(unblind('B', 'challenger'), 'baseline');
  assert.equal(unblind('tie', 'challenger'), 'tie');
  assert.deepEqual(winRates({ wins: 3, losses: 1, ties: 4 }), { votes: 8, winRate: 5 / 8, strictWinRate: 3 / 8, decisiveWinRate: 3 / 4, tieRate: 4 / 8 });
  assert.deepEqual(winRates({ wins: 0, losses: 0, ties: 2 }), { votes: 2, winRate: 0.5, strictWinRate: 0, decisiveWinRate: null, tieRate: 1 });
  assert.deepEqual(winRates({ wins: 0, losses: 0, ties: 0 }), { votes: 0, winRate: null, strictWinRate: null, decisiveWinRate: null, tieRate: null });
});

test('aggregateReview: win rates, per-annotator rows and kappa equal the hand-computed values', () => {
  // A shows: item 1 baseline, 2 challenger, 3 baseline, 4 challenger.
  const key = keyOf(['baseline', 'challenger', 'baseline', 'challenger']);
  const report = aggregateReview(key, [
    sheet('ann', { 's::1': 'B', 's::2': 'A', 's::3': 'tie', 's::4': 'B' }), // challenger, challenger, tie, baseline
    sheet('bob', { 's::1': 'B', 's::2': 'B', 's::3': 'tie', 's::4': 'B' }), // challenger, baseline, tie, baseline
    sheet('cat', { 's::1': 'B', 's::2': 'A', 's::3': 'A' }), // challenger, challenger, baseline; item 4 unanswered
  ]);
  assert.deepEqual(report.counts, { wins: 5, losses: 4, ties: 2 });
  close(report.rates.winRate, 6 / 11);
  close(report.rates.strictWinRate, 5 / 11);
  close(report.rates.decisiveWinRate, 5 / 9);
  close(report.rates.tieRate, 2 / 11);
  assert.equal(report.itemsAnswered, 4);
  assert.deepEqual(
    report.perAnnotator.map((a) => [a.annotator, a.answered, a.unanswered, a.wins, a.losses, a.ties]),
    [['ann', 4, 0, 2, 1, 1], ['bob', 4, 0, 1, 2, 1], ['cat', 3, 1, 2, 1, 0]],
  );
  // Items 1-3 (all three answered): [challenger, baseline, tie] = [3,0,0], [2,1,0], [0,1,2].
  // P̄ = (1 + 1/3 + 1/3) / 3 = 5/9; p = (5/9, 2/9, 2/9), P_e = 33/81; κ = (5/9 − 11/27) / (16/27) = 1/4.
  assert.equal(report.agreement.subjects, 3);
  close(report.agreement.observedAgreement, 5 / 9);
  close(report.agreement.expectedAgreement, 33 / 81);
  close(report.agreement.kappa, 0.25);
  // A seeded interval around the estimate, reproducible.
  const ci = report.ci.winRate;
  assert.ok(ci.low !== null && ci.high !== null && ci.low <= 6 / 11 && 6 / 11 <= ci.high);
  assert.deepEqual(aggregateReview(key, [sheet('ann', { 's::1': 'B' }), sheet('bob', { 's::1': 'B' })]).ci.winRate.seed, ci.seed);
  const text = formatReviewReport(report);
  assert.match(text, /win rate \(ties count half\): 54\.5% \[/);
  assert.match(text, /wins \/ \(wins \+ losses\): +55\.6%/);
  assert.match(text, /tie rate: +18\.2%/);
  assert.match(text, /Fleiss' kappa: +0\.250 over 3 item\(s\)/);
  assert.match(text, /^cat +3\/4 +2 +1 +0 +66\.7% +0\.0%$/m);
});

test('aggregateReview: degenerate agreement and bad input', () => {
  const key = keyOf(['baseline', 'challenger', 'baseline', 'challenger']);
  const one = aggregateReview(key, [sheet('ann', { 's::1': 'A' })]);
  assert.equal(one.agreement.kappa, null);
  assert.match(one.agreement.note ?? '', /at least two annotators/);
  // Everyone prefers the challenger everywhere: P_e = 1.
  const same = aggregateReview(key, [sheet('ann', { 's::1': 'B', 's::2': 'A' }), sheet('bob', { 's::1': 'B', 's::2': 'A' })]);
  assert.equal(same.agreement.kappa, null);
  assert.match(same.agreement.note ?? '', /P_e = 1/);
  close(same.rates.winRate, 1);
  // No item answered by both.
  const disjoint = aggregateReview(key, [sheet('ann', { 's::1': 'B' }), sheet('bob', { 's::2': 'B' })]);
  assert.equal(disjoint.agreement.kappa, null);
  assert.match(disjoint.agreement.note ?? '', /no subject/);
  assert.throws(() => aggregateReview(key, [sheet('ann', { 's::1': 'B' }), { ...sheet('ann', { 's::2': 'A' }), source: 'ann2.csv' }]), /annotator "ann" has two answer files \(ann\.json and ann2\.csv\)/);
  assert.throws(() => aggregateReview(key, []), /no answer file/);
});

// ------------------------------------------------------------------------------------------ page and sheet

test('the page escapes model output and carries no judge identity', () => {
  const evil = '</script><script>window.pwned = 1</script> <img src=x onerror=alert(1)> \u2028';
  const built = buildReview(input({
    judgments: {
      baseline: [row('baseline', 'held', 'e1', { rationale: evil })],
      challenger: [row('challenger', 'held', 'e1')],
    },
  }));
  const html = renderReviewPage(built.page);
  assert.equal((html.match(/<script/g) ?? []).length, 2, 'only the data and the page script');
  assert.ok(!html.includes('window.pwned = 1</script>'));
  assert.ok(html.includes('\\u003c/script>\\u003cscript>window.pwned'));
  assert.ok(!html.includes('<img'));
  assert.ok(!/https?:\/\//.test(html), 'no network');
  for (const secret of ['run-x', 's3://', 'iteration 2', 'models/seed']) assert.ok(!html.includes(secret), secret);
  // The embedded data parses back to the page half.
  const json = /<script type="application\/json" id="review-data">(.*?)<\/script>/s.exec(html)?.[1];
  assert.deepEqual(JSON.parse(json!), built.page);
});

test('the sheet lists the page items in order and round-trips through the CSV parser', () => {
  const built = buildReview(input({ judgments: { baseline: [row('baseline', 'held', 'e1', { rationale: '=SUM(A1)\n"quoted", here' })], challenger: [row('challenger', 'held', 'e1', { score: null, status: 'unparseable' })] } }));
  const csv = renderReviewSheet(built.page);
  const records = parseCsv(csv);
  assert.deepEqual(records[0].fields, [...SHEET_COLUMNS]);
  assert.equal(records.length, 2);
  const fields = records[1].fields;
  assert.equal(fields[0], 'held::e1');
  const a = built.key.items[0].a;
  const rationaleCol = a === 'baseline' ? 7 : 9;
  assert.equal(fields[rationaleCol], `'=SUM(A1)\n"quoted", here`, 'formula-safe, quotes and newline kept');
  assert.equal(fields[a === 'baseline' ? 10 : 8], 'unparseable');
  assert.equal(csvRow(['a,b', 'c"d', 'e']), '"a,b","c""d",e');
});

// ------------------------------------------------------------------------------------------ CLI arguments

test('review command line: export and import', () => {
  const env = {};
  assert.deepEqual(parseCommandLine(['review', 'export', 'run-1', '--a', '0', '--b', '2', '--out', 'rev', '--suite', 'x', '--suite', 'y', '--limit', '40', '--seed', '9'], env), {
    command: 'review',
    action: 'export',
    workflowId: 'run-1',
    baseline: 0,
    challenger: 2,
    suites: ['x', 'y'],
    limit: 40,
    seed: 9,
    outDir: 'rev',
    connection: { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'judgeloop', uiUrl: 'http://127.0.0.1:8233' },
  });
  assert.deepEqual(parseCommandLine(['review', 'import', '--key', 'rev/review-key.json', 'a.json', 'b.csv', '--json'], env), {
    command: 'review', action: 'import', keyPath: 'rev/review-key.json', answerPaths: ['a.json', 'b.csv'], json: true,
  });
  assert.deepEqual(parseCommandLine(['review'], env), { command: 'help', topic: 'review' });
  const bad: Array<[string[], RegExp]> = [
    [['review', 'export', '--a', '0', '--b', '1', '--out', 'd'], /missing RUN_ID/],
    [['review', 'export', 'r', '--a', '0', '--out', 'd'], /missing --a ITER and --b ITER/],
    [['review', 'export', 'r', '--a', '1', '--b', '1', '--out', 'd'], /both iteration 1/],
    [['review', 'export', 'r', '--a', 'x', '--b', '1', '--out', 'd'], /--a must be an integer >= 0, got "x"/],
    [['review', 'export', 'r', '--a', '0', '--b', '1'], /missing required flag --out DIR/],
    [['review', 'export', 'r', '--a', '0', '--b', '1', '--out', 'd', '--limit', '0'], /--limit must be an integer >= 1/],
    [['review', 'import', 'a.json'], /missing required flag --key/],
    [['review', 'import', '--key', 'k.json'], /missing ANSWERS/],
    [['review', 'grade'], /unknown review action "grade"/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseCommandLine(argv, env), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
});

test('review ids do not reveal the judges and change with what the review is made of', () => {
  const id = reviewId('run-1', { baseline: 0, challenger: 2 }, 5);
  assert.match(id, /^rv-[0-9a-f]{8}$/);
  assert.equal(reviewId('run-1', { baseline: 0, challenger: 2 }, 5), id);
  assert.notEqual(reviewId('run-1', { baseline: 0, challenger: 2 }, 6), id);
  assert.notEqual(reviewId('run-1', { baseline: 0, challenger: 2, limit: 3 }, 5), id);
});
