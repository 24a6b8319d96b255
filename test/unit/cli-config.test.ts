import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigFileError,
  canonicalJson,
  checkConfig,
  configHash,
  describeConfig,
  loadConfigFile,
  parseConfigText,
  mergeConfig,
} from '../../cli/config-file';
import { lineColumn, locateJsonError } from '../../cli/json-locate';
import { readdirSync } from 'node:fs';
import { gatedSuiteNames, hasValidationSuites } from '../../core/promotion/gate-config';
import { main } from '../../cli/judgeloop';

const ROOT = resolve(__dirname, '..', '..');
let dir = '';

const validConfig = {
  name: 'unit',
  judge: { name: 'tiny-judge', seedModel: '.judgeloop/models/tiny-judge' },
  data: {
    train: { uri: 'datasets/synthetic/train.jsonl' },
    evalSuites: [
      { name: 'synthetic', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' },
      { name: 'llmbar', kind: 'pairwise', uri: 'datasets/llmbar.jsonl', adapter: 'llmbar' },
    ],
  },
  loop: { iterations: 2, inputsPerIteration: 64, samplesPerInput: 4 },
  storage: { bucket: 'judgeloop', endpoint: 'http://127.0.0.1:9000' },
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'judgeloop-cli-config-'));
  await writeFile(join(dir, 'valid.json'), JSON.stringify(validConfig, null, 2));
  await writeFile(join(dir, 'bad-json.json'), '{\n  "name": "unit",\n  "judge": { "name": tru }\n}\n');
  await writeFile(
    join(dir, 'invalid.json'),
    JSON.stringify({ ...validConfig, name: 'Not Valid', loop: { iterations: -1, samplesPerInput: 4 }, extra: true }),
  );
  await mkdir(join(dir, 'a-directory.json'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function configError(fn: () => unknown, kind: string, pattern: RegExp): ConfigFileError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigFileError, `expected a ConfigFileError, got ${String(caught)}`);
  assert.equal(caught.kind, kind);
  assert.match(caught.message, pattern);
  return caught;
}

async function configErrorAsync(p: Promise<unknown>, kind: string, pattern: RegExp): Promise<ConfigFileError> {
  const e = await p.then(
    () => assert.fail('expected a ConfigFileError'),
    (x: unknown) => x,
  );
  return configError(() => {
    throw e;
  }, kind, pattern);
}

test('a valid config loads with defaults filled in and a hash', async () => {
  const loaded = await loadConfigFile(join(dir, 'valid.json'));
  assert.deepEqual(loaded.raw, validConfig);
  assert.equal(loaded.config.loop.temperature, 1.0);
  assert.equal(loaded.config.storage.prefix, 'runs');
  assert.match(loaded.configHash, /^[0-9a-f]{64}$/);
  const text = describeConfig(loaded);
  assert.match(text, /valid\.json is valid/);
  assert.match(text, /loop: {5}2 iterations × 64 inputs × N=4 at T=1, seed 0/);
  assert.match(text, /eval: {5}synthetic \(pointwise\), llmbar \(pairwise\)/);
  assert.match(text, /storage: {2}s3:\/\/judgeloop\/runs via http:\/\/127\.0\.0\.1:9000/);
});

test('missing file, a directory', async () => {
  await configErrorAsync(loadConfigFile(join(dir, 'nope.json')), 'missing', /^config file not found: .*nope\.json/);
  await configErrorAsync(loadConfigFile(join(dir, 'a-directory.json')), 'unreadable', /is a directory/);
});

test('bad JSON is reported with line and column', async () => {
  const e = await configErrorAsync(
    loadConfigFile(join(dir, 'bad-json.json')),
    'json',
    /bad-json\.json:3:22: invalid JSON at line 3, column 22: unexpected "tru"/,
  );
  assert.deepEqual(e.position, { line: 3, column: 22 });
});

