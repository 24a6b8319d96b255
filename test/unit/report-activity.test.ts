/**
 * The report activity (activities/steps/report.ts) and the CLI's fetch (cli/report.ts `obtainReport`) against an
 * in-memory object store: what is written where, that a rerun writes the same bytes, that the extra reads
 * are only report.json objects the summary needs, bounded, and that a run without a stored page gets one
 * rendered from its summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { isRunResult, runResultOf, runSummaryFrom, type RunSummary } from '../../core/run/run-types';
import { iterationSummaryUri } from '../../core/run/artifacts';
import { readRunSummary } from '../../activities/storage/run-summary';
import type { ActivityDeps } from '../../activities/context';
import type { ObjectStore } from '../../activities/storage/object-store';
import { createReportActivities, readEvaluationDetail } from '../../activities/steps/report';
import { evaluationHeadlines, evaluationReportUris } from '../../core/run/evaluation-detail';
import { defaultReportPath, detailedSummary, obtainReport } from '../../cli/report';
import localConfig from '../../configs/local.json';
import { RUN_PREFIX, realisticRunSummary } from '../fixtures/run-summary';
import { memoryStore } from '../support/memory-store';


function config(): RunConfig {
  const v = validateConfig(localConfig);
  assert.ok(v.ok);
  return v.config;
}

function activities(store: ReturnType<typeof memoryStore>) {
  const deps: ActivityDeps = {
    projectRoot: '/nowhere',
    codeVersion: 'test',
    storeFor: () => store as unknown as ObjectStore,
    runnerFor: () => {
      throw new Error('the report runs no job');
    },
  };
  return createReportActivities(deps);
}

/** The fixture as an older run recorded it: no matrices or distributions in the summary. */
function withoutMatrices(): RunSummary {
  const s = realisticRunSummary();
  for (const it of s.iterations) {
    const m = it.eval['synthetic-heldout'];
    if (m.kind === 'pointwise') {
      delete m.confusion;
      delete m.scoreDistribution;
    }
  }
  return s;
}

