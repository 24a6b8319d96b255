import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChatMessage,
  KNOWN_PAIRING_STRATEGIES,
  PointwiseExample,
  RUBRIC_SCORE_KEYS,
  formatPath,
  toJsonlLine,
  validateJudgment,
  validatePairwiseExample,
  validatePointwiseExample,
  validatePreferencePair,
  validateRecord,
  validateWith,
  type ValidationResult,
} from '../../core/data/records';

const RUBRIC = {
  criteria: 'Is it correct?',
  score1: 'Wrong.',
  score2: 'Mostly wrong.',
  score3: 'Half right.',
  score4: 'Mostly right.',
  score5: 'Right.',
};

const POINTWISE = { id: 'ex-1', instruction: 'What is 2+2?', response: '4', rubric: RUBRIC };
const PAIRWISE = { id: 'pw-1', instruction: 'Q', chosen: 'good', rejected: 'bad' };
const JUDGMENT = {
  example_id: 'ex-1',
  sample_index: 0,
  model_id: 'm0',
  prompt_hash: 'abc123',
  text: 'Correct. [RESULT] 5',
  rationale: 'Correct.',
  score: 5,
  status: 'ok',
  seed: 7,
};
const PAIR = {
  example_id: 'ex-1',
  prompt: [
    { role: 'system', content: 'You are a judge.' },
    { role: 'user', content: 'Judge this.' },
  ],
  chosen: 'Correct. [RESULT] 5',
  rejected: 'Wrong. [RESULT] 2',
  chosen_score: 5,
  rejected_score: 2,
  strategy: 'gold_margin',
};

type Case = { name: string; raw: unknown; ok?: unknown; reason?: string | RegExp };

