/**
 * The promotion gate, the sign-off and the registry's champion, as the run workflow decides them: the real
 * workflow code on Temporal's time-skipping test server, its activities stubbed (test/support/stub-activities.ts:
 * each evaluated judge gets the agreement a test gives it; the registry is in memory). A day-long approval
 * timeout passes in well under a second. The registry activities, the CLI's `approve` and a promotion after
 * real training are proven on the real stack in test/integration/promotion.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { selfRationalizationRun } from '../../workflows';
import { approvePromotionUpdate } from '../../workflows/promotion';
import { PROGRESS_QUERY, type RunProgress } from '../../core/run/run-types';
import { timeoutReason } from '../../core/promotion/approval';
import { mergeConfig } from '../../cli/config-file';
import localConfig from '../../configs/local.json';
import { TINY_DATA, runCli, workflowBundle } from '../support/judgeloop';
import { SUITE, modelOf, stubActivities, type StubOptions, stubRunSummary } from '../support/stub-activities';
import { stubbedWorker, useTimeSkippingEnv } from '../support/time-skipping';

const ts = useTimeSkippingEnv();
let queues = 0;

function config(gate: Record<string, unknown>, over: Record<string, unknown> = {}): unknown {
  return mergeConfig(localConfig, {
    data: TINY_DATA,
    loop: { iterations: 2 },
    evaluation: { gate },
    registry: { enabled: true, startFrom: 'champion' },
    ...over,
  });
}

/** Runs `drive` with a worker of the real workflows on stubbed activities, against a run it started. */
async function withRun<T>(
  runId: string,
  cfg: unknown,
  options: StubOptions,
  drive: (handle: WorkflowHandle<typeof selfRationalizationRun>, record: ReturnType<typeof stubActivities>['record']) => Promise<T>,
): Promise<T> {
  const { activities, record } = stubActivities(options);
  const taskQueue = `promotion-${++queues}`;
  const worker = await stubbedWorker(ts.env, taskQueue, activities);
  return worker.runUntil(async () => {
    const handle = await ts.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [cfg] });
    return drive(handle, record);
  });
}

const prefixOf = (runId: string) => `s3://judgeloop/runs/${runId}`;
const SEED = 's3://stub/models/seed';

test('a gain rule no judge meets rejects both iterations; iteration 2 trains from the seed, which stays champion', async () => {
  const runId = 'gate-unreachable';
  const cfg = config({ requireGain: { suite: SUITE, metric: 'exactAgreement', min: 2 } });
  await withRun(runId, cfg, {}, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    const [, it1, it2] = summary.iterations;
    assert.deepEqual(summary.startedFrom, { kind: 'seed', modelUri: SEED, runId, iteration: 0 });
    for (const it of [it1, it2]) {
      assert.equal(it.gate?.promote, false, `iteration ${it.iteration} is rejected`);
      assert.equal(it.gate?.decidedBy, 'gate');
      assert.ok(it.gate?.reasons.some((r) => /^synthetic-heldout exactAgreement .*required 2\.000\): not enough$/.test(r)), it.gate?.reasons.join('\n'));
      assert.equal(it.startModelUri, SEED);
    }
    // What each iteration sampled from and trained: the seed both times (a rejected judge is not trained further).
    const trained = record.calls.filter((c) => c.activity === 'trainJudge' || c.activity === 'generateSampledJudgments').map((c) => [c.activity, c.iteration, c.modelUri]);
    assert.deepEqual(trained, [['generateSampledJudgments', 1, SEED], ['trainJudge', 1, SEED], ['generateSampledJudgments', 2, SEED], ['trainJudge', 2, SEED]]);
    assert.deepEqual(summary.champion, { modelUri: SEED, runId, iteration: 0 });
    assert.equal(summary.finalModelUri, SEED);
    assert.deepEqual(record.registry.map((e) => [e.iteration, e.decision.promoted, e.parentModelUri]), [[0, true, null], [1, false, SEED], [2, false, SEED]]);
    assert.deepEqual(record.registry[0].decision.reasons, ['first champion: the seed judge']);
    assert.ok(record.registry.every((e) => e.seedModelUri === SEED && e.data.configHash === 'stub-config-hash'));
  });
});