test('writeRunReport writes report.html and summary.json under the run prefix; a rerun writes the same bytes', async () => {
  const store = memoryStore();
  const { writeRunReport } = activities(store);
  const summary = realisticRunSummary();
  const input = { config: config(), summary, startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' };
  const out = await writeRunReport(input);
  assert.deepEqual(out, { htmlUri: `${RUN_PREFIX}/report/report.html`, summaryUri: `${RUN_PREFIX}/report/summary.json` });
  const html = store.objects.get(out.htmlUri)!;
  assert.equal(store.contentTypes.get(out.htmlUri), 'text/html; charset=utf-8');
  assert.match(html.toString('utf8'), /<dt>wall time<\/dt><dd>1h27m<\/dd>/);
  assert.deepEqual(JSON.parse(store.objects.get(out.summaryUri)!.toString('utf8')), summary);
  assert.deepEqual(
    store.reads,
    [...evaluationReportUris(summary), `${RUN_PREFIX}/tracking/mlflow.json`],
    "each iteration's report.json is read, and what reached the experiment tracker; nothing else",
  );
  assert.doesNotMatch(html.toString('utf8'), /experiment tracking/, 'a run without tracking/mlflow.json says nothing of tracking');

  const first = new Map([...store.objects].map(([k, v]) => [k, v.toString('utf8')]));
  await writeRunReport(input);
  assert.deepEqual(new Map([...store.objects].map(([k, v]) => [k, v.toString('utf8')])), first);
});

test("an older summary's matrices come from report.json: one read per iteration's file, never more than the cap", async () => {
  const full = realisticRunSummary();
  const store = memoryStore();
  for (const it of full.iterations) {
    const m = it.eval['synthetic-heldout'];
    // report.json as activities/steps/evaluate.ts writes it: the suites' metrics, and the grouped detail.
    await store.putJson(`${RUN_PREFIX}/iter-${it.iteration}/evaluate/metrics/report.json`, {
      iteration: it.iteration,
      modelUri: it.modelUri,
      suites: { 'synthetic-heldout': m, llmbar: it.eval.llmbar },
      detail: { 'synthetic-heldout': { kind: 'pointwise', goldColumns: ['gold'], overall: { n: 100, golds: { gold: { notes: [] } } } } },
    });
  }
  const { writeRunReport } = activities(store);
  const out = await writeRunReport({ config: config(), summary: withoutMatrices() });
  assert.deepEqual(store.reads, [...[0, 1, 2].map((i) => `${RUN_PREFIX}/iter-${i}/evaluate/metrics/report.json`), `${RUN_PREFIX}/tracking/mlflow.json`]);
  const html = store.objects.get(out.htmlUri)!.toString('utf8');
  assert.match(html, /<select data-cm="0">/);
  assert.match(html, /title="gold 1, judge 1: 17 of 20 \(85\.0% of the row\)">17<\/td>/);
  // The page from report.json shows the same matrices and histogram as the one from a full summary.
  const chartsOf = (h: string) => h.replace(/<script type="application\/json"[\s\S]*?<\/script>/, '').match(/<section id="scores">[\s\S]*?<\/section>/)![0];
  const fullStore = memoryStore();
  await activities(fullStore).writeRunReport({ config: config(), summary: full });
  assert.equal(chartsOf(html), chartsOf(fullStore.objects.get(out.htmlUri)!.toString('utf8')));

  // Bounded: with a cap of 2, two files are read; a missing or broken file is skipped.
  const capped = memoryStore();
  await capped.putBytes(`${RUN_PREFIX}/iter-1/evaluate/metrics/report.json`, '{ not json');
  const read = await readEvaluationDetail(capped, withoutMatrices(), 2);
  assert.equal(capped.reads.length, 2);
  assert.deepEqual(read.suiteDetail, {});
  assert.deepEqual(read.summary, withoutMatrices(), 'nothing read, nothing merged');
  assert.deepEqual(read.unread.map((u) => u.uri), [0, 1].map((i) => `${RUN_PREFIX}/iter-${i}/evaluate/metrics/report.json`));
  assert.equal(read.unread[0].reason, 'not found');
  assert.match(read.unread[1].reason, /JSON/);
});

test('a summary with headline figures only: the report and summary.json are those of the full summary, read back from report.json', async () => {
  const full = realisticRunSummary();
  const headlines: RunSummary = { ...full, iterations: full.iterations.map((it) => ({ ...it, eval: evaluationHeadlines(it.eval) })) };
  assert.notDeepEqual(headlines, full, 'the fixture has detail to leave out');
  const store = memoryStore();
  for (const it of full.iterations) {
    await store.putJson(`${RUN_PREFIX}/iter-${it.iteration}/evaluate/metrics/report.json`, { iteration: it.iteration, suites: it.eval });
  }
  const times = { startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' };
  const out = await activities(store).writeRunReport({ config: config(), summary: headlines, ...times });
  assert.deepEqual(JSON.parse(store.objects.get(out.summaryUri)!.toString('utf8')), full);
  const fullStore = memoryStore();
  await activities(fullStore).writeRunReport({ config: config(), summary: full, ...times });
  assert.equal(store.objects.get(out.htmlUri)!.toString('utf8'), fullStore.objects.get(out.htmlUri)!.toString('utf8'));
});

test('report.json notes say why a matrix is missing; malformed matrices are ignored', async () => {
  const store = memoryStore();
  const s = withoutMatrices();
  s.iterations = s.iterations.slice(0, 1);
  await store.putJson(`${RUN_PREFIX}/iter-0/evaluate/metrics/report.json`, {
    suites: { 'synthetic-heldout': { confusion: { levels: [1], counts: 'oops', unparseable: [0] } } },
    detail: { 'synthetic-heldout': { goldColumns: ['gold'], overall: { golds: { gold: { confusion: null, scoreDistribution: null, notes: ['gold 3.67 is off the scale'] } } } } },
  });
  const { suiteDetail } = await readEvaluationDetail(store, s);
  assert.deepEqual(suiteDetail, { 0: { 'synthetic-heldout': { confusion: null, scoreDistribution: null, notes: ['gold 3.67 is off the scale'] } } });
});

test('writeRunReport refuses a summary without an s3:// prefix (non-retryable)', async () => {
  const { writeRunReport } = activities(memoryStore());
  await assert.rejects(writeRunReport({ config: config(), summary: { ...realisticRunSummary(), runPrefixUri: '' } }), (e: unknown) => {
    const f = e as { type?: string; nonRetryable?: boolean; message?: string };
    return f.type === 'InvalidInput' && f.nonRetryable === true && /not an s3:\/\/ URI/.test(f.message ?? '');
  });
});

/** A run that kept its iterations in S3: its result, after recordIterationSummary wrote each iteration. */
async function recordedRun(store: ReturnType<typeof memoryStore>) {
  const summary = realisticRunSummary();
  const { recordIterationSummary } = activities(store);
  for (const it of summary.iterations) {
    const out = await recordIterationSummary({ config: config(), runPrefixUri: summary.runPrefixUri, summary: it });
    assert.equal(out.uri, iterationSummaryUri(RUN_PREFIX, it.iteration));
  }
  return { summary, result: runResultOf(summary, (k) => iterationSummaryUri(summary.runPrefixUri, k)) };
}

test('runResultOf / runSummaryFrom: the run\'s facts and a line per iteration, and back to the same summary', () => {
  const summary = realisticRunSummary();
  const result = runResultOf(summary, (k) => `s3://b/iter-${k}/summary.json`);
  assert.ok(isRunResult(result) && !isRunResult(summary));
  assert.equal('iterations' in result, false);
  assert.deepEqual(result.iterationResults, summary.iterations.map((it) => ({
    iteration: it.iteration,
    modelUri: it.modelUri,
    summaryUri: `s3://b/iter-${it.iteration}/summary.json`,
    ...(it.gate ? { promoted: it.gate.promote } : {}),
  })));
  assert.ok(JSON.stringify(result).length < JSON.stringify(summary).length / 2, 'the result is a fraction of the summary');
  // Given out of order, the iterations come back in the result's order.
  assert.deepEqual(runSummaryFrom(result, [...summary.iterations].reverse()), summary);
  assert.throws(() => runSummaryFrom(result, summary.iterations.slice(1)), /the summary of iteration 0 is missing \(expected at s3:\/\/b\/iter-0\/summary.json\)/);
});

test('writeRunReport given a run\'s result reads its iterations\' summaries and writes the same report as from the whole summary', async () => {
  const fromSummary = memoryStore();
  await activities(fromSummary).writeRunReport({ config: config(), summary: realisticRunSummary() });
  const store = memoryStore();
  const { result } = await recordedRun(store);
  const out = await activities(store).writeRunReport({ config: config(), result });
  for (const uri of [out.htmlUri, out.summaryUri]) {
    assert.equal(store.objects.get(uri)!.toString('utf8'), fromSummary.objects.get(uri)!.toString('utf8'), uri);
  }
  assert.deepEqual(await readRunSummary(store, result), realisticRunSummary());
});

test('a missing or foreign iteration summary fails the report step (non-retryable), naming the object', async () => {
  for (const damage of ['missing', 'foreign', 'malformed'] as const) {
    const store = memoryStore();
    const { summary, result } = await recordedRun(store);
    const uri = iterationSummaryUri(RUN_PREFIX, 1);
    if (damage === 'missing') store.objects.delete(uri);
    if (damage === 'foreign') await store.putJson(uri, summary.iterations[2]);
    if (damage === 'malformed') await store.putJson(uri, { ...summary.iterations[1], eval: 'none' });
    const expected = {
      missing: /writeRunReport: the summary of iteration 1 of run .* is missing: s3:\/\/.*\/iter-1\/summary.json does not exist/,
      foreign: /iter-1\/summary.json is not the summary of iteration 1 of run .*: it is iteration 2's/,
      malformed: /iter-1\/summary.json is not the summary of iteration 1 of run .*: eval: /,
    }[damage];
    await assert.rejects(activities(store).writeRunReport({ config: config(), result }), (e: unknown) => {
      const f = e as { type?: string; nonRetryable?: boolean; message?: string };
      assert.equal(f.type, 'InvalidInput', damage);
      assert.equal(f.nonRetryable, true, damage);
      assert.match(f.message ?? '', expected);
      return true;
    });
  }
});

test('readRunSummary: an older run\'s result is its summary, read from nowhere', async () => {
  const store = memoryStore();
  const summary = realisticRunSummary();
  assert.equal(await readRunSummary(store, summary), summary);
  assert.deepEqual(store.reads, []);
});

test('obtainReport: the stored page when there is one, else one rendered from the summary that says so', async () => {
  const summary = realisticRunSummary();
  const store = memoryStore();
  const rendered = await obtainReport(store, summary, { startedAt: '2025-03-02T03:00:00.000Z', finishedAt: '2025-03-02T04:27:13.000Z' });
  assert.equal(rendered.source, 'rendered');
  assert.match(rendered.note!, /report\/report\.html does not exist \(the run finished before run reports were written\)/);
  assert.match(rendered.html, /<p class="note">Rendered by judgeloop report from the run summary: s3:\/\/judgeloop\/runs\/report-run\/report\/report\.html does not exist/);
  assert.match(rendered.html, /<dt>wall time<\/dt><dd>1h27m<\/dd>/);

  await activities(store).writeRunReport({ config: config(), summary });
  const stored = await obtainReport(store, summary);
  assert.equal(stored.source, 'stored');
  assert.equal(stored.html, store.objects.get(`${RUN_PREFIX}/report/report.html`)!.toString('utf8'));

  const failing = { ...memoryStore(), getBytes: async () => Promise.reject(new Error('AccessDenied: no\nmore')) };
  const fallback = await obtainReport(failing, summary);
  assert.equal(fallback.source, 'rendered');
  assert.match(fallback.note!, /could not be read \(AccessDenied: no\)/);
});

test('defaultReportPath: the run id as a safe file name', () => {
  assert.equal(defaultReportPath('judgeloop-local-20250302-030000'), 'judgeloop-local-20250302-030000-report.html');
  assert.equal(defaultReportPath('a/b:c'), 'a_b_c-report.html');
  assert.equal(defaultReportPath('../x'), '__x-report.html');
});

test("detailedSummary (judgeloop results): the whole summary from report.json, or the headline with a note that says what was not read", async () => {
  const full = realisticRunSummary();
  const headlines: RunSummary = { ...full, iterations: full.iterations.map((it) => ({ ...it, eval: evaluationHeadlines(it.eval) })) };
  const store = memoryStore();
  for (const it of full.iterations) {
    await store.putJson(`${RUN_PREFIX}/iter-${it.iteration}/evaluate/metrics/report.json`, { iteration: it.iteration, suites: it.eval });
  }
  assert.deepEqual(await detailedSummary(store, headlines), { summary: full });

  store.objects.delete(`${RUN_PREFIX}/iter-2/evaluate/metrics/report.json`);
  const partial = await detailedSummary(store, headlines);
  assert.deepEqual(partial.summary.iterations[2], headlines.iterations[2], 'the headline where the file is gone');
  assert.deepEqual(partial.summary.iterations[1], full.iterations[1]);
  assert.match(partial.note ?? '', /of one iteration could not be read \(s3:\/\/\S+iter-2\/evaluate\/metrics\/report\.json: not found\); showing the headline figures/);

  const down = { getJson: async () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9000\n    at ...')) };
  const unreachable = await detailedSummary(down, headlines);
  assert.deepEqual(unreachable.summary, headlines);
  assert.match(unreachable.note ?? '', /of 3 iterations could not be read \(\S+: connect ECONNREFUSED 127\.0\.0\.1:9000\).*JUDGELOOP_S3_ENDPOINT/);
});

test('writeRunReport shows what the tracking step recorded: the MLflow run, and the iterations not in it with the command that sends them', async () => {
  const store = memoryStore();
  const summary = realisticRunSummary();
  await store.putJson(`${RUN_PREFIX}/tracking/mlflow.json`, {
    tracker: 'mlflow',
    trackingUri: 'http://127.0.0.1:5000',
    experiment: 'judgeloop/tiny',
    runUrl: 'http://127.0.0.1:5000/#/experiments/1/runs/abc',
    tracked: [0],
    untracked: [{ iteration: 1, reason: 'the MLflow tracking server at http://127.0.0.1:5000 cannot be reached (ECONNREFUSED)' }, { iteration: 2, reason: 'same' }],
  });
  const out = await activities(store).writeRunReport({ config: config(), summary });
  const html = store.objects.get(out.htmlUri)!.toString('utf8');
  assert.match(html, /<dt>experiment tracking<\/dt><dd class="uri">MLflow: http:\/\/127\.0\.0\.1:5000\/#\/experiments\/1\/runs\/abc<\/dd>/);
  assert.match(html, /Not in the experiment tracker: iterations 1, 2 \(the MLflow tracking server at http:\/\/127\.0\.0\.1:5000 cannot be reached \(ECONNREFUSED\)\)\. Send them with: judgeloop track /);
});
