/**
 * The run report's HTML (core/report/report-html.ts) and its chart helpers (core/report/report-charts.ts), on hand-built
 * summaries: every section and chart is there, the figures and their intervals appear as `judgeloop results`
 * prints them, hostile names are escaped, missing data reads "—", the embedded JSON parses back to the
 * summary, the page's Content-Security-Policy admits its one script and nothing from the network, and the
 * output is byte-for-byte deterministic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { histogramIterations, renderRunReport, reportUris, tableHtml, trackingText } from '../../core/report/report-html';
import { barChart, heatColor, niceTicks, pointChart, topSeries, truncate } from '../../core/report/report-charts';
import type { IterationSummary, PointwiseMetrics, RunSummary } from '../../core/run/run-types';
import { realisticRunSummary } from '../fixtures/run-summary';

/** The embedded summary, as a tool would read it. */
function embedded(html: string): unknown {
  const m = /<script type="application\/json" id="run-summary">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the summary JSON block is there');
  return JSON.parse(m[1]);
}

/** The HTML with the embedded JSON cut out, so text checks look only at what the page shows. */
function visible(html: string): string {
  return html.replace(/<script type="application\/json" id="run-summary">[\s\S]*?<\/script>/, '');
}

/** A summary as a run recorded before usage, curation, intervals, matrices, the gate and champions existed. */
function oldSummary(): RunSummary {
  const p = (exact: number): PointwiseMetrics => ({ kind: 'pointwise', n: 20, parsed: 18, parseRate: 0.9, exactAgreement: exact, mae: 1, pearson: null, spearman: 0.2, kendall: 0.1 });
  return {
    runId: 'old-run',
    runName: 'old',
    judgeName: 'judge',
    configHash: 'abc',
    runPrefixUri: 's3://b/runs/old-run',
    datasets: [{ name: 'held', uri: 's3://b/runs/old-run/data/eval-held/data/rows.jsonl', rows: 20, quarantined: 0, quarantineUri: 's3://b/q' }],
    iterations: [
      { iteration: 0, modelUri: 's3://b/m0', eval: { held: p(0.2), pairs: { kind: 'pairwise', n: 10, accuracy: 0.5, ties: 1, unparseable: 0 } } },
      // Iteration 1 did not evaluate `pairs` (a suite added later, say).
      { iteration: 1, modelUri: 's3://b/m1', pairs: { pairs: 12, inputsWithPair: 10, inputsWithoutPair: 2, uri: 's3://b/p' }, eval: { held: p(0.4) } },
    ],
    finalModelUri: 's3://b/m1',
  };
}

