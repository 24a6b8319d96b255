import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { budgetExhausted, combineUsage, costUsd, locateJob, priceBasis, runPrefixOf, sumUsage, type BudgetLimits, type JobUsage } from '../../core/run/usage';
import { budgetAdmission } from '../../activities/jobs/usage-record';
import { SageMakerBackend, validateConfig, type RunConfig } from '../../core/config/config';
import { createUsageActivities } from '../../activities/steps/usage';
import type { ObjectStore } from '../../activities/storage/object-store';
import { memoryStore } from '../support/memory-store';
import localConfig from '../../configs/local.json';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';
import { formatIterationDone } from '../../cli/format';
import { costBasisLine, formatCost, renderTable, usageTable } from '../../core/report/summary-tables';
import type { IterationSummary } from '../../core/run/run-types';

function job(attempt: string, over: Partial<JobUsage> = {}): JobUsage {
  return {
    jobName: attempt.replace(/-r\d+$/, ''),
    attempt,
    status: 'Completed',
    entryPoint: 'generate.py',
    backend: 'sagemaker',
    iteration: 1,
    step: 'sample',
    seconds: 100,
    billableSeconds: 80,
    instanceType: 'ml.g5.2xlarge',
    instanceCount: 1,
    usd: 0.5,
    finishedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

test('locateJob: iteration and step from the job output location', () => {
  const cases: [string, { iteration: number | null; step: string }][] = [
    ['s3://b/runs/r1/iter-3/sample/job', { iteration: 3, step: 'sample' }],
    ['s3://b/runs/r1/iter-0/evaluate/baselines/job/', { iteration: 0, step: 'evaluate' }],
    ['s3://b/runs/r1/iter-12/train', { iteration: 12, step: 'train' }],
    ['s3://b/runs/r1/iter-2', { iteration: null, step: 'other' }],
    ['s3://b/scratch/job', { iteration: null, step: 'other' }],
  ];
  for (const [uri, want] of cases) assert.deepEqual(locateJob(uri), want, uri);
});

test('costUsd: seconds × instances × price per hour, rounded to 1/100 cent; null without a price', () => {
  assert.equal(costUsd(3600, 1, 1.515), 1.515);
  assert.equal(costUsd(1800, 2, 7.2), 7.2);
  assert.equal(costUsd(1, 1, 1), 0.0003);
  assert.equal(costUsd(0, 1, 5), 0);
  assert.equal(costUsd(100, 1, undefined), null);
});

test('sumUsage: totals and per step; instance-seconds for billed; one record per attempt; unpriced counted apart', () => {
  const totals = sumUsage([
    job('r-i1-sample'),
    job('r-i1-sample'), // the same attempt seen twice (a retried activity): counted once
    job('r-i1-train', { step: 'train', entryPoint: 'train_dpo.py', seconds: 600, billableSeconds: 300, instanceCount: 2, usd: 2 }),
    job('r-i1-train-r2', { step: 'train', status: 'Failed', seconds: 50, billableSeconds: 50, usd: 0.25 }),
    job('r-i1-evaluate', { step: 'evaluate', seconds: 40, billableSeconds: 40, usd: null }),
  ]);
  assert.deepEqual(totals, {
    jobs: 4,
    seconds: 790,
    billableSeconds: 80 + 600 + 50 + 40,
    usd: 2.75,
    unpricedJobs: 1,
    byStep: {
      sample: { jobs: 1, seconds: 100, billableSeconds: 80, usd: 0.5, unpricedJobs: 0 },
      train: { jobs: 2, seconds: 650, billableSeconds: 650, usd: 2.25, unpricedJobs: 0 },
      evaluate: { jobs: 1, seconds: 40, billableSeconds: 40, usd: 0, unpricedJobs: 1 },
    },
  });
  assert.deepEqual(sumUsage([]), { jobs: 0, seconds: 0, billableSeconds: 0, usd: 0, unpricedJobs: 0, byStep: {} });
});

test('combineUsage: a run is the sum of its iterations; older summaries without usage are skipped', () => {
  const a = sumUsage([job('r-i0-evaluate', { step: 'evaluate', iteration: 0 })]);
  const b = sumUsage([job('r-i1-sample'), job('r-i1-evaluate', { step: 'evaluate', usd: 0.1 })]);
  const run = combineUsage([a, undefined, b]);
  assert.equal(run.jobs, 3);
  assert.equal(run.usd, 1.1);
  assert.deepEqual(run.byStep.evaluate, { jobs: 2, seconds: 200, billableSeconds: 160, usd: 0.6, unpricedJobs: 0 });
  assert.deepEqual(run.byStep.sample.jobs, 1);
});

test('formatCost: dollars, fractions of a cent, unpriced jobs', () => {
  assert.equal(formatCost({ usd: 12.345, unpricedJobs: 0, jobs: 3 }), '$12.35');
  assert.equal(formatCost({ usd: 0.0042, unpricedJobs: 0, jobs: 1 }), '$0.0042');
  assert.equal(formatCost({ usd: 0, unpricedJobs: 0, jobs: 0 }), '$0.00');
  assert.equal(formatCost({ usd: 1, unpricedJobs: 2, jobs: 3 }), '$1.00 + 2 unpriced');
  assert.equal(formatCost({ usd: 0, unpricedJobs: 3, jobs: 3 }), 'not priced');
});

test('usageTable and the iteration-done line show jobs, time and cost', () => {
  const it0: IterationSummary = { iteration: 0, modelUri: 'm0', eval: {}, usage: sumUsage([job('r-i0-evaluate', { step: 'evaluate', iteration: 0, seconds: 65 })]) };
  const it1: IterationSummary = {
    iteration: 1,
    modelUri: 'm1',
    eval: {},
    usage: sumUsage([job('r-i1-sample', { seconds: 125 }), job('r-i1-train', { step: 'train', seconds: 3725, usd: 4 })]),
  };
  const usage = combineUsage([it0.usage, it1.usage]);
  const table = usageTable({ iterations: [it0, it1], usage });
  assert.ok(table);
  assert.deepEqual(table.rows, [
    ['0', '1', '1m05s', '1m20s', '$0.50', 'evaluate 1m05s'],
    ['1', '2', '1h04m', '2m40s', '$4.50', 'sample 2m05s · train 1h02m'],
    ['run', '3', '1h05m', '4m00s', '$5.00', 'evaluate 1m05s · sample 2m05s · train 1h02m'],
  ]);
  assert.match(renderTable(table), /^iter {2}jobs/);
  assert.equal(usageTable({ iterations: [{ iteration: 0, modelUri: 'm', eval: {} }] }), null, 'older summaries: no table');
  assert.equal(formatIterationDone(it1), 'iteration 1 done: jobs 1h04m, est. $4.50');
  assert.match(renderTable(table), /est\. cost/);
  const local: IterationSummary = { ...it1, usage: sumUsage([job('x', { usd: null, backend: 'local', seconds: 30 })]) };
  assert.equal(formatIterationDone(local), 'iteration 1 done: jobs 30s', 'local jobs without a price: time only');
});

test('runPrefixOf: the run folder above iter-K', () => {
  assert.equal(runPrefixOf('s3://b/runs/r1/iter-3/sample/job'), 's3://b/runs/r1');
  assert.equal(runPrefixOf('s3://b/runs/r1/iter-0'), 's3://b/runs/r1');
  assert.equal(runPrefixOf('s3://b/scratch/job'), null);
});

test('budgetExhausted: the first limit reached (reaching it exactly counts), or null', () => {
  const spent = { jobs: 3, seconds: 5400, billableSeconds: 3600, usd: 10, unpricedJobs: 0 };
  const cases: [BudgetLimits, RegExp | null][] = [
    [{}, null],
    [{ maxUsd: 10.01 }, null],
    [{ maxUsd: 10 }, /cost \$10\.00, reaching budget\.maxUsd \$10\.00 \(3 jobs\)/],
    [{ maxUsd: 5, maxJobHours: 0.5 }, /budget\.maxUsd/],
    [{ maxJobHours: 1 }, /1\.000 billed instance-hours, reaching budget\.maxJobHours 1 \(3 jobs\)/],
    [{ maxJobHours: 1.5 }, null],
  ];
  for (const [limits, want] of cases) {
    const got = budgetExhausted(limits, spent);
    if (want === null) assert.equal(got, null, JSON.stringify(limits));
    else assert.match(got ?? '', want, JSON.stringify(limits));
  }
});

test('budgetAdmission: reads the run\'s usage records and refuses the next job with BudgetExceeded', async () => {
  const records = [
    job('r1-i0-evaluate', { step: 'evaluate', iteration: 0, billableSeconds: 1800, usd: 3 }),
    job('r1-i1-sample', { billableSeconds: 1800, usd: 3 }),
  ];
  const store = {
    listed: [] as string[],
    async list(prefix: string) {
      this.listed.push(prefix);
      return [
        ...records.map((r) => ({ uri: `s3://b/runs/r1/iter-${r.iteration}/${r.step}/job/_usage/${r.attempt}.json`, key: `runs/r1/iter-${r.iteration}/${r.step}/job/_usage/${r.attempt}.json`, size: 1 })),
        { uri: 's3://b/runs/r1/iter-1/sample/job/_job.json', key: 'runs/r1/iter-1/sample/job/_job.json', size: 1 },
      ];
    },
    async getJson<T>(uri: string): Promise<T | null> {
      return (records.find((r) => uri.endsWith(`/${r.attempt}.json`)) ?? null) as T | null;
    },
  };
  const spec = { jobName: 'r1-i1-train', entryPoint: 'train_dpo.py', channels: {}, hyperparameters: {}, outputUri: 's3://b/runs/r1/iter-1/train/job' };
  await budgetAdmission(store, undefined)(spec);
  await budgetAdmission(store, { maxUsd: 6.5 })(spec);
  assert.deepEqual(store.listed, ['s3://b/runs/r1'], 'the whole run is summed; no budget reads nothing');
  await assert.rejects(budgetAdmission(store, { maxJobHours: 1 })(spec), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure);
    assert.equal(e.type, 'BudgetExceeded');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /budget spent: .*reaching budget\.maxJobHours 1 \(2 jobs\); job r1-i1-train \(train_dpo\.py\) was not started/);
    assert.match(e.message, /judgeloop run --config FILE --id r1\)/);
    return true;
  });
});

