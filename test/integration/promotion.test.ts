/**
 * A promotion on the real stack: a Temporal dev server, the S3 server and the real Python jobs on the tiny
 * judge (40 inputs × 4 samples, one epoch, 20 held-out items). One run whose promotion waits for sign-off:
 * `judgeloop status` shows the wait and `judgeloop approve` promotes the trained judge; the registry in S3
 * then holds both decisions with the data they came from, `judgeloop registry` prints the lineage from a
 * config file, and the history replays.
 *
 * The workflow's decisions (gate rules, rejections, a rejected judge not trained further, the approval
 * timeout, a run from the champion, the CLI's answers) run in seconds on the time-skipping server:
 * test/workflows/promotion.test.ts. Many runs promoting against one registry: registry-concurrency.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import type { JudgeloopWorker } from '../../workers/judgeloop-worker';
import type { WorkflowHandle } from '@temporalio/client';
import { selfRationalizationRun } from '../../workflows';
import { PROGRESS_QUERY, type RunProgress } from '../../core/run/run-types';
import { lineage } from '../../core/promotion/registry';
import { readRegistry } from '../../activities/steps/registry';
import { TINY_DATA, createTestWorker, runCli, storeFor, testConfig, useTestStack, workflowBundle, summaryOf } from '../support/judgeloop';

// Registered before the stack's hooks so that the worker stops before the services do.
let worker: JudgeloopWorker | undefined;
let workerDone: Promise<void> | undefined;
after(async () => {
  worker?.shutdown();
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

const judge = `promo-${stamp}`;
const runId = `promo-${stamp}`;

test('sign-off through the CLI, the decisions in the S3 registry with their data, the lineage printed, the history replayed', { timeout: 8 * 60_000 }, async () => {
  const addr = ['--address', stack.services.temporalAddress];
  const cfg = config(judge, { gate: { ...PERMISSIVE, requireApproval: true }, iterations: 1 });
  const handle = await start(runId, cfg);
  await awaitingIteration(handle, 1);
  const status = await cli('status', runId, ...addr);
  assert.match(status.out, new RegExp(`awaiting approval of iteration 1 \\(judgeloop approve ${runId} --iteration 1`), status.out);
  const approved = await cli('approve', runId, '--iteration', '1', '--by', 'alice', '--reason', 'looks right', ...addr);
  assert.equal(approved.rc, 0, approved.err);
  assert.match(approved.out, /^iteration 1: promoted \(by alice\)/);

  const summary = await summaryOf(stack.services, await handle.result());
  const [it0, it1] = summary.iterations;
  assert.deepEqual(summary.startedFrom, { kind: 'seed', modelUri: it0.modelUri, runId, iteration: 0 });
  assert.deepEqual([it1.gate?.promote, it1.gate?.decidedBy], [true, 'alice']);
  assert.deepEqual(summary.champion, { modelUri: it1.modelUri, runId, iteration: 1 });

  const registry = await readRegistry(storeFor(stack.services), { bucket: stack.services.s3.bucket, prefix: 'runs' }, judge);
  assert.equal(registry.champion?.modelUri, it1.modelUri);
  assert.deepEqual(
    registry.history.map((e) => [e.iteration, e.decision.promoted, e.decision.decidedBy, e.championReplaced]),
    [[0, true, 'gate', true], [1, true, 'alice', true]],
  );
  assert.deepEqual(registry.history[0].decision.reasons, ['first champion: the seed judge']);
  const entry = registry.history[1];
  assert.ok(entry.decision.reasons.includes('approved by alice: looks right'), entry.decision.reasons.join('\n'));
  assert.equal(entry.parentModelUri, it0.modelUri);
  assert.equal(entry.seedModelUri, it0.modelUri);
  assert.ok(entry.data.pairsUri && entry.data.trainSha256 && entry.data.configHash === summary.configHash, JSON.stringify(entry.data));
  assert.deepEqual(entry.metrics, it1.eval, 'the entry carries its evaluation');
  const chain = lineage(registry.champion!, registry.history);
  assert.deepEqual(chain.chain.map((e) => `${e.runId}/${e.iteration}`), [`${runId}/1`, `${runId}/0`]);

  // The registry command prints the same, from a config file.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-promotion-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(cfg));
  const shown = await cli('registry', judge, '--config', file);
  assert.equal(shown.rc, 0, shown.err);
  assert.match(shown.out, new RegExp(`lineage \\(newest first.*\\n  run ${runId} iteration 1: .*\\n  run ${runId} iteration 0: `));
  assert.match(shown.out, /history \(2 decisions, oldest first\)/);

  // The history (the update, the wait, the registry activities) replays deterministically on the current code.
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await handle.fetchHistory(), runId);
});
