import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ActivityDeps } from '../../activities/context';
import { ingestDataset } from '../../activities/steps/prepare';
import type { ObjectStore } from '../../activities/storage/object-store';
import {
  ADAPTER_KINDS,
  ADAPTER_NAMES,
  BIGGEN_PLACEHOLDER_RESPONSE,
  JOIN_ADAPTERS,
  adapterJoinNeed,
  adapterMismatchMessage,
  describeAdapters,
  detectAdapters,
  getAdapter,
  goldColumnOf,
  instanceTable,
  majorityLabel,
  parseAbsolutePrompt,
  readScoreColumns,
  tryGetAdapter,
  type AdapterResult,
  type PandalmLabel,
} from '../../core/data/adapters';
import { AdapterName, DataConfig } from '../../core/config/config';
import {
  validatePairwiseExample,
  validatePointwiseExample,
  type PairwiseExample,
  type PointwiseExample,
} from '../../core/data/records';

import { BENCH, ROOT, adaptAll, readJsonl } from '../support/adapter-files';
import { memoryStore } from '../support/memory-store';

/** Runs a table of rows through an adapter: each case expects a record (deepEqual or a check) or a reason. */
function runTable<T>(
  adapt: (raw: unknown, i: number) => AdapterResult<T>,
  cases: Array<{ name: string; row: unknown; index?: number; want?: T; check?: (r: T) => void; reason?: RegExp }>,
) {
  for (const c of cases) {
    const r = adapt(c.row, c.index ?? 0);
    if (c.reason) {
      assert.equal(r.ok, false, c.name);
      if (!r.ok) assert.match(r.reason, c.reason, c.name);
      continue;
    }
    assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.reason}`);
    if (!r.ok) continue;
    if (c.want !== undefined) assert.deepEqual(r.record, c.want, c.name);
    c.check?.(r.record);
  }
}

const RUBRIC = {
  criteria: 'Is the answer correct?',
  score1: 'Wrong.',
  score2: 'Mostly wrong.',
  score3: 'Half right.',
  score4: 'Mostly right.',
  score5: 'Right.',
};

// --- feedback-collection ------------------------------------------------------------------------------

/** A Feedback Collection row as published: the orig_* columns plus the assembled prompt and GPT-4 output. */
function feedbackRow(over: Record<string, unknown> = {}): Record<string, unknown> {
  const orig = {
    orig_instruction: 'Explain why the sky is blue to a child.',
    orig_response: 'Sunlight bumps into air and the blue light bounces around the most.',
    orig_reference_answer: 'Sunlight has all colours; air scatters blue light most, so blue comes from everywhere.',
    orig_criteria: 'Does the response explain the science at a level a child understands?',
    orig_score1_description: 'Wrong or incomprehensible.',
    orig_score2_description: 'Mostly wrong or far too technical.',
    orig_score3_description: 'Partly right, partly clear.',
    orig_score4_description: 'Right and mostly clear.',
    orig_score5_description: 'Right and perfectly pitched for a child.',
    orig_feedback: 'The response is accurate and simple, though it skips why blue scatters more.',
    orig_score: '4',
    ...over,
  };
  const prompt =
    '###Task Description:\nAn instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.\n' +
    '1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n\n' +
    `###The instruction to evaluate:\n${String(orig.orig_instruction)}\n\n###Response to evaluate:\n${String(orig.orig_response)}\n\n` +
    `###Reference Answer (Score 5):\n${String(orig.orig_reference_answer)}\n\n###Score Rubrics:\n[${String(orig.orig_criteria)}]\n` +
    `Score 1: ${String(orig.orig_score1_description)}\nScore 2: ${String(orig.orig_score2_description)}\nScore 3: ${String(orig.orig_score3_description)}\n` +
    `Score 4: ${String(orig.orig_score4_description)}\nScore 5: ${String(orig.orig_score5_description)}\n\n###Feedback: `;
  return { instruction: prompt, output: `${String(orig.orig_feedback)} [RESULT] ${String(orig.orig_score)}`, ...orig };
}

