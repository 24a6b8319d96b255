/**
 * The annotator's page for a blind review: one self-contained HTML file (inline CSS and JavaScript, no
 * network, works from file://) that shows one item at a time and saves the answers as a JSON file.
 *
 * Blindness: the generator receives only the review's `page` half (core/review/human-review.ts `BlindReview`): item
 * ids, texts and the two rationales as A and B. Judge names, iterations and model URIs are not in its input,
 * so they cannot reach the page.
 *
 * Escaping: rationales are model output and may contain markup. The data travels as JSON inside a
 * `<script type="application/json">` element with every `<` written as `\u003c` (so no `</script>` or
 * `<!--` can end it early), and the page's script puts every text into the document with `textContent`,
 * never as HTML. The only interpolations into HTML are the escaped review id and item count. The
 * Content-Security-Policy admits only the page's own script, by its hash.
 *
 * The page: instruction, response, rubric (criteria, score descriptions folded), Rationale A and B with their
 * scores, buttons A / B / Tie (keys 1 2 3 or a b t; choosing moves to the next item), Previous / Next (keys
 * ← → or p n), a comment per item, progress "7 / 40 answered", the annotator's name, and "Save answers",
 * which downloads `<reviewId>-<annotator>.json`:
 * `{ format, reviewId, annotator, saved, items, answers: [{ item_id, choice, comment? }] }` (answered items
 * only, in page order). Work in progress is kept in the browser's localStorage under `judgeloop-review:<id>`
 * and restored when the page is opened again.
 */
import { createHash } from 'node:crypto';
import { csvRow } from './csv';
import type { BlindReview } from './human-review';

