/**
 * The prepare step starts the run's job Pythons ahead of its first jobs (JobRunner.prewarm; the local runner's
 * warm Pythons are test/unit/warm-python.test.ts): which entry points a run uses, that the prepare step asks
 * for them before anything else, and that a runner that cannot be built does not fail the step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { createPrepareActivities, entryPointsOfRun } from '../../activities/steps/prepare';
import type { ObjectStore } from '../../activities/storage/object-store';
import type { JobRunner } from '../../activities/jobs/types';
import { reusingRunner } from '../../activities/storage/reuse';

const ROOT = path.resolve(__dirname, '../..');
const LOCAL: RunConfig = (() => {
  const r = validateConfig(JSON.parse(readFileSync(path.join(ROOT, 'configs/local.json'), 'utf8')));
  if (!r.ok) throw new Error('configs/local.json is invalid');
  return r.config;
})();

test('entryPointsOfRun: generation always, then the warm start and the training the config names', () => {
  const warmStart = { data: { uri: 'datasets/synthetic/train.jsonl' } } as RunConfig['warmStart'];
  const cases: Array<[string, Pick<RunConfig, 'warmStart' | 'loop' | 'training'>, string[]]> = [
    ['the embedded default (DPO)', LOCAL, ['generate.py', 'train_dpo.py']],
    ['SFT as the loop method', { ...LOCAL, training: { ...LOCAL.training, method: 'sft' } }, ['generate.py', 'train_sft.py']],
    ['a warm start', { ...LOCAL, warmStart }, ['generate.py', 'train_sft.py', 'train_dpo.py']],
    ['no iteration: evaluation only', { ...LOCAL, loop: { ...LOCAL.loop, iterations: 0 } }, ['generate.py']],
  ];
  for (const [name, config, want] of cases) assert.deepEqual(entryPointsOfRun(config), want, name);
});

/** A store that fails any use, so the test sees what the step did before it first touched S3. */
const untouchable = new Proxy({}, {
  get: (_, method) => () => {
    throw new Error(`store touched: ${String(method)}`);
  },
}) as ObjectStore;

test('the prepare step prewarms the run entry points before it writes anything', async () => {
  const asked: string[][] = [];
  const runner: JobRunner = { run: () => Promise.reject(new Error('no job in this test')), prewarm: (e) => asked.push([...e]) };
  const prepare = createPrepareActivities({ projectRoot: ROOT, codeVersion: 'x', storeFor: () => untouchable, runnerFor: () => runner });
  await assert.rejects(prepare.prepareRun({ config: LOCAL, runId: 'prewarm-1' }), /^Error: store touched/);
  assert.deepEqual(asked, [['generate.py', 'train_dpo.py']]);
});

test('a runner that cannot be built leaves the prepare step to go on (the first job reports it)', async () => {
  const prepare = createPrepareActivities({
    projectRoot: ROOT,
    codeVersion: 'x',
    storeFor: () => untouchable,
    runnerFor: () => {
      throw new Error('no runner here');
    },
  });
  await assert.rejects(prepare.prepareRun({ config: LOCAL, runId: 'prewarm-2' }), /^Error: store touched/);
});

test('the reusing runner passes prewarm on to the runner it wraps, touching nothing', () => {
  const asked: string[][] = [];
  const inner: JobRunner = { run: () => Promise.reject(new Error('no job in this test')), prewarm: (e) => asked.push([...e]) };
  const wrapped = reusingRunner(inner, untouchable, { indexUri: 's3://b/cache/jobs', jobsDir: path.join(ROOT, 'jobs'), runtimeOf: () => ({ backend: 'local' }) });
  wrapped.prewarm?.(['generate.py']);
  assert.deepEqual(asked, [['generate.py']]);
  // A runner with nothing to prepare (SageMaker) leaves it out; wrapped, the call does nothing.
  assert.doesNotThrow(() => reusingRunner({ run: inner.run }, untouchable, { indexUri: 's3://b/c', jobsDir: ROOT, runtimeOf: () => ({ backend: 'local' }) }).prewarm?.(['x.py']));
});