test('feedback-collection: rows in the published format, good and malformed, table', () => {
  const adapter = getAdapter('feedback-collection');
  assert.equal(adapter.kind, 'pointwise');
  const row = feedbackRow();
  runTable<PointwiseExample>((r, i) => adapter.adaptRow(r, i), [
    {
      name: 'well formed, orig_score as a string',
      row,
      index: 5,
      want: {
        id: 'feedback-collection-5',
        instruction: 'Explain why the sky is blue to a child.',
        response: 'Sunlight bumps into air and the blue light bounces around the most.',
        rubric: {
          criteria: 'Does the response explain the science at a level a child understands?',
          score1: 'Wrong or incomprehensible.',
          score2: 'Mostly wrong or far too technical.',
          score3: 'Partly right, partly clear.',
          score4: 'Right and mostly clear.',
          score5: 'Right and perfectly pitched for a child.',
        },
        reference_answer: 'Sunlight has all colours; air scatters blue light most, so blue comes from everywhere.',
        gold_score: 4,
        gold: { orig: 4 },
        meta: {
          source: 'feedback-collection',
          index: 5,
          orig_feedback: 'The response is accurate and simple, though it skips why blue scatters more.',
          reference_judgments: [{ rationale: 'The response is accurate and simple, though it skips why blue scatters more.', score: 4 }],
        },
      },
    },
    {
      name: 'reference judgment: a trailing "[RESULT] n" is cut from the rationale, meta.orig_feedback stays as published',
      row: feedbackRow({ orig_feedback: 'Accurate but thin.\n[RESULT] 4', orig_score: 4 }),
      check: (r) => {
        assert.equal(r.meta?.orig_feedback, 'Accurate but thin.\n[RESULT] 4');
        assert.deepEqual(r.meta?.reference_judgments, [{ rationale: 'Accurate but thin.', score: 4 }]);
        assert.equal(r.meta?.reference_judgments_left_out, undefined);
      },
    },
    {
      name: 'reference judgment left out, row kept: empty orig_feedback',
      row: feedbackRow({ orig_feedback: '' }),
      check: (r) => {
        assert.equal(r.gold_score, 4);
        assert.equal(r.meta?.reference_judgments, undefined);
        assert.deepEqual(r.meta?.reference_judgments_left_out, ['orig_feedback: the feedback has no text']);
      },
    },
    {
      name: 'reference judgment left out, row kept: orig_score off the 1-5 scale',
      row: feedbackRow({ orig_score: 6 }),
      check: (r) => {
        assert.equal(r.gold_score, 6);
        assert.equal(r.meta?.reference_judgments, undefined);
        assert.deepEqual(r.meta?.reference_judgments_left_out, ['orig_feedback: score 6 is off the 1-5 scale']);
      },
    },
    { name: 'orig_score as a number', row: feedbackRow({ orig_score: 2 }), check: (r) => assert.equal(r.gold_score, 2) },
    {
      name: 'no reference answer (null), no feedback',
      row: { ...feedbackRow({ orig_reference_answer: null }), orig_feedback: undefined },
      check: (r) => {
        assert.ok(!('reference_answer' in r));
        assert.deepEqual(r.meta, { source: 'feedback-collection', index: 0 });
      },
    },
    { name: 'texts kept exactly', row: feedbackRow({ orig_response: '  spaced\n' }), check: (r) => assert.equal(r.response, '  spaced\n') },
    { name: 'not an object', row: [row], reason: /^row must be a JSON object, got an array$/ },
    { name: 'missing orig_instruction', row: { ...row, orig_instruction: undefined }, reason: /^orig_instruction: expected a string, got nothing$/ },
    { name: 'blank orig_response', row: feedbackRow({ orig_response: ' ' }), reason: /^orig_response: must be a non-empty string$/ },
    { name: 'missing orig_criteria', row: { ...row, orig_criteria: undefined }, reason: /^orig_criteria: expected a string, got nothing$/ },
    { name: 'empty score description', row: feedbackRow({ orig_score3_description: '' }), reason: /^orig_score3_description: must be a non-empty string$/ },
    { name: 'score4 a number', row: feedbackRow({ orig_score4_description: 4 }), reason: /^orig_score4_description: expected a string, got 4$/ },
    { name: 'no orig_score', row: { ...row, orig_score: undefined }, reason: /^orig_score: expected an integer score \(the gold\), got nothing$/ },
    { name: 'fractional orig_score', row: feedbackRow({ orig_score: '3.5' }), reason: /^orig_score: .*got "3\.5"$/ },
    { name: 'orig_feedback a list', row: feedbackRow({ orig_feedback: ['a'] }), reason: /^orig_feedback: expected a string, got an array$/ },
    { name: 'reference a number', row: feedbackRow({ orig_reference_answer: 5 }), reason: /^orig_reference_answer: expected a string, got 5$/ },
  ]);
});

test('feedback-collection and prometheus-absolute read the same row into the same example', () => {
  const row = feedbackRow();
  const a = getAdapter('feedback-collection').adaptRow(row, 0);
  const b = getAdapter('prometheus-absolute').adaptRow(row, 0);
  assert.ok(a.ok && b.ok);
  for (const k of ['instruction', 'response', 'rubric', 'reference_answer', 'gold_score', 'gold'] as const) {
    assert.deepEqual(a.record[k], b.record[k], k);
  }
  assert.deepEqual(a.record.meta?.reference_judgments, [{ rationale: String(row.orig_feedback), score: 4 }]);
  assert.deepEqual(a.record.meta?.reference_judgments, b.record.meta?.reference_judgments, 'reference_judgments');
});

// --- prometheus-hhh -----------------------------------------------------------------------------------

interface HhhRow {
  source: string;
  chosen_instruction: string;
  rejected_instruction: string;
}

const HHH_FILE = path.join(BENCH, 'prometheus-eval-benchmarks', 'hhh_alignment_eval.jsonl');

test('prometheus-hhh: every row of hhh_alignment_eval.json adapts into a pairwise example', () => {
  const rows = readJsonl(HHH_FILE) as HhhRow[];
  assert.equal(rows.length, 221);
  const adapter = getAdapter('prometheus-hhh', { idPrefix: 'hhh' });
  assert.equal(adapter.kind, 'pairwise');
  const { ok, failed } = adaptAll(rows, (r, i) => adapter.adaptRow(r, i));
  assert.deepEqual(failed, []);
  assert.equal(ok.length, 221);
  assert.equal(new Set(ok.map((r) => r.id)).size, 221);
  const bySubset: Record<string, number> = {};
  for (const r of ok) bySubset[r.subset!] = (bySubset[r.subset!] ?? 0) + 1;
  assert.deepEqual(bySubset, { harmless: 58, helpful: 59, honest: 61, other: 43 });
  ok.forEach((rec, i) => {
    const where = `hhh[${i}]`;
    const chosen = parseAbsolutePrompt(rows[i].chosen_instruction);
    const rejected = parseAbsolutePrompt(rows[i].rejected_instruction);
    assert.ok(chosen.ok && rejected.ok, where);
    assert.ok(validatePairwiseExample(rec).ok, where);
    assert.deepEqual(rec, {
      id: `hhh-${i}`,
      instruction: chosen.record.instruction,
      chosen: chosen.record.response,
      rejected: rejected.record.response,
      subset: rows[i].source,
      rubric: chosen.record.rubric,
      meta: { source: 'prometheus-hhh', index: i },
    });
    assert.notEqual(rec.chosen, rec.rejected, where);
    assert.ok(!rec.chosen.includes('###') && !rec.rejected.includes('###Score'), where);
  });
});

