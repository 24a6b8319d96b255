/**
 * End to end: the embedded default (configs/local.json) on a real Temporal server, a real S3-compatible
 * server and the real Python jobs on the tiny judge. Two iterations; asserts on what lands in S3 and that
 * the judge gets measurably better on the synthetic task's held-out split.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import { isRunResult, iterationWorkflowId, type PointwiseMetrics, type RunSummary } from '../../core/run/run-types';
import { validatePreferencePair } from '../../core/data/records';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import type { StepManifest } from '../../activities/storage/reuse';
import { createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';
import { payloadSizes } from '../support/history';
import { freePort } from '../support/services';
import { EVALUATION_DETAIL_KEYS } from '../../core/run/evaluation-detail';
import { main } from '../../cli/judgeloop';
import { experimentRuns, metricHistory, paramOf, startTestMlflow, tagOf, type RestRun } from '../support/mlflow';
import type { MlflowServer } from '../../stack/mlflow';

const stack = useTestStack();
// The embedded default tracks its runs (tracking.mlflow): a real MLflow server, as the local stack starts one.
let mlflow: MlflowServer;
/** Started by the first test (a top-level hook may run before the stack's own). */
async function startTracker(): Promise<void> {
  mlflow = await startTestMlflow(stack.services);
  process.env.MLFLOW_TRACKING_URI = mlflow.url;
}
after(async () => {
  delete process.env.MLFLOW_TRACKING_URI;
  await mlflow?.stop();
});
/** The e2e run, for the tests after the first. */
let e2e: { workflowId: string; summary: RunSummary } | undefined;

