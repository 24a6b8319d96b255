import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TASK_QUEUE } from '../../core/run/run-types';
import { DEFAULT_ADDRESS, DEFAULT_UI_URL, UsageError, defaultUiUrl, parseCommandLine, usageText, type Command } from '../../cli/args';
import { main } from '../../cli/judgeloop';
import { cmdStack } from '../../cli/commands';
import { workflowUrl } from '../../cli/connection';
import { defaultWorkflowId, pickSearchAttributes } from '../../cli/start';

const ROOT = resolve(__dirname, '..', '..');
const noEnv = {} as NodeJS.ProcessEnv;

function usageError(argv: string[], pattern: RegExp, topic?: string): void {
  assert.throws(
    () => parseCommandLine(argv, noEnv),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.equal(e.topic, topic);
      return true;
    },
  );
}

test('run: defaults for connection, follow on, json off', () => {
  assert.deepEqual(parseCommandLine(['run', '--config', 'configs/local.json'], noEnv), {
    command: 'run',
    configPath: 'configs/local.json',
    workflowId: undefined,
    follow: true,
    json: false,
    connection: { address: DEFAULT_ADDRESS, namespace: 'default', taskQueue: TASK_QUEUE, uiUrl: DEFAULT_UI_URL },
  } satisfies Command);
});

test('run: environment variables, then flags win over them', () => {
  const env = {
    TEMPORAL_ADDRESS: 'temporal:7233',
    TEMPORAL_NAMESPACE: 'ml',
    JUDGELOOP_TASK_QUEUE: 'jq',
    JUDGELOOP_UI_URL: 'http://ui:8080/',
  } as NodeJS.ProcessEnv;
  const fromEnv = parseCommandLine(['run', '-c', 'a.json', '--no-follow', '--json', '--id', 'my-run'], env);
  assert.deepEqual(fromEnv, {
    command: 'run',
    configPath: 'a.json',
    workflowId: 'my-run',
    follow: false,
    json: true,
    connection: { address: 'temporal:7233', namespace: 'ml', taskQueue: 'jq', uiUrl: 'http://ui:8080' },
  } satisfies Command);
  const fromFlags = parseCommandLine(
    ['run', '--config=a.json', '--address', 'x:1', '--namespace=ns', '--task-queue', 'q', '--ui', 'http://u'],
    env,
  );
  assert.equal(fromFlags.command, 'run');
  if (fromFlags.command === 'run') {
    assert.deepEqual(fromFlags.connection, { address: 'x:1', namespace: 'ns', taskQueue: 'q', uiUrl: 'http://u' });
  }
});

test('the UI link follows a local address (dev server UI = gRPC port + 1000)', () => {
  assert.equal(defaultUiUrl('127.0.0.1:7233'), DEFAULT_UI_URL);
  assert.equal(defaultUiUrl('127.0.0.1:7300'), 'http://127.0.0.1:8300');
  assert.equal(defaultUiUrl('localhost:17733'), 'http://localhost:18733');
  assert.equal(defaultUiUrl('temporal.example.com:7233'), DEFAULT_UI_URL);
  assert.equal(defaultUiUrl('127.0.0.1:65000'), DEFAULT_UI_URL);
  const cmd = parseCommandLine(['status', 'x', '--address', '127.0.0.1:7300'], noEnv);
  assert.equal((cmd as { connection: { uiUrl: string } }).connection.uiUrl, 'http://127.0.0.1:8300');
  const explicit = parseCommandLine(['status', 'x', '--address', '127.0.0.1:7300', '--ui', 'http://ui'], noEnv);
  assert.equal((explicit as { connection: { uiUrl: string } }).connection.uiUrl, 'http://ui');
});

test('follow / status / results take one run id', () => {
  for (const c of ['follow', 'status', 'results'] as const) {
    const cmd = parseCommandLine([c, 'judgeloop-local-20250101-000000', '--json'], noEnv);
    assert.equal(cmd.command, c);
    assert.equal((cmd as { workflowId: string }).workflowId, 'judgeloop-local-20250101-000000');
    assert.equal((cmd as { json: boolean }).json, true);
    usageError([c], /missing RUN_ID/, c);
    usageError([c, 'a', 'b'], /unexpected argument "b"/, c);
  }
});

