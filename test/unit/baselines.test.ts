import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreementScore, baselineScores, bestOfN, selfConsistency, type BaselineScores, type SampledScore } from '../../core/evaluation/baselines';

const s = (sampleIndex: number, score: number | null, logprob: number | null = null): SampledScore => ({ sampleIndex, score, logprob });

test('selfConsistency: the mode; ties go to the mode nearest the mean, then the lower score', () => {
  const cases: Array<[number[], number | null, string]> = [
    [[], null, 'no parsed score'],
    [[4], 4, 'one score'],
    [[3, 4, 4, 5], 4, 'a single mode'],
    // modes 2 and 5 (twice each), mean (2+2+5+5+4)/5 = 3.6: 5 is 1.4 away, 2 is 1.6 away.
    [[2, 2, 5, 5, 4], 5, 'tie broken by distance to the mean'],
    // modes 2 and 4, mean 3: equally far, the lower wins.
    [[2, 4, 2, 4], 2, 'equal distance: the lower score'],
    [[5, 4, 4, 5], 4, 'order does not matter'],
  ];
  for (const [scores, want, why] of cases) assert.equal(selfConsistency(scores), want, why);
});

test('bestOfN: highest log-probability among parsed samples; ties to the lower index; no logprob, no candidate', () => {
  assert.equal(bestOfN([s(0, 3, -2.5), s(1, 5, -1.0), s(2, 1, -4)]), 5);
  assert.equal(bestOfN([s(0, null, -0.1), s(1, 2, -3)]), 2, 'an unparseable sample is never chosen, whatever its logprob');
  assert.equal(bestOfN([s(1, 4, -1), s(0, 2, -1)]), 2, 'equal logprob: sample 0');
  assert.equal(bestOfN([s(0, 4, null), s(1, 3)]), null, 'no sample has a logprob');
  assert.equal(bestOfN([]), null);
});

test('baselineScores: hand-computed table', () => {
  const cases: Array<[SampledScore[], BaselineScores, string]> = [
    [
      [s(0, 2, -3), s(1, 4, -1), s(2, 4, -2), s(3, 5, -0.5)],
      { one_sample: 2, self_consistency: 4, mean_of_n: 15 / 4, best_of_n: 5 },
      'four parsed samples',
    ],
    [
      [s(2, 3, -1), s(0, null, -0.1), s(1, 3, -2)],
      { one_sample: null, self_consistency: 3, mean_of_n: 3, best_of_n: 3 },
      'sample 0 unparseable: one_sample is unparseable, the rest use the parsed ones',
    ],
    [[s(0, null), s(1, null)], { one_sample: null, self_consistency: null, mean_of_n: null, best_of_n: null }, 'nothing parsed'],
    [[s(1, 4, -1)], { one_sample: null, self_consistency: 4, mean_of_n: 4, best_of_n: 4 }, 'sample 0 missing'],
  ];
  for (const [samples, want, why] of cases) assert.deepEqual(baselineScores(samples), want, why);
  assert.throws(() => baselineScores([s(0, 1), s(0, 2)]), /sample index 0 appears twice/);
});

test('agreementScore rounds a mean of N half up and leaves the others as they are', () => {
  assert.equal(agreementScore('mean_of_n', 3.5), 4);
  assert.equal(agreementScore('mean_of_n', 3.49), 3);
  assert.equal(agreementScore('mean_of_n', null), null);
  assert.equal(agreementScore('best_of_n', 3), 3);
});
