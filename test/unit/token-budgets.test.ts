import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { judgmentTokenBudget, tokenBudgetProblems } from '../../core/config/token-budgets';
import { loadConfigFile, ConfigFileError } from '../../cli/config-file';
import { sampledTokenIds } from '../../activities/steps/pair';
import localConfig from '../../configs/local.json';

function configWith(decoding: Record<string, unknown>, maxLength: number, iterations = 2): RunConfig {
  const raw = { ...localConfig, judge: { ...localConfig.judge, decoding }, training: { ...localConfig.training, maxLength }, loop: { ...localConfig.loop, iterations } };
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

test('judgmentTokenBudget: forced = rationale + 16; free = maxNewTokens, else rationale + 16', () => {
  const cases: [Record<string, unknown>, number][] = [
    [{ mode: 'forced', maxRationaleTokens: 24 }, 40],
    [{ mode: 'free', maxRationaleTokens: 24 }, 40],
    [{ mode: 'free', maxNewTokens: 160 }, 160],
    [{ mode: 'forced', maxRationaleTokens: 24, maxNewTokens: 160 }, 40],
    [{}, 272],
  ];
  for (const [decoding, want] of cases) assert.equal(judgmentTokenBudget(configWith(decoding, 9999).judge.decoding), want, JSON.stringify(decoding));
});

test('tokenBudgetProblems: training must hold the longest prompt sampling reads plus the longest judgment', () => {
  const cases: { decoding: Record<string, unknown>; maxLength: number; iterations?: number; problem: RegExp | null }[] = [
    { decoding: { mode: 'forced', maxRationaleTokens: 24, maxPromptTokens: 900 }, maxLength: 940, problem: null },
    {
      decoding: { mode: 'forced', maxRationaleTokens: 24, maxPromptTokens: 900 },
      maxLength: 939,
      problem: /^939 is shorter than what sampling can produce: judge\.decoding\.maxPromptTokens 900 \+ judge\.decoding\.maxRationaleTokens 24 \+ 16 .* = 940 tokens\..*at least 940, or lower judge\.decoding\.maxPromptTokens to at most 899$/,
    },
    { decoding: { mode: 'free', maxNewTokens: 1024, maxPromptTokens: 4096 }, maxLength: 2048, problem: /maxNewTokens 1024 = 5120 tokens/ },
    { decoding: { mode: 'free', maxNewTokens: 1024, maxPromptTokens: 4096 }, maxLength: 2048, iterations: 0, problem: null },
    { decoding: {}, maxLength: 4096, problem: null }, // the defaults agree with each other
  ];
  for (const c of cases) {
    const problems = tokenBudgetProblems(configWith(c.decoding, c.maxLength, c.iterations));
    if (c.problem === null) assert.deepEqual(problems, [], JSON.stringify(c));
    else {
      assert.equal(problems.length, 1, JSON.stringify(c));
      assert.equal(problems[0]!.path, 'training.maxLength');
      assert.match(problems[0]!.message, c.problem);
    }
  }
});

test('a config file whose budgets disagree is refused by the CLI, naming the field and the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'budgets-'));
  const file = join(dir, 'short.json');
  writeFileSync(file, JSON.stringify({ ...localConfig, training: { ...localConfig.training, maxLength: 512 } }));
  await assert.rejects(loadConfigFile(file), (e: unknown) => {
    assert.ok(e instanceof ConfigFileError);
    assert.match(e.message, /short\.json is invalid \(1 problem\):\n {2}- training\.maxLength: 512 is shorter than what sampling can produce.*= 2066 tokens/s);
    return true;
  });
});

test('sampledTokenIds: a pair carries ids only when both judgments have them, from the same prompt', () => {
  const a = { completion_ids: [1, 2], prompt_ids_sha256: 'p' };
  const b = { completion_ids: [3], prompt_ids_sha256: 'p' };
  const cases: [Parameters<typeof sampledTokenIds>[0], Parameters<typeof sampledTokenIds>[1], object][] = [
    [a, b, { chosen_ids: [1, 2], rejected_ids: [3], prompt_ids_sha256: 'p' }],
    [a, { completion_ids: [3] }, {}],
    [a, { ...b, prompt_ids_sha256: 'q' }, {}],
    [{ prompt_ids_sha256: 'p' }, b, {}],
    [undefined, b, {}],
  ];
  for (const [chosen, rejected, want] of cases) assert.deepEqual(sampledTokenIds(chosen, rejected), want);
});
