/**
 * The seed step on the real stack (Temporal dev server, S3 server, the real train_sft.py job on the tiny
 * judge): a run with `warmStart` fine-tunes the seed model on reference judgments before iteration 0, and
 * iteration 0 evaluates the warm-started judge; the same warm start in a second run is reused, not rerun.
 * Evaluate-only runs (`loop.iterations: 0`) keep it short.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfRationalizationRun } from '../../workflows';
import type { RunSummary } from '../../core/run/run-types';
import { joinUri } from '../../core/run/artifacts';
import type { PointwiseExample } from '../../core/data/records';
import { createTestWorker, storeFor, testConfig, useTestStack, summaryOf } from '../support/judgeloop';

const stack = useTestStack();

/** 24 synthetic training rows, each with one reference judgment that names the verdict word and scores gold. */
function writeReferenceRows(file: string): void {
  const rows = readFileSync(path.resolve(__dirname, '../../datasets/synthetic/train.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .slice(0, 24)
    .map((l) => JSON.parse(l) as PointwiseExample & { meta: { keyword: string } });
  const withReferences = rows.map((r, i) => ({
    ...r,
    // Two rows without a reference: counted, left out of the examples.
    meta: { ...r.meta, ...(i < 22 ? { reference_judgments: [{ rationale: `The verdict is ${r.meta.keyword}.`, score: r.gold_score }] } : {}) },
  }));
  writeFileSync(file, withReferences.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

test('warm start: the seed is fine-tuned on reference judgments before iteration 0, and reused by a second run', { timeout: 10 * 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warm-start-'));
  const referenceFile = path.join(dir, 'references.jsonl');
  writeReferenceRows(referenceFile);
  const taskQueue = 'warm-start';
  const config = () =>
    testConfig(stack.services, {
      loop: { iterations: 0 },
      data: {
        evalSuites: [
          { name: 'synthetic-validation', kind: 'pointwise', uri: 'datasets/synthetic/validation.jsonl', adapter: 'canonical', limit: 10, role: 'validation' },
          { name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 10, role: 'test' },
        ],
      },
      warmStart: { data: { uri: referenceFile, adapter: 'canonical' }, epochs: 1, learningRate: 0.005 },
      evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
      registry: { enabled: false },
    } as Parameters<typeof testConfig>[1]);
  const worker = await createTestWorker(stack.env.nativeConnection, taskQueue);
  const [first, second] = await worker.runUntil(async () => {
    const a = await summaryOf(stack.services, await stack.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: `warm-a-${Date.now()}`, args: [config()] }));
    const b = await summaryOf(stack.services, await stack.env.client.workflow.execute(selfRationalizationRun, { taskQueue, workflowId: `warm-b-${Date.now()}`, args: [config()] }));
    return [a, b];
  });
  const store = storeFor(stack.services);

  const ws = first.warmStart!;
  assert.ok(ws, 'the summary reports the warm start');
  assert.deepEqual([ws.rows, ws.rowsWithoutReference, ws.examples], [24, 2, 22]);
  assert.ok(ws.steps > 0, 'train_sft.py trained');
  assert.equal(ws.adopted, false);
  assert.ok(await store.exists(joinUri(ws.modelUri, 'model.safetensors')));
  // Iteration 0 evaluates the warm-started judge; the run still says it started from the seed.
  assert.equal(first.iterations[0].modelUri, ws.modelUri);
  assert.equal(first.startedFrom?.kind, 'seed');
  assert.equal(ws.baseModelUri, first.startedFrom?.modelUri);
  assert.notEqual(ws.modelUri, ws.baseModelUri);
  // Each example is the judge's prompt for its row and the reference judgment in the judge's own format.
  let examples = 0;
  for await (const ex of store.readJsonl<{ example_id: string; prompt: Array<{ role: string }>; completion: string }>(ws.examplesUri)) {
    examples++;
    assert.match(ex.completion, /^The verdict is \w+\. \[RESULT\] [1-5]$/);
    assert.ok(ex.prompt.length > 0);
  }
  assert.equal(examples, 22);

  // The same warm start in another run: its job is reused (same inputs by content), nothing is trained again.
  assert.equal(second.warmStart!.adopted, true, 'the second run reuses the warm start');
  assert.equal(second.warmStart!.examples, 22);
  assert.ok((second.usage?.reused ?? []).some((r) => /warm-start/.test(JSON.stringify(r))), JSON.stringify(second.usage));
});
