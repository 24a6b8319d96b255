/**
 * `judgeloop completion`: the bash script, run by a real bash (its completion function called as bash calls
 * it), completes the commands, actions, flags and file names the parser takes; zsh gets the same function
 * through bashcompinit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commandShapes, parseCommandLine, usageText, type CommandName } from '../../cli/args';
import { completionScript } from '../../cli/completion';
import { main } from '../../cli/judgeloop';

const dir = mkdtempSync(path.join(tmpdir(), 'judgeloop-completion-'));
const script = path.join(dir, 'judgeloop.bash');
writeFileSync(script, completionScript('bash', commandShapes()));
mkdirSync(path.join(dir, 'work', 'configs'), { recursive: true });
writeFileSync(path.join(dir, 'work', 'conf.json'), '{}');
writeFileSync(path.join(dir, 'work', 'configs', 'local.json'), '{}');

/** What bash offers after `words` (the last one being completed), from the `work` folder. */
function complete(words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const run = spawnSync('bash', ['-c', `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _judgeloop; printf '%s\\n' "\${COMPREPLY[@]}"`], {
    cwd: path.join(dir, 'work'),
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean).sort();
}

test('bash completes commands, actions, flags, first arguments and file names', () => {
  const cases: Array<[string[], string[]]> = [
    [['judgeloop', 'ru'], ['run']],
    [['judgeloop', 're'], ['registry', 'replay', 'report', 'reset', 'results', 'review']],
    [['judgeloop', '--v'], ['--version']],
    [['judgeloop', 'run', '--con'], ['--config']],
    [['judgeloop', 'run', '--config', 'conf'], ['conf.json', 'configs']],
    [['judgeloop', 'run', '--config', 'configs/'], ['configs/local.json']],
    [['judgeloop', 'review', 'ex'], ['export']],
    [['judgeloop', 'review', 'export', '--su'], ['--suite']],
    [['judgeloop', 'review', 'import', '--key', 'co'], ['conf.json', 'configs']],
    [['judgeloop', 'schedule', 'tr'], ['trigger']],
    [['judgeloop', 'schedule', 'create', '--cr'], ['--cron']],
    [['judgeloop', 'help', 'sch'], ['schedule']],
    [['judgeloop', 'completion', 'z'], ['zsh']],
    [['judgeloop', 'status', 'my-run', '--no'], []],
  ];
  for (const [words, want] of cases) assert.deepEqual(complete(words), want, words.join(' '));
});

test('every command the parser knows is completed, and every flag completed for it is one its help lists', () => {
  const shapes = commandShapes();
  assert.deepEqual(complete(['judgeloop', '']), [...shapes.map((c) => c.name), '--help', '--version'].sort());
  for (const shape of shapes) {
    const help = usageText(shape.name as CommandName);
    for (const cmd of [shape, ...shape.actions]) {
      for (const { flag } of cmd.flags) assert.ok(help.includes(flag), `${shape.name} ${cmd === shape ? '' : cmd.name}: ${flag} is not in its help`);
    }
  }
  // A flag the completion offers is one the parser takes.
  assert.doesNotThrow(() => parseCommandLine(['run', '--config', 'a.json', '--no-follow', '--json'], {}));
});

test('judgeloop completion zsh loads the same function through bashcompinit; an unknown shell is a usage error', async () => {
  const zsh = completionScript('zsh', commandShapes());
  assert.match(zsh, /^#compdef judgeloop\n/);
  assert.match(zsh, /autoload -U \+X bashcompinit && bashcompinit/);
  assert.ok(zsh.endsWith(completionScript('bash', commandShapes())));
  assert.deepEqual(parseCommandLine(['completion', 'bash'], {}), { command: 'completion', shell: 'bash' });
  let out = '';
  let err = '';
  const io = { out: { write: (s: string) => ((out += s), true) }, err: { write: (s: string) => ((err += s), true) }, env: {} };
  assert.equal(await main(['completion', 'fish'], io), 2);
  assert.match(err, /unknown shell "fish" \(expected bash or zsh\)/);
  assert.equal(await main(['completion', 'bash'], io), 0);
  assert.ok(out.includes('complete -o default -F _judgeloop judgeloop'));
});