test('a two-iteration run completes and leaves every artifact in S3', { timeout: 30 * 60_000 }, async () => {
  await startTracker();
  const taskQueue = 'e2e';
  // A price for this machine's hour, so the local jobs' wall time is costed too (backend.pricePerHour).
  const config = testConfig(stack.services, { backend: { kind: 'local', pricePerHour: 0.9 } });
  const workflowId = `e2e-${Date.now()}`;
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const { result, summary, history } = await worker.runUntil(async () => {
    const handle = await stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [config] });
    // While it runs, `judgeloop status` shows the running jobs' progress from their heartbeats.
    const jobLines = new Set<string>();
    let running = true;
    const watching = (async () => {
      while (running) {
        let out = '';
        const rc = await main(['status', workflowId, '--json', '--address', stack.services.temporalAddress, '--task-queue', taskQueue], {
          out: { write: (s: string) => ((out += s), true) },
          err: { write: () => true },
          env: {},
        });
        if (rc === 0) for (const line of (JSON.parse(out) as { jobs: string[] }).jobs) jobLines.add(line);
        await new Promise((r) => setTimeout(r, 2000));
      }
    })();
    const result = await handle.result().finally(() => (running = false));
    await watching;
    assert.ok(
      [...jobLines].some((l) => /^train [\d,]+\/[\d,]+ steps \(\d+%\) · [\d.]+\/s · ~\S+ left$/.test(l)),
      `status showed a training job's progress with its pace: ${[...jobLines].join(' | ')}`,
    );
    const summary: RunSummary = await summaryOf(stack.services, result);
    return { result, summary, history: await handle.fetchHistory() };
  });
  const store = storeFor(stack.services);

  assert.equal(summary.runId, workflowId);
  assert.deepEqual(summary.iterations.map((i) => i.iteration), [0, 1, 2]);
  assert.equal(summary.datasets.find((d) => d.name === 'train')?.rows, 400);

  const models = new Set<string>();
  for (const it of summary.iterations) {
    for (const suite of ['synthetic-validation', 'synthetic-heldout', 'vicuna-24', 'llmbar-natural-24']) {
      assert.ok(it.eval[suite], `iteration ${it.iteration} has metrics for ${suite}`);
    }
    const heldout = it.eval['synthetic-heldout'] as PointwiseMetrics;
    assert.equal(heldout.n, 100);
    assert.ok(heldout.parseRate >= 0.99, `grammar-constrained decoding parses (${heldout.parseRate})`);
    // The tiny judge's markers are forced (judge.decoding.mode forced): what parsed is either its own or forced.
    assert.ok(heldout.ownParseRate !== undefined && heldout.forcedMarkers !== undefined, 'own parse rate recorded');
    assert.equal(Math.round(heldout.ownParseRate * heldout.n) + heldout.forcedMarkers, heldout.parsed, 'own + forced = parsed');
    assert.ok((it.eval['synthetic-heldout'] as PointwiseMetrics).chance!.exactAgreement <= 0.21, 'chance on a balanced 5-level split is 20%');
    models.add(it.modelUri);
    if (it.iteration === 0) continue;

    // Sample → score: N judgments per selected input, nearly all parseable.
    assert.equal(it.sample!.inputs, 400);
    assert.equal(it.sample!.judgments, 400 * 8);
    assert.ok(it.sample!.parseRate >= 0.99);
    assert.equal(Math.round(it.sample!.ownParseRate! * it.sample!.judgments) + it.sample!.forcedMarkers!, it.sample!.parsed, 'own + forced = parsed');
    // Pair: valid TRL-style pairs whose chosen judgment scores the gold and rejected misses it by >= 2.
    assert.ok(it.pairs!.pairs > 0);
    assert.equal(it.pairs!.inputsWithPair + it.pairs!.inputsWithoutPair, 400);
    let rows = 0;
    for await (const raw of store.readJsonl(it.pairs!.uri)) {
      const v = validatePreferencePair(raw);
      assert.ok(v.ok, v.ok ? '' : v.reason);
      assert.ok(Math.abs(v.record.chosen_score - v.record.rejected_score) >= 2);
      assert.notEqual(v.record.chosen, v.record.rejected);
      rows++;
    }
    assert.equal(rows, it.pairs!.pairs);
    // Train: a new model folder per iteration, with metrics.
    assert.ok(it.train!.steps > 0);
    assert.ok(await store.exists(joinUri(it.train!.modelUri, 'config.json')));
    assert.ok(await store.exists(joinUri(it.train!.modelUri, 'model.safetensors')));
    assert.ok(await store.exists(it.train!.metricsUri));
    for (const step of ['score', 'pair'] as const) {
      const manifest = await store.getJson<StepManifest<unknown>>(joinUri(stepPrefix(summary.runPrefixUri, it.iteration, step), 'manifest.json'));
      assert.ok(manifest, `${step} manifest of iteration ${it.iteration}`);
      assert.ok(manifest.objects.length > 0 && manifest.objects.every((o) => o.sha256.length === 64));
    }
  }
  assert.equal(models.size, 3, 'the seed and one new model per iteration');
  assert.ok(await store.exists(joinUri(stepPrefix(summary.runPrefixUri, 2, 'evaluate'), 'metrics', 'metrics.json')));

  const heldout = (k: number) => summary.iterations[k].eval['synthetic-heldout'] as PointwiseMetrics;
  const before = heldout(0).exactAgreement;
  const champion = summary.champion!;
  assert.equal(champion.runId, workflowId);
  assert.equal(summary.finalModelUri, champion.modelUri, "the run's final judge is its champion");
  const won = heldout(champion.iteration);
  console.log(
    `synthetic-heldout exact agreement: ${summary.iterations.map((it) => `iteration ${it.iteration} ${(heldout(it.iteration).exactAgreement * 100).toFixed(1)}%`).join(' → ')}; ` +
      `gate on iteration 2: ${summary.iterations[2].gate?.promote ? 'promoted' : 'rejected'}; champion: iteration ${champion.iteration}`,
  );
  // The point of the loop: the synthetic task is learnable by the tiny judge, so the judge the run keeps must be
  // measurably better than the seed on the held-out split, and rank with gold.
  assert.ok(champion.iteration > 0 && won.exactAgreement - before >= 0.1, `held-out exact agreement ${before} → ${won.exactAgreement} (champion: iteration ${champion.iteration}): expected a gain of >= 10 points`);
  assert.ok((won.spearman ?? 0) > 0.3, `the champion's scores rank with gold (spearman ${won.spearman})`);
  // Bootstrap intervals travel with the metrics and bracket them.
  const afterLoop = heldout(2).exactAgreement;
  const [low, high] = heldout(2).ci?.intervals.exactAgreement ?? [null, null];
  assert.ok(low !== null && high !== null && low <= afterLoop && afterLoop <= high && high - low < 0.3, `interval [${low}, ${high}] around ${afterLoop}`);
  // A second iteration can undo the first on this judge: runs that differ only in float rounding ended
  // iteration 2 at 83% and at 64% held-out (docs/results.md), so no order between iterations is asserted. The
  // gate decides on the validation split (its suite's primary metric against the champion's): its decision
  // names that suite and its figures, and promotes exactly when every rule says "ok".
  for (const k of [1, 2]) {
    const gate = summary.iterations[k].gate;
    assert.ok(gate && gate.decidedBy === 'gate', `iteration ${k} was decided by the gate`);
    assert.ok(gate.reasons.some((r) => r.startsWith('synthetic-validation ')), `iteration ${k}'s gate names the validation suite: ${gate.reasons.join('; ')}`);
    assert.equal(gate.promote, gate.reasons.every((r) => r.endsWith(': ok')), `iteration ${k}: ${gate.reasons.join('; ')}`);
  }
  console.log(`gate on iteration 2: ${summary.iterations[2].gate!.reasons.join('; ')}; held-out: iteration 1 ${heldout(1).exactAgreement}, iteration 2 ${afterLoop} [${low}, ${high}]`);

  // The detail (paired comparison, baselines, groups, gold columns, matrices) stays in S3: the run's result
  // carries each suite's headline, and report/summary.json, written by the run, the whole summary.
  for (const it of summary.iterations) {
    for (const [suite, m] of Object.entries(it.eval)) {
      for (const key of EVALUATION_DETAIL_KEYS) assert.equal(key in m, false, `iteration ${it.iteration} ${suite}: ${key} is not in the payload`);
    }
  }
  const full = await store.getJson<RunSummary>(joinUri(summary.runPrefixUri, 'report', 'summary.json'));
  assert.ok(full, 'the run wrote report/summary.json');
  const fullHeldout = full.iterations[2].eval['synthetic-heldout'] as PointwiseMetrics;
  assert.equal(fullHeldout.exactAgreement, afterLoop, 'the same headline');

  // The paired bootstrap against iteration 0 is on the same 100 items, and its difference is the change.
  const paired = fullHeldout.vsIteration0!;
  assert.equal(paired.n, 100);
  assert.ok(Math.abs(paired.diffs.exactAgreement.diff! - (afterLoop - before)) < 1e-9);
  assert.ok(paired.diffs.exactAgreement.low! <= paired.diffs.exactAgreement.diff! && paired.diffs.exactAgreement.diff! <= paired.diffs.exactAgreement.high!);
  // Inference-time baselines from 8 samples per item, beside the greedy score, on every suite and iteration.
  for (const it of full.iterations) {
    for (const m of Object.values(it.eval)) {
      const baselines = m.baselines?.metrics ?? {};
      assert.deepEqual(Object.keys(baselines), ['greedy', 'one_sample', 'self_consistency', 'mean_of_n', 'best_of_n']);
      assert.equal(m.baselines!.samples, 8);
    }
  }
  assert.equal(fullHeldout.baselines!.metrics.greedy.exactAgreement, afterLoop);
  // vicuna-24: per category (groupBy meta.category) and against the GPT-4 mean (gold column gpt4).
  const vicuna = full.iterations[2].eval['vicuna-24'] as PointwiseMetrics;
  // (The bundled first 24 rows are all in the "generic" category.)
  assert.deepEqual(Object.keys(vicuna.groups?.metrics ?? {}), ['generic'], 'grouped by meta.category');
  assert.equal(Object.values(vicuna.groups!.metrics).reduce((n, g) => n + g.n, 0) + vicuna.groups!.ungrouped, 24);
  assert.equal(vicuna.goldColumns?.gpt4.n, 24);
  assert.ok(fullHeldout.confusion && fullHeldout.confusion.counts.flat().reduce((a, b) => a + b, 0) === fullHeldout.parsed);
  assert.ok(await store.exists(heldout(2).reportUri!));

  // Usage: every job of every iteration, timed and priced once, per step; the run is their sum.
  const expectedSteps = [['evaluate'], ['sample', 'train', 'evaluate'], ['sample', 'train', 'evaluate']];
  for (const it of summary.iterations) {
    const usage = it.usage!;
    assert.ok(usage, `iteration ${it.iteration} has usage`);
    assert.deepEqual(Object.keys(usage.byStep).sort(), [...expectedSteps[it.iteration]].sort());
    // Iteration 0: the greedy evaluation job(s) and the baselines job; later ones add sample and train.
    assert.ok(usage.byStep.evaluate.jobs >= 2, `evaluation and baselines jobs in iteration ${it.iteration}`);
    assert.equal(usage.unpricedJobs, 0);
    assert.ok(Math.abs(usage.usd - (usage.billableSeconds * 0.9) / 3600) < 0.001 * usage.jobs, `cost = time × price (${usage.usd})`);
    const file = await store.getJson<{ jobs: { attempt: string; iteration: number; backend: string }[] }>(
      joinUri(summary.runPrefixUri, `iter-${it.iteration}`, 'usage.json'),
    );
    assert.equal(file?.jobs.length, usage.jobs);
    assert.ok(file!.jobs.every((j) => j.iteration === it.iteration && j.backend === 'local'));
  }
  assert.equal(summary.usage!.jobs, summary.iterations.reduce((n, it) => n + it.usage!.jobs, 0));

  // The human review export works on a finished run through the CLI, as a user runs it (Temporal for the
  // summary and the recorded config, S3 for the judgments): 10 sampled items of iteration 0 vs 2.
  const reviewDir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-review-'));
  let out = '';
  let err = '';
  const rc = await main(
    ['review', 'export', workflowId, '--a', '0', '--b', '2', '--suite', 'synthetic-heldout', '--limit', '10', '--out', reviewDir, '--address', stack.services.temporalAddress],
    { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (err += t) }, env: process.env },
  );
  assert.equal(rc, 0, `review export: ${out}${err}`);
  const key = JSON.parse(readFileSync(path.join(reviewDir, 'review-key.json'), 'utf8')) as { items: unknown[]; judges: { challenger: { modelUri: string } } };
  assert.equal(key.items.length, 10);
  assert.equal(key.judges.challenger.modelUri, summary.iterations[2].modelUri);
  assert.ok(readFileSync(path.join(reviewDir, 'review.html'), 'utf8').includes('Save answers'));

  // The run report: written by the run to S3, fetched by the CLI into one self-contained file.
  assert.ok(await store.exists(joinUri(summary.runPrefixUri, 'report', 'report.html')));
  const reportPath = path.join(reviewDir, 'report.html');
  out = '';
  err = '';
  const reported = await main(['report', workflowId, '--out', reportPath, '--address', stack.services.temporalAddress], {
    out: { write: (t: string) => (out += t) },
    err: { write: (t: string) => (err += t) },
    env: process.env,
  });
  assert.equal(reported, 0, `report: ${out}${err}`);
  const html = readFileSync(reportPath, 'utf8');
  assert.ok(html.includes(workflowId) && html.includes('<svg'), 'the report names the run and has charts');
  const embedded = /<script type="application\/json" id="run-summary">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(embedded, 'the summary JSON is embedded');

  // `judgeloop results --json` reads the detail back too: the same summary as report/summary.json.
  out = '';
  err = '';
  const results = await main(['results', workflowId, '--json', '--address', stack.services.temporalAddress], {
    out: { write: (t: string) => (out += t) },
    err: { write: (t: string) => (err += t) },
    env: process.env,
  });
  assert.equal(results, 0, `results: ${err}`);
  assert.deepEqual(JSON.parse(out), full);
  assert.equal(err, '', 'no note: every report.json was read');

  // Claim check: nothing big travels through Temporal. The run returns its facts and a line per iteration,
  // each iteration's summary in S3, so every payload of the run (4 suites, 3 iterations) and of an iteration
  // is a few KB.
  assert.ok(isRunResult(result), 'the run returns a RunResult');
  assert.deepEqual(result.iterationResults.map((r) => [r.iteration, r.summaryUri]), [0, 1, 2].map((k) => [k, joinUri(summary.runPrefixUri, `iter-${k}`, 'summary.json')]));
  const sizes = payloadSizes(history);
  assert.ok(sizes.length > 0);
  console.log(`largest payloads: run ${Math.max(...sizes)} bytes, the run's result ${JSON.stringify(result).length} bytes`);
  assert.ok(Math.max(...sizes) < 5 * 1024, `largest payload ${Math.max(...sizes)} bytes`);
  for (const k of [0, 1, 2]) {
    const child = await stack.env.client.workflow.getHandle(iterationWorkflowId(workflowId, k)).fetchHistory();
    console.log(`largest payload of iteration ${k}: ${Math.max(...payloadSizes(child))} bytes`);
    assert.ok(Math.max(...payloadSizes(child)) < 6 * 1024, `largest payload of iteration ${k} ${Math.max(...payloadSizes(child))} bytes`);
  }

  await assertTracked(mlflow.url, summary, workflowId);
  assert.deepEqual(
    (await store.getJson<{ tracked: number[]; untracked: unknown[] }>(joinUri(summary.runPrefixUri, 'tracking', 'mlflow.json')))?.tracked,
    [0, 1, 2],
    'tracking/mlflow.json records every iteration as tracked',
  );
  assert.match(html, /experiment tracking.*MLflow: http:\/\/127\.0\.0\.1:\d+\/#\/experiments\/\d+\/runs\/[0-9a-f]+/s, 'the report links the MLflow run');
  assert.doesNotMatch(html, /Not in the experiment tracker/);
  e2e = { workflowId, summary };
});