test('config: budget.maxUsd needs prices for the jobs it caps; maxJobHours does not', () => {
  const local = validateConfig({ ...localConfig, budget: { maxUsd: 5 } });
  assert.ok(!local.ok);
  assert.deepEqual(local.problems.map((p) => [p.path, p.message]), [
    ['budget.maxUsd', 'needs a price for every job: set backend.pricePerHour, or cap time with budget.maxJobHours instead'],
  ]);
  assert.ok(validateConfig({ ...localConfig, budget: { maxUsd: 5 }, backend: { kind: 'local', pricePerHour: 0.4 } }).ok);
  assert.ok(validateConfig({ ...localConfig, budget: { maxJobHours: 2 } }).ok);
  const zero = validateConfig({ ...localConfig, budget: { maxJobHours: 0 } });
  assert.ok(!zero.ok);
  assert.deepEqual(zero.problems.map((p) => p.path), ['budget.maxJobHours']);
  const sm = validateConfig({
    ...localConfig,
    budget: { maxUsd: 100 },
    backend: { ...SAGEMAKER_BACKEND_INPUT, instanceTypes: { generation: 'ml.g5.2xlarge', training: 'ml.p4d.24xlarge' }, pricesPerHour: { 'ml.g5.2xlarge': 1.5 } },
  });
  assert.ok(!sm.ok);
  assert.match(sm.problems[0].message, /set backend\.pricesPerHour\["ml\.p4d\.24xlarge"\]/);
});

