/** The warm start's pure parts: its config, the job's hyperparameters, which reference judgments are used. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { referenceJudgments, warmStartHyperparameters } from '../../activities/steps/warm-start';
import localConfig from '../../configs/local.json';

function withWarmStart(warmStart: unknown): ReturnType<typeof validateConfig> {
  return validateConfig({ ...localConfig, warmStart });
}

function valid(warmStart: unknown): RunConfig {
  const r = withWarmStart(warmStart);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

test('warmStart config: defaults, and a warm start on an evaluation suite\'s file is refused by its path', () => {
  const c = valid({ data: { uri: 'datasets/benchmarks/prometheus-eval-benchmarks/mt_bench_eval.jsonl', adapter: 'prometheus-absolute' } });
  assert.deepEqual(
    { epochs: c.warmStart!.epochs, learningRate: c.warmStart!.learningRate, judgmentsPerRow: c.warmStart!.judgmentsPerRow },
    { epochs: 1, learningRate: 1e-5, judgmentsPerRow: undefined },
  );
  const plain = validateConfig(localConfig);
  assert.ok(plain.ok && plain.config.warmStart === undefined, 'absent unless configured');
  const problems = (w: unknown) => {
    const r = withWarmStart(w);
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };
  assert.ok(
    problems({ data: { uri: 'datasets/synthetic/heldout.jsonl' } }).some((p) => /^warmStart\.data\.uri: is evaluation suite "synthetic-heldout"'s file/.test(p)),
  );
  assert.ok(problems({ data: { uri: 'x.jsonl' }, epochs: 0 }).some((p) => p.startsWith('warmStart.epochs: ')));
  assert.ok(problems({ data: { uri: 'x.jsonl' }, judgmentsPerRow: 1.5 }).some((p) => p.startsWith('warmStart.judgmentsPerRow: ')));
  assert.ok(problems({ data: { uri: 'x.jsonl' }, steps: 3 }).some((p) => /^warmStart: .*steps/.test(p)), 'unknown keys are named');
});

test('warm start job: train_sft.py with the warm start\'s epochs and learning rate, lengths from training unless set', () => {
  const c = valid({ data: { uri: 'x.jsonl' }, epochs: 2, learningRate: 3e-5 });
  const h = warmStartHyperparameters(c);
  assert.equal(h.epochs, 2);
  assert.equal(h.learning_rate, 3e-5);
  assert.equal(h.batch_size, c.training.batchSize);
  assert.equal(h.max_length, c.training.maxLength);
  assert.equal(h.beta, undefined, 'an SFT job: no DPO keys');
  const sized = warmStartHyperparameters(valid({ data: { uri: 'x.jsonl' }, batchSize: 4, maxLength: 256 }));
  assert.deepEqual([sized.batch_size, sized.max_length], [4, 256]);
});

test('reference judgments (validated rows): only those with a score on the judge\'s scale are used', () => {
  const scale = { min: 1, max: 5 };
  const cases: Array<[unknown, number[]]> = [
    [undefined, []],
    [{}, []],
    [{ reference_judgments: [{ rationale: 'Good.', score: 4 }, { rationale: 'Weak.', score: 2 }] }, [4, 2]],
    [{ reference_judgments: [{ rationale: ' ', score: 4 }, { rationale: 'Off scale.', score: 7 }, { rationale: 'Half.', score: 2.5 }, { rationale: 'Ok.', score: 3 }] }, [3]],
  ];
  for (const [meta, scores] of cases) {
    assert.deepEqual(referenceJudgments({ meta } as never, scale).map((j) => j.score), scores, JSON.stringify(meta));
  }
});