/**
 * What MLflow holds of the run, read back through its REST API: one run for the run (config as params,
 * FINISHED), a child run per iteration with its metrics, and the training job's loss curve (transformers'
 * MLflow callback in the job) in iteration 1's child.
 */
async function assertTracked(url: string, summary: RunSummary, workflowId: string): Promise<{ parent: RestRun; children: RestRun[] }> {
  const runs = await experimentRuns(url, `judgeloop/${summary.judgeName}`);
  assert.ok(runs, `experiment judgeloop/${summary.judgeName} exists at ${url}`);
  const parents = runs.filter((r) => tagOf(r, 'judgeloop.kind') === 'run');
  assert.equal(parents.length, 1, 'one MLflow run for the run');
  const [parent] = parents;
  assert.equal(parent.info.run_name, workflowId);
  assert.equal(parent.info.status, 'FINISHED');
  assert.equal(paramOf(parent, 'training.beta'), '0.5');
  assert.equal(paramOf(parent, 'loop.iterations'), '2');
  assert.equal(paramOf(parent, 'data.evalSuites.1.name'), 'synthetic-heldout');
  assert.equal(tagOf(parent, 'judgeloop.report'), joinUri(summary.runPrefixUri, 'report', 'report.html'));
  const children = runs.filter((r) => tagOf(r, 'judgeloop.kind') === 'iteration').sort((a, b) => a.info.run_name.localeCompare(b.info.run_name));
  assert.deepEqual(children.map((c) => c.info.run_name), ['iteration-0', 'iteration-1', 'iteration-2']);
  for (const c of children) {
    assert.equal(tagOf(c, 'mlflow.parentRunId'), parent.info.run_id, `${c.info.run_name} is nested under the run`);
    assert.equal(c.info.status, 'FINISHED');
  }
  // Every iteration's held-out agreement, at step = iteration, in the run's own MLflow run.
  const heldout = await metricHistory(url, parent.info.run_id, 'eval/synthetic-heldout/exact_agreement');
  assert.deepEqual(heldout, summary.iterations.map((it) => ({ step: it.iteration, value: (it.eval['synthetic-heldout'] as PointwiseMetrics).exactAgreement })));
  const it1 = summary.iterations[1];
  const child1 = children[1];
  assert.deepEqual(await metricHistory(url, child1.info.run_id, 'pairs/pairs'), [{ step: 1, value: it1.pairs!.pairs }]);
  assert.equal((await metricHistory(url, parent.info.run_id, 'eval/synthetic-heldout/exact_agreement_ci_low')).length, 3, 'with its interval');
  assert.equal((await metricHistory(url, parent.info.run_id, 'usage/est_usd')).length, 3, 'and the estimated cost');
  const loss = await metricHistory(url, child1.info.run_id, 'loss');
  assert.equal(loss.length, it1.train!.steps, `the training job logged its loss at each of its ${it1.train!.steps} steps into iteration 1's run`);
  return { parent, children };
}