const FULL = renderRunReport(realisticRunSummary(), { startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' });

test('every section and chart of a full summary is there', () => {
  for (const id of ['metrics', 'scores', 'curation', 'usage', 'promotion', 'data']) {
    assert.match(FULL, new RegExp(`<section id="${id}">`), `section ${id}`);
    assert.match(FULL, new RegExp(`<a href="#${id}">`), `nav link to ${id}`);
  }
  const charts = [...FULL.matchAll(/<svg class="chart" data-chart="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(charts, [
    'metric-primary',
    'metric-correlation-0',
    'histogram-0',
    'curation-strategies',
    'curation-dropped',
    'curation-without',
    'usage-time',
    'usage-cost',
  ]);
  // The confusion matrix: a selector over the three iterations, the last one shown, the others hidden.
  assert.match(FULL, /<select data-cm="0"><option value="0">0 \(seed\)<\/option><option value="1">1<\/option><option value="2" selected>2<\/option><\/select>/);
  assert.equal([...FULL.matchAll(/data-cm-panel="0" data-iteration="(\d)"( hidden)?/g)].map((m) => `${m[1]}${m[2] ? ' hidden' : ''}`).join(','), '0 hidden,1 hidden,2');
  assert.equal((FULL.match(/<td class="diag"/g) ?? []).length, 15, 'five diagonal cells per matrix, three matrices');
  assert.equal((FULL.match(/<script/g) ?? []).length, 2, 'the JSON block and the selector script, nothing else');
});

const figureCases: Array<[string, RegExp]> = [
  ['header: run id, judge, champion', /<dt>run id<\/dt><dd>report-run<\/dd>.*<dt>judge<\/dt><dd>tiny-judge<\/dd>.*<dt>champion<\/dt><dd>iteration 2 of this run<\/dd>/s],
  ['header: final model', /<dt>final model<\/dt><dd class="uri">s3:\/\/judgeloop\/runs\/report-run\/iter-2\/train\/job\/model<\/dd>/],
  ['header: total cost (an estimate) and job time', /<dt>job time<\/dt><dd>1h20m<\/dd>.*<dt>estimated cost<\/dt><dd>\$3\.69 \+ 4 unpriced<\/dd>/s],
  ['header: the run\'s own wall time', /<dt>wall time<\/dt><dd>1h27m<\/dd>/],
  ['key result: 22.0% → 83.0% with its interval', /22\.0% → <b>83\.0%<\/b> <span class="card-ci">95% CI \[74\.0%, 92\.0%\]<\/span>/],
  ['key result: the change in points', /▲ \+61\.0 points since iteration 0/],
  ['detail table: exact agreement with its interval', /<td>83\.0<span class="ci">\[74\.0, 92\.0\]<\/span><\/td>/],
  ['detail table: pearson with its interval', /<td>0\.890<span class="ci">\[0\.770, 1\.000\]<\/span><\/td>/],
  ['detail table: paired change vs iteration 0', /<td>\+48\.0<span class="ci">\[\+38\.0, \+58\.0\] p=0\.001<\/span><\/td>/],
  ['pairwise accuracy and A/B accuracy', /<td>73\.5<span class="ci">\[63\.5, 83\.5\]<\/span><\/td>.*<td>70\.0<span class="ci">\[62\.0, 78\.0\]<\/span><\/td>/s],
  ['chart tooltip: a point with its interval', /<title>synthetic-heldout \(exact agreement\) · 2: 83\.0% \[74\.0%, 92\.0%\]<\/title>/],
  ['chart tooltip: a histogram bar', /<title>gold · 3: 20 items<\/title>/],
  ['curation: pairs by strategy and drops', /gold_margin 320, majority_vote 100.*balance 60, length_difference 12/s],
  ['curation chart: a stacked bar', /<title>gold_margin · 2: 320<\/title>/],
  ['usage: per step, priced and not', /<td class="l">train<\/td><td>2<\/td><td>45m50s<\/td><td>45m50s<\/td><td>\$2\.34<\/td><td>56\.7<\/td>/],
  ['usage: unpriced steps', /<td class="l">score<\/td><td>2<\/td><td>1m10s<\/td><td>1m10s<\/td><td>not priced<\/td>/],
  ['usage chart: seconds shown as a duration', /<title>train · 1: 23m20s<\/title>/],
  ['confusion: a cell with its share of the row', /title="gold 1, judge 1: 17 of 20 \(85\.0% of the row\)">17<\/td>/],
  ['promotion: the gate\'s reason', /synthetic-heldout exact agreement \+34\.0 points over the champion/],
  ['datasets: rows and contamination', /<td class="l">train<\/td><td>400<\/td><td>2<\/td><td>3<\/td>/],
];

for (const [name, pattern] of figureCases) {
  test(`shows ${name}`, () => assert.match(visible(FULL), pattern));
}

test('the embedded JSON parses back to the summary; the page is the same bytes every time', () => {
  assert.deepEqual(embedded(FULL), realisticRunSummary());
  assert.equal(renderRunReport(realisticRunSummary(), { startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' }), FULL);
  assert.doesNotMatch(FULL, /NaN|undefined|Infinity|\[object Object\]/);
});

test("the Content-Security-Policy allows no network and exactly the page's own script", () => {
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(FULL)?.[1];
  assert.ok(csp);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-eval|https?:|\*/);
  const script = /<script>([\s\S]*?)<\/script>/.exec(FULL)![1];
  const hash = createHash('sha256').update(script).digest('base64');
  assert.match(csp, new RegExp(`script-src 'sha256-${hash.replace(/[+/=]/g, (c) => `\\${c}`)}'`));
  // Nothing the browser would fetch.
  assert.doesNotMatch(visible(FULL), /<(link|img|iframe|object|embed)\b|src=|url\(|@import/i);
});

test('strings from the data are escaped everywhere: names, reasons, URIs; the JSON cannot end its block', () => {
  const evil = '<img src=x onerror=alert(1)>';
  const suite = '</script><script>alert("suite")</script>&co';
  const s = realisticRunSummary();
  s.judgeName = evil;
  s.runName = `${evil} run`;
  s.runId = `id"onclick="alert(2)`;
  s.finalModelUri = `s3://b/${evil}`;
  s.datasets[0].name = evil;
  for (const it of s.iterations) {
    it.eval[suite] = it.eval['synthetic-heldout'];
    delete it.eval['synthetic-heldout'];
    if (it.gate) it.gate.reasons = [`${evil} \u2028 reason`];
    if (it.pairs?.curation) it.pairs.curation.droppedByReason = { [evil]: 3 };
    if (it.usage) it.usage.byStep = { [evil]: { jobs: 1, seconds: 5, billableSeconds: 5, usd: 0, unpricedJobs: 1 } };
  }
  const html = renderRunReport(s);
  const shown = visible(html);
  assert.doesNotMatch(shown, /<img|<script>alert|onclick="alert|<\/script><script>/);
  assert.match(shown, /<dt>judge<\/dt><dd>&lt;img src=x onerror=alert\(1\)&gt;<\/dd>/);
  assert.match(shown, /<h1>&lt;img src=x onerror=alert\(1\)&gt; run<\/h1>/);
  assert.match(shown, /<dd>id&quot;onclick=&quot;alert\(2\)<\/dd>/);
  assert.match(shown, /&lt;\/script&gt;&lt;script&gt;alert\(&quot;suite&quot;\)&lt;\/script&gt;&amp;co: correlation with gold/);
  assert.ok(shown.includes('aria-label="&lt;/script&gt;&lt;script&gt;alert(&quot;suite&quot;)&lt;/script&gt;&amp;co: judge scores against gold"'));
  assert.equal((html.match(/<script/g) ?? []).length, 2);
  assert.equal((html.match(/<\/script>/g) ?? []).length, 2, 'the hostile suite name did not close the JSON block');
  assert.deepEqual(embedded(html), s);
});

test('older summaries: no usage, curation, intervals, matrices or gate, and a suite missing from an iteration read "—"', () => {
  const html = renderRunReport(oldSummary());
  const shown = visible(html);
  assert.match(shown, /<p class="empty">— no usage figures in this summary/);
  assert.match(shown, /<p class="empty">— no curation statistics in this summary/);
  assert.match(shown, /no bootstrap intervals \(evaluation\.bootstrap\.resamples is 0\)/);
  assert.match(shown, /<p class="empty">— no score distribution recorded/);
  assert.match(shown, /<p class="empty">— no confusion matrix recorded/);
  assert.match(shown, /not evaluated in iteration 1: —/);
  assert.match(shown, /<dt>estimated cost<\/dt><dd>—<\/dd>.*<dt>wall time<\/dt><dd>—<\/dd>/s);
  assert.match(shown, /<dt>champion<\/dt><dd>—<\/dd>/);
  assert.doesNotMatch(shown, /<section id="promotion">/, 'no gate, no champion: no promotion section');
  // The results table: iteration 1 has no value for `pairs` and no correlation for pearson.
  assert.match(shown, /<td>1<\/td><td>12<\/td><td>—<\/td><td>—<\/td><td>40\.0<\/td><td>—<\/td>/);
  // The metric chart still draws: held in both iterations, pairs only in iteration 0 (no line, one point).
  assert.match(shown, /data-chart="metric-primary"/);
  assert.match(shown, /<title>pairs \(accuracy\) · 0 \(seed\): 50\.0%<\/title>/);
  assert.doesNotMatch(shown, /pairs \(accuracy\) · 1:/);
  assert.doesNotMatch(html, /NaN|undefined|Infinity/);
  assert.deepEqual(embedded(html), oldSummary());
});

test('a summary without iterations, datasets or eval still renders, every section saying —', () => {
  const bare = { runId: 'r', runName: '', judgeName: '', configHash: '', runPrefixUri: '', finalModelUri: '' } as unknown as RunSummary;
  const html = renderRunReport(bare);
  assert.match(html, /<p class="empty">— no evaluated iteration in this summary<\/p>/);
  assert.match(html, /<p class="empty">— no pointwise suite in this run<\/p>/);
  assert.match(html, /<p class="empty">— no datasets listed<\/p>/);
  assert.match(html, /<dt>final model<\/dt><dd class="uri">—<\/dd>/);
  assert.doesNotMatch(html, /<svg/);
  const withoutEval = renderRunReport({ ...oldSummary(), iterations: [{ iteration: 0, modelUri: 'm' } as IterationSummary] });
  assert.match(withoutEval, /no evaluated iteration/);
});

test('the matrices can come from report.json (extras) when the summary lacks them', () => {
  const s = oldSummary();
  const confusion = { levels: [1, 2], counts: [[3, 1], [0, 4]], unparseable: [1, 0] };
  const html = renderRunReport(s, { suiteDetail: { 1: { held: { confusion } } } });
  assert.match(html, /data-cm-panel="0" data-iteration="1">/);
  assert.match(html, /title="gold 1, judge 1: 3 of 5 \(60\.0% of the row\)">3<\/td>/);
  // The distribution comes from the matrix's columns; the gold one from its rows.
  assert.match(html, /<title>judge, iteration 1 · 2: 5 items<\/title>/);
  assert.match(html, /<title>gold · 1: 5 items<\/title>/);
  const noted = renderRunReport(s, { suiteDetail: { 0: { held: { confusion: null, notes: ['gold 3.67 is not an integer on the scale'] } } } });
  assert.match(noted, /— no confusion matrix recorded: gold 3\.67 is not an integer on the scale/);
});

test('reportUris and the HTML table helper', () => {
  assert.deepEqual(reportUris('s3://b/runs/x/'), { htmlUri: 's3://b/runs/x/report/report.html', summaryUri: 's3://b/runs/x/report/summary.json' });
  const t = tableHtml({ header: ['a', 'b'], rows: [['<x>', '1.0 [0.5, 2.0]']], align: ['left', 'right'] });
  assert.equal(t, '<div class="table-wrap"><table class="data"><thead><tr><th class="l">a</th><th>b</th></tr></thead><tbody><tr><td class="l">&lt;x&gt;</td><td>1.0<span class="ci">[0.5, 2.0]</span></td></tr></tbody></table></div>');
});

// ------------------------------------------------------------------------------------- chart helpers

const tickCases: Array<[number, number, number[]]> = [
  [0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
  [0, 83, [0, 20, 40, 60, 80, 100]],
  [-0.02, 1, [-0.5, 0, 0.5, 1]],
  [0, 0.0042, [0, 0.001, 0.002, 0.003, 0.004, 0.005]],
  [5, 5, [2, 3, 4, 5, 6, 7, 8]],
  [0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1]],
];
for (const [lo, hi, want] of tickCases) {
  test(`niceTicks(${lo}, ${hi})`, () => assert.deepEqual(niceTicks(lo, hi), want));
}

test('chart helpers: heat colours, truncation, the iterations a histogram shows, "other" for small series', () => {
  assert.deepEqual(heatColor(0), { background: '#f7fbff', color: '#1d232a' });
  assert.deepEqual(heatColor(1), { background: '#08306b', color: '#ffffff' });
  assert.deepEqual(heatColor(Number.NaN), heatColor(0));
  assert.equal(truncate('abcdef', 4), 'abc…');
  assert.deepEqual(histogramIterations([0, 1, 2]), [0, 1, 2]);
  assert.deepEqual(histogramIterations([0, 1, 2, 3, 4, 5, 6]), [0, 2, 4, 6]);
  const series = 'abcdefghij'.split('').map((name, i) => ({ name, values: [i, 1] }));
  const top = topSeries(series, 7);
  assert.equal(top.length, 8);
  assert.equal(top[7].name, 'other (3)');
  assert.deepEqual(top[7].values, [0 + 1 + 2, 3]);
});

test('charts: every mark has a size and a tooltip; missing values draw nothing; same data, same bytes', () => {
  const spec = {
    id: 'x',
    title: 't',
    categories: ['0', '1', '2'],
    xLabel: 'iteration',
    yLabel: 'v',
    series: [{ name: 's', points: [{ y: 0.5, low: 0.4, high: 0.6 }, { y: null }, { y: 0.7 }] }],
    yDomain: [0, 1] as [number, number],
    format: (v: number) => String(v),
  };
  const svg = pointChart(spec);
  assert.equal(svg, pointChart(spec));
  assert.equal((svg.match(/class="mark"/g) ?? []).length, 2);
  assert.equal((svg.match(/class="errorbar"/g) ?? []).length, 1);
  assert.match(svg, /<path class="line" d="M[\d.]+ [\d.]+M[\d.]+ [\d.]+"/, 'the gap breaks the line');
  const bars = barChart({ id: 'b', title: 't', categories: ['a', 'b'], xLabel: 'x', yLabel: 'y', series: [{ name: 's', values: [3, null] }, { name: 'u', values: [0, 2] }], format: String });
  assert.equal((bars.match(/<rect class="mark"/g) ?? []).length, 2, 'no bar for null or 0');
  for (const m of bars.matchAll(/<rect class="mark" x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="([\d.]+)"/g)) {
    assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0);
  }
});

test('a scheduled run says when it was scheduled for', () => {
  const html = renderRunReport({ ...oldSummary(), scheduledFor: '2025-03-03T02:00:00.000Z' });
  assert.match(html, /<dt>scheduled for<\/dt><dd>2025-03-03T02:00:00\.000Z<\/dd>/);
  assert.doesNotMatch(renderRunReport(oldSummary()), /scheduled for/);
});

test('work reused from earlier runs is listed under the usage section; a run that reused nothing shows no such list', () => {
  assert.doesNotMatch(visible(FULL), /Reused from earlier runs/);
  const s = realisticRunSummary();
  s.usage = { ...s.usage!, reused: ['r-i1-sample'], reusedSteps: ['iter-1/pair', 'iter-1/score'] };
  const shown = visible(renderRunReport(s));
  assert.match(shown, /<h3>Reused from earlier runs<\/h3><p><b>Jobs reused, not run<\/b> \(same inputs as a job that finished earlier\): r-i1-sample<\/p>/);
  assert.match(shown, /<b>Data steps reused, not recomputed<\/b> \(copied from the same step of an earlier run with the same inputs\): iter-1\/pair, iter-1\/score<\/p>/);
});

test('experiment tracking: the header links the MLflow run, and says which iterations are not tracked and how to send them', () => {
  const summary = realisticRunSummary();
  const tracked = { trackingUri: 'http://127.0.0.1:5000', experiment: 'judgeloop/tiny', runUrl: 'http://127.0.0.1:5000/#/experiments/1/runs/abc', tracked: [0, 1, 2], untracked: [] };
  const all = visible(renderRunReport(summary, { tracking: tracked }));
  assert.match(all, /experiment tracking(<[^>]+>)+MLflow: http:\/\/127\.0\.0\.1:5000\/#\/experiments\/1\/runs\/abc/);
  assert.doesNotMatch(all, /Not in the experiment tracker/);
  const cases: Array<[string, Array<{ iteration: number; reason: string }>, RegExp]> = [
    ['one', [{ iteration: 2, reason: 'no answer within 10 s' }], /Not in the experiment tracker: iteration 2 \(no answer within 10 s\)\. Send it with: judgeloop track /],
    ['two', [{ iteration: 1, reason: 'down' }, { iteration: 2, reason: 'down' }], /iterations 1, 2 \(down\)\. Send them with: judgeloop track /],
  ];
  for (const [name, untracked, want] of cases) {
    const html = visible(renderRunReport(summary, { tracking: { ...tracked, tracked: [0], untracked } }));
    assert.match(html, want, name);
    assert.ok(html.includes(`judgeloop track ${summary.runId}`), name);
  }
  const none = trackingText({ trackingUri: null, experiment: 'judgeloop/tiny', tracked: [], untracked: [{ iteration: 0, reason: 'no tracking server' }] }, 'r');
  assert.equal(none.fact, 'MLflow: no tracking server');
  assert.doesNotMatch(visible(renderRunReport(summary)), /experiment tracking/, 'a run that does not track says nothing of it');
});
