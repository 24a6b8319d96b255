import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inputsWanted, selectIterationInputs, type InputSelectionConfig } from '../../core/pairing/selection';

const ids = Array.from({ length: 100 }, (_, i) => `ex-${String(i).padStart(3, '0')}`);
const base: InputSelectionConfig = { inputsPerIteration: 30, reuseInputs: true, seed: 7 };

test('inputsWanted: the schedule overrides inputsPerIteration and its last count repeats', () => {
  const cases: [InputSelectionConfig, number, number][] = [
    [base, 1, 30],
    [base, 5, 30],
    [{ ...base, inputsSchedule: [50, 10] }, 1, 50],
    [{ ...base, inputsSchedule: [50, 10] }, 2, 10],
    [{ ...base, inputsSchedule: [50, 10] }, 3, 10],
    [{ ...base, inputsSchedule: [] }, 2, 30],
  ];
  for (const [config, iteration, want] of cases) assert.equal(inputsWanted(config, iteration), want, JSON.stringify({ config, iteration }));
});

test('with reuse, each iteration draws from every input; draws overlap', () => {
  const one = selectIterationInputs(ids, base, 1);
  const two = selectIterationInputs(ids, base, 2);
  assert.equal(one.ids.size, 30);
  assert.equal(two.ids.size, 30);
  assert.equal(two.excludedAsUsed, 0);
  assert.equal(two.available, 100);
  const overlap = [...two.ids].filter((id) => one.ids.has(id)).length;
  assert.ok(overlap > 0 && overlap < 30, `overlap ${overlap}`);
});

test('without reuse, iterations draw disjoint inputs until the pool runs out', () => {
  const config = { ...base, reuseInputs: false, inputsSchedule: [50, 30] };
  const draws = [1, 2, 3].map((i) => selectIterationInputs(ids, config, i));
  assert.deepEqual(draws.map((d) => d.ids.size), [50, 30, 20], 'the third iteration gets what is left');
  assert.deepEqual(draws.map((d) => d.excludedAsUsed), [0, 50, 80]);
  const all = draws.flatMap((d) => [...d.ids]);
  assert.equal(new Set(all).size, all.length, 'no input is drawn twice');
  assert.equal(selectIterationInputs(ids, config, 4).ids.size, 0, 'nothing left');
});

test('the draw is seeded and independent of file order and duplicates', () => {
  const a = selectIterationInputs(ids, { ...base, reuseInputs: false }, 2).ids;
  const b = selectIterationInputs([...ids].reverse().concat(ids.slice(0, 5)), { ...base, reuseInputs: false }, 2).ids;
  assert.deepEqual([...a].sort(), [...b].sort());
  const c = selectIterationInputs(ids, { ...base, seed: 8, reuseInputs: false }, 2).ids;
  assert.notDeepEqual([...a].sort(), [...c].sort());
});
