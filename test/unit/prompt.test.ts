import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseTemplate,
  renderPointwise,
  renderRubric,
  renderScoreDescriptions,
  PromptRenderError,
  type Template,
  type PointwisePromptInput,
} from '../../core/prompt';

const DEFAULT_TEMPLATE_PATH = join(__dirname, '..', '..', 'prompts', 'pointwise-v1.txt');

const RUBRIC = {
  criteria: 'Is the answer correct and concise?',
  score1: 'Wrong.',
  score2: 'Mostly wrong.',
  score3: 'Partly right.',
  score4: 'Right but wordy.',
  score5: 'Right and concise.',
};

const EXAMPLE: PointwisePromptInput = {
  instruction: 'What is 2 + 2?',
  response: 'It is 4.',
  rubric: RUBRIC,
};

const SCALE = { min: 1, max: 5 };

function parsedOrThrow(text: string): Template {
  const result = parseTemplate(text);
  if (!result.ok) throw new Error(`template did not parse: ${result.problems.join('; ')}`);
  return result.template;
}

function loadDefault(): Template {
  return parsedOrThrow(readFileSync(DEFAULT_TEMPLATE_PATH, 'utf8'));
}

test('default template parses and records its header comments and placeholders', () => {
  const template = loadDefault();
  assert.ok(template.comments.some((c) => c.includes('pointwise-v1')), 'the version is named in the header');
  assert.ok(template.system.length > 0);
  assert.deepEqual(template.placeholders, [
    'instruction',
    'marker',
    'reference_answer',
    'response',
    'rubric',
    'score_max',
    'score_min',
  ]);
});