test('a judge that improves is promoted and trained further; one that drops more than maxDrop is rejected', async () => {
  const runId = 'gate-up-then-down';
  const it1Model = modelOf(prefixOf(runId), 1);
  const agreement = (uri: string) => (uri === SEED ? 0.5 : uri === it1Model ? 0.7 : 0.3);
  await withRun(runId, config({ maxDrop: 0.05 }), { agreement }, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    const [, it1, it2] = summary.iterations;
    assert.deepEqual([it1.gate?.promote, it2.gate?.promote], [true, false]);
    assert.ok(it2.gate?.reasons.some((r) => r.startsWith(`${SUITE} pearson`) && /dropped|drop/.test(r)), it2.gate?.reasons.join('\n'));
    assert.equal(it2.startModelUri, it1Model, 'iteration 2 trains from the promoted judge');
    assert.equal(record.calls.find((c) => c.activity === 'trainJudge' && c.iteration === 2)?.modelUri, it1Model);
    assert.deepEqual(summary.champion, { modelUri: it1Model, runId, iteration: 1 });
    assert.equal(summary.finalModelUri, it1Model);
    assert.deepEqual(record.registry.map((e) => [e.iteration, e.decision.promoted, e.parentModelUri]), [[0, true, null], [1, true, SEED], [2, false, it1Model]]);
  });
});

test('the gate off (the paper\'s loop): every iteration is promoted and the next starts from it', async () => {
  const runId = 'gate-off';
  await withRun(runId, config({ enabled: false }), { agreement: () => 0.1 }, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    assert.deepEqual(summary.iterations.slice(1).map((i) => i.gate?.promote), [true, true]);
    assert.equal(summary.iterations[2].startModelUri, modelOf(prefixOf(runId), 1));
    assert.equal(summary.finalModelUri, modelOf(prefixOf(runId), 2));
  });
});

