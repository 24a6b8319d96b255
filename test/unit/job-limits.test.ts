import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { SAGEMAKER_OVERHEAD_MINUTES, jobLimitProblems } from '../../core/config/job-limits';
import { loadConfigFile, ConfigFileError } from '../../cli/config-file';
import localConfig from '../../configs/local.json';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';

function sagemakerConfig(backend: Record<string, unknown>, jobTimeoutMinutes?: number): Record<string, unknown> {
  return {
    ...localConfig,
    backend: { ...SAGEMAKER_BACKEND_INPUT, ...backend },
    timeouts: jobTimeoutMinutes === undefined ? {} : { jobTimeoutMinutes },
  };
}

function valid(raw: Record<string, unknown>): RunConfig {
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

test('jobLimitProblems: the job activity outlives the job (runtime or spot wait + overhead); one instance per job', () => {
  assert.equal(SAGEMAKER_OVERHEAD_MINUTES, 30);
  const cases: Array<{ name: string; backend: Record<string, unknown>; timeout?: number; paths: string[]; needs?: RegExp }> = [
    { name: 'the defaults (24 h runtime, 24 h timeout)', backend: {}, paths: ['timeouts.jobTimeoutMinutes'], needs: /at least 1470\b/ },
    { name: 'runtime covered', backend: { maxRuntimeHours: 24 }, timeout: 1470, paths: [] },
    { name: 'one minute short', backend: { maxRuntimeHours: 24 }, timeout: 1469, paths: ['timeouts.jobTimeoutMinutes'] },
    { name: 'fractional hours round up', backend: { maxRuntimeHours: 0.51 }, timeout: 60, paths: ['timeouts.jobTimeoutMinutes'], needs: /at least 61\b/ },
    {
      name: 'spot waits longer than it runs',
      backend: { maxRuntimeHours: 24, spot: { enabled: true, maxWaitHours: 36 } },
      timeout: 1500,
      paths: ['timeouts.jobTimeoutMinutes'],
      needs: /backend\.spot\.maxWaitHours 36 \(MaxWaitTimeInSeconds\).*at least 2190\b.*or lower backend\.spot\.maxWaitHours/,
    },
    { name: 'spot covered', backend: { maxRuntimeHours: 24, spot: { enabled: true, maxWaitHours: 36 } }, timeout: 2190, paths: [] },
    { name: 'two instances', backend: { instanceCount: 2, maxRuntimeHours: 1 }, timeout: 90, paths: ['backend.instanceCount'] },
    { name: 'both', backend: { instanceCount: 4 }, timeout: 60, paths: ['backend.instanceCount', 'timeouts.jobTimeoutMinutes'] },
  ];
  for (const c of cases) {
    const problems = jobLimitProblems(valid(sagemakerConfig(c.backend, c.timeout)));
    assert.deepEqual(problems.map((p) => p.path), c.paths, c.name);
    if (c.needs) assert.match(problems.find((p) => p.path === 'timeouts.jobTimeoutMinutes')!.message, c.needs, c.name);
  }
  assert.deepEqual(jobLimitProblems(valid({ ...localConfig, timeouts: { jobTimeoutMinutes: 1 } })), [], 'local jobs have no SageMaker limits');
});

test('the CLI refuses a config whose job timeout a SageMaker job can outlast, naming the field and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'judgeloop-limits-'));
  const file = join(dir, 'sm.json');
  writeFileSync(file, JSON.stringify(sagemakerConfig({ instanceCount: 2 }, 600)));
  await assert.rejects(loadConfigFile(file), (err) => {
    assert.ok(err instanceof ConfigFileError);
    assert.match(err.message, /timeouts\.jobTimeoutMinutes: 600 minutes does not cover a SageMaker job/);
    assert.match(err.message, /backend\.instanceCount: 2: every instance of a SageMaker training job runs the whole entry point/);
    assert.ok(err.message.includes(file), err.message);
    return true;
  });
});

test('the shipped SageMaker configs pass the limits', async () => {
  for (const file of ['configs/paper.json', 'configs/sagemaker.example.json']) {
    const loaded = await loadConfigFile(join(__dirname, '../..', file));
    assert.equal(loaded.config.backend.kind, 'sagemaker', file);
    assert.deepEqual(jobLimitProblems(loaded.config), [], file);
  }
});