test('renderPointwise: default template, table of reference answer x placement', () => {
  const template = loadDefault();
  const cases = [
    { name: 'no reference, system turn', reference: undefined, placement: 'system' as const },
    { name: 'no reference, system in user turn', reference: undefined, placement: 'user' as const },
    { name: 'empty reference is absent', reference: '  ', placement: 'system' as const },
    { name: 'null reference is absent', reference: null, placement: 'system' as const },
    { name: 'reference, system turn', reference: '4', placement: 'system' as const },
    { name: 'reference, system in user turn', reference: '4', placement: 'user' as const },
  ];
  for (const c of cases) {
    const messages = renderPointwise(
      template,
      { ...EXAMPLE, reference_answer: c.reference },
      { scale: SCALE, marker: '[RESULT]', systemPlacement: c.placement },
    );
    const hasReference = typeof c.reference === 'string' && c.reference.trim() !== '';
    if (c.placement === 'system') {
      assert.deepEqual(messages.map((m) => m.role), ['system', 'user'], c.name);
      assert.match(messages[0].content, /judge/, c.name);
    } else {
      assert.deepEqual(messages.map((m) => m.role), ['user'], c.name);
      assert.ok(messages[0].content.startsWith('You are a fair, strict judge.'), c.name);
      assert.match(messages[0].content, /judge\.[^\n]*\n\n### Task/, `${c.name}: blank line after the system text`);
    }
    const user = messages[messages.length - 1].content;
    for (const m of messages) {
      assert.ok(!m.content.includes('{{') && !m.content.includes('}}'), `${c.name}: no tag left in ${m.role}`);
      assert.equal(m.content, m.content.trim(), `${c.name}: trimmed`);
    }
    assert.match(user, /### Instruction\nWhat is 2 \+ 2\?\n\n### Response\nIt is 4\.\n\n/, c.name);
    assert.match(user, /### Rubric\nIs the answer correct and concise\?\nScore 1: Wrong\.\n.*\nScore 5: Right and concise\.\n\n### Feedback$/s, c.name);
    assert.match(user, /\[RESULT\] and an integer from 1 to 5/, c.name);
    assert.equal(user.includes('### Reference answer (score 5)\n4\n\n### Rubric'), hasReference, c.name);
    assert.equal(user.includes('the reference answer earns 5'), hasReference, c.name);
    assert.ok(!/\n\n\n/.test(user), `${c.name}: no run of blank lines where a section was dropped`);
  }
});

test('renderPointwise: exact output of a small template, both placements', () => {
  const template = parsedOrThrow(
    [
      '# tiny-v1',
      '=== system ===',
      'Grade {{score_min}}-{{score_max}}.',
      '=== user ===',
      'I: {{instruction}}',
      'R: {{response}}',
      '{{#reference_answer}}',
      'Ref: {{reference_answer}}',
      '{{/reference_answer}}',
      '{{criteria}}',
      '{{score_descriptions}}',
      'End with {{marker}} N.',
      '',
    ].join('\n'),
  );
  const rubric2 = { criteria: 'C', score0: 'zero', score1: 'one', score2: 'two' };
  const options = { scale: { min: 0, max: 2 }, marker: '<<S>>' };
  assert.deepEqual(
    renderPointwise(template, { instruction: 'i', response: 'r', rubric: rubric2 }, { ...options, systemPlacement: 'system' }),
    [
      { role: 'system', content: 'Grade 0-2.' },
      { role: 'user', content: 'I: i\nR: r\nC\nScore 0: zero\nScore 1: one\nScore 2: two\nEnd with <<S>> N.' },
    ],
  );
  assert.deepEqual(
    renderPointwise(
      template,
      { instruction: 'i', response: 'r', rubric: rubric2, reference_answer: 'ref' },
      { ...options, systemPlacement: 'user' },
    ),
    [{ role: 'user', content: 'Grade 0-2.\n\nI: i\nR: r\nRef: ref\nC\nScore 0: zero\nScore 1: one\nScore 2: two\nEnd with <<S>> N.' }],
  );
});

test('renderPointwise: values are inserted verbatim, never re-expanded', () => {
  const template = loadDefault();
  const [, user] = renderPointwise(
    template,
    { ...EXAMPLE, response: 'Use {{instruction}} and {{#x}}' },
    { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' },
  );
  assert.ok(user.content.includes('### Response\nUse {{instruction}} and {{#x}}\n'));
});

test('renderPointwise: a template without a system section yields only a user turn', () => {
  const template = parsedOrThrow('=== user ===\n{{instruction}} {{response}} {{rubric}} {{score_min}} {{score_max}} {{marker}}');
  for (const systemPlacement of ['system', 'user'] as const) {
    const messages = renderPointwise(template, EXAMPLE, { scale: SCALE, marker: '[RESULT]', systemPlacement });
    assert.deepEqual(messages.map((m) => m.role), ['user']);
  }
});

test('renderPointwise: errors for a missing rubric level, a bad scale, an unseen marker', () => {
  const template = loadDefault();
  const options = { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' as const };
  const { score3: _dropped, ...withoutScore3 } = RUBRIC;
  assert.throws(() => renderPointwise(template, { ...EXAMPLE, rubric: withoutScore3 }, options), (e: unknown) =>
    e instanceof PromptRenderError && /score 3 \(field "score3"\)/.test(e.message),
  );
  // A 0-5 scale needs score0, which the canonical 1-5 rubric lacks.
  assert.throws(() => renderPointwise(template, EXAMPLE, { ...options, scale: { min: 0, max: 5 } }), /score 0/);
  assert.throws(() => renderPointwise(template, EXAMPLE, { ...options, scale: { min: 5, max: 5 } }), /invalid score scale/);
  assert.throws(() => renderPointwise(template, EXAMPLE, { ...options, scale: { min: 1.5, max: 5 } }), /invalid score scale/);
  assert.throws(() => renderPointwise(template, EXAMPLE, { ...options, marker: ' ' }), /marker must not be empty/);

  const literalMarker = parsedOrThrow('=== user ===\n{{instruction}} {{response}} {{rubric}} end with [RESULT] {{score_min}}-{{score_max}}');
  assert.doesNotThrow(() => renderPointwise(literalMarker, EXAMPLE, options));
  assert.throws(() => renderPointwise(literalMarker, EXAMPLE, { ...options, marker: 'Score:' }), /never shows the judge the marker "Score:"/);
});

test('parseTemplate: problems, table-driven', () => {
  const all = '{{instruction}} {{response}} {{rubric}} {{score_min}} {{score_max}} {{marker}}';
  const cases: Array<{ name: string; text: string; missing: string[]; problem: RegExp }> = [
    { name: 'no user section', text: '=== system ===\nhi', missing: ['instruction', 'response', 'score_min', 'score_max', 'rubric'], problem: /no "=== user ===" section/ },
    { name: 'missing instruction', text: `=== user ===\n${all.replace('{{instruction}}', '')}`, missing: ['instruction'], problem: /\{\{instruction\}\}/ },
    { name: 'missing score bounds', text: `=== user ===\n${all.replace('{{score_min}} {{score_max}}', '')}`, missing: ['score_min', 'score_max'], problem: /\{\{score_max\}\}/ },
    { name: 'missing rubric', text: `=== user ===\n${all.replace('{{rubric}}', '')}`, missing: ['rubric'], problem: /\{\{criteria\}\} and \{\{score_descriptions\}\}/ },
    { name: 'criteria without descriptions', text: `=== user ===\n${all.replace('{{rubric}}', '{{criteria}}')}`, missing: ['score_descriptions'], problem: /score_descriptions/ },
    { name: 'required only inside a section', text: `=== user ===\n${all.replace('{{response}}', '{{#reference_answer}}{{response}}{{/reference_answer}}')}`, missing: ['response'], problem: /outside any/ },
    { name: 'unknown placeholder', text: `=== user ===\n${all} {{instrution}}`, missing: [], problem: /unknown placeholder "instrution"/ },
    { name: 'unclosed section', text: `=== user ===\n${all} {{#reference_answer}} x`, missing: [], problem: /never closed/ },
    { name: 'mismatched close', text: `=== user ===\n${all} {{#reference_answer}} x {{/marker}}`, missing: [], problem: /closes \{\{#reference_answer\}\}/ },
    { name: 'stray close', text: `=== user ===\n${all} {{/reference_answer}}`, missing: [], problem: /never opened/ },
    { name: 'malformed tag', text: `=== user ===\n${all} {{ response }}`, missing: [], problem: /malformed tag/ },
    { name: 'text before first section', text: `hello\n=== user ===\n${all}`, missing: [], problem: /line 1: text before/ },
    { name: 'duplicate section', text: `=== user ===\n${all}\n=== user ===\n${all}`, missing: [], problem: /line 3: a second "=== user ==="/ },
    { name: 'empty user section', text: `=== system ===\n${all}\n=== user ===\n  \n`, missing: [], problem: /user section is empty/ },
  ];
  for (const c of cases) {
    const result = parseTemplate(c.text);
    assert.equal(result.ok, false, c.name);
    if (result.ok) continue;
    assert.deepEqual(result.missingPlaceholders, c.missing, c.name);
    assert.ok(result.problems.some((p) => c.problem.test(p)), `${c.name}: ${result.problems.join(' | ')}`);
  }
});

test('parseTemplate: accepts CRLF, required placeholders in the system part, the split rubric', () => {
  const text = [
    '# split-v1',
    '=== system ===',
    'Scale {{score_min}} to {{score_max}}; end with {{marker}}.',
    '=== user ===',
    '{{instruction}}',
    '{{response}}',
    '{{criteria}}',
    '{{score_descriptions}}',
  ].join('\r\n');
  const template = parsedOrThrow(text);
  assert.deepEqual(template.comments, ['split-v1']);
  const messages = renderPointwise(template, EXAMPLE, { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' });
  assert.equal(messages[0].content, 'Scale 1 to 5; end with [RESULT].');
  assert.ok(!messages[1].content.includes('\r'));
});

test('parseTemplate: a parsed template is plain JSON data', () => {
  const template = loadDefault();
  assert.deepEqual(JSON.parse(JSON.stringify(template)), template);
});

test('renderRubric and renderScoreDescriptions', () => {
  assert.equal(
    renderRubric(RUBRIC, SCALE),
    'Is the answer correct and concise?\nScore 1: Wrong.\nScore 2: Mostly wrong.\nScore 3: Partly right.\nScore 4: Right but wordy.\nScore 5: Right and concise.',
  );
  assert.equal(renderScoreDescriptions(RUBRIC, { min: 4, max: 5 }), 'Score 4: Right but wordy.\nScore 5: Right and concise.');
  assert.equal(renderRubric({ ...RUBRIC, criteria: '  padded  ', score1: ' a ' }, { min: 1, max: 2 }), 'padded\nScore 1: a\nScore 2: Mostly wrong.');
  assert.throws(() => renderRubric({ ...RUBRIC, criteria: ' ' }, SCALE), /no criteria/);
  assert.throws(() => renderRubric({ ...RUBRIC, score2: '' }, SCALE), /score 2/);
});