async function awaitingIteration(handle: WorkflowHandle, iteration: number): Promise<RunProgress> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const p = await handle.query<RunProgress>(PROGRESS_QUERY).catch(() => null);
    if (p?.awaitingApproval?.iteration === iteration) return p;
    assert.ok(Date.now() < deadline, `iteration ${iteration} should come to await approval (progress: ${JSON.stringify(p)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('sign-off: the run waits with a deadline, refuses a wrong iteration, records a rejection and an approval with who decided', async () => {
  const runId = 'sign-off';
  await withRun(runId, config({ maxDrop: 1, parseRateFloor: 0, requireApproval: true, approvalTimeoutHours: 48 }), {}, async (handle, record) => {
    const waiting = await awaitingIteration(handle, 1);
    assert.ok(waiting.awaitingApproval?.deadline, 'the wait shows when it ends');
    assert.ok(waiting.awaitingApproval!.reasons.length > 0, 'the gate\'s reasons are shown');

    await assert.rejects(
      handle.executeUpdate(approvePromotionUpdate, { args: [{ iteration: 2, approve: true }] }),
      (err: unknown) => err instanceof WorkflowUpdateFailedError && /iteration 2 is not awaiting approval; iteration 1 is/.test(String(err.cause?.message)),
    );
    const rejected = await handle.executeUpdate(approvePromotionUpdate, { args: [{ iteration: 1, approve: false, by: 'alice', reason: 'not yet' }] });
    assert.deepEqual([rejected.iteration, rejected.promoted, rejected.decidedBy], [1, false, 'alice']);
    assert.ok(rejected.reasons.includes('rejected by alice: not yet'));
    assert.deepEqual(rejected.champion, { modelUri: SEED, runId, iteration: 0 });

    await awaitingIteration(handle, 2);
    const approved = await handle.executeUpdate(approvePromotionUpdate, { args: [{ iteration: 2, approve: true, by: 'bob' }] });
    const it2Model = modelOf(prefixOf(runId), 2);
    assert.deepEqual([approved.promoted, approved.decidedBy, approved.champion.modelUri], [true, 'bob', it2Model]);

    const summary = stubRunSummary(record, await handle.result());
    const [, it1, it2] = summary.iterations;
    assert.deepEqual([it1.gate?.promote, it1.gate?.decidedBy, it2.gate?.promote, it2.gate?.decidedBy], [false, 'alice', true, 'bob']);
    assert.equal(it2.startModelUri, SEED, 'iteration 1 was rejected: iteration 2 trains from the seed');
    assert.deepEqual(record.registry.map((e) => [e.iteration, e.decision.promoted, e.decision.decidedBy]), [[0, true, 'gate'], [1, false, 'alice'], [2, true, 'bob']]);

    // The history (updates, waits, registry activities) replays deterministically on the current code.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handle.fetchHistory(), runId);
  });
});

test('sign-off that never comes: after approvalTimeoutHours of workflow time the promotion is rejected, and the run goes on', async () => {
  const runId = 'sign-off-timeout';
  const cfg = config({ maxDrop: 1, parseRateFloor: 0, requireApproval: true, approvalTimeoutHours: 24 }, { loop: { iterations: 1 } });
  const wallStart = Date.now();
  const workflowStart = await ts.env.currentTimeMs();
  await withRun(runId, cfg, {}, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    const it1 = summary.iterations[1];
    assert.deepEqual([it1.gate?.promote, it1.gate?.decidedBy], [false, 'approval-timeout']);
    assert.ok(it1.gate?.reasons.includes(timeoutReason(24)), it1.gate?.reasons.join('\n'));
    assert.equal(summary.finalModelUri, SEED);
    assert.deepEqual(record.registry.map((e) => e.decision.decidedBy), ['gate', 'approval-timeout']);
    assert.equal(record.calls.filter((c) => c.activity === 'writeRunReport').length, 1, 'the run finishes with its report');
  });
  const skippedHours = ((await ts.env.currentTimeMs()) - workflowStart) / 3_600_000;
  assert.ok(skippedHours >= 24, `a day of workflow time passed (${skippedHours.toFixed(1)} h)`);
  assert.ok(Date.now() - wallStart < 60_000, 'in far less than a day of wall time');
});

test('a judge with a champion: the run starts from it, evaluates it in iteration 0 (no new entry) and extends its lineage', async () => {
  const runId = 'from-champion';
  const champion = { modelUri: 's3://stub/runs/earlier/iter-2/train/model', runId: 'earlier', iteration: 2, seedModelUri: 's3://stub/models/root' };
  const cfg = config({ maxDrop: 1, parseRateFloor: 0 }, { loop: { iterations: 1 } });
  await withRun(runId, cfg, { champion }, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    assert.deepEqual(summary.startedFrom, { kind: 'champion', modelUri: champion.modelUri, runId: 'earlier', iteration: 2 });
    assert.equal(record.calls.find((c) => c.activity === 'generateEvaluationJudgments' && c.iteration === 0)?.modelUri, champion.modelUri, 'iteration 0 evaluates the champion');
    assert.equal(summary.iterations[1].startModelUri, champion.modelUri, 'iteration 1 trains from it');
    assert.deepEqual(
      record.registry.map((e) => [e.iteration, e.decision.promoted, e.parentModelUri, e.seedModelUri]),
      [[1, true, champion.modelUri, champion.seedModelUri]],
      'no iteration-0 entry: the judge already had a champion',
    );
    assert.equal(summary.champion?.runId, runId);
  });
});

test('registry.startFrom seed: a judge with a champion still starts from the seed model', async () => {
  const runId = 'from-seed-anyway';
  const champion = { modelUri: 's3://stub/runs/earlier/iter-1/train/model', runId: 'earlier', iteration: 1, seedModelUri: SEED };
  const cfg = config({ maxDrop: 1, parseRateFloor: 0 }, { loop: { iterations: 1 }, registry: { enabled: true, startFrom: 'seed' } });
  await withRun(runId, cfg, { champion }, async (handle, record) => {
    const summary = stubRunSummary(record, await handle.result());
    assert.equal(summary.startedFrom?.kind, 'seed');
    assert.equal(record.calls.find((c) => c.activity === 'generateEvaluationJudgments' && c.iteration === 0)?.modelUri, SEED);
    // Its decisions are still recorded, with the judge this run started from as the parent.
    assert.equal(record.registry.find((e) => e.iteration === 1)?.parentModelUri, SEED);
  });
});

test('judgeloop status and approve, as a user types them: the wait, a wrong iteration refused, a rejection and an approval printed', async () => {
  const runId = 'sign-off-cli';
  const cli = (...argv: string[]) => runCli([...argv, '--address', ts.env.address], { ...process.env, USER: 'tester' });
  await withRun(runId, config({ maxDrop: 1, parseRateFloor: 0, requireApproval: true }), {}, async (handle, record) => {
    await awaitingIteration(handle, 1);
    const status = await cli('status', runId);
    assert.match(status.out, new RegExp(`awaiting approval of iteration 1 \\(judgeloop approve ${runId} --iteration 1`), status.out);

    const wrong = await cli('approve', runId, '--iteration', '2');
    assert.equal(wrong.rc, 1);
    assert.match(wrong.err, /not approved: iteration 2 is not awaiting approval; iteration 1 is/);

    const rejected = await cli('approve', runId, '--iteration', '1', '--reject', '--by', 'alice', '--reason', 'not yet');
    assert.equal(rejected.rc, 0, rejected.err);
    assert.match(rejected.out, /^iteration 1: kept the champion \(by alice\)\n[\s\S]*- rejected by alice: not yet\n/);

    await awaitingIteration(handle, 2);
    const approved = await cli('approve', runId, '--iteration', '2');
    assert.equal(approved.rc, 0, approved.err);
    assert.match(approved.out, /^iteration 2: promoted \(by tester\)/, 'the approver defaults to $USER');
    const summary = stubRunSummary(record, await handle.result());
    assert.deepEqual(summary.iterations.slice(1).map((i) => [i.gate?.promote, i.gate?.decidedBy]), [[false, 'alice'], [true, 'tester']]);
  });
});

const SAGEMAKER_REGISTRY = { region: 'us-east-1', inferenceImage: '123456789012.dkr.ecr.us-east-1.amazonaws.com/judge-serving:1.0' };

test('registry.sagemaker: each promoted judge, and only it, is registered after its decision is recorded', async () => {
  const runId = 'sagemaker-registry';
  const it1Model = modelOf(prefixOf(runId), 1);
  const agreement = (uri: string) => (uri === SEED ? 0.5 : uri === it1Model ? 0.7 : 0.3);
  const cfg = config({ maxDrop: 0.05 }, { registry: { enabled: true, startFrom: 'champion', sagemaker: SAGEMAKER_REGISTRY } });
  await withRun(runId, cfg, { agreement }, async (handle, record) => {
    await handle.result();
    // Iteration 0 (the first champion) and 1 are promoted; iteration 2 is rejected and not registered.
    assert.deepEqual(record.modelPackages, [`s3://stub/registry/${runId}/0.json`, `s3://stub/registry/${runId}/1.json`]);
    const order = record.calls.map((c) => c.activity).filter((a) => a === 'recordDecision' || a === 'registerModelPackage');
    assert.deepEqual(order, ['recordDecision', 'registerModelPackage', 'recordDecision', 'registerModelPackage', 'recordDecision']);
  });
});

test('without registry.sagemaker nothing is registered in SageMaker', async () => {
  await withRun('no-sagemaker-registry', config({}), {}, async (handle, record) => {
    await handle.result();
    assert.ok(record.registry.length > 0, 'the S3 registry still records every decision');
    assert.deepEqual(record.modelPackages, []);
  });
});
