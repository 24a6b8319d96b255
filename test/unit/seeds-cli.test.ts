/** `judgeloop seeds` (cli/seeds.ts, cli/args.ts): argument parsing, the seeded configs, and the printed aggregate. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TASK_QUEUE } from '../../core/run/run-types';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { aggregateSeedRuns } from '../../core/evaluation/seed-stats';
import { DEFAULT_ADDRESS, DEFAULT_UI_URL, MAX_SEEDS, UsageError, parseCommandLine, usageText, type Command } from '../../cli/args';
import { checkConfig, loadConfigFile } from '../../cli/config-file';
import { configDifferences, formatSeedAggregate, seedRunId, seededRaw, seedsProblem } from '../../cli/seeds';
import { main } from '../../cli/judgeloop';
import localConfig from '../../configs/local.json';

const ROOT = resolve(__dirname, '..', '..');
const noEnv = {} as NodeJS.ProcessEnv;
const connection = { address: DEFAULT_ADDRESS, namespace: 'default', taskQueue: TASK_QUEUE, uiUrl: DEFAULT_UI_URL };

function usageError(argv: string[], pattern: RegExp): void {
  assert.throws(
    () => parseCommandLine(argv, noEnv),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.equal(e.topic, 'seeds');
      return true;
    },
    argv.join(' '),
  );
}

test('seeds: start mode, with defaults and with every flag', () => {
  assert.deepEqual(parseCommandLine(['seeds', '--config', 'configs/paper.json', '--seeds', '0,1,2'], noEnv), {
    command: 'seeds',
    action: 'start',
    configPath: 'configs/paper.json',
    seeds: [0, 1, 2],
    follow: true,
    json: false,
    connection,
  } satisfies Command);
  assert.deepEqual(
    parseCommandLine(['seeds', '-c', 'a.json', '--seeds', ' 7, 3 ', '--id-prefix', 'study', '--no-follow', '--json', '--task-queue', 'q'], noEnv),
    {
      command: 'seeds',
      action: 'start',
      configPath: 'a.json',
      seeds: [7, 3],
      idPrefix: 'study',
      follow: false,
      json: true,
      connection: { ...connection, taskQueue: 'q' },
    } satisfies Command,
  );
});

test('seeds: --from-runs aggregates finished runs and starts nothing', () => {
  assert.deepEqual(parseCommandLine(['seeds', '--from-runs', 'run-a,run-b', '--json', '--address', 'x:1'], noEnv), {
    command: 'seeds',
    action: 'aggregate',
    workflowIds: ['run-a', 'run-b'],
    json: true,
    connection: { ...connection, address: 'x:1', uiUrl: DEFAULT_UI_URL },
  } satisfies Command);
});

test('seeds: usage errors name the problem', () => {
  const cases: Array<[string[], RegExp]> = [
    [['seeds'], /give --config FILE and --seeds S,S,\.\.\. \(or --from-runs/],
    [['seeds', '--config', 'a.json'], /give --config FILE and --seeds/],
    [['seeds', '--seeds', '0,1'], /give --config FILE and --seeds/],
    [['seeds', '-c', 'a.json', '--seeds', '0'], /at least two seeds/],
    [['seeds', '-c', 'a.json', '--seeds', '0,1,0'], /lists seed 0 twice/],
    [['seeds', '-c', 'a.json', '--seeds', '0,-1'], /"-1" is not a whole number >= 0/],
    [['seeds', '-c', 'a.json', '--seeds', '0,1.5'], /"1\.5" is not a whole number/],
    [['seeds', '-c', 'a.json', '--seeds', '0,,1'], /empty item/],
    [['seeds', '-c', 'a.json', '--seeds', Array.from({ length: MAX_SEEDS + 1 }, (_, i) => i).join(',')], /at most 64 runs/],
    [['seeds', '-c', 'a.json', '--seeds', '0,1', '--id-prefix', 'has space'], /invalid run id prefix "has space" \(--id-prefix\): holds " "/],
    [['seeds', '-c', 'a.json', '--seeds', '0,1', 'extra'], /unexpected argument "extra"/],
    [['seeds', '--from-runs', 'a,b', '--config', 'x.json', '--seeds', '0,1'], /starts nothing: drop --config, --seeds/],
    [['seeds', '--from-runs', 'a,b', '--no-follow'], /drop --no-follow/],
    [['seeds', '--from-runs', 'a'], /at least two runs/],
    [['seeds', '--from-runs', 'a,a'], /names a run twice/],
    [['seeds', '--from-runs', 'a,'], /empty item/],
    [['seeds', '--from-runs', 'a,b', '--nope'], /unknown flag --nope for "seeds"/],
  ];
  for (const [argv, pattern] of cases) usageError(argv, pattern);
});

test('seeds: help with an example; listed among the commands', () => {
  assert.deepEqual(parseCommandLine(['seeds', '--help'], noEnv), { command: 'help', topic: 'seeds' });
  assert.deepEqual(parseCommandLine(['help', 'seeds'], noEnv), { command: 'help', topic: 'seeds' });
  const help = usageText('seeds');
  assert.match(help, /^usage: judgeloop seeds --config FILE --seeds S,S,\.\.\. \[--id-prefix P\]/);
  assert.match(help, /judgeloop seeds --from-runs RUN_ID,RUN_ID,\.\.\./);
  assert.match(help, /example:\n {4}npm run judgeloop -- seeds --config configs\/local\.json --seeds 0,1,2 --id-prefix local-3seeds/);
  assert.match(help, /connection flags/);
  // Listed among the commands, its summary in commander's column.
  assert.match(usageText(), /\n {2}seeds +run one config under several seeds/);
});

test('seeded configs: loop.seed and training.seed set, nothing else changed; one run id per seed', async () => {
  const base = await loadConfigFile(resolve(ROOT, 'configs/local.json'));
  const hashes = new Set<string>();
  for (const seed of [0, 1, 42]) {
    const { config, configHash } = checkConfig(seededRaw(base.raw, seed), `local.json with seed ${seed}`);
    assert.equal(config.loop.seed, seed);
    assert.equal(config.training.seed, seed);
    assert.deepEqual({ ...config, loop: { ...config.loop, seed: 0 }, training: { ...config.training, seed: 0 } }, base.config);
    hashes.add(configHash);
  }
  assert.equal(hashes.size, 3);
  assert.deepEqual(base.raw, JSON.parse(JSON.stringify(base.raw)), 'the file\'s JSON is not modified');
  assert.equal(seedRunId('study', 3), 'study-seed-3');
});

function parsed(over: Record<string, unknown>): RunConfig {
  const r = validateConfig({ ...localConfig, ...over });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

test('seeds need a shared start: a config starting from the registry\'s champion is refused', () => {
  assert.equal(seedsProblem(parsed({})), null, 'configs/local.json starts from the seed');
  assert.match(seedsProblem(parsed({ registry: {} })) ?? '', /registry\.startFrom is "champion" \(the default\).*Set registry\.startFrom to "seed"/);
  assert.equal(seedsProblem(parsed({ registry: { enabled: false } })), null);
});

test('configDifferences: what differs between run configs besides their seeds', () => {
  const a = parsed({});
  const cases: Array<[RunConfig[], string[]]> = [
    [[a], []],
    [[a, { ...a, loop: { ...a.loop, seed: 5 }, training: { ...a.training, seed: 9 } }], []],
    [[a, { ...a, loop: { ...a.loop, seed: 5, samplesPerInput: 4 } }], ['loop.samplesPerInput']],
    [[a, { ...a, name: 'other' }, { ...a, training: { ...a.training, beta: 0.1 } }], ['name', 'training.beta']],
    [[a, { ...a, data: { ...a.data, evalSuites: a.data.evalSuites.slice(1) } }], ['data.evalSuites']],
  ];
  for (const [configs, want] of cases) assert.deepEqual(configDifferences(configs), want);
});

test('the printed aggregate: one row per iteration, suite and metric, rates in percent, a column per seed', () => {
  const pw = (exactAgreement: number, pearson: number) => ({ kind: 'pointwise' as const, n: 20, parsed: 20, parseRate: 1, exactAgreement, mae: 1, pearson, spearman: null, kendall: null });
  const agg = aggregateSeedRuns(
    [
      { runId: 's-seed-0', seed: 0, summary: { iterations: [{ iteration: 0, modelUri: 'm', eval: { held: pw(0.2, 0.1), pairs: { kind: 'pairwise', n: 4, accuracy: 0.5, ties: 0, unparseable: 0 } } }] } },
      { runId: 's-seed-1', seed: 1, summary: { iterations: [{ iteration: 0, modelUri: 'm', eval: { held: pw(0.3, 0.2), pairs: { kind: 'pairwise', n: 4, accuracy: 0.75, ties: 0, unparseable: 0 } } }] } },
    ],
    ['held', 'pairs'],
  );
  // held exact agreement: mean 25.0, sd 7.1 points, 25 ± 12.706205 · 7.07 / √2 = [-38.5, 88.5] (not clipped to 0-100).
  assert.equal(
    formatSeedAggregate(agg),
    [
      '2 runs (seeds 0, 1): s-seed-0, s-seed-1',
      'per iteration and test suite: mean, sample sd and 95% t-interval of the mean across seeds (n = runs with the figure;',
      'rates in percent, sd and interval in points)',
      '',
      'iter  suite  metric             n   mean     sd  95% t-interval   seed 0  seed 1',
      '----  -----  -----------------  -  -----  -----  ---------------  ------  ------',
      '   0  held   exact agreement %  2   25.0    7.1  [-38.5, 88.5]      20.0    30.0',
      '   0  held   pearson            2  0.150  0.071  [-0.485, 0.785]   0.100   0.200',
      '   0  pairs  accuracy %         2   62.5   17.7  [-96.3, 221.3]     50.0    75.0',
    ].join('\n'),
  );
});

test('main(): a config whose runs would start from the champion is refused before anything starts (exit 2)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'judgeloop-seeds-'));
  try {
    const file = join(dir, 'champion.json');
    await writeFile(file, JSON.stringify({ ...localConfig, registry: { enabled: true, startFrom: 'champion' } }));
    let err = '';
    const rc = await main(['seeds', '--config', file, '--seeds', '0,1', '--address', '127.0.0.1:1'], {
      out: { write: () => true },
      err: { write: (s: string) => (err += s) },
      env: noEnv,
    });
    assert.equal(rc, 2);
    assert.match(err, /champion\.json: the runs of one seed study must start from the same judge/);
    // An invalid config is reported by path, as by `validate`.
    await writeFile(file, JSON.stringify({ ...localConfig, loop: { ...localConfig.loop, samplesPerInput: 0 } }));
    err = '';
    assert.equal(await main(['seeds', '--config', file, '--seeds', '0,1'], { out: { write: () => true }, err: { write: (s: string) => (err += s) }, env: noEnv }), 2);
    assert.match(err, /- loop\.samplesPerInput: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
