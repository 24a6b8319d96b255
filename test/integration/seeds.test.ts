/**
 * `judgeloop seeds` on the real stack (Temporal dev server, S3 server, the real generation job on the tiny
 * judge), with evaluate-only runs (`loop.iterations: 0`) to stay short: the command starts one run per seed,
 * follows them and prints the spread across seeds; `--from-runs` aggregates the same finished runs again
 * without starting anything. Each run evaluates the seed judge on every suite (iteration 0) and ends with the
 * usual summary.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunSummary } from '../../core/run/run-types';
import type { SeedAggregate } from '../../core/evaluation/seed-stats';
import { TINY_DATA, createTestWorker, runCli, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();

test('seeds: evaluate-only runs under two seeds, followed and aggregated; --from-runs aggregates them again', { timeout: 10 * 60_000 }, async () => {
  const taskQueue = 'seeds';
  const prefix = `seeds-${Date.now().toString(36)}`;
  const connection = ['--address', stack.services.temporalAddress, '--task-queue', taskQueue];
  const config = testConfig(stack.services, {
    loop: { iterations: 0 },
    data: {
      ...TINY_DATA,
      evalSuites: [
        { name: 'synthetic-validation', kind: 'pointwise', uri: 'datasets/synthetic/validation.jsonl', adapter: 'canonical', limit: 12, role: 'validation' },
        { ...TINY_DATA.evalSuites[0], role: 'test' },
      ],
    },
    evaluation: { bootstrap: { resamples: 200 }, baselines: { samples: 0 } },
  } as Parameters<typeof testConfig>[1]);
  const configPath = path.join(os.tmpdir(), `${prefix}.json`);
  writeFileSync(configPath, JSON.stringify(config));

  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const started = await worker.runUntil(runCli(['seeds', '--config', configPath, '--seeds', '0,1', '--id-prefix', prefix, '--json', ...connection]));
  assert.equal(started.rc, 0, started.err);
  assert.match(started.err, new RegExp(`seed 0: ${prefix}-seed-0 `));
  assert.match(started.err, /\[seed 1\] /, 'each run\'s progress, prefixed');
  const agg = JSON.parse(started.out) as SeedAggregate & { suites: string[]; failed: unknown[] };
  assert.deepEqual(agg.runs, [
    { runId: `${prefix}-seed-0`, seed: 0 },
    { runId: `${prefix}-seed-1`, seed: 1 },
  ]);
  assert.deepEqual(agg.suites, ['synthetic-heldout'], 'test suites only');
  assert.deepEqual(agg.failed, []);
  // Evaluate-only: iteration 0 alone; the seed judge decodes greedily, so both seeds give the same figures.
  assert.deepEqual([...new Set(agg.rows.map((r) => r.iteration))], [0]);
  assert.deepEqual(agg.rows.map((r) => [r.suite, r.metric]), [['synthetic-heldout', 'exactAgreement'], ['synthetic-heldout', 'pearson']]);
  const exact = agg.rows[0];
  assert.equal(exact.n, 2);
  assert.equal(exact.values[0], exact.values[1]);
  assert.deepEqual([exact.mean, exact.sd, exact.low, exact.high], [exact.values[0], 0, exact.values[0], exact.values[0]]);

  // Each run: its own id and seeds, iteration 0 on every suite, the usual summary.
  for (const seed of [0, 1]) {
    const handle = stack.env.client.workflow.getHandle(`${prefix}-seed-${seed}`);
    const summary = await summaryOf(stack.services, await handle.result());
    assert.deepEqual(summary.iterations.map((i) => i.iteration), [0]);
    assert.deepEqual(Object.keys(summary.iterations[0].eval).sort(), ['synthetic-heldout', 'synthetic-validation']);
    assert.equal(summary.finalModelUri, summary.iterations[0].modelUri);
  }
  const results = await runCli(['results', `${prefix}-seed-1`, ...connection]);
  assert.equal(results.rc, 0, results.err);
  assert.match(results.out, /the starting judge \(an evaluate-only run: loop\.iterations 0\):\n {2}synthetic-validation \(pointwise\) exact agreement: \d+\.\d%/);

  // The same runs aggregated without starting anything (as for runs started elsewhere).
  const again = await runCli(['seeds', '--from-runs', `${prefix}-seed-0,${prefix}-seed-1`, ...connection]);
  assert.equal(again.rc, 0, again.err);
  assert.equal(again.err, '', 'same config but for the seeds: no warning');
  assert.match(again.out, new RegExp(`^2 runs \\(seeds 0, 1\\): ${prefix}-seed-0, ${prefix}-seed-1`));
  assert.match(again.out, /\n {3}0 {2}synthetic-heldout {2}exact agreement % {2}2 /);
  // A run that is not there is reported, nothing is aggregated.
  const missing = await runCli(['seeds', '--from-runs', `${prefix}-seed-0,${prefix}-nope`, ...connection]);
  assert.equal(missing.rc, 1);
  assert.match(missing.err, new RegExp(`no run with id "${prefix}-nope"`));
});