test('unknown flags name the flag and the command', () => {
  usageError(['run', '--config', 'a.json', '--bogus'], /^unknown flag --bogus for "run"$/, 'run');
  usageError(['validate', '-x'], /^unknown flag -x for "validate"$/, 'validate');
  usageError(['status', 'id', '--config', 'a.json'], /^unknown flag --config for "status"$/, 'status');
});

test('missing values name the flag', () => {
  usageError(['run', '--config'], /^missing value for --config$/, 'run');
  usageError(['run', '-c'], /^missing value for --config$/, 'run');
  usageError(['run', '--config', '--json'], /^missing value for --config$/, 'run');
  usageError(['run', '--config', 'a.json', '--id'], /^missing value for --id$/, 'run');
  usageError(['run', '--config='], /^missing value for --config$/, 'run');
  usageError(['follow', 'x', '--address'], /^missing value for --address$/, 'follow');
  usageError(['run', '--config', 'a', '--json=yes'], /^--json takes no value$/, 'run');
});

test('required flags and stray arguments', () => {
  usageError(['run'], /missing required flag --config FILE/, 'run');
  usageError(['validate'], /missing required flag --config FILE/, 'validate');
  usageError(['validate', '--config', 'a.json', 'extra'], /unexpected argument "extra"/, 'validate');
  usageError(['run', '--config', 'a.json', '--id', 'has space'], /invalid run id "has space"/, 'run');
});

test('commands: unknown, help, stack passes its flags through untouched', () => {
  usageError(['frobnicate'], /unknown command "frobnicate"/);
  usageError(['--address', 'x'], /expected a command before --address/);
  assert.deepEqual(parseCommandLine([], noEnv), { command: 'help' });
  assert.deepEqual(parseCommandLine(['-h'], noEnv), { command: 'help' });
  assert.deepEqual(parseCommandLine(['help', 'run'], noEnv), { command: 'help', topic: 'run' });
  assert.deepEqual(parseCommandLine(['run', '--help'], noEnv), { command: 'help', topic: 'run' });
  usageError(['help', 'nope'], /unknown command "nope"/, 'help');
  assert.deepEqual(parseCommandLine(['stack', '--temporal-port', '7300', '--whatever'], noEnv), {
    command: 'stack',
    args: ['--temporal-port', '7300', '--whatever'],
  });
});

test('usage text lists every command and examples', () => {
  const text = usageText();
  for (const c of ['validate', 'run', 'follow', 'status', 'results', 'stack', 'help']) assert.match(text, new RegExp(`judgeloop ${c}`));
  assert.match(text, /examples:/);
  assert.match(text, /npm run judgeloop -- run --config configs\/local\.json/);
  assert.match(usageText('run'), /^usage: judgeloop run --config FILE/);
});

test('workflow ids, UI links and search attributes', () => {
  assert.equal(defaultWorkflowId('local', new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), 'judgeloop-local-20250102-030405');
  assert.equal(
    workflowUrl('http://127.0.0.1:8233/', 'default', 'judgeloop-local-20250102-030405'),
    'http://127.0.0.1:8233/namespaces/default/workflows/judgeloop-local-20250102-030405',
  );
  assert.equal(workflowUrl('http://ui', 'my ns', 'a/b'), 'http://ui/namespaces/my%20ns/workflows/a%2Fb');
  // Only registered Keyword attributes are set (the dev server has none by default).
  assert.deepEqual(pickSearchAttributes({}, { runName: 'local', judgeName: 'tiny' }), []);
  const pairs = pickSearchAttributes(
    { JudgeloopRunName: 2, JudgeloopJudgeName: 1 /* Text: wrong type */ },
    { runName: 'local', judgeName: 'tiny' },
  );
  assert.deepEqual(
    pairs.map((p) => [p.key.name, p.key.type, p.value]),
    [['JudgeloopRunName', 'KEYWORD', 'local']],
  );
});

/** Collects writes, for running main() in-process. */
function sink() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) }, text: () => text };
}

