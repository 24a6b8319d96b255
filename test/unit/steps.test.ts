import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../core/config/config';
import { selectInputIds } from '../../activities/steps/sample';
import { groupByRequest } from '../../activities/steps/pair';
import { scoreRawJudgment } from '../../activities/steps/score';
import type { ScoredJudgment } from '../../core/run/formats';
import { bootstrapOptions, pairwiseSuiteMetrics } from '../../activities/steps/evaluate';
import { pairOutcome, pairwiseFigures, pointwiseFigures } from '../../core/evaluation/suite-report';
import { trainEntryPoint, trainHyperparameters } from '../../activities/steps/train';
import { generationHyperparameters } from '../../activities/steps/prompts';
import { OwnParseTally, parsedOnItsOwn, validateJudgment } from '../../core/data/records';
import localConfig from '../../configs/local.json';

const config = (() => {
  const r = validateConfig(localConfig);
  if (!r.ok) throw new Error('configs/local.json must be valid');
  return r.config;
})();

test('selectInputIds draws a seeded sample of the requested size, different per iteration', () => {
  const ids = Array.from({ length: 50 }, (_, i) => `ex-${i}`);
  const a = selectInputIds(ids, 10, 7, 1);
  assert.equal(a.size, 10);
  assert.deepEqual([...selectInputIds([...ids].reverse(), 10, 7, 1)].sort(), [...a].sort(), 'order of the file does not matter');
  assert.notDeepEqual([...selectInputIds(ids, 10, 7, 2)].sort(), [...a].sort(), 'each iteration draws anew');
  assert.notDeepEqual([...selectInputIds(ids, 10, 8, 1)].sort(), [...a].sort(), 'the seed matters');
  assert.equal(selectInputIds(ids, 500, 7, 1).size, 50, 'capped by the training set');
});

function judgment(requestId: string, sampleIndex: number): ScoredJudgment {
  return {
    request_id: requestId,
    example_id: requestId,
    sample_index: sampleIndex,
    model_id: 'm',
    prompt_hash: 'h',
    text: 't',
    status: 'unparseable',
    reason: 'no_marker',
    seed: 0,
  } as ScoredJudgment;
}

async function* from<T>(items: T[]) {
  yield* items;
}

test('groupByRequest groups contiguous samples and rejects interleaved ones', async () => {
  const groups = [];
  for await (const g of groupByRequest(from([judgment('a', 0), judgment('a', 1), judgment('b', 0)]))) {
    groups.push([g.requestId, g.judgments.length]);
  }
  assert.deepEqual(groups, [['a', 2], ['b', 1]]);
  await assert.rejects(async () => {
    for await (const _ of groupByRequest(from([judgment('a', 0), judgment('b', 0), judgment('a', 1)]))) void _;
  }, /not contiguous/);
});

test('scoreRawJudgment parses the completion and keeps unparseable ones with their reason', () => {
  const raw = { request_id: 'r', example_id: 'e', sample_index: 3, text: 'fine work [RESULT] 4', seed: 9, prompt_hash: 'h', gold_score: 4 };
  const ok = scoreRawJudgment(raw, config, 's3://b/m');
  assert.equal(ok.status, 'ok');
  assert.equal(ok.score, 4);
  assert.equal(ok.rationale, 'fine work');
  assert.equal(ok.gold_score, 4);
  assert.equal(ok.model_id, 's3://b/m');
  const bad = scoreRawJudgment({ ...raw, text: 'no score here' }, config, 's3://b/m');
  assert.equal(bad.status, 'unparseable');
  assert.equal(bad.score, undefined);
  assert.ok(bad.reason);
  const outOfScale = scoreRawJudgment({ ...raw, text: 'x [RESULT] 9' }, config, 's3://b/m');
  assert.equal(outOfScale.status, 'unparseable');
});

test('scoreRawJudgment keeps the sampled token ids with their prompt fingerprint, both or neither', () => {
  const raw = { request_id: 'r', example_id: 'e', sample_index: 0, text: 'ok [RESULT] 4', seed: 1, prompt_hash: 'h' };
  const withIds = scoreRawJudgment({ ...raw, completion_ids: [5, 6, 2], prompt_ids_sha256: 'abc' }, config, 'm');
  assert.deepEqual([withIds.completion_ids, withIds.prompt_ids_sha256], [[5, 6, 2], 'abc']);
  const { request_id: _r, ...record } = withIds;
  assert.equal(validateJudgment(record).ok, true);
  const halfOnly = scoreRawJudgment({ ...raw, completion_ids: [5, 6, 2] }, config, 'm');
  assert.equal('completion_ids' in halfOnly, false, 'ids without the prompt fingerprint cannot be checked: left out');
  assert.equal('completion_ids' in scoreRawJudgment(raw, config, 'm'), false);
});

