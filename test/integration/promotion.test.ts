/**
 * The promotion gate and the judge registry on the real stack: a Temporal dev server, the S3 server and the
 * real Python jobs on the tiny judge, with tiny iterations (40 inputs × 4 samples, one epoch, 20 held-out
 * items). Three runs:
 * - A: a gain rule no judge can meet, so both iterations are rejected and iteration 2 trains from the seed;
 * - B (at the same time as A): every promotion waits for sign-off; the test rejects iteration 1 and approves
 *   iteration 2 through the CLI's `approve` command, in-process;
 * - C: a second run of B's judge starts from B's champion and extends its lineage.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { selfRationalizationRun } from '../../workflows';
import { PROGRESS_QUERY, type RunProgress, type RunSummary } from '../../core/run-types';
import { lineage } from '../../core/registry';
import { readRegistry } from '../../activities/registry';
import { TINY_DATA, createTestWorker, runCli, storeFor, testConfig, useTestStack, workflowBundle } from '../support/judgeloop';

// Registered before the stack's hooks so that the worker stops before the services do.
let worker: Worker | undefined;
let workerDone: Promise<void> | undefined;
after(async () => {
  if (worker && worker.getState() === 'RUNNING') worker.shutdown();
  await workerDone;
});
const stack = useTestStack();
const taskQueue = 'promotion';
const stamp = Date.now().toString(36);

async function ensureWorker(): Promise<void> {
  if (worker) return;
  worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  workerDone = worker.run();
}

const SMALL = {
  loop: { iterations: 2, inputsPerIteration: 40, samplesPerInput: 4 },
  training: { epochs: 1 },
  data: TINY_DATA,
};

/** A gate every judge passes (exact agreement is never undefined; a drop of 1 is the whole scale). */
const PERMISSIVE = { metrics: { pointwise: 'exactAgreement' }, maxDrop: 1, parseRateFloor: 0 };

function config(judgeName: string, over: { gate?: Record<string, unknown>; iterations?: number }) {
  return testConfig(stack.services, {
    ...SMALL,
    judge: { name: judgeName },
    loop: { ...SMALL.loop, iterations: over.iterations ?? 2 },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 }, gate: over.gate ?? {} },
    registry: { startFrom: 'champion' },
  } as unknown as Parameters<typeof testConfig>[1]);
}

async function start(workflowId: string, cfg: unknown): Promise<WorkflowHandle<typeof selfRationalizationRun>> {
  await ensureWorker();
  return stack.env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId, args: [cfg] });
}

/** The CLI as user "tester" (the name `approve` records). */
const cli = (...argv: string[]) => runCli(argv, { ...process.env, USER: 'tester' });