export const ANSWERS_FORMAT = 'judgeloop-human-review-answers/v1';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** JSON that is safe inside a `<script>` element: `<` and the JS line separators written as escapes. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232a;background:#f4f5f7}
header{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:10px 18px;background:#fff;border-bottom:1px solid #d6d9de}
header h1{font-size:16px;margin:0 12px 0 0}
main{max-width:1200px;margin:0 auto;padding:16px 18px 40px}
section{background:#fff;border:1px solid #d6d9de;border-radius:6px;padding:12px 14px;margin-bottom:12px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#5b6470;margin:0 0 6px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media (max-width:800px){.pair{grid-template-columns:1fr}}
.score{font-weight:600;margin-top:8px}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:12px 0}
button{font:inherit;padding:7px 16px;border:1px solid #9aa3ad;border-radius:5px;background:#fff;cursor:pointer}
button:disabled{opacity:.45;cursor:default}
button.choice[aria-pressed="true"]{background:#1f6feb;border-color:#1f6feb;color:#fff}
#save{background:#1a7f37;border-color:#1a7f37;color:#fff}
input,textarea{font:inherit;padding:6px 8px;border:1px solid #9aa3ad;border-radius:5px}
textarea{width:100%;min-height:3.2em}
#status{min-height:1.4em;color:#5b6470}
#status.error{color:#b42318}
.muted{color:#5b6470;font-size:13px}
details summary{cursor:pointer;color:#5b6470}
ol.levels{margin:6px 0 0;padding-left:22px}
`;

/** The page's script. Plain ES2017, no template literals (it is itself inside one). */
const SCRIPT = `
(function () {
  'use strict';
  var review = JSON.parse(document.getElementById('review-data').textContent);
  var items = review.items;
  var storageKey = 'judgeloop-review:' + review.id;
  var state = { annotator: '', index: 0, answers: {} };
  var $ = function (id) { return document.getElementById(id); };

  function load() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storageKey) || 'null');
      if (saved && typeof saved === 'object') {
        state.annotator = typeof saved.annotator === 'string' ? saved.annotator : '';
        state.answers = saved.answers && typeof saved.answers === 'object' ? saved.answers : {};
        var i = Number(saved.index);
        state.index = i >= 0 && i < items.length ? Math.floor(i) : 0;
      }
    } catch (e) { /* private mode or storage disabled: start fresh */ }
  }
  function persist() {
    try { window.localStorage.setItem(storageKey, JSON.stringify(state)); } catch (e) { /* not fatal */ }
  }
  function answeredCount() {
    var n = 0;
    for (var k = 0; k < items.length; k++) if (state.answers[items[k].itemId] && state.answers[items[k].itemId].choice) n++;
    return n;
  }
  function setText(id, text) { $(id).textContent = text; }
  function scoreText(score) { return score === null ? 'Score: none (the judgment did not parse)' : 'Score: ' + score; }
  function status(text, isError) { var s = $('status'); s.textContent = text; s.className = isError ? 'error' : ''; }

  function render() {
    if (items.length === 0) { setText('position', 'This review has no items.'); return; }
    var item = items[state.index];
    var answer = state.answers[item.itemId] || {};
    setText('position', 'Item ' + (state.index + 1) + ' of ' + items.length);
    setText('item-id', item.itemId);
    setText('instruction', item.instruction);
    setText('response', item.response);
    setText('criteria', item.criteria);
    var levels = $('levels');
    levels.textContent = '';
    (item.scoreDescriptions || []).forEach(function (d) { var li = document.createElement('li'); li.textContent = d; levels.appendChild(li); });
    $('levels-box').hidden = !(item.scoreDescriptions && item.scoreDescriptions.length);
    setText('rationale-a', item.a.rationale);
    setText('score-a', scoreText(item.a.score));
    setText('rationale-b', item.b.rationale);
    setText('score-b', scoreText(item.b.score));
    ['A', 'B', 'tie'].forEach(function (c) { $('choice-' + c).setAttribute('aria-pressed', answer.choice === c ? 'true' : 'false'); });
    $('comment').value = answer.comment || '';
    $('prev').disabled = state.index === 0;
    $('next').disabled = state.index === items.length - 1;
    setText('progress', answeredCount() + ' / ' + items.length + ' answered');
  }
  function go(delta) {
    var i = state.index + delta;
    if (i < 0 || i >= items.length) return;
    state.index = i;
    persist();
    render();
  }
  function choose(choice) {
    if (items.length === 0) return;
    var item = items[state.index];
    var answer = state.answers[item.itemId] || {};
    answer.choice = choice;
    state.answers[item.itemId] = answer;
    status('');
    persist();
    if (state.index < items.length - 1) go(1); else render();
  }
  function safeName(s) { return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'annotator'; }
  function save() {
    var annotator = $('annotator').value.trim();
    if (!annotator) { status('Type your name in the Annotator field first, then save.', true); $('annotator').focus(); return; }
    var answers = [];
    items.forEach(function (item) {
      var a = state.answers[item.itemId];
      if (!a || !a.choice) return;
      var row = { item_id: item.itemId, choice: a.choice };
      if (a.comment && a.comment.trim()) row.comment = a.comment.trim();
      answers.push(row);
    });
    var doc = { format: ${JSON.stringify(ANSWERS_FORMAT)}, reviewId: review.id, annotator: annotator, saved: new Date().toISOString(), items: items.length, answers: answers };
    var blob = new Blob([JSON.stringify(doc, null, 2) + '\\n'], { type: 'application/json' });
    var url = URL.createObjectURL(blob);
    var link = document.createElement('a');
    link.href = url;
    link.download = review.id + '-' + safeName(annotator) + '.json';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    status('Saved ' + answers.length + ' of ' + items.length + ' answers as ' + link.download + '. Send that file back.');
  }

  load();
  $('annotator').value = state.annotator;
  $('annotator').addEventListener('input', function () { state.annotator = $('annotator').value; persist(); });
  $('comment').addEventListener('input', function () {
    if (items.length === 0) return;
    var id = items[state.index].itemId;
    var answer = state.answers[id] || {};
    answer.comment = $('comment').value;
    state.answers[id] = answer;
    persist();
  });
  ['A', 'B', 'tie'].forEach(function (c) { $('choice-' + c).addEventListener('click', function () { choose(c); }); });
  $('prev').addEventListener('click', function () { go(-1); });
  $('next').addEventListener('click', function () { go(1); });
  $('save').addEventListener('click', save);
  document.addEventListener('keydown', function (e) {
    var tag = e.target && e.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
    var keys = { '1': 'A', 'a': 'A', '2': 'B', 'b': 'B', '3': 'tie', 't': 'tie' };
    var k = e.key.toLowerCase();
    if (keys[k]) { choose(keys[k]); e.preventDefault(); }
    else if (k === 'arrowleft' || k === 'p') { go(-1); e.preventDefault(); }
    else if (k === 'arrowright' || k === 'n') { go(1); e.preventDefault(); }
  });
  render();
})();
`;

/**
 * The page's one script, by hash, is all its Content-Security-Policy lets run: were a field ever to escape
 * its escaping, an injected script would still be refused (as in the run report, core/report/report-html.ts).
 */
const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

export function renderReviewPage(review: BlindReview): string {
  const id = escapeHtml(review.id);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${SCRIPT_HASH}'; img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'">
<title>Blind review ${id}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>Blind review <span class="muted">${id}</span></h1>
  <label>Annotator <input id="annotator" autocomplete="name" placeholder="your name"></label>
  <span id="progress" aria-live="polite">0 / ${review.items.length} answered</span>
  <button id="save" type="button">Save answers</button>
</header>
<main>
  <p class="muted">Two judges rated the same response. Which <strong>rationale</strong> is better: more accurate, more
  specific to the response and the rubric, and better at justifying its score? Choose A, B or Tie (keys 1, 2, 3 or
  a, b, t); choosing moves to the next item. Previous / Next: ← → (or p, n). Your answers are kept in this browser
  until you save them; <strong>Save answers</strong> downloads a file to send back.</p>
  <div class="controls"><strong id="position"></strong> <span class="muted">item <span id="item-id"></span></span></div>
  <section><h2>Instruction</h2><div id="instruction" class="text"></div></section>
  <section><h2>Response</h2><div id="response" class="text"></div></section>
  <section><h2>Rubric</h2><div id="criteria" class="text"></div>
    <details id="levels-box"><summary>score descriptions</summary><ol id="levels" class="levels"></ol></details></section>
  <div class="pair">
    <section><h2>Rationale A</h2><div id="rationale-a" class="text"></div><div id="score-a" class="score"></div></section>
    <section><h2>Rationale B</h2><div id="rationale-b" class="text"></div><div id="score-b" class="score"></div></section>
  </div>
  <div class="controls">
    <button id="prev" type="button">← Previous</button>
    <button id="choice-A" class="choice" type="button" aria-pressed="false">A is better</button>
    <button id="choice-B" class="choice" type="button" aria-pressed="false">B is better</button>
    <button id="choice-tie" class="choice" type="button" aria-pressed="false">Tie</button>
    <button id="next" type="button">Next →</button>
  </div>
  <label for="comment" class="muted">Comment (optional)</label>
  <textarea id="comment"></textarea>
  <p id="status" role="status"></p>
</main>
<script type="application/json" id="review-data">${scriptSafeJson(review)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The answer sheet's columns: the first four are filled in, the rest are context for spreadsheet users. */
export const SHEET_COLUMNS = [
  'item_id',
  'choice',
  'comment',
  'annotator',
  'instruction',
  'response',
  'criteria',
  'rationale_a',
  'score_a',
  'rationale_b',
  'score_b',
] as const;

/**
 * The review as a blank CSV answer sheet (the same items, order and A/B sides as the page): fill in `choice`
 * (A, B or tie) per row, optionally `comment`, and `annotator` once (or name the file after the annotator).
 * Context columns are written spreadsheet-safe (a leading apostrophe before a text that would run as a formula).
 */
export function renderReviewSheet(review: BlindReview): string {
  const lines = [SHEET_COLUMNS.join(',')];
  for (const item of review.items) {
    const score = (v: number | null) => (v === null ? 'unparseable' : String(v));
    lines.push(
      [
        csvRow([item.itemId, '', '', '']),
        csvRow([item.instruction, item.response, item.criteria, item.a.rationale, score(item.a.score), item.b.rationale, score(item.b.score)], true),
      ].join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}
