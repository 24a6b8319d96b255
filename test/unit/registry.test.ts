/**
 * The judge registry's pure parts (lineage, locations), the gate's and registry's config validation, the
 * `approve` / `registry` command lines, and the promotion text of the results and progress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type RunConfigInput } from '../../core/config/config';
import { gatedSuiteNames, hasValidationSuites } from '../../core/promotion/gate-config';
import { historyEntryUri, lineage, registryDocumentUri, registryPrefixUri, sortHistory, type RegistryEntry } from '../../core/promotion/registry';
import type { RunProgress, RunSummary } from '../../core/run/run-types';
import { UsageError, parseCommandLine } from '../../cli/args';
import { formatProgressLine, formatResults } from '../../cli/format';
import { awaitingApprovalLine, formatRegistry } from '../../cli/format-promotion';

function entry(runId: string, iteration: number, modelUri: string, parent: string | null, promoted: boolean, at: string): RegistryEntry {
  return {
    judgeName: 'j',
    modelUri,
    runId,
    iteration,
    parentModelUri: parent,
    seedModelUri: 's3://b/runs/r1/models/seed',
    data: { trainUri: 's3://b/runs/r1/data/train/data/rows.jsonl', configHash: 'h' },
    metrics: { syn: { kind: 'pointwise', n: 10, parsed: 10, parseRate: 1, exactAgreement: 0.5, mae: 1, pearson: null, spearman: null, kendall: null } },
    decision: { promoted, reasons: ['r'], decidedBy: 'gate', at },
    championReplaced: promoted,
  };
}

const SEED = 's3://b/runs/r1/models/seed';
const HISTORY = [
  entry('r1', 0, SEED, null, true, '2025-01-01T00:00:00Z'),
  entry('r1', 1, 's3://m/r1/1', SEED, false, '2025-01-01T00:01:00Z'), // rejected: not in any lineage
  entry('r1', 2, 's3://m/r1/2', SEED, true, '2025-01-01T00:02:00Z'),
  entry('r2', 1, 's3://m/r2/1', 's3://m/r1/2', true, '2025-01-02T00:01:00Z'),
];

test('lineage walks parents back to the seed, skipping rejected judges', () => {
  const champion = HISTORY[3];
  const { chain, root, complete } = lineage(champion, [...HISTORY].reverse());
  assert.deepEqual(chain.map((e) => `${e.runId}/${e.iteration}`), ['r2/1', 'r1/2', 'r1/0']);
  assert.equal(root, SEED);
  assert.equal(complete, true);
});

test('lineage stops, incomplete, where a parent has no entry', () => {
  const orphan = entry('r3', 1, 's3://m/r3/1', 's3://b/runs/r3/models/seed', true, '2025-01-03T00:00:00Z');
  orphan.seedModelUri = 's3://b/runs/r3/models/seed';
  const { chain, root, complete } = lineage(orphan, HISTORY);
  assert.deepEqual(chain, [orphan]);
  assert.equal(root, 's3://b/runs/r3/models/seed');
  assert.equal(complete, false);
});

test('lineage survives a cycle in corrupt history', () => {
  const a = entry('x', 1, 's3://a', 's3://b', true, 't');
  const b = entry('x', 2, 's3://b', 's3://a', true, 't');
  assert.equal(lineage(a, [a, b]).chain.length, 2);
});

test('registry locations and history order', () => {
  const prefix = registryPrefixUri({ bucket: 'bk', prefix: 'runs' }, 'tiny-judge');
  assert.equal(prefix, 's3://bk/runs/registry/tiny-judge');
  assert.equal(registryPrefixUri({ bucket: 'bk', prefix: '' }, 'j'), 's3://bk/registry/j');
  assert.equal(registryDocumentUri(prefix), 's3://bk/runs/registry/tiny-judge/registry.json');
  assert.equal(historyEntryUri(prefix, 'run-1', 2), 's3://bk/runs/registry/tiny-judge/history/run-1-iter-2.json');
  assert.deepEqual(sortHistory([...HISTORY].reverse()).map((e) => `${e.runId}/${e.iteration}`), ['r1/0', 'r1/1', 'r1/2', 'r2/1']);
});

const BASE: RunConfigInput = {
  name: 'local',
  judge: { name: 'tiny-judge', seedModel: '.judgeloop/models/tiny-judge' },
  data: {
    train: { uri: 'datasets/synthetic/train.jsonl' },
    evalSuites: [
      { name: 'syn', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' },
      { name: 'pairs', kind: 'pairwise', uri: 'x.jsonl', adapter: 'llmbar' },
    ],
  },
  storage: { bucket: 'judgeloop' },
};

function problems(over: Record<string, unknown>): string[] {
  const r = validateConfig({ ...BASE, ...over });
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test('config: gate and registry defaults', () => {
  const r = validateConfig(BASE);
  assert.ok(r.ok);
  assert.deepEqual(r.config.evaluation.gate, {
    enabled: true,
    maxDrop: 0.02,
    metrics: { pointwise: 'pearson', pairwise: 'accuracy' },
    parseRateFloor: 0.9,
    requireApproval: false,
  });
  assert.deepEqual(r.config.registry, { enabled: true, startFrom: 'champion' });
});

const CONFIG_CASES: Array<[string, Record<string, unknown>, RegExp | null]> = [
  ['a full gate', { evaluation: { gate: { maxDrop: 0.05, metrics: { pointwise: 'mae' }, requireGain: { suite: 'syn', metric: 'exactAgreement', min: 0.1 }, requireApproval: true, approvalTimeoutHours: 24 } } }, null],
  ['requireGain on an unknown suite', { evaluation: { gate: { requireGain: { suite: 'nope', min: 0.1 } } } }, /^evaluation\.gate\.requireGain\.suite: no evaluation suite is named "nope" \(data\.evalSuites: syn, pairs\)$/],
  ['a suite gate flag that is not a boolean', { data: { ...BASE.data, evalSuites: [{ name: 'syn', kind: 'pointwise', uri: 'a.jsonl', gate: 'no' }] } }, /^data\.evalSuites\.0\.gate: /],
  ['requireGain metric of the wrong kind', { evaluation: { gate: { requireGain: { suite: 'pairs', metric: 'pearson', min: 0.1 } } } }, /^evaluation\.gate\.requireGain\.metric: "pearson" is not a metric of pairwise suite "pairs" \(use one of accuracy\)$/],
  ['requireGain min must be positive', { evaluation: { gate: { requireGain: { suite: 'syn', min: 0 } } } }, /^evaluation\.gate\.requireGain\.min: /],
  ['an unknown metric', { evaluation: { gate: { metrics: { pointwise: 'f1' } } } }, /^evaluation\.gate\.metrics\.pointwise: /],
  ['a timeout without approval', { evaluation: { gate: { approvalTimeoutHours: 2 } } }, /^evaluation\.gate\.approvalTimeoutHours: only applies with requireApproval: true/],
  ['a parse floor above 1', { evaluation: { gate: { parseRateFloor: 1.5 } } }, /^evaluation\.gate\.parseRateFloor: /],
  ['a negative tolerance', { evaluation: { gate: { maxDrop: -0.1 } } }, /^evaluation\.gate\.maxDrop: /],
  ['an unknown gate key', { evaluation: { gate: { tolerance: 0.1 } } }, /^evaluation\.gate: .*tolerance/],
  ['an unknown startFrom', { registry: { startFrom: 'latest' } }, /^registry\.startFrom: /],
];

test('config: suites with gate: false are reported but not gated', () => {
  const r = validateConfig({
    ...BASE,
    data: { ...BASE.data, evalSuites: [{ name: 'syn', kind: 'pointwise', uri: 'a.jsonl' }, { name: 'small', kind: 'pointwise', uri: 'b.jsonl', gate: false }] },
  });
  assert.ok(r.ok);
  assert.deepEqual(gatedSuiteNames(r.config), ['syn']);
});

test('config: with validation suites, the gate checks them only; test suites are reported, never gated', () => {
  const suites = [
    { name: 'val', kind: 'pointwise', uri: 'v.jsonl', role: 'validation' },
    { name: 'val-small', kind: 'pointwise', uri: 'w.jsonl', role: 'validation', gate: false },
    { name: 'syn', kind: 'pointwise', uri: 'a.jsonl', role: 'test' },
    { name: 'pairs', kind: 'pairwise', uri: 'x.jsonl', adapter: 'llmbar' },
  ];
  const r = validateConfig({ ...BASE, data: { ...BASE.data, evalSuites: suites } });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.ok(hasValidationSuites(r.config));
  assert.deepEqual(gatedSuiteNames(r.config), ['val']);
  // Without a validation suite the old rule holds: every suite without gate: false.
  const legacy = validateConfig(BASE);
  assert.ok(legacy.ok);
  assert.deepEqual(gatedSuiteNames(legacy.config), ['syn', 'pairs']);
});

const ROLE_CASES: Array<[string, unknown[], Record<string, unknown>, RegExp]> = [
  [
    'a validation suite on a test suite\'s file',
    [{ name: 'val', kind: 'pointwise', uri: 'same.jsonl', role: 'validation' }, { name: 'syn', kind: 'pointwise', uri: 'same.jsonl' }],
    {},
    /^data\.evalSuites\.0\.uri: validation suite "val" reads the same file as test suite "syn": selection and reporting need disjoint data$/,
  ],
  [
    'requireGain on a test suite',
    [{ name: 'val', kind: 'pointwise', uri: 'v.jsonl', role: 'validation' }, { name: 'syn', kind: 'pointwise', uri: 'a.jsonl', role: 'test' }],
    { evaluation: { gate: { requireGain: { suite: 'syn', min: 0.1 } } } },
    /^evaluation\.gate\.requireGain\.suite: "syn" is a test suite: the gate decides on validation suites only \(val\)$/,
  ],
  [
    'every validation suite ungated',
    [{ name: 'val', kind: 'pointwise', uri: 'v.jsonl', role: 'validation', gate: false }, { name: 'syn', kind: 'pointwise', uri: 'a.jsonl' }],
    {},
    /^data\.evalSuites: every validation suite \(val\) has gate: false, so the gate would check nothing/,
  ],
  ['an unknown role', [{ name: 'syn', kind: 'pointwise', uri: 'a.jsonl', role: 'holdout' }], {}, /^data\.evalSuites\.0\.role: /],
];

for (const [name, evalSuites, over, expected] of ROLE_CASES) {
  test(`config: ${name}`, () => {
    const got = problems({ data: { ...BASE.data, evalSuites }, ...over });
    assert.ok(got.some((p) => expected.test(p)), `${expected} in ${JSON.stringify(got)}`);
  });
}

for (const [name, over, expected] of CONFIG_CASES) {
  test(`config: ${name}`, () => {
    const got = problems(over);
    if (expected === null) assert.deepEqual(got, []);
    else assert.ok(got.some((p) => expected.test(p)), `${expected} in ${JSON.stringify(got)}`);
  });
}

const env = { USER: 'carol' } as NodeJS.ProcessEnv;

test('approve: parses the iteration, the decision, who and why', () => {
  const cmd = parseCommandLine(['approve', 'run-1', '--iteration', '2', '--reject', '--by', 'alice', '--reason', 'worse on vicuna'], env);
  assert.deepEqual({ ...cmd, connection: undefined }, {
    command: 'approve',
    workflowId: 'run-1',
    iteration: 2,
    approve: false,
    by: 'alice',
    reason: 'worse on vicuna',
    connection: undefined,
  });
  const plain = parseCommandLine(['approve', 'run-1', '--iteration', '1'], env);
  assert.equal(plain.command === 'approve' && plain.approve, true);
  assert.equal(plain.command === 'approve' && plain.by, 'carol', '--by defaults to $USER');
});

const USAGE: Array<[string[], RegExp]> = [
  [['approve', '--iteration', '1'], /missing RUN_ID/],
  [['approve', 'run-1'], /missing required flag --iteration K/],
  [['approve', 'run-1', '--iteration', '0'], /--iteration must be an integer >= 1, got "0"/],
  [['approve', 'run-1', '--iteration', 'two'], /--iteration must be an integer >= 1, got "two"/],
  [['approve', 'run-1', '--iteration', '1', '--force'], /unknown flag --force for "approve"/],
  [['registry', '--config', 'c.json'], /missing JUDGE_NAME/],
  [['registry', 'tiny-judge'], /missing required flag --config FILE/],
  [['registry', 'bad name!', '--config', 'c.json'], /invalid judge name "bad name!"/],
];

for (const [argv, pattern] of USAGE) {
  test(`usage error: ${argv.join(' ')}`, () => {
    assert.throws(() => parseCommandLine(argv, env), (e: unknown) => e instanceof UsageError && pattern.test(e.message));
  });
}

test('registry: parses the judge name, config and --json', () => {
  assert.deepEqual(parseCommandLine(['registry', 'tiny-judge', '-c', 'configs/local.json', '--json'], env), {
    command: 'registry',
    judgeName: 'tiny-judge',
    configPath: 'configs/local.json',
    json: true,
  });
});

test('progress: a promotion awaiting approval says so, with the command', () => {
  const progress: RunProgress = {
    runId: 'run-1',
    iterations: 2,
    iteration: 1,
    step: 'evaluate',
    childWorkflowId: null,
    completed: [],
    awaitingApproval: { iteration: 1, reasons: ['ok'] },
  };
  assert.equal(formatProgressLine(progress), 'awaiting approval of iteration 1 (judgeloop approve run-1 --iteration 1; add --reject to reject)');
  assert.equal(awaitingApprovalLine({ ...progress, awaitingApproval: null }), null);
});

test('results: the Promotion section lists each decision with its reasons and the final champion', () => {
  const summary: RunSummary = {
    runId: 'run-1',
    runName: 'local',
    judgeName: 'j',
    configHash: 'h',
    runPrefixUri: 's3://b/runs/run-1',
    datasets: [],
    iterations: [
      { iteration: 0, modelUri: SEED, eval: {}, startModelUri: SEED },
      { iteration: 1, modelUri: 's3://m/1', eval: {}, startModelUri: SEED, gate: { promote: false, reasons: ['syn pearson 0.410 → 0.380 (−0.030, tolerance 0.020): dropped'], decidedBy: 'gate' } },
      { iteration: 2, modelUri: 's3://m/2', eval: {}, startModelUri: SEED, gate: { promote: true, reasons: ['syn pearson undefined → 0.200: ok', 'approved by alice'], decidedBy: 'alice' } },
    ],
    finalModelUri: 's3://m/2',
    champion: { modelUri: 's3://m/2', runId: 'run-1', iteration: 2 },
    startedFrom: { kind: 'seed', modelUri: SEED, runId: 'run-1', iteration: 0 },
  };
  const text = formatResults(summary);
  const section = text.slice(text.indexOf('promotion (evaluation.gate):'));
  assert.match(section, /^promotion \(evaluation\.gate\):\n {2}started from the seed judge \(s3:\/\/b\/runs\/r1\/models\/seed\)\n {2}iteration 1: kept the champion \(by the gate\)\n {4}- syn pearson 0\.410 → 0\.380 \(−0\.030, tolerance 0\.020\): dropped\n {2}iteration 2: promoted \(by alice\)\n {4}- syn pearson undefined → 0\.200: ok\n {4}- approved by alice\n {2}champion: iteration 2 of this run \(s3:\/\/m\/2\)\n/);
  // Summaries of runs without the gate print no section.
  assert.doesNotMatch(formatResults({ ...summary, champion: undefined, startedFrom: undefined, iterations: [] }), /promotion/);
});

test('registry report: champion, lineage and history with reasons', () => {
  const text = formatRegistry('j', 's3://b/runs/registry/j', HISTORY[3], HISTORY);
  assert.match(text, /^judge j · registry s3:\/\/b\/runs\/registry\/j\/\n\nchampion: s3:\/\/m\/r2\/1\n {2}run r2, iteration 1/);
  assert.match(text, /lineage \(newest first; each judge was trained from the next\):\n {2}run r2 iteration 1: s3:\/\/m\/r2\/1\n {2}run r1 iteration 2: s3:\/\/m\/r1\/2\n {2}run r1 iteration 0: s3:\/\/b\/runs\/r1\/models\/seed\n {2}seed: s3:\/\/b\/runs\/r1\/models\/seed\n/);
  assert.match(text, /history \(4 decisions, oldest first\):/);
  assert.match(text, /r1 +1 +rejected +gate +no +syn 50\.0%/);
  assert.match(formatRegistry('j', 's3://x', null, []), /no champion yet/);
});