test('JSON syntax errors: positions and messages', () => {
  const cases: [string, number, number, RegExp][] = [
    ['{"a": 1,}', 1, 9, /trailing comma before '}'/],
    ['{\n  "a": x\n}', 2, 8, /unexpected "x" \(expected a value/],
    ['{"a":1', 1, 7, /unexpected end of input \(expected ',' or '}'\)/],
    ['', 1, 1, /unexpected end of input \(expected a value\)/],
    ['{"a": 1}}', 1, 9, /after the end of the JSON value/],
    ['{"a" 1}', 1, 6, /expected ':' after a property name/],
    ['[1,2', 1, 5, /expected ',' or ']'/],
    ['{"a": "b\nc"}', 1, 9, /a line break inside a string/],
    ['{"a": 01}', 1, 8, /leading zeros/],
    ["{'a': 1}", 1, 2, /expected a double-quoted property name/],
    ['{"a": \'x\'}', 1, 7, /double quotes/],
    ['// comment\n{}', 1, 1, /no comments/],
    ['{"a": "\\q"}', 1, 9, /bad escape/],
    ['{"a": 1.}', 1, 9, /digit after "."/],
    ['{"a": nul}', 1, 7, /unexpected "nul" \(expected null/],
    ['{"a": "x}', 1, 10, /unterminated string/],
  ];
  for (const [text, line, column, message] of cases) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse should reject ${JSON.stringify(text)}`);
    const p = locateJsonError(text);
    assert.ok(p, `no problem found in ${JSON.stringify(text)}`);
    assert.deepEqual([p.line, p.column], [line, column], JSON.stringify(text));
    assert.match(p.message, message, JSON.stringify(text));
  }
});

test('the locator accepts what JSON.parse accepts', () => {
  const valid = [
    '{}',
    '[]',
    ' {"a": [1, -2.5e+3, 0, 0.1, true, false, null, "x\\u00e9\\n\\"", {"b": {}}]} \n',
    '"just a string"',
    '-0',
    JSON.stringify(validConfig, null, 2),
  ];
  for (const text of valid) {
    JSON.parse(text);
    assert.equal(locateJsonError(text), null, text);
  }
  assert.deepEqual(lineColumn('ab\ncd\nef', 7), { line: 3, column: 2 });
});

test('a byte-order mark is tolerated', () => {
  assert.deepEqual(parseConfigText('\uFEFF{"a": 1}', 'x.json'), { a: 1 });
});

test('an invalid config lists every problem by its path', async () => {
  const e = await configErrorAsync(loadConfigFile(join(dir, 'invalid.json')), 'invalid', /invalid\.json is invalid \(3 problems\):/);
  assert.deepEqual(
    e.problems.map((p) => p.path).sort(),
    ['(root)', 'loop.iterations', 'name'],
  );
  assert.match(e.message, /\n {2}- name: lowercase letters/);
  assert.match(e.message, /\n {2}- loop\.iterations: /);
  assert.match(e.message, /\n {2}- \(root\): Unrecognized key: "extra"/);
  configError(() => checkConfig([], 'arr.json'), 'invalid', /arr\.json is invalid \(1 problem\):\n {2}- \(root\): /);
});

test('config hash: canonical, independent of key order and of spelled-out defaults', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } }), '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}');
  const a = checkConfig(validConfig, 'a');
  const reordered = JSON.parse(JSON.stringify({ storage: validConfig.storage, data: validConfig.data, loop: validConfig.loop, judge: validConfig.judge, name: validConfig.name }));
  const withDefaults = { ...validConfig, loop: { ...validConfig.loop, temperature: 1, seed: 0 } };
  assert.equal(checkConfig(reordered, 'b').configHash, a.configHash);
  assert.equal(checkConfig(withDefaults, 'c').configHash, a.configHash);
  assert.notEqual(checkConfig({ ...validConfig, name: 'other' }, 'd').configHash, a.configHash);
  assert.equal(configHash(a.config), a.configHash);
});

function sink() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) }, text: () => text };
}

test('validate command in-process: valid → 0 with a summary, invalid → 2 with paths on stderr', async () => {
  let out = sink();
  let err = sink();
  assert.equal(await main(['validate', '--config', join(dir, 'valid.json')], { out: out.stream, err: err.stream, env: {} }), 0);
  assert.match(out.text(), /is valid/);
  assert.equal(err.text(), '');

  out = sink();
  err = sink();
  assert.equal(await main(['validate', '--config', join(dir, 'invalid.json')], { out: out.stream, err: err.stream, env: {} }), 2);
  assert.equal(out.text(), '');
  assert.match(err.text(), /- loop\.iterations: /);

  out = sink();
  err = sink();
  assert.equal(await main(['validate', '--json', '--config', join(dir, 'bad-json.json')], { out: out.stream, err: err.stream, env: {} }), 2);
  const report = JSON.parse(out.text());
  assert.equal(report.ok, false);
  assert.equal(report.kind, 'json');
  assert.deepEqual(report.position, { line: 3, column: 22 });
});

test('run with a bad config never connects: exit 2 before any Temporal call', async () => {
  const out = sink();
  const err = sink();
  // The address is unreachable: had the CLI tried to connect it would exit 1 with "Cannot reach Temporal".
  const rc = await main(['run', '--config', join(dir, 'invalid.json'), '--address', '127.0.0.1:1'], {
    out: out.stream,
    err: err.stream,
    env: {},
  });
  assert.equal(rc, 2);
  assert.match(err.text(), /invalid\.json is invalid/);
  assert.doesNotMatch(err.text(), /Cannot reach Temporal/);
});

test('the real CLI process: validate an invalid config → exit 2, problems by path on stderr', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/judgeloop.ts', 'validate', '--config', join(dir, 'invalid.json')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /invalid\.json is invalid \(3 problems\):\n/);
  assert.match(r.stderr, / {2}- loop\.iterations: /);
});

test('the real CLI process: a missing config file → exit 2, a one-line message', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/judgeloop.ts', 'run', '--config', join(dir, 'missing.json')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr, `config file not found: ${join(dir, 'missing.json')} (try configs/local.json)\n`);
});

test('mergeConfig: objects merge key by key, arrays and values replace', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 1, b: { c: 2, d: 3 } }, { b: { d: 4 } }, { a: 1, b: { c: 2, d: 4 } }],
    [{ a: [1, 2] }, { a: [3] }, { a: [3] }],
    [{ a: { b: 1 } }, { a: null }, { a: null }],
    [{ a: 1 }, { z: { y: 1 } }, { a: 1, z: { y: 1 } }],
    [[1], { a: 1 }, { a: 1 }],
  ];
  for (const [base, override, want] of cases) assert.deepEqual(mergeConfig(base, override), want);
});

test('"extends": an ablation config holds only what it changes; cycles and bad bases are reported', async () => {
  const loaded = await loadConfigFile('configs/ablations/majority-vote.json');
  assert.equal(loaded.config.name, 'abl-majority-vote');
  assert.deepEqual(loaded.config.loop.pairing.strategies.map((s) => s.name), ['majority_vote']);
  assert.equal(loaded.config.training.epochs, 4, 'the rest comes from configs/local.json');
  assert.ok(!('extends' in (loaded.raw as object)), 'the run receives the merged config, without "extends"');

  await writeFile(join(dir, 'cycle-a.json'), JSON.stringify({ extends: 'cycle-b.json', name: 'a' }));
  await writeFile(join(dir, 'cycle-b.json'), JSON.stringify({ extends: 'cycle-a.json', name: 'b' }));
  await configErrorAsync(loadConfigFile(join(dir, 'cycle-a.json')), 'invalid', /"extends" makes a cycle/);
  await writeFile(join(dir, 'bad-extends.json'), JSON.stringify({ extends: 3 }));
  await configErrorAsync(loadConfigFile(join(dir, 'bad-extends.json')), 'invalid', /"extends" must be the path/);
  await writeFile(join(dir, 'missing-base.json'), JSON.stringify({ extends: 'nope.json' }));
  await configErrorAsync(loadConfigFile(join(dir, 'missing-base.json')), 'missing', /nope\.json/);
  // A problem in the merged result is reported by path like any other.
  await writeFile(join(dir, 'bad-merged.json'), JSON.stringify({ extends: resolve('configs/local.json'), training: { method: 'ppo' } }));
  const e = await configErrorAsync(loadConfigFile(join(dir, 'bad-merged.json')), 'invalid', /training\.method/);
  assert.deepEqual(e.problems.map((p) => p.path), ['training.method']);
});

test('every ablation config is valid and differs from the embedded default in what its name says', async () => {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir('configs/ablations')).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.length >= 6, files.join(', '));
  const base = (await loadConfigFile('configs/local.json')).config;
  for (const file of files) {
    const { config } = await loadConfigFile(join('configs/ablations', file));
    assert.equal(config.name, `abl-${file.replace(/\.json$/, '')}`, file);
    assert.deepEqual(config.data, base.data, `${file}: same data as the embedded default`);
    assert.equal(config.loop.iterations, base.loop.iterations);
  }
});

test('templates named by the config are checked before anything starts, by the key that names them', async () => {
  const base = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile('configs/local.json', 'utf8')));
  await writeFile(join(dir, 'no-response.txt'), '=== user ===\n{{instruction}} {{rubric}} {{score_min}}-{{score_max}}\n');
  const cases: [object, string, RegExp][] = [
    [{ judge: { ...base.judge, promptTemplate: join(dir, 'nope.txt') } }, 'judge.promptTemplate', /cannot read the template/],
    [{ judge: { ...base.judge, promptTemplate: join(dir, 'no-response.txt') } }, 'judge.promptTemplate', /\{\{response\}\}/],
    [
      { loop: { ...base.loop, pairing: { strategies: [{ name: 'meta_judge', template: 'prompts/pointwise-v1.txt' }] } } },
      'loop.pairing.strategies.0.template',
      /meta/,
    ],
    [
      {
        judge: { ...base.judge, pairwiseTemplate: 'prompts/pointwise-v1.txt' },
        data: { ...base.data, evalSuites: base.data.evalSuites.map((s: { kind: string }) => (s.kind === 'pairwise' ? { ...s, mode: 'both' } : s)) },
      },
      'judge.pairwiseTemplate',
      /response_a/,
    ],
  ];
  for (const [override, key, message] of cases) {
    const file = join(dir, `tpl-${key.replace(/\W/g, '')}-${cases.indexOf(cases.find((c) => c[1] === key)!)}.json`);
    await writeFile(file, JSON.stringify({ ...base, ...override }));
    const e = await configErrorAsync(loadConfigFile(file), 'invalid', message);
    assert.ok(e.problems.every((p) => p.path === key), JSON.stringify(e.problems));
  }
});

test('every shipped config keeps selection apart from reporting: its gate decides on validation suites only', async () => {
  const dir = resolve(__dirname, '../../configs');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 3, `configs found: ${files.join(', ')}`);
  for (const file of files) {
    const { config } = await loadConfigFile(join(dir, file));
    if (!config.evaluation.gate.enabled) continue;
    assert.ok(hasValidationSuites(config), `${file}: the gate is on, so it needs a validation suite (role: validation)`);
    const roles = new Map(config.data.evalSuites.map((s) => [s.name, s.role]));
    const gated = gatedSuiteNames(config);
    assert.ok(gated.length > 0, `${file}: gates on nothing`);
    for (const name of gated) assert.equal(roles.get(name), 'validation', `${file}: gates on "${name}", which is not a validation suite`);
    assert.ok(config.data.evalSuites.some((s) => s.role !== 'validation'), `${file}: reports on no test suite`);
  }
});