test('sumUsage and combineUsage: reused jobs cost nothing, are left out of the totals and are listed', () => {
  const it1 = sumUsage([
    job('r-i1-sample', { status: 'Reused', reusedFrom: 's3://b/runs/old/iter-1/sample/job', seconds: 0, billableSeconds: 0, usd: 0 }),
    job('r-i1-train', { step: 'train', usd: 2 }),
  ]);
  assert.equal(it1.jobs, 1);
  assert.equal(it1.usd, 2);
  assert.deepEqual(Object.keys(it1.byStep), ['train']);
  assert.deepEqual(it1.reused, ['r-i1-sample']);
  assert.equal('reused' in sumUsage([job('x')]), false, 'absent when nothing was reused');
  const run = combineUsage([sumUsage([job('r-i0-evaluate', { status: 'Reused', usd: 0 })]), it1]);
  assert.deepEqual(run.reused, ['r-i0-evaluate', 'r-i1-sample']);
  assert.equal(run.jobs, 1);
  assert.equal('reusedSteps' in run, false, 'absent when no data step was reused');
  const withSteps = combineUsage([{ ...it1, reusedSteps: ['iter-0/evaluate/metrics'] }, undefined, { ...it1, reusedSteps: ['iter-1/pair', 'iter-1/score'] }]);
  assert.deepEqual(withSteps.reusedSteps, ['iter-0/evaluate/metrics', 'iter-1/pair', 'iter-1/score'], 'data steps copied from earlier runs, in iteration order');
});