async function awaitingIteration(handle: WorkflowHandle, iteration: number): Promise<RunProgress> {
  const deadline = Date.now() + 4 * 60_000;
  for (;;) {
    const p = await handle.query<RunProgress>(PROGRESS_QUERY).catch(() => null);
    if (p?.awaitingApproval?.iteration === iteration) return p;
    assert.ok(Date.now() < deadline, `iteration ${iteration} should come to await approval (progress: ${JSON.stringify(p?.awaitingApproval)})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const judgeA = `promo-a-${stamp}`;
const judgeB = `promo-b-${stamp}`;
const runA = `promo-a-${stamp}`;
const runB = `promo-b-${stamp}`;
let handleB: WorkflowHandle<typeof selfRationalizationRun> | undefined;
let summaryB: RunSummary | undefined;

test('(a) an unreachable required gain rejects both iterations; iteration 2 trains from the seed', { timeout: 8 * 60_000 }, async () => {
  const handleA = await start(runA, config(judgeA, { gate: { requireGain: { suite: 'synthetic-heldout', metric: 'exactAgreement', min: 2 } } }));
  // B runs beside A (test (b) drives its approvals); its first iterations overlap A's.
  handleB = await start(runB, config(judgeB, { gate: { ...PERMISSIVE, requireApproval: true } }));
  const summary = await handleA.result();

  const [it0, it1, it2] = summary.iterations;
  const seed = it0.modelUri;
  assert.deepEqual(summary.startedFrom, { kind: 'seed', modelUri: seed, runId: runA, iteration: 0 });
  for (const it of [it1, it2]) {
    assert.equal(it.gate?.promote, false, `iteration ${it.iteration} is rejected`);
    assert.equal(it.gate?.decidedBy, 'gate');
    assert.ok(it.gate?.reasons.some((r) => /^synthetic-heldout exactAgreement .*required 2\.000\): not enough$/.test(r)), it.gate?.reasons.join('\n'));
    assert.equal(it.startModelUri, seed, `iteration ${it.iteration} trains from the seed`);
  }
  assert.notEqual(it2.modelUri, it1.modelUri);
  assert.deepEqual(summary.champion, { modelUri: seed, runId: runA, iteration: 0 });
  assert.equal(summary.finalModelUri, seed);

  const registry = await readRegistry(storeFor(stack.services), { bucket: stack.services.s3.bucket, prefix: 'runs' }, judgeA);
  assert.equal(registry.champion?.modelUri, seed, 'the seed stays the champion');
  assert.deepEqual(registry.history.map((e) => [e.iteration, e.decision.promoted]), [[0, true], [1, false], [2, false]]);
  assert.deepEqual(registry.history[0].decision.reasons, ['first champion: the seed judge']);
  for (const e of registry.history.slice(1)) {
    assert.equal(e.parentModelUri, seed);
    assert.equal(e.seedModelUri, seed);
    assert.equal(e.championReplaced, false);
    assert.ok(e.data.pairsUri && e.data.trainSha256 && e.data.configHash === summary.configHash, JSON.stringify(e.data));
    assert.ok(e.metrics['synthetic-heldout'], 'the entry carries its evaluation');
  }
});

test('(b) sign-off: the run waits, refuses a wrong iteration, records a rejection and an approval with who decided', { timeout: 8 * 60_000 }, async () => {
  assert.ok(handleB, 'test (a) started run B');
  const addr = ['--address', stack.services.temporalAddress];
  await awaitingIteration(handleB, 1);
  const status = await cli('status', runB, ...addr);
  assert.match(status.out, new RegExp(`awaiting approval of iteration 1 \\(judgeloop approve ${runB} --iteration 1`), status.out);

  const wrong = await cli('approve', runB, '--iteration', '2', ...addr);
  assert.equal(wrong.rc, 1);
  assert.match(wrong.err, /not approved: iteration 2 is not awaiting approval; iteration 1 is/);

  const rejected = await cli('approve', runB, '--iteration', '1', '--reject', '--by', 'alice', '--reason', 'not yet', ...addr);
  assert.equal(rejected.rc, 0, rejected.err);
  assert.match(rejected.out, /^iteration 1: kept the champion \(by alice\)\n[\s\S]*- rejected by alice: not yet\n/);

  await awaitingIteration(handleB, 2);
  const approved = await cli('approve', runB, '--iteration', '2', ...addr);
  assert.equal(approved.rc, 0, approved.err);
  assert.match(approved.out, /^iteration 2: promoted \(by tester\)/, 'the approver defaults to $USER');

  summaryB = await handleB.result();
  const [it0, it1, it2] = summaryB.iterations;
  assert.deepEqual([it1.gate?.promote, it1.gate?.decidedBy], [false, 'alice']);
  assert.deepEqual([it2.gate?.promote, it2.gate?.decidedBy], [true, 'tester']);
  assert.equal(it2.startModelUri, it0.modelUri, 'iteration 1 was rejected: iteration 2 trains from the seed');
  assert.deepEqual(summaryB.champion, { modelUri: it2.modelUri, runId: runB, iteration: 2 });

  const registry = await readRegistry(storeFor(stack.services), { bucket: stack.services.s3.bucket, prefix: 'runs' }, judgeB);
  assert.equal(registry.champion?.modelUri, it2.modelUri);
  assert.deepEqual(
    registry.history.map((e) => [e.iteration, e.decision.promoted, e.decision.decidedBy, e.championReplaced]),
    [[0, true, 'gate', true], [1, false, 'alice', false], [2, true, 'tester', true]],
  );
  assert.ok(registry.history[1].decision.reasons.includes('rejected by alice: not yet'));

  // The history (updates, waits, registry activities) replays deterministically on the current code.
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handleB.fetchHistory(), runB);
});

test('(c) a later run of the same judge starts from its champion and extends the lineage', { timeout: 6 * 60_000 }, async () => {
  assert.ok(summaryB, 'test (b) finished run B');
  const championB = summaryB.champion!;
  const runC = `promo-c-${stamp}`;
  const cfg = config(judgeB, { gate: PERMISSIVE, iterations: 1 });
  const summary = await (await start(runC, cfg)).result();

  assert.deepEqual(summary.startedFrom, { kind: 'champion', ...championB });
  assert.equal(summary.iterations[0].modelUri, championB.modelUri, 'iteration 0 evaluates the champion');
  assert.equal(summary.iterations[1].startModelUri, championB.modelUri, 'iteration 1 trains from it');
  assert.equal(summary.iterations[1].gate?.promote, true);

  const registry = await readRegistry(storeFor(stack.services), { bucket: stack.services.s3.bucket, prefix: 'runs' }, judgeB);
  assert.equal(registry.champion?.runId, runC);
  assert.equal(registry.history.length, 4, 'no iteration-0 entry: the judge already had a champion');
  const chain = lineage(registry.champion!, registry.history);
  assert.deepEqual(chain.chain.map((e) => `${e.runId}/${e.iteration}`), [`${runC}/1`, `${runB}/2`, `${runB}/0`]);
  assert.equal(chain.root, summaryB.iterations[0].modelUri);

  // The registry command prints the same, from a config file.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-promotion-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  const shown = await cli('registry', judgeB, '--config', file);
  assert.equal(shown.rc, 0, shown.err);
  assert.match(shown.out, new RegExp(`lineage \\(newest first.*\\n  run ${runC} iteration 1: .*\\n  run ${runB} iteration 2: .*\\n  run ${runB} iteration 0: `));
  assert.match(shown.out, /history \(4 decisions, oldest first\)/);
});