test('`judgeloop track` sends a finished run to another MLflow server, adds nothing when sent again, and says what to do when the tracker is down', { timeout: 5 * 60_000 }, async () => {
  assert.ok(e2e, 'the e2e run of the first test finished');
  const { workflowId, summary } = e2e;
  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: { write: (s: string) => ((o.out += s), true) }, err: { write: (s: string) => ((o.err += s), true) }, env: process.env } };
  };
  const address = ['--address', stack.services.temporalAddress];

  // Down: a clear failure that names the server and the command to run again; nothing else changes.
  const down = io();
  const closed = `http://127.0.0.1:${await freePort()}`;
  assert.equal(await main(['track', workflowId, '--tracking-uri', closed, ...address], down.io), 1);
  assert.match(down.o.err, new RegExp(`iteration 0 is not tracked: the MLflow tracking server at ${closed.replace(/\./g, '\\.')} cannot be reached`));
  assert.match(down.o.err, new RegExp(`then run again: judgeloop track ${workflowId}`));

  // Another server: the same records, a second time no more of them.
  const other = await startTestMlflow(stack.services, 'mlflow-other');
  try {
    for (const attempt of [1, 2]) {
      const sent = io();
      assert.equal(await main(['track', workflowId, '--tracking-uri', other.url, ...address], sent.io), 0, sent.o.err);
      assert.match(sent.o.out, /iterations 0, 1, 2 are in MLflow experiment/, `attempt ${attempt}`);
      const runs = (await experimentRuns(other.url, `judgeloop/${summary.judgeName}`))!;
      assert.equal(runs.length, 4, `attempt ${attempt}: the run and its 3 iterations, found again rather than created`);
      const parent = runs.find((r) => tagOf(r, 'judgeloop.kind') === 'run')!;
      assert.equal(parent.info.status, 'FINISHED', 'the run completed: its MLflow run is marked so');
      assert.equal((await metricHistory(other.url, parent.info.run_id, 'eval/synthetic-heldout/exact_agreement')).length, 3, `attempt ${attempt}: one value per iteration`);
    }
  } finally {
    await other.stop();
  }
});