test('scoreRawJudgment keeps who wrote the marker; a forced marker parses but is not the judge\'s own', () => {
  const raw = { request_id: 'r', example_id: 'e', sample_index: 0, text: 'ok [RESULT] 4', seed: 1, prompt_hash: 'h' };
  const cases: Array<[Record<string, unknown>, string | undefined, boolean]> = [
    [{ marker_source: 'model' }, 'model', true],
    [{ marker_source: 'forced' }, 'forced', false],
    [{ marker_source: 'absent', text: 'no marker' }, 'absent', false],
    [{}, undefined, true], // a job that predates marker_source
  ];
  for (const [over, source, own] of cases) {
    const j = scoreRawJudgment({ ...raw, ...over }, config, 's3://b/m');
    assert.equal(j.marker_source, source);
    assert.equal(parsedOnItsOwn(j), own, JSON.stringify(over));
    const { request_id: _r, ...record } = j;
    assert.ok(validateJudgment(record).ok, `the record with marker_source ${source} is a valid judgment`);
  }
  assert.ok(!validateJudgment({ ...scoreRawJudgment(raw, config, 'm'), request_id: undefined, marker_source: 'typed' }).ok, 'an unknown source is refused');
});

test('pairwise suite accuracy counts ties and unparseable judgments as half', () => {
  const table: Array<[Array<{ chosen: number | null; rejected: number | null; goldTie?: boolean }>, number, number, number]> = [
    [[{ chosen: 5, rejected: 1 }], 1, 0, 0],
    [[{ chosen: 1, rejected: 5 }], 0, 0, 0],
    [[{ chosen: 3, rejected: 3 }], 0.5, 1, 0],
    [[{ chosen: null, rejected: 3 }], 0.5, 0, 1],
    [[{ chosen: 5, rejected: 1 }, { chosen: 2, rejected: 2 }, { chosen: 1, rejected: 2 }, { chosen: 4, rejected: null }], 0.5, 1, 1],
    // A gold tie (PandaLM) is right when the judge scores both the same, wrong otherwise.
    [[{ chosen: 3, rejected: 3, goldTie: true }], 1, 0, 0],
    [[{ chosen: 4, rejected: 3, goldTie: true }], 0, 0, 0],
    [[{ chosen: null, rejected: 3, goldTie: true }], 0.5, 0, 1],
  ];
  for (const [pairs, accuracy, ties, unparseable] of table) {
    const m = pairwiseSuiteMetrics(pairs);
    assert.equal(m.n, pairs.length);
    assert.equal(m.accuracy, accuracy, JSON.stringify(pairs));
    assert.equal(m.ties, ties);
    assert.equal(m.unparseable, unparseable);
    assert.equal(m.goldTies, pairs.filter((p) => p.goldTie).length);
  }
});

test('trainHyperparameters: RPO weight from the config, pure DPO by default, validated by path', () => {
  assert.equal(trainHyperparameters(config, 1).rpo_alpha, config.training.rpoAlpha);
  const { rpoAlpha: _omitted, ...withoutRpo } = localConfig.training;
  const plain = validateConfig({ ...localConfig, training: withoutRpo });
  assert.ok(plain.ok);
  assert.equal(trainHyperparameters(plain.config, 1).rpo_alpha, 0);
  const bad = validateConfig({ ...localConfig, training: { ...localConfig.training, rpoAlpha: -1 } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path), ['training.rpoAlpha']);
});

test('the SFT control runs train_sft.py with the shared hyperparameters only', () => {
  const sft = validateConfig({ ...localConfig, training: { ...localConfig.training, method: 'sft' } });
  assert.ok(sft.ok);
  assert.equal(trainEntryPoint(sft.config), 'train_sft.py');
  assert.equal(trainEntryPoint(config), 'train_dpo.py');
  const hps = trainHyperparameters(sft.config, 1);
  assert.ok(!('beta' in hps) && !('rpo_alpha' in hps) && !('marker' in hps), JSON.stringify(hps));
  assert.equal(hps.learning_rate, localConfig.training.learningRate);
  assert.equal(hps.seed, trainHyperparameters(config, 1).seed, 'the same seed as DPO: a controlled comparison');
});

test('trainHyperparameters: checkpoint_steps from training.checkpointSteps (50 by default), for both methods', () => {
  assert.equal(trainHyperparameters(config, 1).checkpoint_steps, 50);
  const every10 = validateConfig({ ...localConfig, training: { ...localConfig.training, checkpointSteps: 10, method: 'sft' } });
  assert.ok(every10.ok);
  assert.equal(trainHyperparameters(every10.config, 1).checkpoint_steps, 10);
  const bad = validateConfig({ ...localConfig, training: { ...localConfig.training, checkpointSteps: 0 } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path), ['training.checkpointSteps']);
});