function runCases(validate: (raw: unknown) => ValidationResult<unknown>, cases: Case[]): void {
  for (const c of cases) {
    const r = validate(c.raw);
    if (c.reason === undefined) {
      assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.reason}`);
      if (c.ok !== undefined && r.ok) assert.deepEqual(r.record, c.ok, c.name);
    } else {
      assert.equal(r.ok, false, `${c.name} should fail`);
      if (!r.ok) {
        if (typeof c.reason === 'string') assert.equal(r.reason, c.reason, c.name);
        else assert.match(r.reason, c.reason, c.name);
      }
    }
  }
}

test('PointwiseExample: valid and invalid rows, with readable reasons naming the field', () => {
  runCases(validatePointwiseExample, [
    { name: 'minimal', raw: POINTWISE, ok: POINTWISE },
    {
      name: 'every field',
      raw: { ...POINTWISE, reference_answer: '4', gold_score: 5, gold: { human: 4, gpt4: 4.67 }, meta: { source: 'x', n: [1, { a: null }] } },
    },
    { name: 'nulls read as absent and dropped', raw: { ...POINTWISE, reference_answer: null, gold_score: null, gold: null, meta: null }, ok: POINTWISE },
    { name: 'undefined keys dropped', raw: { ...POINTWISE, reference_answer: undefined }, ok: POINTWISE },
    { name: 'missing id', raw: { ...POINTWISE, id: undefined }, reason: 'id: required (expected string)' },
    { name: 'empty id', raw: { ...POINTWISE, id: '' }, reason: 'id: must be a non-empty string' },
    { name: 'instruction a number', raw: { ...POINTWISE, instruction: 3 }, reason: 'instruction: expected string, got number' },
    { name: 'empty response', raw: { ...POINTWISE, response: '' }, reason: 'response: must be a non-empty string' },
    { name: 'rubric missing', raw: { ...POINTWISE, rubric: undefined }, reason: 'rubric: required (expected object)' },
    { name: 'rubric score3 missing', raw: { ...POINTWISE, rubric: { ...RUBRIC, score3: undefined } }, reason: 'rubric.score3: required (expected string)' },
    {
      name: 'rubric with Prometheus-style keys',
      raw: { ...POINTWISE, rubric: { criteria: 'c', score1_description: 'a' } },
      reason: /^rubric\.score1: required \(expected string\); .*rubric: unknown field "score1_description"$/,
    },
    { name: 'rubric an array', raw: { ...POINTWISE, rubric: [] }, reason: 'rubric: expected object, got array' },
    { name: 'fractional gold_score', raw: { ...POINTWISE, gold_score: 3.5 }, reason: 'gold_score: expected an integer, got 3.5' },
    { name: 'string gold_score', raw: { ...POINTWISE, gold_score: '4' }, reason: 'gold_score: expected number, got string "4"' },
    { name: 'gold column not a number', raw: { ...POINTWISE, gold: { human: 'x' } }, reason: 'gold.human: expected number, got string "x"' },
    { name: 'gold column not finite', raw: { ...POINTWISE, gold: { human: Number.POSITIVE_INFINITY } }, reason: /^gold\.human: / },
    { name: 'meta not JSON', raw: { ...POINTWISE, meta: { f: () => 1 } }, reason: /^meta\.f: must be a JSON value/ },
    { name: 'unknown field', raw: { ...POINTWISE, goldscore: 4 }, reason: '(root): unknown field "goldscore"' },
    { name: 'two unknown fields', raw: { ...POINTWISE, a: 1, b: 2 }, reason: '(root): unknown fields "a", "b"' },
    { name: 'null row', raw: null, reason: '(root): expected object, got null' },
    { name: 'string row', raw: 'row', reason: '(root): expected object, got string' },
    {
      name: 'several problems listed together',
      raw: { ...POINTWISE, id: 1, response: undefined },
      reason: 'id: expected string, got number; response: required (expected string)',
    },
  ]);
});

test('PairwiseExample', () => {
  runCases(validatePairwiseExample, [
    { name: 'minimal', raw: PAIRWISE, ok: PAIRWISE },
    { name: 'with subset and rubric', raw: { ...PAIRWISE, subset: 'llmbar-natural', rubric: RUBRIC } },
    { name: 'null subset', raw: { ...PAIRWISE, subset: null }, ok: PAIRWISE },
    { name: 'missing rejected', raw: { ...PAIRWISE, rejected: undefined }, reason: 'rejected: required (expected string)' },
    { name: 'empty chosen', raw: { ...PAIRWISE, chosen: '' }, reason: 'chosen: must be a non-empty string' },
    { name: 'bad rubric', raw: { ...PAIRWISE, rubric: { criteria: 'c' } }, reason: /^rubric\.score1: required/ },
    { name: 'pointwise field', raw: { ...PAIRWISE, response: 'x' }, reason: '(root): unknown field "response"' },
  ]);
});

test('Judgment: status and score agree', () => {
  const unparseable = { ...JUDGMENT, status: 'unparseable', score: undefined, rationale: undefined, reason: 'no [RESULT] marker' };
  runCases(validateJudgment, [
    { name: 'ok', raw: JUDGMENT, ok: JUDGMENT },
    {
      name: 'unparseable without score',
      raw: unparseable,
      ok: { example_id: 'ex-1', sample_index: 0, model_id: 'm0', prompt_hash: 'abc123', text: 'Correct. [RESULT] 5', status: 'unparseable', reason: 'no [RESULT] marker', seed: 7 },
    },
    { name: 'empty text is allowed (an empty generation is data)', raw: { ...unparseable, text: '' } },
    { name: 'ok without score', raw: { ...JUDGMENT, score: undefined }, reason: 'score: required when status is "ok"' },
    { name: 'unparseable with score', raw: { ...unparseable, score: 3 }, reason: 'score: must be absent when status is "unparseable"' },
    { name: 'unknown status', raw: { ...JUDGMENT, status: 'parsed' }, reason: 'status: expected one of "ok", "unparseable", got "parsed"' },
    { name: 'negative sample_index', raw: { ...JUDGMENT, sample_index: -1 }, reason: /^sample_index: / },
    { name: 'fractional score', raw: { ...JUDGMENT, score: 4.5 }, reason: 'score: expected an integer, got 4.5' },
    { name: 'missing seed', raw: { ...JUDGMENT, seed: undefined }, reason: 'seed: required (expected number)' },
    { name: 'missing prompt_hash', raw: { ...JUDGMENT, prompt_hash: undefined }, reason: 'prompt_hash: required (expected string)' },
    { name: 'with its sampled token ids', raw: { ...JUDGMENT, completion_ids: [12, 0, 7], prompt_ids_sha256: 'f00d' } },
    { name: 'empty completion_ids', raw: { ...JUDGMENT, completion_ids: [] }, reason: 'completion_ids: must hold at least one token id' },
    { name: 'negative token id', raw: { ...JUDGMENT, completion_ids: [3, -1] }, reason: /^completion_ids\[1\]: / },
  ]);
});

test('PreferencePair and ChatMessage', () => {
  runCases(validatePreferencePair, [
    { name: 'ok', raw: PAIR, ok: PAIR },
    { name: 'any strategy name', raw: { ...PAIR, strategy: 'majority_vote' } },
    { name: 'prompt a string', raw: { ...PAIR, prompt: 'Judge this.' }, reason: 'prompt: expected array, got string' },
    { name: 'empty prompt', raw: { ...PAIR, prompt: [] }, reason: 'prompt: must hold at least one message' },
    {
      name: 'bad role',
      raw: { ...PAIR, prompt: [{ role: 'bot', content: 'x' }] },
      reason: 'prompt[0].role: expected one of "system", "user", "assistant", got "bot"',
    },
    { name: 'missing content', raw: { ...PAIR, prompt: [PAIR.prompt[0], { role: 'user' }] }, reason: 'prompt[1].content: required (expected string)' },
    { name: 'fractional score', raw: { ...PAIR, rejected_score: 1.5 }, reason: 'rejected_score: expected an integer, got 1.5' },
    { name: 'empty strategy', raw: { ...PAIR, strategy: '' }, reason: 'strategy: must be a non-empty string' },
    { name: 'with the sampled token ids', raw: { ...PAIR, chosen_ids: [1, 2], rejected_ids: [3], prompt_ids_sha256: 'ab' } },
    {
      name: 'token ids without the prompt fingerprint',
      raw: { ...PAIR, chosen_ids: [1, 2], rejected_ids: [3] },
      reason: 'chosen_ids: chosen_ids, rejected_ids and prompt_ids_sha256 go together (all or none)',
    },
    { name: 'fractional token id', raw: { ...PAIR, chosen_ids: [1.5], rejected_ids: [3], prompt_ids_sha256: 'ab' }, reason: /^chosen_ids\[0\]: / },
  ]);
  assert.deepEqual([...KNOWN_PAIRING_STRATEGIES], ['gold_margin', 'majority_vote', 'meta_judge']);
  assert.equal(ChatMessage.safeParse({ role: 'assistant', content: '' }).success, true);
});

test('validateRecord dispatches by kind; validateWith never throws', () => {
  assert.equal(validateRecord('pointwise', POINTWISE).ok, true);
  assert.equal(validateRecord('pairwise', PAIRWISE).ok, true);
  assert.equal(validateRecord('judgment', JUDGMENT).ok, true);
  assert.equal(validateRecord('preference-pair', PAIR).ok, true);
  assert.equal(validateRecord('pairwise', POINTWISE).ok, false);
  assert.equal(validateWith(PointwiseExample, undefined).ok, false);
  const circular: Record<string, unknown> = { ...POINTWISE };
  circular.meta = { self: circular };
  assert.doesNotThrow(() => validatePointwiseExample(circular));
});

test('formatPath and toJsonlLine', () => {
  const cases: Array<[PropertyKey[], string]> = [
    [[], '(root)'],
    [['rubric', 'score3'], 'rubric.score3'],
    [['prompt', 0, 'role'], 'prompt[0].role'],
    [[0], '[0]'],
  ];
  for (const [p, want] of cases) assert.equal(formatPath(p), want);
  const v = validatePointwiseExample({ ...POINTWISE, gold_score: 4, reference_answer: null });
  assert.ok(v.ok);
  const line = toJsonlLine(v.record);
  assert.equal(line, `${JSON.stringify({ ...POINTWISE, gold_score: 4 })}\n`);
  assert.deepEqual(JSON.parse(line), { ...POINTWISE, gold_score: 4 });
  assert.deepEqual([...RUBRIC_SCORE_KEYS], ['score1', 'score2', 'score3', 'score4', 'score5']);
});