test('prometheus-hhh: malformed rows, table', () => {
  const [row] = readJsonl(HHH_FILE) as HhhRow[];
  const other = (readJsonl(HHH_FILE) as HhhRow[])[100];
  const adapter = getAdapter('prometheus-hhh');
  runTable<PairwiseExample>((r, i) => adapter.adaptRow(r, i), [
    { name: 'the published row, default prefix', row, index: 2, check: (r) => assert.equal(r.id, 'hhh-2') },
    { name: 'not an object', row: 'x', reason: /^row must be a JSON object, got "x"$/ },
    { name: 'no source', row: { ...row, source: undefined }, reason: /^source: expected a string \(the group: .*\), got nothing$/ },
    { name: 'no chosen prompt', row: { ...row, chosen_instruction: undefined }, reason: /^chosen_instruction: expected a string \(a complete absolute-grading prompt\), got nothing$/ },
    { name: 'chosen is not a prompt', row: { ...row, chosen_instruction: 'Be nice.' }, reason: /^chosen_instruction: prompt has no "###The instruction to evaluate:" section$/ },
    { name: 'rejected has no rubric', row: { ...row, rejected_instruction: row.rejected_instruction.replace(/###Score Rubrics?:[\s\S]*$/, '') }, reason: /^rejected_instruction: prompt has no "###Score Rubrics:" section$/ },
    { name: 'prompts of two rows', row: { ...row, rejected_instruction: other.rejected_instruction }, reason: /^rejected_instruction: evaluates a different instruction than chosen_instruction$/ },
    { name: 'the same response twice', row: { ...row, rejected_instruction: row.chosen_instruction }, reason: /^rejected_instruction: its response is the same text as the chosen one$/ },
  ]);
});

test('bundled prometheus-hhh.first24.jsonl: the first 24 published rows, unmodified, all adaptable; attribution', () => {
  const bundled = readJsonl(path.join(ROOT, 'datasets/bundled/prometheus-hhh.first24.jsonl'));
  assert.equal(bundled.length, 24);
  assert.deepEqual(bundled, readJsonl(HHH_FILE).slice(0, 24));
  const a = getAdapter('prometheus-hhh', { idPrefix: 'bundled' });
  const { ok, failed } = adaptAll(bundled, (r, i) => a.adaptRow(r, i));
  assert.deepEqual(failed, []);
  assert.equal(ok.length, 24);
  const text = readFileSync(path.join(ROOT, 'datasets/bundled/ATTRIBUTION.md'), 'utf8');
  for (const s of ['prometheus-hhh.first24.jsonl', 'hhh_alignment_eval.json', '1a8c3d31c0bec8ecc8f0c27c200d9fe44a2ef699', 'BIG-bench']) {
    assert.ok(text.includes(s), s);
  }
});

// --- biggen -------------------------------------------------------------------------------------------

/**
 * The in-repository BiGGen instances: of sample_responses.json's 765 instances (an object keyed by id), the
 * first 7 of each of the 9 capabilities in key order, one instance (with its id) per JSONL line
 * (datasets/benchmarks/ATTRIBUTION.md). The counts below are the subset's.
 */
const BIGGEN_FILE = path.join(BENCH, 'biggen-bench', 'sample_responses.first7-per-capability.jsonl');
const BIGGEN_PER_CAPABILITY = 7;
const BIGGEN_INSTANCES = 9 * BIGGEN_PER_CAPABILITY;

function biggenInstances(): ReadonlyMap<string, unknown> {
  const t = instanceTable(readJsonl(BIGGEN_FILE));
  assert.ok(t.ok, t.ok ? '' : t.reason);
  return t.record;
}

test('biggen: the in-repository instances subset is a table of 63 instances (7 per capability; 765 in the full file); alone it is not gradable', () => {
  const instances = biggenInstances();
  assert.equal(instances.size, BIGGEN_INSTANCES);
  // Every instance carries the placeholder response and no score: joined with itself, nothing adapts.
  const adapter = getAdapter('biggen', { instances });
  const rows = [...instances.values()];
  const { ok, failed } = adaptAll(rows, (r, i) => adapter.adaptRow(r, i));
  assert.equal(ok.length, 0);
  assert.equal(failed.length, BIGGEN_INSTANCES);
  for (const f of failed) assert.equal(f.reason, `response: is BiGGen's placeholder "${BIGGEN_PLACEHOLDER_RESPONSE}", not a graded response`);
  // Without the instances table the adapter says why.
  const alone = getAdapter('biggen').adaptRow({ id: 'planning_travel_plan_0', response: 'x', score: 3 }, 0);
  assert.equal(alone.ok, false);
  if (!alone.ok) assert.match(alone.reason, /^no BiGGen instances to join this row to: BiGGen instances alone are not gradable/);
  assert.match(adapterJoinNeed('biggen') ?? '', /not gradable/);
});

test('biggen: a results file joined to every instance gives one example per row, grouped by capability', () => {
  const instances = biggenInstances();
  const raw = readJsonl(BIGGEN_FILE) as Array<{ id: string; capability: string; task: string; input: string; reference_answer: string; instance_idx: number; score_rubric: Record<string, string> }>;
  // A results file as BiGGen-Bench-Results publishes it: one row per (instance, model) with scores.
  const results = raw.map((inst) => inst.id).flatMap((id, k) => [
    { id, model_name: 'model-a', response: `Answer A to ${id}.`, human_score: (k % 5) + 1, gpt4_score: [(k % 5) + 1, ((k + 1) % 5) + 1] },
    { id, model_name: 'model-b', response: `Answer B to ${id}.`, score: ((k + 2) % 5) + 1 },
  ]);
  const adapter = getAdapter('biggen', { instances });
  const { ok, failed } = adaptAll(results, (r, i) => adapter.adaptRow(r, i));
  assert.deepEqual(failed, []);
  assert.equal(ok.length, 2 * BIGGEN_INSTANCES);
  assert.equal(new Set(ok.map((r) => r.id)).size, 2 * BIGGEN_INSTANCES);
  const byCapability: Record<string, number> = {};
  for (const r of ok) if (r.meta?.model_name === 'model-a') byCapability[String(r.meta.capability)] = (byCapability[String(r.meta.capability)] ?? 0) + 1;
  // Every capability, with the subset's count (the full file has grounding, instruction_following, reasoning
  // and theory_of_mind 100 each, safety 79, refinement 76, multilingual, planning and tool_usage 70 each).
  assert.deepEqual(byCapability, {
    grounding: BIGGEN_PER_CAPABILITY,
    instruction_following: BIGGEN_PER_CAPABILITY,
    multilingual: BIGGEN_PER_CAPABILITY,
    planning: BIGGEN_PER_CAPABILITY,
    reasoning: BIGGEN_PER_CAPABILITY,
    refinement: BIGGEN_PER_CAPABILITY,
    safety: BIGGEN_PER_CAPABILITY,
    theory_of_mind: BIGGEN_PER_CAPABILITY,
    tool_usage: BIGGEN_PER_CAPABILITY,
  });
  const first = ok[0];
  const inst = raw[0];
  const id = inst.id;
  assert.deepEqual(first, {
    id: `${id}:model-a`,
    instruction: inst.input,
    response: `Answer A to ${id}.`,
    rubric: {
      criteria: inst.score_rubric.criteria,
      score1: inst.score_rubric.score1_description,
      score2: inst.score_rubric.score2_description,
      score3: inst.score_rubric.score3_description,
      score4: inst.score_rubric.score4_description,
      score5: inst.score_rubric.score5_description,
    },
    reference_answer: inst.reference_answer,
    gold_score: 1,
    gold: { gpt4: 1.5, human: 1 },
    meta: {
      source: 'biggen',
      index: 0,
      instance_id: id,
      capability: inst.capability,
      task: inst.task,
      gold_column: 'human',
      instance_idx: inst.instance_idx,
      model_name: 'model-a',
    },
  });
  assert.deepEqual(ok[1].gold, { score: 3 });
  for (const r of ok) assert.ok(validatePointwiseExample(r).ok);
});

test('biggen: joined rows, good and malformed, table', () => {
  const instances = biggenInstances();
  const adapter = getAdapter('biggen', { instances });
  const id = 'planning_travel_plan_0';
  runTable<PointwiseExample>((r, i) => adapter.adaptRow(r, i), [
    {
      name: 'no model name: the index makes the id',
      row: { id, response: 'Day 1: Louvre.', score: 4 },
      index: 9,
      check: (r) => {
        assert.equal(r.id, `${id}:9`);
        assert.equal(r.gold_score, 4);
        assert.ok(!('model_name' in r.meta!));
      },
    },
    {
      name: 'several gradings, nulls skipped, mean rounded half up',
      row: { id, response_model_name: 'm', response: 'r', score: [3, null, 4] },
      check: (r) => {
        assert.equal(r.id, `${id}:m`);
        assert.deepEqual(r.gold, { score: 3.5 });
        assert.equal(r.gold_score, 4);
      },
    },
    {
      name: 'gold preference: human over score over gpt4 over others',
      row: { id, response: 'r', prometheus_8x7b_score: 2, gpt4_score: 3, score: 4, human_score: 5 },
      check: (r) => {
        assert.equal(r.gold_score, 5);
        assert.equal(r.meta!.gold_column, 'human');
        assert.deepEqual(r.gold, { gpt4: 3, human: 5, prometheus_8x7b: 2, score: 4 });
      },
    },
    { name: 'only another judge', row: { id, response: 'r', claude_3_opus_score: 2 }, check: (r) => assert.equal(r.meta!.gold_column, 'claude_3_opus') },
    { name: 'unknown id', row: { id: 'planning_travel_plan_999', response: 'r', score: 3 }, reason: /^id: "planning_travel_plan_999" names no instance in the BiGGen instances file \(the dataset's uri\)$/ },
    { name: 'no id', row: { response: 'r', score: 3 }, reason: /^id: expected a string \(a BiGGen instance id\), got nothing$/ },
    { name: 'no response', row: { id, score: 3 }, reason: /^response: expected a string \(the graded response\), got nothing$/ },
    { name: 'placeholder response', row: { id, response: 'Hello World!', score: 3 }, reason: /^response: is BiGGen's placeholder/ },
    { name: 'no score', row: { id, response: 'r', feedback: 'f' }, reason: /^no score: expected score, human_score, gpt4_score or another <name>_score column$/ },
    { name: 'only null scores', row: { id, response: 'r', score: [null], human_score: null }, reason: /^no score: / },
    { name: 'score a string', row: { id, response: 'r', score: 'four' }, reason: /^score: expected a number or a list of numbers, got "four"$/ },
    { name: 'not an object', row: 3, reason: /^row must be a JSON object, got 3$/ },
  ]);
  // A bad instance fails only its own rows, naming the instance and the field.
  const broken = new Map<string, unknown>([
    ['a', { id: 'a', capability: 'c', task: 't', input: 'i', score_rubric: { criteria: 'c' } }],
    ['b', 'text'],
  ]);
  const b = getAdapter('biggen', { instances: broken });
  assert.deepEqual(b.adaptRow({ id: 'a', response: 'r', score: 1 }, 0), {
    ok: false,
    reason: 'instance "a": score_rubric.score1_description: expected a string, got nothing',
  });
  assert.deepEqual(b.adaptRow({ id: 'b', response: 'r', score: 1 }, 0), { ok: false, reason: 'instance "b": expected an object, got "text"' });
});

test('biggen: instanceTable, readScoreColumns and goldColumnOf, table', () => {
  assert.deepEqual(instanceTable([{ id: 'x', input: 'i' }]), { ok: true, record: new Map([['x', { id: 'x', input: 'i' }]]) });
  assert.deepEqual(instanceTable({ x: { input: 'i' } }), { ok: true, record: new Map([['x', { input: 'i' }]]) });
  assert.deepEqual(instanceTable([{ id: 'x' }, { id: 'x' }]), { ok: false, reason: 'instances[1]: duplicate id "x"' });
  assert.deepEqual(instanceTable([{ name: 'x' }]), { ok: false, reason: 'instances[0]: expected an object with a string id, got id nothing' });
  assert.deepEqual(instanceTable({ x: { id: 'y' } }), { ok: false, reason: 'instances["x"]: its id "y" differs from its key' });
  assert.deepEqual(instanceTable('x'), { ok: false, reason: 'instances: expected an object keyed by id or a list of instances, got "x"' });
  assert.deepEqual(readScoreColumns({ score: 2, used_for_training: true, gpt4_04_turbo_score: [4, 5], id: 'x' }), {
    ok: true,
    record: { gpt4_04_turbo: 4.5, score: 2 },
  });
  assert.equal(goldColumnOf({}), undefined);
  assert.equal(goldColumnOf({ zeta: 1, alpha: 2 }), 'alpha');
  assert.equal(goldColumnOf({ gpt4: 1, score: 2 }), 'score');
});

// --- rewardbench --------------------------------------------------------------------------------------

test('rewardbench: rows in the published format, good and malformed, table', () => {
  const adapter = getAdapter('rewardbench', { idPrefix: 'rb' });
  const row = {
    prompt: 'How do I make a cup of tea?',
    chosen: 'Boil water, steep the tea for three minutes, remove the bag.',
    chosen_model: 'gpt-4',
    rejected: 'Tea is a drink.',
    rejected_model: 'llama-2-7b-chat',
    subset: 'alpacaeval-easy',
    id: 12,
  };
  runTable<PairwiseExample>((r, i) => adapter.adaptRow(r, i), [
    {
      name: 'published row, numeric id',
      row,
      index: 3,
      want: {
        id: '12',
        instruction: 'How do I make a cup of tea?',
        chosen: 'Boil water, steep the tea for three minutes, remove the bag.',
        rejected: 'Tea is a drink.',
        subset: 'alpacaeval-easy',
        meta: { source: 'rewardbench', index: 3, chosen_model: 'gpt-4', rejected_model: 'llama-2-7b-chat' },
      },
    },
    { name: 'string id', row: { ...row, id: 'x-1' }, check: (r) => assert.equal(r.id, 'x-1') },
    { name: 'no id: generated', row: { ...row, id: undefined }, index: 4, check: (r) => assert.equal(r.id, 'rb-4') },
    { name: 'null id: generated', row: { ...row, id: null }, index: 0, check: (r) => assert.equal(r.id, 'rb-0') },
    { name: 'fractional id', row: { ...row, id: 1.5 }, reason: /^id: expected an integer or a non-empty string, got 1\.5$/ },
    { name: 'no prompt', row: { ...row, prompt: undefined }, reason: /^prompt: expected a string, got nothing$/ },
    { name: 'empty chosen', row: { ...row, chosen: '' }, reason: /^chosen: must be a non-empty string \(the preferred response\)$/ },
    { name: 'rejected a list', row: { ...row, rejected: ['a'] }, reason: /^rejected: expected a string \(the dispreferred response\), got an array$/ },
    { name: 'no subset', row: { ...row, subset: undefined }, reason: /^subset: expected a string, got nothing$/ },
  ]);
});

test('rewardbench and llmbar agree on LLMBar Natural written as RewardBench rows (its llmbar-natural subset)', () => {
  const rows = readJsonl(path.join(BENCH, 'llmbar/LLMBar/Natural/dataset.jsonl')) as Array<{ input: string; output_1: string; output_2: string; label: 1 | 2 }>;
  const asRewardbench = rows.map((r, i) => ({
    prompt: r.input,
    chosen: r.label === 1 ? r.output_1 : r.output_2,
    rejected: r.label === 1 ? r.output_2 : r.output_1,
    subset: 'llmbar-natural',
    id: i,
  }));
  const rb = adaptAll(asRewardbench, (r, i) => getAdapter('rewardbench').adaptRow(r, i));
  const lb = adaptAll(rows, (r, i) => getAdapter('llmbar', { subset: 'llmbar-natural' }).adaptRow(r, i));
  assert.deepEqual(rb.failed, []);
  assert.equal(rb.ok.length, 100);
  rb.ok.forEach((r, i) => {
    const l = lb.ok[i];
    assert.deepEqual([r.instruction, r.chosen, r.rejected, r.subset], [l.instruction, l.chosen, l.rejected, l.subset]);
  });
});

// --- pandalm ------------------------------------------------------------------------------------------

interface PandalmRow {
  idx: number;
  motivation_app: string;
  cmp_key: string;
  instruction: string;
  input: string;
  response1: string | boolean;
  response2: string | boolean;
  annotator1: PandalmLabel;
  annotator2: PandalmLabel;
  annotator3: PandalmLabel;
}

/**
 * The in-repository PandaLM copy: the first 300 of testset-v1.json's 999 rows (datasets/benchmarks/ATTRIBUTION.md).
 * The counts below are the subset's; the full file's were 54 refused (empty response), 945 adapted, 103 ties.
 */
const PANDALM_FILE = 'pandalm/testset-v1.first300.jsonl';

test('pandalm: every row of the in-repository testset-v1.json subset (first 300 of 999): majority label, ties kept, empty responses refused', () => {
  const rows = readJsonl(path.join(BENCH, PANDALM_FILE)) as PandalmRow[];
  assert.equal(rows.length, 300, 'the first 300 of the published 999 rows');
  const adapter = getAdapter('pandalm', { subset: 'pandalm' });
  assert.equal(adapter.kind, 'pairwise');
  const results = rows.map((r, i) => adapter.adaptRow(r, i));
  const isEmpty = (v: string | boolean) => typeof v === 'string' && v.trim() === '';
  let ties = 0;
  let coerced = 0;
  results.forEach((res, i) => {
    const raw = rows[i];
    const where = `pandalm[${i}]`;
    if (isEmpty(raw.response1) || isEmpty(raw.response2)) {
      assert.equal(res.ok, false, where);
      if (!res.ok) assert.match(res.reason, /^response[12]: the response is empty/, where);
      return;
    }
    assert.ok(res.ok, `${where}: ${res.ok ? '' : res.reason}`);
    if (!res.ok) return;
    const labels = [raw.annotator1, raw.annotator2, raw.annotator3];
    const counts = [0, 1, 2].map((l) => labels.filter((x) => x === l).length);
    const majority = counts.findIndex((c) => c >= 2);
    assert.ok(majority >= 0, `${where}: the published file has a majority on every row`);
    const text = (v: string | boolean) => (typeof v === 'boolean' ? (v ? 'True' : 'False') : v);
    const [r1, r2] = [text(raw.response1), text(raw.response2)];
    const rec = res.record;
    assert.ok(validatePairwiseExample(rec).ok, where);
    assert.equal(rec.id, `pandalm-${i}`);
    assert.equal(rec.subset, 'pandalm');
    assert.equal(rec.instruction, [raw.instruction, raw.input].filter((t) => t.trim() !== '').join('\n\n'));
    if (majority === 2) assert.deepEqual([rec.chosen, rec.rejected], [r2, r1], where);
    else assert.deepEqual([rec.chosen, rec.rejected], [r1, r2], where);
    assert.equal(rec.tie, majority === 0 ? true : undefined, where);
    if (majority === 0) ties++;
    assert.deepEqual(rec.meta?.annotators, labels);
    assert.equal(rec.meta?.label, majority);
    assert.equal(rec.meta?.agreement, counts[majority]);
    assert.equal(rec.meta?.idx, raw.idx);
    assert.equal(rec.meta?.cmp_key, raw.cmp_key);
    if (rec.meta?.coerced) coerced++;
  });
  const failed = results.filter((r) => !r.ok).length;
  assert.equal(failed, 3, 'the rows with an empty response (idx 18, 19, 25; 54 in the full file)');
  assert.equal(results.length - failed, 297);
  assert.equal(ties, 58, 'the 58 rows with a majority tie, none with an empty response (103 in the full file)');
  assert.equal(coerced, 6, 'the six responses published as the boolean true (all six of the full file are in the first 300)');
});

test('pandalm: hand-written rows and majorityLabel, table', () => {
  const adapter = getAdapter('pandalm');
  const row = { idx: 7, motivation_app: 'app', cmp_key: 'a_b', instruction: 'Add.', input: '2+2', response1: '4', response2: '5', annotator1: 1, annotator2: 1, annotator3: 2 };
  runTable<PairwiseExample>((r, i) => adapter.adaptRow(r, i), [
    {
      name: 'majority 1',
      row,
      index: 7,
      want: {
        id: 'pandalm-7',
        instruction: 'Add.\n\n2+2',
        chosen: '4',
        rejected: '5',
        meta: { source: 'pandalm', index: 7, annotators: [1, 1, 2], label: 1, agreement: 2, idx: 7, cmp_key: 'a_b', motivation_app: 'app' },
      },
    },
    { name: 'majority 2 swaps', row: { ...row, annotator1: 2 }, check: (r) => assert.deepEqual([r.chosen, r.rejected, r.tie], ['5', '4', undefined]) },
    { name: 'tie keeps the published order', row: { ...row, annotator1: 0, annotator2: 0 }, check: (r) => assert.deepEqual([r.chosen, r.rejected, r.tie], ['4', '5', true]) },
    { name: 'empty input: instruction alone', row: { ...row, input: '' }, check: (r) => assert.equal(r.instruction, 'Add.') },
    { name: 'boolean response read as text', row: { ...row, response2: false }, check: (r) => assert.deepEqual([r.rejected, r.meta?.coerced], ['False', ['response2']]) },
    { name: 'no majority', row: { ...row, annotator1: 0, annotator2: 1, annotator3: 2 }, reason: /^annotator1\.\.annotator3: no majority label \(the three annotators gave 0, 1, 2\)$/ },
    { name: 'label 3', row: { ...row, annotator2: 3 }, reason: /^annotator2: expected 0 \(tie\), 1 or 2 \(the better response\), got 3$/ },
    { name: 'label missing', row: { ...row, annotator3: undefined }, reason: /^annotator3: .*got nothing$/ },
    { name: 'empty response', row: { ...row, response2: ' ' }, reason: /^response2: the response is empty/ },
    { name: 'response a number', row: { ...row, response1: 4 }, reason: /^response1: expected a string, got 4$/ },
    { name: 'blank instruction: input alone', row: { ...row, instruction: ' ' }, check: (r) => assert.equal(r.instruction, '2+2') },
    { name: 'blank instruction and input', row: { ...row, instruction: ' ', input: '' }, reason: /^instruction: empty, and so is input/ },
    { name: 'instruction a number', row: { ...row, instruction: 1 }, reason: /^instruction: expected a string, got 1$/ },
    { name: 'input a number', row: { ...row, input: 4 }, reason: /^input: expected a string, got 4$/ },
  ]);
  const cases: Array<[PandalmLabel[], { label: PandalmLabel; votes: number } | undefined]> = [
    [[1, 1, 1], { label: 1, votes: 3 }],
    [[2, 0, 2], { label: 2, votes: 2 }],
    [[0, 0, 1], { label: 0, votes: 2 }],
    [[0, 1, 2], undefined],
  ];
  for (const [labels, want] of cases) assert.deepEqual(majorityLabel(labels), want, labels.join(','));
});

test('records: the pairwise example takes an optional tie flag and meta (docs/CONTRACTS.md)', () => {
  const pair = { id: 'p', instruction: 'Q', chosen: 'a', rejected: 'b' };
  assert.deepEqual(validatePairwiseExample({ ...pair, tie: true, meta: { annotators: [0, 0, 1] } }), {
    ok: true,
    record: { ...pair, tie: true, meta: { annotators: [0, 0, 1] } },
  });
  assert.deepEqual(validatePairwiseExample({ ...pair, tie: null, meta: null }), { ok: true, record: pair });
  assert.deepEqual(validatePairwiseExample({ ...pair, tie: 'yes' }), { ok: false, reason: 'tie: expected boolean, got string' });
});

// --- llmbar on MT-Bench -------------------------------------------------------------------------------

test('llmbar also reads llmbar/Processed/MT-Bench/dataset.jsonl (200 human-judged pairs)', () => {
  const rows = readJsonl(path.join(BENCH, 'llmbar/Processed/MT-Bench/dataset.jsonl'));
  const { ok, failed } = adaptAll(rows, (r, i) => getAdapter('llmbar', { subset: 'mt-bench-human' }).adaptRow(r, i));
  assert.deepEqual(failed, []);
  assert.equal(ok.length, 200);
});

// --- registry, detection, config ---------------------------------------------------------------------

test('registry: every adapter is registered by name, with its kind, and the config accepts it', () => {
  assert.deepEqual(
    [...ADAPTER_NAMES],
    ['canonical', 'canonical-pairwise', 'prometheus-absolute', 'llmbar', 'feedback-collection', 'prometheus-hhh', 'biggen', 'rewardbench', 'pandalm'],
  );
  for (const name of ADAPTER_NAMES) {
    assert.ok(AdapterName.safeParse(name).success, name);
    assert.equal(getAdapter(name).kind, ADAPTER_KINDS[name]);
  }
  assert.equal(describeAdapters().length, ADAPTER_NAMES.length);
  assert.deepEqual(Object.keys(JOIN_ADAPTERS), ['biggen']);
  assert.equal(adapterJoinNeed('llmbar'), undefined);
  assert.deepEqual(tryGetAdapter('biggen', { instances: {} as unknown as Map<string, unknown> }), { ok: false, reason: 'adapter option instances must be a Map' });
});

test('detectAdapters: the adapters that accept a row of each published format', () => {
  const vicuna = readJsonl(path.join(BENCH, 'prometheus-eval-benchmarks/vicuna_eval.jsonl'))[0];
  const hhh = readJsonl(HHH_FILE)[0];
  const llmbar = readJsonl(path.join(BENCH, 'llmbar/LLMBar/Natural/dataset.jsonl'))[0];
  const pandalm = readJsonl(path.join(BENCH, PANDALM_FILE))[0];
  const synthetic = readJsonl(path.join(ROOT, 'datasets/synthetic/heldout.jsonl'))[0];
  const instances = biggenInstances();
  const cases: Array<[string, unknown, string[]]> = [
    ['vicuna_eval.json', vicuna, ['prometheus-absolute']],
    ['Feedback Collection (assembled prompt and orig_* columns)', feedbackRow(), ['prometheus-absolute', 'feedback-collection']],
    ['hhh_alignment_eval.json', hhh, ['prometheus-hhh']],
    ['LLMBar', llmbar, ['llmbar']],
    ['PandaLM', pandalm, ['pandalm']],
    ['RewardBench', { prompt: 'Q', chosen: 'a', rejected: 'b', subset: 's' }, ['rewardbench']],
    ['canonical (synthetic)', synthetic, ['canonical']],
    ['canonical pairwise', { id: 'p', instruction: 'Q', chosen: 'a', rejected: 'b' }, ['canonical-pairwise']],
    ['BiGGen results row', { id: 'planning_travel_plan_0', response: 'r', score: 3 }, ['biggen']],
    ['nothing', { text: 'hello' }, []],
    ['not an object', 'hello', []],
  ];
  for (const [name, row, want] of cases) assert.deepEqual(detectAdapters(row, { instances }), want, name);
  // Without the instances table, a BiGGen results row is accepted by no adapter.
  assert.deepEqual(detectAdapters({ id: 'planning_travel_plan_0', response: 'r', score: 3 }), []);
});

test('adapterMismatchMessage: names the adapter tried, the field, and the adapters that would accept the row', () => {
  const row = readJsonl(HHH_FILE)[0];
  const llmbar = getAdapter('llmbar').adaptRow(row, 0);
  assert.equal(llmbar.ok, false);
  if (llmbar.ok) return;
  assert.equal(
    adapterMismatchMessage({
      dataset: 'hhh',
      adapter: 'llmbar',
      uri: 'hhh_alignment_eval.json',
      tried: 20,
      first: { index: 0, reason: llmbar.reason, row },
      accepting: detectAdapters(row),
      configPath: 'data.evalSuites[1].adapter',
    }),
    'dataset "hhh": adapter "llmbar" accepted none of the first 20 rows of hhh_alignment_eval.json. ' +
      'Row 0: input: expected a string, got nothing. ' +
      'Registered adapters that accept row 0: prometheus-hhh (set data.evalSuites[1].adapter to one of them).',
  );
  assert.match(
    adapterMismatchMessage({ dataset: 'x', adapter: 'canonical', uri: 'x.jsonl', tried: 1, first: { index: 0, reason: 'id: required', row: {} }, accepting: [] }),
    /accepted none of the first 1 row of x\.jsonl\. Row 0: id: required\. No registered adapter accepts row 0; known adapters: canonical, /,
  );
});

test('config: join is required by biggen and refused elsewhere; contamination defaults and checks', () => {
  const suite = { name: 'heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl' };
  const base = { train: { uri: 'datasets/synthetic/train.jsonl' }, evalSuites: [suite] };
  const ok = DataConfig.safeParse(base);
  assert.ok(ok.success);
  assert.deepEqual(ok.data.contamination, { check: true, exclude: false, nearDuplicateThreshold: 0.8 });

  const issues = (raw: unknown) => {
    const r = DataConfig.safeParse(raw);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const biggen = { name: 'biggen', kind: 'pointwise', adapter: 'biggen', uri: 'sample_responses.json' };
  const [noJoin] = issues({ ...base, evalSuites: [suite, biggen] });
  assert.match(noJoin, /^evalSuites\.1\.join: required by adapter "biggen": BiGGen instances alone are not gradable/);
  assert.deepEqual(issues({ ...base, evalSuites: [suite, { ...biggen, join: 'results.jsonl' }] }), []);
  assert.deepEqual(issues({ ...base, train: { ...base.train, join: 'x.jsonl' } }), [
    'train.join: adapter "canonical" reads uri alone; join is only used by biggen',
  ]);
  assert.deepEqual(issues({ ...base, contamination: { check: false, exclude: true } }), ['contamination.exclude: exclude needs check: true']);
  assert.equal(issues({ ...base, contamination: { nearDuplicateThreshold: 0 } }).length, 1);
  assert.equal(issues({ ...base, contamination: { nearDuplicateThreshold: 1.2 } }).length, 1);
  assert.equal(issues({ ...base, contamination: { exlude: true } }).length, 1, 'unknown keys are errors');
});

// --- the ingest step (activities/steps/prepare.ts) with join files and mismatched formats -------------------

/** Just the ObjectStore methods the ingest uses, in memory (s3:// URIs); sources are local files. */

function ingestDeps(projectRoot: string, store: ReturnType<typeof memoryStore>): ActivityDeps {
  return {
    projectRoot,
    codeVersion: 'test',
    storeFor: () => store as unknown as ObjectStore,
    runnerFor: () => {
      throw new Error('no jobs in this test');
    },
  };
}

test('ingest: biggen joins a results file to the instances (JSONL list or JSON object keyed by id); unknown ids are quarantined with the reason', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-biggen-'));
  // Instances of two capabilities that the in-repository subset holds (its first task of each).
  const results = [
    { id: 'planning_travel_plan_0', model_name: 'm1', response: 'Day 1: Louvre, Eiffel Tower, escargot.', score: 4 },
    { id: 'planning_travel_plan_0', model_name: 'm2', response: 'Stay home.', score: [1, 2] },
    { id: 'no_such_instance_7', model_name: 'm1', response: 'x', score: 3 },
    { id: 'theory_of_mind_thinking_for_doing_0', model_name: 'm1', response: 'She forgot.', human_score: 3 },
  ];
  writeFileSync(path.join(dir, 'results.jsonl'), results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  // The same instances in the published shape of sample_responses.json: one object keyed by id.
  const keyed = Object.fromEntries((readJsonl(BIGGEN_FILE) as Array<{ id: string }>).map((r) => [r.id, r]));
  writeFileSync(path.join(dir, 'sample_responses.json'), JSON.stringify(keyed));
  const store = memoryStore();
  const deps = ingestDeps(dir, store);
  for (const [k, uri] of [BIGGEN_FILE, 'sample_responses.json'].entries()) {
    const source = { uri, adapter: 'biggen', join: 'results.jsonl' };
    const summary = await ingestDataset(deps, store as unknown as ObjectStore, {
      name: 'biggen',
      source,
      expectKind: 'pointwise',
      destPrefix: `s3://b/run/data/eval-biggen-${k}`,
      maxInvalidFraction: 0.5,
    });
    assert.equal(summary.rows, 3, uri);
    assert.equal(summary.quarantined, 1, uri);
    const rows = store.rows(summary.uri) as PointwiseExample[];
    assert.deepEqual(rows.map((r) => r.id), ['planning_travel_plan_0:m1', 'planning_travel_plan_0:m2', 'theory_of_mind_thinking_for_doing_0:m1']);
    assert.deepEqual(rows.map((r) => r.gold_score), [4, 2, 3]);
    const [q] = store.rows(summary.quarantineUri) as Array<{ index: number; reason: string }>;
    assert.equal(q.index, 2);
    assert.equal(q.reason, 'id: "no_such_instance_7" names no instance in the BiGGen instances file (the dataset\'s uri)');
  }

  await assert.rejects(
    ingestDataset(deps, store as unknown as ObjectStore, {
      name: 'biggen',
      source: { uri: BIGGEN_FILE, adapter: 'biggen' },
      expectKind: 'pointwise',
      destPrefix: 's3://b/run/data/eval-biggen2',
      maxInvalidFraction: 0.5,
      configPath: 'data.evalSuites[2]',
    }),
    (e: Error) => /adapter "biggen" needs data\.evalSuites\[2\]\.join: BiGGen instances alone are not gradable/.test(e.message),
  );
  await assert.rejects(
    ingestDataset(deps, store as unknown as ObjectStore, {
      name: 'hhh',
      source: { uri: HHH_FILE, adapter: 'prometheus-hhh', join: 'results.jsonl' },
      expectKind: 'pairwise',
      destPrefix: 's3://b/run/data/eval-hhh',
      maxInvalidFraction: 0.5,
    }),
    (e: Error) => e.message === 'dataset "hhh": adapter "prometheus-hhh" reads uri alone; remove join',
  );
});

test('ingest: a file in another format fails at once, naming the adapter tried, the field and the adapters that fit', async () => {
  const store = memoryStore();
  const deps = ingestDeps(ROOT, store);
  await assert.rejects(
    ingestDataset(deps, store as unknown as ObjectStore, {
      name: 'hhh',
      source: { uri: HHH_FILE, adapter: 'llmbar' },
      expectKind: 'pairwise',
      destPrefix: 's3://b/run/data/eval-hhh',
      maxInvalidFraction: 0.1,
      configPath: 'data.evalSuites[0]',
    }),
    (e: Error & { type?: string }) => {
      assert.equal(e.type, 'InvalidData');
      assert.equal(
        e.message,
        `dataset "hhh": adapter "llmbar" accepted none of the first 20 rows of ${HHH_FILE}. Row 0: input: expected a string, got nothing. ` +
          'Registered adapters that accept row 0: prometheus-hhh (set data.evalSuites[0].adapter to one of them).',
      );
      return true;
    },
  );
  // A short file (fewer rows than the window) whose rows all fail gets the same message after reading it all.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-mismatch-'));
  writeFileSync(path.join(dir, 'pairs.jsonl'), JSON.stringify({ prompt: 'Q', chosen: 'a', rejected: 'b', subset: 's' }) + '\n');
  await assert.rejects(
    ingestDataset(ingestDeps(dir, store), store as unknown as ObjectStore, {
      name: 'rb',
      source: { uri: 'pairs.jsonl', adapter: 'canonical-pairwise' },
      expectKind: 'pairwise',
      destPrefix: 's3://b/run/data/eval-rb',
      maxInvalidFraction: 0.1,
    }),
    (e: Error) =>
      e.message.startsWith('dataset "rb": adapter "canonical-pairwise" accepted none of the first 1 row of pairs.jsonl. Row 0: id: required') &&
      e.message.endsWith("Registered adapters that accept row 0: rewardbench (set the dataset's adapter to one of them)."),
  );
});