test('main(): a usage error prints the error and the usage line, exit 2', async () => {
  const out = sink();
  const err = sink();
  const rc = await main(['run', '--config', 'a.json', '--nope'], { out: out.stream, err: err.stream, env: noEnv });
  assert.equal(rc, 2);
  assert.equal(out.text(), '');
  assert.equal(
    err.text(),
    [
      'error: unknown flag --nope for "run"',
      'usage: judgeloop run --config FILE [--id RUN_ID] [--no-follow] [--json] [--address HOST:PORT] [--namespace NS] [--profile NAME] [--task-queue Q] [--ui URL]',
      '(judgeloop help run for more)',
      '',
    ].join('\n'),
  );
});

test('main(): Temporal unreachable gives a short message naming the address and `npm run stack`, exit 1', async () => {
  const out = sink();
  const err = sink();
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  const rc = await main(['status', 'some-run', '--address', '127.0.0.1:1'], { out: out.stream, err: err.stream, env: noEnv });
  assert.equal(rc, 1);
  assert.match(err.text(), /^Cannot reach Temporal at 127\.0\.0\.1:1 \(namespace default, plaintext\)/);
  assert.match(err.text(), /npm run stack/);
  assert.doesNotMatch(err.text(), /\n\s+at /, 'no stack trace');
});

test('the real CLI process: unknown flag exits 2 with the flag named on stderr', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/judgeloop.ts', 'run', '--config', 'x.json', '--frob'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: unknown flag --frob for "run"\nusage: judgeloop run --config FILE/);
});

test('the real CLI process: no arguments prints the usage, exit 0', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/judgeloop.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Judgeloop: /);
  assert.match(r.stdout, /examples:/);
});

