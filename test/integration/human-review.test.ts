/**
 * The blind human review end to end, on the real S3 server and a real headless Chromium (Debian's
 * /usr/bin/chromium, driven by playwright-core): two iterations' evaluation judgments and the prepared suites
 * are written to S3 in a run's layout (rows made by the score step's own `scoreRawJudgment`), exported with
 * `exportReview` (the Temporal part of `judgeloop review export` is only how the run summary is found), then
 * two annotators answer on the page (one with the mouse, one with the keyboard) and save, a third fills in the
 * CSV sheet, and the import must give the win rate, tie rate and Fleiss' kappa computed by hand below.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import { validateConfig } from '../../core/config/config';
import { csvRow, parseCsv } from '../../core/review/csv';
import type { JudgeRole, ReviewKey } from '../../core/review/human-review';
import { formatJudgment } from '../../core/judging/judgment';
import type { PairwiseExampleInput, PointwiseExampleInput, Rubric } from '../../core/data/records';
import { scoreRawJudgment } from '../../activities/steps/score';
import type { ObjectStore } from '../../activities/storage/object-store';
import { CliError } from '../../cli/connection';
import { cmdReview, exportReview, importReview, type ReviewRunSource } from '../../cli/review';
import { storeFor, testConfig, useLocalS3Credentials } from '../support/judgeloop';
import { startTestServices, type TestServices } from '../support/services';

const CHROMIUM = '/usr/bin/chromium';
const EVIL = '<script>window.__pwned = 1</script><b>bold?</b>';

let services: TestServices;
let browser: Browser;
let dir: string;

before(async () => {
  services = await startTestServices({ temporal: false });
  useLocalS3Credentials(services);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; install it with: bash scripts/setup.sh --only browser`);
  // --no-sandbox: Chromium's sandbox refuses to run as root (CI and these machines run as root).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-review-'));
});

after(async () => {
  await browser?.close();
  await services?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const RUBRIC: Rubric = { criteria: 'Is it correct?', score1: 'wrong', score2: 'mostly wrong', score3: 'half', score4: 'mostly right', score5: 'right' };

/** Writes a run's prepared suites and two iterations' evaluation judgments in the layout a run uses. */
async function fabricateRun(store: ObjectStore, runPrefixUri: string): Promise<ReviewRunSource> {
  const validated = validateConfig(testConfig(services));
  assert.ok(validated.ok);
  const config = validated.config;
  const held: PointwiseExampleInput[] = Array.from({ length: 6 }, (_, i) => ({
    id: `h${i}`, instruction: `Question ${i}?`, response: `Answer ${i}.`, rubric: RUBRIC, gold_score: 1 + (i % 5),
  }));
  // h6 is judged only by iteration 0: reported as left out, not reviewed.
  held.push({ id: 'h6', instruction: 'Extra?', response: 'Extra.', rubric: RUBRIC, gold_score: 3 });
  const pairs: PairwiseExampleInput[] = [
    { id: 'p0', instruction: 'Pick the better poem.', chosen: 'Roses are red.', rejected: 'Red.' },
    { id: 'p1', instruction: 'Sum 2 and 2.', chosen: '4', rejected: '5' },
  ];
  const heldUri = joinUri(runPrefixUri, 'data', 'eval-held', 'data', 'rows.jsonl');
  const pairsUri = joinUri(runPrefixUri, 'data', 'eval-pairs', 'data', 'rows.jsonl');
  await store.writeJsonl(heldUri, held);
  await store.writeJsonl(pairsUri, pairs);
  const models = { 0: `${runPrefixUri}/models/seed`, 1: `${runPrefixUri}/iter-1/train/job/model`, 2: `${runPrefixUri}/iter-2/train/job/model` };
  const judgments = (iteration: 0 | 2) => {
    const rows = [];
    const request = (suite: string, id: string, side?: 'chosen' | 'rejected') => `${suite}::${id}${side ? `::${side}` : ''}`;
    const rationale = (id: string) => (iteration === 0 && id === 'h0' ? EVIL : `iteration ${iteration} reasons about ${id}`);
    for (const ex of held) {
      if (iteration === 2 && ex.id === 'h6') continue;
      const score = iteration === 0 ? 3 : (ex.gold_score ?? 3);
      const raw = { request_id: request('held', ex.id), example_id: ex.id, sample_index: 0, text: formatJudgment(rationale(ex.id), score), seed: 1, prompt_hash: 'ph', gold_score: ex.gold_score ?? undefined };
      rows.push({ ...scoreRawJudgment(raw, config, models[iteration]), suite: 'held' });
    }
    for (const ex of pairs) {
      for (const side of ['chosen', 'rejected'] as const) {
        // Iteration 0's judgment of p1's rejected response does not parse: shown as text with no score.
        const text = iteration === 0 && ex.id === 'p1' && side === 'rejected' ? 'I cannot decide' : formatJudgment(rationale(`${ex.id}-${side}`), side === 'chosen' ? 4 : 2);
        const raw = { request_id: request('pairs', ex.id, side), example_id: ex.id, sample_index: 0, text, seed: 1, prompt_hash: 'ph' };
        rows.push({ ...scoreRawJudgment(raw, config, models[iteration]), suite: 'pairs', side });
      }
    }
    return rows;
  };
  for (const iteration of [0, 2] as const) {
    await store.writeJsonl(joinUri(stepPrefix(runPrefixUri, iteration, 'evaluate'), 'metrics', 'judgments.jsonl'), judgments(iteration));
  }
  return {
    runId: 'review-run',
    runPrefixUri,
    datasets: [
      { name: 'train', uri: joinUri(runPrefixUri, 'data', 'train', 'data', 'rows.jsonl') },
      { name: 'held', uri: heldUri },
      { name: 'pairs', uri: pairsUri },
    ],
    // Iteration 1 is in the summary, but its judgments are not in S3.
    iterations: [0, 1, 2].map((iteration) => ({ iteration, modelUri: models[iteration as 0 | 1 | 2] })),
  };
}

