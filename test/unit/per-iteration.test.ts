/**
 * Per-iteration schedules (core/config/per-iteration.ts): the input count, N, T and each strategy's margin as one
 * number or one value per iteration; how a list resolves, how it is validated, that a plain number parses
 * and hashes as before, and that the sample step's generation job gets each iteration's N and T.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { validateConfig, type RunConfig } from '../../core/config/config';
import {
  formatPerIteration,
  inputsForIteration,
  iterationParameters,
  strategiesForIteration,
  valueForIteration,
  type PerIteration,
} from '../../core/config/per-iteration';
import { inputsWanted } from '../../core/pairing/selection';
import { configHash, describeConfig, loadConfigFile } from '../../cli/config-file';
import { createSampleActivities, type SampleResult } from '../../activities/steps/sample';
import type { ActivityDeps } from '../../activities/context';
import type { ObjectStore } from '../../activities/storage/object-store';
import type { JobRunner, JobSpec } from '../../activities/jobs/types';
import localConfig from '../../configs/local.json';

const ROOT = resolve(__dirname, '..', '..');

function parse(loop: Record<string, unknown>): ReturnType<typeof validateConfig> {
  return validateConfig({ ...localConfig, loop: { ...localConfig.loop, ...loop } });
}

function parsedLoop(loop: Record<string, unknown>): RunConfig['loop'] {
  const r = parse(loop);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config.loop;
}

test('valueForIteration: a number for every iteration; a list one per iteration, the last one repeating', () => {
  const cases: Array<[PerIteration, number, number]> = [
    [8, 1, 8],
    [8, 7, 8],
    [[8], 1, 8],
    [[8], 3, 8],
    [[5000, 500], 1, 5000],
    [[5000, 500], 2, 500],
    [[5000, 500], 3, 500],
    [[1.0, 1.2, 1.4], 2, 1.2],
    [[1.0, 1.2, 1.4], 3, 1.4],
    [[1.0, 1.2, 1.4], 20, 1.4],
  ];
  for (const [schedule, iteration, want] of cases) assert.equal(valueForIteration(schedule, iteration), want, JSON.stringify({ schedule, iteration }));
  for (const bad of [0, -1, 1.5]) assert.throws(() => valueForIteration(8, bad), /start at iteration 1/);
  assert.throws(() => valueForIteration([], 1), /at least one value/);
  assert.equal(formatPerIteration(8), '8');
  assert.equal(formatPerIteration([8, 16]), '[8, 16]');
});

test('iterationParameters: every schedule of a parsed loop, per iteration', () => {
  const loop = parsedLoop({
    iterations: 3,
    inputsPerIteration: [400, 40],
    samplesPerInput: [8, 16],
    temperature: [1.0, 1.2, 1.3],
    pairing: {
      strategies: [
        { name: 'gold_margin', margin: [2, 1] },
        { name: 'meta_judge', margin: 0.5 },
      ],
    },
  });
  const cases: Array<[number, { inputs: number; samplesPerInput: number; temperature: number; margins: number[] }]> = [
    [1, { inputs: 400, samplesPerInput: 8, temperature: 1.0, margins: [2, 0.5] }],
    [2, { inputs: 40, samplesPerInput: 16, temperature: 1.2, margins: [1, 0.5] }],
    [3, { inputs: 40, samplesPerInput: 16, temperature: 1.3, margins: [1, 0.5] }],
  ];
  for (const [iteration, want] of cases) {
    const p = iterationParameters(loop, iteration);
    assert.deepEqual(
      { inputs: p.inputs, samplesPerInput: p.samplesPerInput, temperature: p.temperature, margins: p.strategies.map((s) => s.margin) },
      want,
      `iteration ${iteration}`,
    );
    // The strategies keep everything but the margin.
    assert.deepEqual(p.strategies.map((s) => s.name), ['gold_margin', 'meta_judge']);
    assert.equal(p.strategies[0].maxPairsPerInput, 4);
  }
  assert.equal(inputsWanted({ ...loop, seed: 0 }, 2), 40, 'the input selection reads the same schedule');
});

test('inputsSchedule, the older spelling, still overrides a plain inputsPerIteration', () => {
  const cases: Array<[{ inputsPerIteration: PerIteration; inputsSchedule?: number[] }, number, number]> = [
    [{ inputsPerIteration: 30 }, 1, 30],
    [{ inputsPerIteration: 30, inputsSchedule: [50, 10] }, 1, 50],
    [{ inputsPerIteration: 30, inputsSchedule: [50, 10] }, 4, 10],
    [{ inputsPerIteration: 30, inputsSchedule: [] }, 2, 30],
    [{ inputsPerIteration: [50, 10] }, 2, 10],
  ];
  for (const [loop, iteration, want] of cases) assert.equal(inputsForIteration(loop, iteration), want, JSON.stringify({ loop, iteration }));
  assert.equal(iterationParameters(parsedLoop({ iterations: 2, inputsPerIteration: 64, inputsSchedule: [64, 8] }), 2).inputs, 8);
});

test('a plain number stays a plain number: same parsed loop, same config hash, same strategy objects', async () => {
  // configs/local.json's loop as it parsed before schedules existed (every default spelled out).
  const loaded = await loadConfigFile(resolve(ROOT, 'configs/local.json'));
  assert.deepEqual(loaded.config.loop, {
    iterations: 2,
    inputsPerIteration: 400,
    reuseInputs: true,
    samplesPerInput: 8,
    temperature: 1.0,
    seed: 0,
    pairing: {
      strategies: [{ name: 'gold_margin', margin: 2, maxPairsPerInput: 4 }],
      hygiene: { dropIdenticalAfterTruncation: true, balanceGoldLevels: false },
      consistencyFilter: false,
      consistencyFromIteration: 1,
    },
  });
  // Spelling a single value as a one-value list is a different config (and hash), by design: it says "per iteration".
  const asList = validateConfig({ ...localConfig, loop: { ...localConfig.loop, samplesPerInput: [8] } });
  assert.ok(asList.ok);
  assert.notEqual(configHash(asList.config), loaded.configHash);
  assert.deepEqual(asList.config.loop.samplesPerInput, [8]);
  // Defaults are numbers too.
  const defaults = validateConfig({ ...localConfig, loop: {} });
  assert.ok(defaults.ok);
  assert.deepEqual(
    [defaults.config.loop.inputsPerIteration, defaults.config.loop.samplesPerInput, defaults.config.loop.temperature, defaults.config.loop.pairing.strategies[0].margin],
    [5000, 8, 1.0, 2],
  );
  const strategies = loaded.config.loop.pairing.strategies;
  assert.equal(strategiesForIteration(strategies, 2)[0], strategies[0], 'a plain margin resolves to the very same object');
});

test('validation: lists by path, with lengths, ranges and kinds named', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ iterations: 2, samplesPerInput: [8, 16, 32] }, 'loop.samplesPerInput', /has 3 values but loop\.iterations is 2: at most one value per iteration/],
    [{ iterations: 1, temperature: [1.0, 1.2] }, 'loop.temperature', /has 2 values but loop\.iterations is 1/],
    [{ iterations: 1, inputsPerIteration: [5000, 500] }, 'loop.inputsPerIteration', /has 2 values/],
    [{ iterations: 1, pairing: { strategies: [{ name: 'gold_margin', margin: [2, 1] }] } }, 'loop.pairing.strategies.0.margin', /has 2 values/],
    [{ samplesPerInput: [] }, 'loop.samplesPerInput', /an empty list: give a number, or a list with one value per iteration/],
    [{ samplesPerInput: [8, 100] }, 'loop.samplesPerInput.1', /<=64/],
    [{ samplesPerInput: 0 }, 'loop.samplesPerInput', />0/],
    [{ samplesPerInput: [8, 2.5] }, 'loop.samplesPerInput', /value 2 of the list \(2\.5\): .*int/],
    [{ samplesPerInput: '8' }, 'loop.samplesPerInput', /expected a number, or a list with one value per iteration \(e\.g\. \[8, 16\]; the last one repeats\), got the string "8"/],
    [{ temperature: [1.0, 0] }, 'loop.temperature.1', />0/],
    [{ temperature: [1.0, 2.5] }, 'loop.temperature.1', /<=2/],
    [{ temperature: { first: 1 } }, 'loop.temperature', /got an object/],
    [{ pairing: { strategies: [{ name: 'gold_margin', margin: [2, 1.5] }] } }, 'loop.pairing.strategies.0.margin', /value 2 of the list \(1\.5\)/],
    [{ pairing: { strategies: [{ name: 'meta_judge', margin: [1, 5] }] } }, 'loop.pairing.strategies.0.margin.1', /<=4/],
    [{ inputsPerIteration: [400, 40], inputsSchedule: [400, 40] }, 'loop.inputsSchedule', /inputsPerIteration is already a list/],
  ];
  for (const [loop, path, message] of cases) {
    const r = parse(loop);
    assert.ok(!r.ok, `${JSON.stringify(loop)} should be refused`);
    const problems = r.problems.filter((p) => p.path === path);
    assert.equal(problems.length, 1, `${JSON.stringify(loop)}: ${JSON.stringify(r.problems)}`);
    assert.match(problems[0].message, message, JSON.stringify(loop));
    assert.equal(r.problems.length, 1, `only that problem: ${JSON.stringify(r.problems)}`);
  }
  // Shorter lists are fine (the last value repeats); an evaluate-only run uses no schedule and accepts any.
  for (const loop of [
    { iterations: 3, samplesPerInput: [8, 16], temperature: [1.0], pairing: { strategies: [{ name: 'majority_vote', margin: [2, 2, 1] }] } },
    { iterations: 0, samplesPerInput: [8, 16], inputsPerIteration: [5000, 500] },
  ]) {
    const r = parse(loop);
    assert.ok(r.ok, `${JSON.stringify(loop)}: ${JSON.stringify(!r.ok && r.problems)}`);
  }
});

test('judgeloop validate shows the schedules', async () => {
  const loop = parsedLoop({ iterations: 2, inputsPerIteration: [400, 40], samplesPerInput: [8, 16], temperature: [1, 1.2], pairing: { strategies: [{ name: 'gold_margin', margin: [2, 1] }] } });
  const loaded = await loadConfigFile(resolve(ROOT, 'configs/local.json'));
  const text = describeConfig({ ...loaded, config: { ...loaded.config, loop } });
  assert.match(text, /loop: {5}2 iterations × \[400, 40\] inputs × N=\[8, 16\] at T=\[1, 1\.2\], seed 0/);
  assert.match(text, /pairing: {2}gold_margin \(margin \[2, 1\], at most 4 per input\)/);
});

test('the sample step: each iteration\'s generation job gets that iteration\'s N and T, and draws its input count', async () => {
  const rubric = { criteria: 'c', score1: 'a', score2: 'b', score3: 'c', score4: 'd', score5: 'e' };
  const train = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, instruction: `Q${i}`, response: `A${i}`, rubric, gold_score: 1 + (i % 5) }));
  const objects = new Map<string, string>();
  objects.set('s3://b/train.jsonl', train.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const store = {
    async getJson<T>(uri: string): Promise<T | null> {
      const text = objects.get(uri);
      return text === undefined ? null : (JSON.parse(text) as T);
    },
    async putJson(uri: string, value: unknown) {
      objects.set(uri, JSON.stringify(value));
      return { uri, bytes: 0, sha256: 'x' };
    },
    async *readJsonl<T>(uri: string): AsyncGenerator<T> {
      for (const line of (objects.get(uri) ?? '').split('\n')) if (line.trim()) yield JSON.parse(line) as T;
    },
    async writeJsonl(uri: string, rows: AsyncIterable<unknown> | Iterable<unknown>) {
      const lines: string[] = [];
      for await (const r of rows as AsyncIterable<unknown>) lines.push(JSON.stringify(r));
      objects.set(uri, lines.join('\n') + '\n');
      return { uri, bytes: 0, sha256: 'x', rows: lines.length };
    },
  };
  const specs: JobSpec[] = [];
  const runner: JobRunner = {
    async run(spec: JobSpec) {
      specs.push(spec);
      return { jobName: spec.jobName, outputUri: spec.outputUri, modelUri: `${spec.outputUri}/model`, outputDataUri: `${spec.outputUri}/output`, how: 'ran', seconds: 0 } as Awaited<ReturnType<JobRunner['run']>>;
    },
  } as JobRunner;
  const deps: ActivityDeps = { projectRoot: ROOT, codeVersion: 'test', storeFor: () => store as unknown as ObjectStore, runnerFor: () => runner };
  const { sampleJudgments } = createSampleActivities(deps);
  const r = validateConfig({
    ...localConfig,
    loop: { ...localConfig.loop, iterations: 3, inputsPerIteration: [20, 5], samplesPerInput: [4, 8, 2], temperature: [1.0, 1.3] },
    reuse: { acrossRuns: false },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const want: Array<[number, { inputs: number; num_samples: number; temperature: number }]> = [
    [1, { inputs: 20, num_samples: 4, temperature: 1.0 }],
    [2, { inputs: 5, num_samples: 8, temperature: 1.3 }],
    [3, { inputs: 5, num_samples: 2, temperature: 1.3 }],
  ];
  for (const [iteration, expected] of want) {
    const result: SampleResult = await new MockActivityEnvironment().run(sampleJudgments, {
      config: r.config,
      runId: 'r1',
      runPrefixUri: 's3://b/runs/r1',
      iteration,
      modelUri: 's3://b/m',
      trainUri: 's3://b/train.jsonl',
    });
    const spec = specs.at(-1)!;
    assert.deepEqual(
      { inputs: result.inputs, num_samples: spec.hyperparameters.num_samples, temperature: spec.hyperparameters.temperature },
      expected,
      `iteration ${iteration}`,
    );
  }
});