test('priceBasis and costBasisLine: every cost shown is an estimate, with where its prices come from and their date', () => {
  const source = { source: 'AWS SageMaker on-demand, us-east-1', asOf: '2026-11-02' };
  assert.deepEqual(priceBasis({ kind: 'sagemaker', pricesPerHour: { 'ml.g5.2xlarge': 1.515 }, priceSource: source }), { setting: 'backend.pricesPerHour', ...source });
  assert.deepEqual(priceBasis({ kind: 'local', pricePerHour: 0.1 }), { setting: 'backend.pricePerHour' });
  assert.equal(priceBasis({ kind: 'local' }), undefined, 'a local backend without a price prices nothing');
  assert.equal(priceBasis({ kind: 'sagemaker', pricesPerHour: {} }), undefined);
  assert.equal(priceBasis(undefined), undefined, 'the input of runs started before the usage step read the backend');
  const priced = { jobs: 3, unpricedJobs: 0 };
  const cases: Array<[string, Parameters<typeof costBasisLine>[0], string | null]> = [
    ['with source and date', { ...priced, prices: { setting: 'backend.pricesPerHour', ...source } }, 'costs are estimates: billed time × backend.pricesPerHour (AWS SageMaker on-demand, us-east-1, as of 2026-11-02), not a bill'],
    ['no source given', { ...priced, prices: { setting: 'backend.pricePerHour' } }, 'costs are estimates: billed time × backend.pricePerHour (no source or date given: set backend.priceSource), not a bill'],
    ['an older summary without a basis', priced, 'costs are estimates: billed time × the configured prices per hour, not a bill'],
    ['nothing priced', { jobs: 2, unpricedJobs: 2 }, null],
    ['no usage', undefined, null],
  ];
  for (const [name, usage, want] of cases) assert.equal(costBasisLine(usage), want, name);
  // The run's totals keep the basis of its iterations.
  const basis = { setting: 'backend.pricesPerHour' as const, ...source };
  assert.deepEqual(combineUsage([{ ...sumUsage([]), prices: basis }, sumUsage([])]).prices, basis);
  assert.equal(combineUsage([sumUsage([])]).prices, undefined);
});

test('the usage step records the price basis of the backend it was sent, and none when it was sent only storage', async () => {
  const store = memoryStore();
  const record = job('r1-i1-train', { step: 'train', billableSeconds: 3600, usd: 1.515 });
  await store.putJson(`s3://b/runs/r1/iter-1/train/job/_usage/${record.attempt}.json`, record);
  const { summarizeUsage } = createUsageActivities({ projectRoot: '.', codeVersion: 'x', storeFor: () => store as unknown as ObjectStore, runnerFor: () => { throw new Error('no jobs'); } });
  const storage = { bucket: 'b', prefix: 'runs', region: 'us-east-1', forcePathStyle: false } as RunConfig['storage'];
  const backend = SageMakerBackend.parse({ ...SAGEMAKER_BACKEND_INPUT, pricesPerHour: { 'ml.g5.12xlarge': 1.515 }, priceSource: { source: 'AWS price list API, us-east-1', asOf: '2026-11-30' } });
  const withBackend = await summarizeUsage({ config: { storage, backend }, runPrefixUri: 's3://b/runs/r1', iteration: 1 });
  assert.deepEqual(withBackend.prices, { setting: 'backend.pricesPerHour', source: 'AWS price list API, us-east-1', asOf: '2026-11-30' });
  assert.equal(withBackend.usd, 1.515);
  const file = await store.getJson<{ totals: { prices?: unknown } }>('s3://b/runs/r1/iter-1/usage.json');
  assert.deepEqual(file?.totals.prices, withBackend.prices, 'iter-K/usage.json keeps it too');
  const older = await summarizeUsage({ config: { storage }, runPrefixUri: 's3://b/runs/r1', iteration: 1 });
  assert.equal(older.prices, undefined);
  assert.equal(older.usd, 1.515);
});

test('config: backend.priceSource needs where the prices come from and a real date', () => {
  const local = (priceSource: unknown) => validateConfig({ ...localConfig, backend: { kind: 'local', pricePerHour: 0.4, priceSource } });
  assert.ok(local({ source: 'EC2 on-demand, c7i.large, eu-west-1', asOf: '2026-12-01' }).ok);
  const cases: Array<[unknown, string, RegExp]> = [
    [{ source: '', asOf: '2026-12-01' }, 'backend.priceSource.source', /must say where the prices come from/],
    [{ source: 'x', asOf: '12/01/2026' }, 'backend.priceSource.asOf', /must be a date, YYYY-MM-DD/],
    [{ source: 'x', asOf: '2026-02-30' }, 'backend.priceSource.asOf', /must be a real date/],
    [{ source: 'x' }, 'backend.priceSource.asOf', /./],
  ];
  for (const [value, path, message] of cases) {
    const r = local(value);
    assert.ok(!r.ok, JSON.stringify(value));
    assert.equal(r.problems[0].path, path, JSON.stringify(value));
    assert.match(r.problems[0].message, message);
  }
});