type Outcome = 'C' | 'B' | 'T'; // challenger's rationale better, baseline's better, tie

/** The A/B/tie answer that means `outcome` on an item whose A side is `a`. */
function answerFor(outcome: Outcome, a: JudgeRole): 'A' | 'B' | 'tie' {
  if (outcome === 'T') return 'tie';
  const wanted: JudgeRole = outcome === 'C' ? 'challenger' : 'baseline';
  return wanted === a ? 'A' : 'B';
}

const text = async (page: Page, id: string) => (await page.textContent(`#${id}`)) ?? '';

test('review export → page in Chromium → saved answers and a CSV sheet → import: hand-computed win rate, ties, kappa', { timeout: 120_000 }, async () => {
  const store = storeFor(services);
  const runPrefixUri = `s3://${services.s3.bucket}/runs/review-run`;
  const run = await fabricateRun(store, runPrefixUri);
  const out = path.join(dir, 'review');

  // Errors that say what to do next.
  await assert.rejects(exportReview(store, run, { baseline: 0, challenger: 5, outDir: out }), (e: unknown) =>
    e instanceof CliError && /iteration 5 has no evaluation judgments; the run review-run has iterations 0\.\.2/.test(e.message));
  await assert.rejects(exportReview(store, run, { baseline: 0, challenger: 1, outDir: out }), /iteration 1 has no evaluation judgments: s3:\/\/.*iter-1\/evaluate\/metrics\/judgments\.jsonl does not exist/);
  await assert.rejects(exportReview(store, run, { baseline: 0, challenger: 2, outDir: out, suites: ['nope'] }), /no judgments of suite nope; iterations 0 and 2 judged held, pairs/);
  assert.ok(!existsSync(out), 'nothing written on error');

  const exported = await exportReview(store, run, { baseline: 0, challenger: 2, seed: 11, outDir: out });
  const key = JSON.parse(readFileSync(exported.files.key, 'utf8')) as ReviewKey;
  const n = key.items.length;
  assert.equal(n, 10, '6 held items + 2 pairs × 2 sides');
  assert.deepEqual(key.pairing.onlyBaseline, { count: 1, examples: ['held::h6'] });
  assert.equal(key.judges.challenger.iteration, 2);
  assert.equal(key.judges.baseline.modelUri, `${runPrefixUri}/models/seed`);
  assert.equal(key.seed, 11);
  const html = readFileSync(exported.files.page, 'utf8');
  for (const secret of ['review-run', 's3://', 'iter-2', 'models/seed']) assert.ok(!html.includes(secret), `page reveals ${secret}`);
  // The same export again is the same review (same id, same order and sides).
  const again = await exportReview(store, run, { baseline: 0, challenger: 2, seed: 11, outDir: out });
  assert.deepEqual(again.key.items, key.items);

  // What each annotator means to answer, per item in page order (C: challenger better, B: baseline, T: tie).
  const plans: Record<'ann' | 'bob' | 'cat', Outcome[]> = {
    ann: ['C', 'C', 'C', 'C', 'C', 'C', 'B', 'B', 'T', 'T'], // 6 wins, 2 losses, 2 ties
    bob: ['C', 'C', 'C', 'B', 'B', 'T', 'B', 'B', 'T', 'C'], // 4, 4, 2
    cat: ['C', 'C', 'B', 'C', 'C', 'C', 'B', 'T'], // 5, 2, 1; items 9 and 10 left blank (CSV)
  };
  const url = pathToFileURL(exported.files.page).href;

  // ann: the mouse, a changed answer, a comment, and the <script> rationale shown as text.
  const annContext = await browser.newContext({ acceptDownloads: true });
  const page = await annContext.newPage();
  await page.goto(url);
  assert.equal(await text(page, 'progress'), `0 / ${n} answered`);
  assert.equal(await text(page, 'position'), `Item 1 of ${n}`);
  const wrong = answerFor(plans.ann[0], key.items[0].a) === 'A' ? 'B' : 'A';
  await page.click(`#choice-${wrong}`);
  assert.equal(await text(page, 'position'), `Item 2 of ${n}`, 'choosing moves on');
  await page.click('#prev');
  assert.equal(await page.getAttribute(`#choice-${wrong}`, 'aria-pressed'), 'true');
  for (let i = 0; i < n; i++) {
    assert.equal(await text(page, 'position'), `Item ${i + 1} of ${n}`);
    assert.equal(await text(page, 'item-id'), key.items[i].itemId);
    if (key.items[i].itemId === 'held::h0') {
      // The baseline's rationale for h0 holds markup: it must be text, not run.
      const shown = await text(page, key.items[i].a === 'baseline' ? 'rationale-a' : 'rationale-b');
      assert.equal(shown, EVIL);
      assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('b').count(), 0);
    }
    if (key.items[i].itemId === 'pairs::p1::rejected') {
      const side = key.items[i].a === 'baseline' ? 'score-a' : 'score-b';
      assert.match(await text(page, side), /did not parse/);
    }
    if (i === 3) await page.fill('#comment', 'both vague, B less so');
    await page.click(`#choice-${answerFor(plans.ann[i], key.items[i].a)}`);
  }
  assert.equal(await text(page, 'progress'), `${n} / ${n} answered`);
  // No name yet: saving asks for one instead of downloading.
  await page.click('#save');
  assert.match(await text(page, 'status'), /Type your name/);
  await page.fill('#annotator', 'ann');
  const [annDownload] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
  assert.equal(annDownload.suggestedFilename(), `${key.reviewId}-ann.json`);
  const annFile = path.join(dir, annDownload.suggestedFilename());
  await annDownload.saveAs(annFile);
  assert.match(await text(page, 'status'), new RegExp(`Saved ${n} of ${n} answers`));
  await annContext.close();

  // bob: the keyboard (1/2/3 and a/b/t), and a reload half way that restores the answers from localStorage.
  const bobContext = await browser.newContext({ acceptDownloads: true });
  const bob = await bobContext.newPage();
  await bob.goto(url);
  await bob.fill('#annotator', 'bob');
  const keys = { A: ['1', 'a'], B: ['2', 'b'], tie: ['3', 't'] } as const;
  for (let i = 0; i < n; i++) {
    if (i === 5) {
      await bob.reload();
      assert.equal(await text(bob, 'progress'), `5 / ${n} answered`);
      assert.equal(await text(bob, 'position'), `Item 6 of ${n}`);
      assert.equal(await bob.inputValue('#annotator'), 'bob');
    }
    await bob.locator('body').click({ position: { x: 1, y: 1 } }); // focus off the name field
    await bob.keyboard.press(keys[answerFor(plans.bob[i], key.items[i].a)][i % 2]);
  }
  assert.equal(await text(bob, 'progress'), `${n} / ${n} answered`);
  const [bobDownload] = await Promise.all([bob.waitForEvent('download'), bob.click('#save')]);
  const bobFile = path.join(dir, bobDownload.suggestedFilename());
  await bobDownload.saveAs(bobFile);
  await bobContext.close();
  const bobSaved = JSON.parse(readFileSync(bobFile, 'utf8')) as { reviewId: string; annotator: string; answers: unknown[] };
  assert.equal(bobSaved.reviewId, key.reviewId);
  assert.equal(bobSaved.annotator, 'bob');
  assert.equal(bobSaved.answers.length, n);
  const annSaved = JSON.parse(readFileSync(annFile, 'utf8')) as { answers: Array<{ item_id: string; comment?: string }> };
  assert.equal(annSaved.answers.find((a) => a.item_id === key.items[3].itemId)?.comment, 'both vague, B less so');

  // cat: the CSV sheet, choices filled in for the first 8 rows (mixed case), the last two left blank.
  const sheet = parseCsv(readFileSync(exported.files.sheet, 'utf8'));
  assert.deepEqual(sheet.slice(1).map((r) => r.fields[0]), key.items.map((i) => i.itemId), 'the sheet is in page order');
  const filled = sheet.map((r, i) => {
    if (i === 0 || i > plans.cat.length) return csvRow(r.fields);
    const choice = answerFor(plans.cat[i - 1], key.items[i - 1].a);
    return csvRow([r.fields[0], i % 2 ? choice.toLowerCase() : choice, ...r.fields.slice(2)]);
  });
  const catFile = path.join(dir, 'cat.csv');
  writeFileSync(catFile, filled.join('\r\n') + '\r\n');

  const report = await importReview(exported.files.key, [annFile, bobFile, catFile]);
  // By hand: wins 6 + 4 + 5 = 15, losses 2 + 4 + 2 = 8, ties 2 + 2 + 1 = 5 of 28 answers.
  assert.deepEqual(report.counts, { wins: 15, losses: 8, ties: 5 });
  assert.equal(report.rates.winRate, 17.5 / 28); // (15 + 5/2) / 28 = 62.5%
  assert.equal(report.rates.tieRate, 5 / 28);
  assert.equal(report.rates.decisiveWinRate, 15 / 23);
  assert.deepEqual(report.perAnnotator.map((a) => [a.annotator, a.answered, a.wins, a.losses, a.ties]), [
    ['ann', 10, 6, 2, 2], ['bob', 10, 4, 4, 2], ['cat', 8, 5, 2, 1],
  ]);
  // Kappa over items 1-8 (answered by all three), counts [C, B, T]: [3,0,0] [3,0,0] [2,1,0] [2,1,0] [2,1,0]
  // [2,0,1] [0,3,0] [0,2,1]. P̄ = (3 × 1 + 5 × 1/3) / 8 = 7/12; p = (14, 8, 2) / 24, P_e = 264/576 = 11/24;
  // κ = (7/12 − 11/24) / (13/24) = 3/13.
  assert.equal(report.agreement.subjects, 8);
  assert.ok(Math.abs(report.agreement.kappa! - 3 / 13) < 1e-12, `kappa ${report.agreement.kappa}`);
  assert.ok(report.ci.winRate.low! <= 0.625 && 0.625 <= report.ci.winRate.high!);

  // The command prints the table; --json the report.
  const lines: string[] = [];
  const sink = { write: (s: string) => lines.push(s) };
  assert.equal(await cmdReview({ command: 'review', action: 'import', keyPath: exported.files.key, answerPaths: [annFile, bobFile, catFile], json: false }, { out: sink, err: sink }), 0);
  const table = lines.join('');
  assert.match(table, /challenger iteration 2 vs baseline iteration 0/);
  assert.match(table, /win rate \(ties count half\): 62\.5% \[/);
  assert.match(table, /Fleiss' kappa: +0\.231 over 8 item\(s\)/);
  console.log(table);

  // A bad answer file is rejected with its name and line.
  const badFile = path.join(dir, 'dan.csv');
  writeFileSync(badFile, `item_id,choice\n${key.items[0].itemId},maybe\n`);
  await assert.rejects(importReview(exported.files.key, [annFile, badFile]), (e: unknown) =>
    e instanceof CliError && e.message.includes(`dan.csv: a problem:\n  line 2: choice "maybe" for item "${key.items[0].itemId}" is not A, B or tie`));
});
