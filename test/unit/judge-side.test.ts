import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineRatings } from '../../activities/steps/meta-judge';
import type { MetaRating } from '../../core/run/formats';
import { consistencyFilterActive, validateConfig } from '../../core/config/config';
import localConfig from '../../configs/local.json';

const row = (meta_score: number | null, reason?: string): MetaRating => ({
  request_id: 'r1',
  example_id: 'e1',
  sample_index: 3,
  meta_score,
  meta_status: meta_score === null ? 'unparseable' : 'ok',
  ...(reason ? { reason } : {}),
});

test('combineRatings: the mean of the parsed ratings, unparseable ones left out', () => {
  const cases: [MetaRating[], number | null, number[] | undefined][] = [
    [[row(4)], 4, [4]],
    [[row(1), row(5), row(3), row(4)], 3.25, [1, 5, 3, 4]],
    [[row(2), row(null, 'no_marker'), row(3)], 2.5, [2, 3]],
    [[row(1), row(2), row(2)], 1.667, [1, 2, 2]],
    [[row(null, 'no_score'), row(null, 'no_marker')], null, undefined],
  ];
  for (const [rows, mean, ratings] of cases) {
    const combined = combineRatings(rows);
    assert.equal(combined.meta_score, mean, JSON.stringify(rows));
    assert.deepEqual(combined.ratings, ratings);
    assert.equal(combined.meta_status, mean === null ? 'unparseable' : 'ok');
    assert.deepEqual([combined.request_id, combined.sample_index], ['r1', 3]);
  }
  assert.equal(combineRatings([row(null, 'no_score')]).reason, 'no_score');
});

test('the consistency filter starts at consistencyFromIteration', () => {
  const pairing = { ...localConfig.loop.pairing, consistencyFilter: true, consistencyFromIteration: 2 };
  const parsed = validateConfig({ ...localConfig, loop: { ...localConfig.loop, pairing } });
  assert.ok(parsed.ok);
  assert.deepEqual([1, 2, 3].map((i) => consistencyFilterActive(parsed.config, i)), [false, true, true]);
  const off = validateConfig(localConfig);
  assert.ok(off.ok);
  assert.deepEqual([1, 2].map((i) => consistencyFilterActive(off.config, i)), [false, false]);
});

test('meta_judge: sampled ratings need a temperature', () => {
  const withMeta = (meta: object) =>
    validateConfig({ ...localConfig, loop: { ...localConfig.loop, pairing: { strategies: [{ name: 'meta_judge', ...meta }] } } });
  const defaults = withMeta({});
  assert.ok(defaults.ok);
  const strategy = defaults.config.loop.pairing.strategies[0];
  assert.ok(strategy.name === 'meta_judge' && strategy.ratingSamples === 4 && strategy.ratingTemperature === 1 && strategy.margin === 1);
  assert.ok(withMeta({ ratingSamples: 1, ratingTemperature: 0 }).ok, 'one greedy rating');
  const bad = withMeta({ ratingSamples: 4, ratingTemperature: 0 });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path), ['loop.pairing.strategies.0.ratingTemperature']);
});

test('the consistency filter is refused with the vllm backend, by path', () => {
  const bad = validateConfig({
    ...localConfig,
    judge: { ...localConfig.judge, decoding: { ...localConfig.judge.decoding, backend: 'vllm' } },
    loop: { ...localConfig.loop, pairing: { ...localConfig.loop.pairing, consistencyFilter: true } },
  });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path), ['loop.pairing.consistencyFilter']);
});
