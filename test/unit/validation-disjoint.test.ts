/**
 * Selection apart from reporting, item by item (activities/steps/prepare.ts checkValidationDisjoint): the prepare
 * step refuses a run whose validation suite shares an item with a test suite, whatever files they are in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { checkValidationDisjoint, type PreparedDataset } from '../../activities/steps/prepare';
import type { ObjectStore } from '../../activities/storage/object-store';
import { validateConfig, type RunConfig } from '../../core/config/config';
import localConfig from '../../configs/local.json';

const rubric = { criteria: 'c', score1: '1', score2: '2', score3: '3', score4: '4', score5: '5' };
const row = (id: string, instruction: string, response: string) => ({ id, instruction, response, rubric, gold_score: 3 });
const pair = (id: string, instruction: string, chosen: string, rejected: string) => ({ id, instruction, chosen, rejected });

/** Only what the check reads: JSONL rows by URI. */
function rowsStore(files: Record<string, unknown[]>): ObjectStore {
  return {
    async *readJsonl(uri: string) {
      yield* files[uri] ?? [];
    },
  } as unknown as ObjectStore;
}

function configWith(suites: Array<{ name: string; kind: 'pointwise' | 'pairwise'; role?: 'validation' | 'test' }>): RunConfig {
  const r = validateConfig({ ...localConfig, data: { ...localConfig.data, evalSuites: suites.map((s) => ({ ...s, uri: `${s.name}.jsonl` })) } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

const prepared = (name: string, kind: 'pointwise' | 'pairwise'): PreparedDataset => ({ name, kind, uri: `s3://b/${name}.jsonl`, rows: 0, quarantined: 0, quarantineUri: '' });

test('a validation item that a test suite also holds fails the run, naming both; disjoint suites pass', async () => {
  const config = configWith([
    { name: 'val', kind: 'pointwise', role: 'validation' },
    { name: 'test', kind: 'pointwise', role: 'test' },
    { name: 'pairs', kind: 'pairwise', role: 'test' },
  ]);
  const suites = [prepared('val', 'pointwise'), prepared('test', 'pointwise'), prepared('pairs', 'pairwise')];
  const clean = rowsStore({
    's3://b/val.jsonl': [row('v1', 'Rate it.', 'Fine.'), row('v2', 'Rate it.', 'Bad.')],
    's3://b/test.jsonl': [row('t1', 'Rate it.', 'Great.')],
    's3://b/pairs.jsonl': [pair('p1', 'Rate it.', 'Superb.', 'Awful.')],
  });
  await checkValidationDisjoint(clean, config, suites);

  // The same item in other words of whitespace and case, in a test file and in a pair's rejected side.
  const shared = rowsStore({
    's3://b/val.jsonl': [row('v1', 'Rate it.', 'Fine.'), row('v2', 'Rate it.', 'Awful.')],
    's3://b/test.jsonl': [row('t1', 'rate  it.', 'FINE.')],
    's3://b/pairs.jsonl': [pair('p1', 'Rate it.', 'Superb.', 'Awful.')],
  });
  await assert.rejects(checkValidationDisjoint(shared, config, suites), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure && e.nonRetryable, 'a data problem is not retried');
    assert.match(e.message, /^2 validation item\(s\) also appear in a test suite/);
    assert.match(e.message, /val\/v1 = test\/t1/);
    assert.match(e.message, /val\/v2 = pairs\/p1/);
    return true;
  });
});

test('a config without validation suites is not checked (nothing reads the suites)', async () => {
  const config = configWith([{ name: 'test', kind: 'pointwise' }]);
  const store = {
    readJsonl() {
      throw new Error('read');
    },
  } as unknown as ObjectStore;
  await checkValidationDisjoint(store, config, [prepared('test', 'pointwise')]);
});