test('stack delegates to the stack module main(argv) and returns its exit code; a missing module is explained', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'judgeloop-cli-stack-'));
  try {
    const mod = join(dir, 'main.ts');
    await writeFile(mod, 'export async function main(argv: string[]): Promise<number> { return argv.length === 2 && argv[0] === "--port" ? 7 : 99; }\n');
    const err = sink();
    const io = { out: sink().stream, err: err.stream };
    assert.equal(await cmdStack({ command: 'stack', args: ['--port', '7300'] }, io, mod), 7);
    assert.equal(await cmdStack({ command: 'stack', args: [] }, io, join(dir, 'absent.ts')), 1);
    assert.match(err.text(), /the local stack is not available: .*absent\.ts is missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const COMMAND_NAMES = ['validate', 'run', 'follow', 'status', 'results', 'review', 'approve', 'registry', 'schedule', 'replay', 'report', 'reset', 'seeds', 'stack', 'codec-server', 'help'] as const;

test('help comes from each command\'s declaration: usage line, summary, flags, an example; --help and help COMMAND agree', () => {
  const root = usageText();
  for (const c of COMMAND_NAMES) {
    assert.match(root, new RegExp(`\\n {2}${c} +\\S`), `${c} is listed among the commands`);
    if (c === 'help') continue;
    const help = usageText(c);
    assert.ok(help.startsWith(`usage: judgeloop ${c}`), `${c}: ${help.slice(0, 80)}`);
    assert.match(help, /\nexample:\n {4}\S/, `${c} has an example`);
    if (c !== 'stack') assert.match(help, /\nflags:\n/, `${c} lists its flags`);
    if (c !== 'stack') assert.deepEqual(parseCommandLine([c, '--help'], noEnv), { command: 'help', topic: c });
    assert.deepEqual(parseCommandLine(['help', c], noEnv), { command: 'help', topic: c });
  }
  // A review action's --help is the review's (which shows both actions' flags).
  assert.deepEqual(parseCommandLine(['review', 'export', '--help'], noEnv), { command: 'help', topic: 'review' });
  assert.match(usageText('review'), /usage: judgeloop review import ANSWERS\.\.\. --key FILE/);
  // The connection flags, with their variables, are listed apart.
  assert.match(usageText('status'), /\nconnection flags \(environment variable, default\):\n {2}--address HOST:PORT +Temporal frontend \(TEMPORAL_ADDRESS, /);
  assert.match(usageText('codec-server'), /--port N +port to listen on \(0: any free port\) \(default: 8888\)/);
});

test('parsing writes nothing and never exits, whatever commander meets (help, errors)', () => {
  const calls: string[] = [];
  const saved = { out: process.stdout.write, err: process.stderr.write, exit: process.exit };
  process.stdout.write = ((s: string) => (calls.push(`out: ${s}`), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (calls.push(`err: ${s}`), true)) as typeof process.stderr.write;
  process.exit = ((code?: number) => {
    throw new Error(`process.exit(${code})`);
  }) as typeof process.exit;
  try {
    for (const argv of [[], ['--help'], ['run', '--help'], ['review'], ['review', 'export', '-h'], ['help', 'seeds']]) {
      assert.equal(parseCommandLine(argv, noEnv).command, 'help', argv.join(' '));
    }
    for (const argv of [['run', '--bogus'], ['run', '--config'], ['follow'], ['follow', 'a', 'b'], ['frobnicate'], ['review', 'grade'], ['reset', 'r', '--iteration', 'x']]) {
      assert.throws(() => parseCommandLine(argv, noEnv), UsageError, argv.join(' '));
    }
  } finally {
    Object.assign(process, { exit: saved.exit });
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
  assert.deepEqual(calls, []);
});

test('commander\'s readings that judgeloop refuses or words its own way', () => {
  // A value that looks like a flag is a forgotten value; a negative number is not an argument; `=` gives either.
  usageError(['reset', 'r', '--iteration', '-1'], /^missing value for --iteration$/, 'reset');
  usageError(['reset', 'r', '--iteration=-1'], /^--iteration must be an integer >= 0, got "-1"$/, 'reset');
  usageError(['follow', '-5'], /^unknown flag -5 for "follow"$/, 'follow');
  assert.equal((parseCommandLine(['follow', '--', '-5'], noEnv) as { workflowId: string }).workflowId, '-5');
  usageError(['--', 'run'], /^expected a command before --$/);
  usageError(['run', '--config', 'a', '--bogus=1'], /^unknown flag --bogus for "run"$/, 'run');
  usageError(['run', '--config', 'a', '--help=1'], /^--help takes no value$/, 'run');
  usageError(['review', 'import', '--key', 'k', 'a.json', '--a', '1'], /^unknown flag --a for "review"$/, 'review');
  usageError(['schedule', 'describe', 'x', 'y'], /^unexpected argument "y"$/, 'schedule');
  // Values are trimmed; repeated flags collect; a later single flag wins.
  assert.deepEqual(parseCommandLine(['validate', '--config', ' a.json ', '--config', 'b.json'], noEnv), { command: 'validate', configPath: 'b.json', json: false });
  assert.deepEqual(parseCommandLine(['stack', '--', '-x', '--help'], noEnv), { command: 'stack', args: ['--', '-x', '--help'] });
});

test('--version (and -V) prints the version, the code version when set, Node and the Temporal SDK; exit 0', async () => {
  assert.deepEqual(parseCommandLine(['--version'], noEnv), { command: 'version' });
  assert.deepEqual(parseCommandLine(['-V'], noEnv), { command: 'version' });
  assert.throws(() => parseCommandLine(['run', '--version'], noEnv), /unknown flag --version for "run"/);
  const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8')) as { version: string };
  const sdk = JSON.parse(readFileSync(require.resolve('@temporalio/client/package.json'), 'utf8')) as { version: string };
  for (const [env, first] of [
    [noEnv, `judgeloop ${pkg.version}`],
    [{ JUDGELOOP_CODE_VERSION: 'abc1234' }, `judgeloop ${pkg.version} (code abc1234)`],
  ] as const) {
    const out = sink();
    const err = sink();
    assert.equal(await main(['--version'], { out: out.stream, err: err.stream, env }), 0);
    assert.equal(out.text(), `${first}\nnode ${process.version}, @temporalio/client ${sdk.version}\n`);
    assert.equal(err.text(), '');
  }
  assert.match(usageText(), /-V, --version +print the version/);
});