test('evaluation.bootstrap: per-suite seeded intervals around the metrics; 0 resamples turns them off', () => {
  const options = bootstrapOptions(config, 'synthetic-heldout');
  assert.ok(options);
  assert.deepEqual([options.resamples, options.confidence], [1000, 0.95]);
  assert.notEqual(options.seed, bootstrapOptions(config, 'vicuna-24')!.seed, 'each suite has its own seed');
  const off = validateConfig({ ...localConfig, evaluation: { bootstrap: { resamples: 0 } } });
  assert.ok(off.ok);
  assert.equal(bootstrapOptions(off.config, 'synthetic-heldout'), undefined);
  const bad = validateConfig({ ...localConfig, evaluation: { bootstrap: { confidence: 1 } } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path), ['evaluation.bootstrap.confidence']);

  // 60 items, 45 exact: agreement 0.75 with an interval around it; constant scores: correlations undefined.
  const items = Array.from({ length: 60 }, (_, i) => ({ gold: (i % 5) + 1, score: i % 4 === 0 ? ((i + 2) % 5) + 1 : (i % 5) + 1 }));
  const intervals = (its: typeof items) => pointwiseFigures(its, options).ci!;
  const ci = intervals(items);
  const [low, high] = ci.intervals.exactAgreement;
  assert.ok(low !== null && high !== null && low < 0.75 && 0.75 < high && high <= 1, JSON.stringify(ci.intervals));
  assert.deepEqual(intervals(items), ci, 'deterministic');
  const constant = intervals(items.map((it) => ({ ...it, score: 3 })));
  assert.deepEqual(constant.intervals.pearson, [null, null]);

  const pairs = [...Array(30).fill({ chosen: 5, rejected: 1 }), ...Array(10).fill({ chosen: 1, rejected: 5 })];
  const accuracy = pairwiseFigures(pairs.map(pairOutcome), options).ci!.intervals.accuracy;
  assert.equal(pairwiseSuiteMetrics(pairs).accuracy, 0.75);
  assert.ok(accuracy[0]! < 0.75 && 0.75 < accuracy[1]!, JSON.stringify(accuracy));
});

test('decoding mode: free unless a config says forced; the generation jobs get it (and the free budget) as hyperparameters', () => {
  const withDecoding = (decoding: Record<string, unknown>) => {
    const r = validateConfig({ ...localConfig, judge: { ...localConfig.judge, decoding } });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.config;
  };
  assert.equal(withDecoding({}).judge.decoding.mode, 'free', 'the judge writes its own format by default');
  assert.equal(generationHyperparameters(withDecoding({})).decoding, 'free');
  assert.equal('max_new_tokens' in generationHyperparameters(withDecoding({})), false, 'the job derives its default budget');
  assert.equal(generationHyperparameters(withDecoding({ maxNewTokens: 96 })).max_new_tokens, 96);
  assert.equal(localConfig.judge.decoding.mode, 'forced', 'the tiny judge cannot write the format: its config says so');
  assert.equal(generationHyperparameters(withDecoding({ mode: 'forced', maxRationaleTokens: 2 })).decoding, 'forced');
  const bad = validateConfig({ ...localConfig, judge: { ...localConfig.judge, decoding: { mode: 'sampled' } } });
  assert.ok(!bad.ok && bad.problems.some((p) => p.path === 'judge.decoding.mode'), 'an unknown mode names its path');
});

test('trainHyperparameters: forced marker tokens are masked out of the DPO loss only when decoding forced them', () => {
  const withMode = (mode: 'free' | 'forced') => {
    const r = validateConfig({ ...localConfig, judge: { ...localConfig.judge, decoding: { ...localConfig.judge.decoding, mode } } });
    assert.ok(r.ok);
    return r.config;
  };
  assert.equal(trainHyperparameters(withMode('forced'), 1).mask_forced_tokens, true, 'the grammar wrote them: no choice of the judge');
  assert.equal(trainHyperparameters(withMode('free'), 1).mask_forced_tokens, false, 'the judge wrote them: it learns its own format');
});

test('OwnParseTally: own parse rate over every judgment counted; forced markers apart; 0 with none', () => {
  const tally = new OwnParseTally();
  assert.deepEqual(tally.figures(), { ownParseRate: 0, forcedMarkers: 0 });
  for (const j of [
    { status: 'ok', marker_source: 'model' as const },
    { status: 'ok', marker_source: 'forced' as const },
    { status: 'ok', marker_source: 'forced' as const },
    { status: 'unparseable', marker_source: 'absent' as const },
  ]) {
    tally.add(j);
  }
  assert.deepEqual(tally.figures(), { ownParseRate: 0.25, forcedMarkers: 2 });
  assert.equal(tally.judgments, 4);
});
