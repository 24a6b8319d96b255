import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import {
  DEFAULT_PAIRWISE_CRITERIA,
  parseTemplate,
  renderMeta,
  renderPairwise,
  renderPointwise,
  renderRubric,
  renderScoreDescriptions,
  requiredPlaceholders,
  PromptRenderError,
  type Template,
  type TemplateKind,
  type PointwisePromptInput,
} from '../../core/judging/prompt';
import { parseJudgment } from '../../core/judging/judgment';
import { RunConfig } from '../../core/config/config';
import { loadTemplateFile, promptHash, templateHash } from '../../activities/steps/prompts';
import { buildMetaRequest, metaRatingRow, metaTemplatePath } from '../../activities/steps/meta-judge';
import { buildRescoreRequest, rescorePrefix, rescoreRow } from '../../activities/steps/consistency';
import { computeGolden, GOLDEN_FILE, PROMPTS_DIR, RENDER_CASES, type Golden } from '../fixtures/prompt-golden-cases';

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

// ---- template kinds: pairwise and meta-judge ----

function loadKind(file: string, kind: TemplateKind): Template {
  const result = parseTemplate(readFileSync(join(PROMPTS_DIR, file), 'utf8'), { kind, source: `prompts/${file}` });
  if (!result.ok) throw new Error(`${file} did not parse: ${result.problems.join('; ')}`);
  return result.template;
}

test('pairwise-v1 and meta-judge-v1 parse as their kinds, with their placeholders', () => {
  const pairwise = loadKind('pairwise-v1.txt', 'pairwise');
  assert.equal(pairwise.kind, 'pairwise');
  assert.ok(pairwise.comments.some((c) => c.includes('pairwise-v1')));
  assert.deepEqual(pairwise.placeholders, ['criteria', 'instruction', 'marker', 'reference_answer', 'response_a', 'response_b']);
  const meta = loadKind('meta-judge-v1.txt', 'meta');
  assert.equal(meta.kind, 'meta');
  assert.ok(meta.comments.some((c) => c.includes('meta-judge-v1')));
  assert.deepEqual(meta.placeholders, [
    'instruction',
    'judgment_rationale',
    'judgment_score',
    'marker',
    'reference_answer',
    'response',
    'rubric',
    'score_max',
    'score_min',
  ]);
  assert.equal(loadDefault().kind, 'pointwise');
  assert.deepEqual(requiredPlaceholders('pairwise'), ['instruction', 'response_a', 'response_b']);
  assert.deepEqual(requiredPlaceholders('meta'), [
    'instruction',
    'response',
    'judgment | judgment_rationale+judgment_score',
    'score_min',
    'score_max',
    'rubric | criteria+score_descriptions',
  ]);
});

test('renderPairwise: sections in order, the default criterion, the optional reference, both placements', () => {
  const template = loadKind('pairwise-v1.txt', 'pairwise');
  const input = { instruction: 'Name a prime.', response_a: 'Seven.', response_b: 'Nine.' };
  for (const systemPlacement of ['system', 'user'] as const) {
    for (const reference of [undefined, '', 'Two.']) {
      const messages = renderPairwise(template, { ...input, reference_answer: reference }, { marker: '[RESULT]', systemPlacement });
      assert.equal(messages.length, systemPlacement === 'system' ? 2 : 1);
      const user = messages[messages.length - 1].content;
      assert.match(user, /### Instruction\nName a prime\.\n\n### Response A\nSeven\.\n\n### Response B\nNine\.\n\n/);
      assert.match(user, new RegExp(`### Criterion\\n${DEFAULT_PAIRWISE_CRITERIA.replace(/[?.]/g, '\\$&')}\\n\\n### Feedback$`));
      assert.match(user, /\[RESULT\] and the letter of the better response, A or B/);
      assert.equal(user.includes('### Reference answer\nTwo.\n\n### Criterion'), reference === 'Two.');
      assert.ok(!/\n\n\n/.test(user) && !user.includes('{{'));
    }
  }
  const [, user] = renderPairwise(template, { ...input, criteria: 'Which is correct?' }, { marker: '<<V>>', systemPlacement: 'system' });
  assert.match(user.content, /### Criterion\nWhich is correct\?\n/);
  assert.match(user.content, /<rationale> <<V>> <A or B>/);
});

test('renderMeta: the judged input, the judgment, and the 1-5 rating scale', () => {
  const template = loadKind('meta-judge-v1.txt', 'meta');
  const input = { ...EXAMPLE, reference_answer: '4', judgment: { rationale: '  It is right and brief.  ', score: 5 } };
  const [system, user] = renderMeta(template, input, { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' });
  assert.equal(system.role, 'system');
  assert.match(user.content, /Rate from 1 to 5:\n1: /);
  assert.match(user.content, /### Response\nIt is 4\.\n\n### Reference answer\n4\n\n### Rubric\nIs the answer correct and concise\?\nScore 1: Wrong\./);
  assert.match(user.content, /### Judgment to rate\nRationale: It is right and brief\.\nScore: 5\n\n### Feedback$/);
  // The rubric follows the judge's scale, {{score_min}}-{{score_max}} the rating scale.
  const judge09 = parsedKind('=== user ===\n{{instruction}} {{response}} {{rubric}} {{judgment}} {{score_min}}-{{score_max}} {{marker}}', 'meta');
  const rubric09 = { criteria: 'C', score0: 'z', score1: 'o', score2: 't' };
  const [only] = renderMeta(
    judge09,
    { instruction: 'i', response: 'r', rubric: rubric09, judgment: { rationale: 'why', score: 2 } },
    { scale: { min: 0, max: 2 }, marker: '[RESULT]', systemPlacement: 'system' },
  );
  assert.equal(only.content, 'i r C\nScore 0: z\nScore 1: o\nScore 2: t why [RESULT] 2 1-5 [RESULT]');
  assert.throws(
    () => renderMeta(template, { ...input, judgment: { rationale: ' ', score: 3 } }, { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' }),
    /empty rationale/,
  );
});

function parsedKind(text: string, kind: TemplateKind): Template {
  const result = parseTemplate(text, { kind });
  if (!result.ok) throw new Error(`template did not parse: ${result.problems.join('; ')}`);
  return result.template;
}

test('render functions refuse a template of another kind', () => {
  const pointwise = loadDefault();
  const pairwise = loadKind('pairwise-v1.txt', 'pairwise');
  const meta = loadKind('meta-judge-v1.txt', 'meta');
  const options = { scale: SCALE, marker: '[RESULT]', systemPlacement: 'system' as const };
  assert.throws(() => renderPointwise(pairwise, EXAMPLE, options), /renderPointwise needs a pointwise template, got a pairwise template/);
  assert.throws(() => renderPairwise(pointwise, { instruction: 'i', response_a: 'a', response_b: 'b' }, options), /needs a pairwise template/);
  assert.throws(() => renderMeta(pointwise, { ...EXAMPLE, judgment: { rationale: 'r', score: 1 } }, options), /needs a meta template/);
  assert.throws(() => renderPointwise(meta, EXAMPLE, options), PromptRenderError);
});

test('parseTemplate by kind: problems name the file and the missing placeholder', () => {
  const source = 'my-templates/x.txt';
  const cases: Array<{ name: string; kind: TemplateKind; text: string; missing: string[]; problem: RegExp }> = [
    {
      name: 'pairwise without response B',
      kind: 'pairwise',
      text: '=== user ===\n{{instruction}} A: {{response_a}} {{marker}}',
      missing: ['response_b'],
      problem: /^my-templates\/x\.txt: missing required placeholder \{\{response_b\}\} in a pairwise template/,
    },
    {
      name: 'pairwise with a pointwise placeholder',
      kind: 'pairwise',
      text: '=== user ===\n{{instruction}} {{response_a}} {{response_b}} {{response}}',
      missing: [],
      problem: /^my-templates\/x\.txt: user: placeholder "response" belongs to pointwise\/meta templates, not pairwise/,
    },
    {
      name: 'pairwise with score bounds',
      kind: 'pairwise',
      text: '=== user ===\n{{instruction}} {{response_a}} {{response_b}} {{score_max}}',
      missing: [],
      problem: /placeholder "score_max" belongs to pointwise\/meta templates, not pairwise/,
    },
    {
      name: 'the pointwise template used as pairwise',
      kind: 'pairwise',
      text: readFileSync(DEFAULT_TEMPLATE_PATH, 'utf8'),
      missing: ['response_a', 'response_b'],
      problem: /missing required placeholder \{\{response_a\}\}/,
    },
    {
      name: 'meta without the judgment',
      kind: 'meta',
      text: '=== user ===\n{{instruction}} {{response}} {{rubric}} {{score_min}} {{score_max}}',
      missing: ['judgment'],
      problem: /missing required placeholder \{\{judgment\}\} \(or both \{\{judgment_rationale\}\} and \{\{judgment_score\}\}\) in a meta template/,
    },
    {
      name: 'meta with half of the split judgment',
      kind: 'meta',
      text: '=== user ===\n{{instruction}} {{response}} {{rubric}} {{judgment_rationale}} {{score_min}} {{score_max}}',
      missing: ['judgment_score'],
      problem: /\{\{judgment_score\}\}/,
    },
    {
      name: 'meta without a rubric',
      kind: 'meta',
      text: '=== user ===\n{{instruction}} {{response}} {{judgment}} {{score_min}} {{score_max}}',
      missing: ['rubric'],
      problem: /missing required placeholder \{\{rubric\}\} \(or both \{\{criteria\}\} and \{\{score_descriptions\}\}\) in a meta template/,
    },
    {
      name: 'pointwise with a meta placeholder',
      kind: 'pointwise',
      text: `=== user ===\n{{instruction}} {{response}} {{rubric}} {{score_min}} {{score_max}} {{judgment}}`,
      missing: [],
      problem: /placeholder "judgment" belongs to meta templates, not pointwise/,
    },
  ];
  for (const c of cases) {
    const result = parseTemplate(c.text, { kind: c.kind, source });
    assert.equal(result.ok, false, c.name);
    if (result.ok) continue;
    assert.deepEqual(result.missingPlaceholders, c.missing, c.name);
    assert.ok(result.problems.every((p) => p.startsWith(`${source}: `)), `${c.name}: every problem names the file`);
    assert.ok(result.problems.some((p) => c.problem.test(p)), `${c.name}: ${result.problems.join(' | ')}`);
  }
  // Minimal valid templates of each kind.
  assert.ok(parseTemplate('=== user ===\n{{instruction}} {{response_a}} {{response_b}}', { kind: 'pairwise' }).ok);
  assert.ok(parseTemplate('=== user ===\n{{instruction}} {{response}} {{criteria}} {{score_descriptions}} {{judgment}} {{score_min}} {{score_max}}', { kind: 'meta' }).ok);
  assert.throws(() => parseTemplate('=== user ===\nx', { kind: 'bogus' as TemplateKind }), /unknown template kind "bogus"/);
});

test('loadTemplateFile: a user-supplied file is accepted when valid and hashed; an invalid one is a ConfigError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'judgeloop-templates-'));
  const good = '# my-pairwise-v1\n=== user ===\nQ: {{instruction}}\nA) {{response_a}}\nB) {{response_b}}\nEnd with {{marker}} A or B.\n';
  writeFileSync(join(dir, 'mine.txt'), good);
  const loaded = await loadTemplateFile('/nonexistent-root', join(dir, 'mine.txt'), 'pairwise', 'some.key');
  assert.equal(loaded.template.kind, 'pairwise');
  assert.equal(loaded.hash, createHash('sha256').update(good).digest('hex').slice(0, 16));
  assert.equal(loaded.hash, templateHash(good));
  assert.match(loaded.hash, /^[0-9a-f]{16}$/);
  // Relative paths resolve against the project root.
  const relative = await loadTemplateFile(dir, 'mine.txt', 'pairwise', 'some.key');
  assert.equal(relative.hash, loaded.hash);

  writeFileSync(join(dir, 'bad.txt'), '=== user ===\n{{instruction}} {{response_a}}\n');
  await assert.rejects(loadTemplateFile(dir, 'bad.txt', 'pairwise', 'some.key'), (err: unknown) => {
    const e = err as { message: string; type?: string; nonRetryable?: boolean };
    assert.match(e.message, /^some\.key: bad\.txt is not a valid pairwise template: bad\.txt: missing required placeholder \{\{response_b\}\}/);
    assert.equal(e.type, 'ConfigError');
    assert.equal(e.nonRetryable, true);
    return true;
  });
  await assert.rejects(loadTemplateFile(dir, 'missing.txt', 'meta', 'some.key'), /some\.key: cannot read missing\.txt/);
  // The shipped templates load as their kinds.
  const root = join(__dirname, '..', '..');
  for (const [file, kind] of [['prompts/pointwise-v1.txt', 'pointwise'], ['prompts/pairwise-v1.txt', 'pairwise'], ['prompts/meta-judge-v1.txt', 'meta']] as const) {
    assert.equal((await loadTemplateFile(root, file, kind, 'k')).template.kind, kind);
  }
});

test('promptHash: 16 hex digits of the rendered messages', () => {
  const a = [{ role: 'user' as const, content: 'x' }];
  assert.match(promptHash(a), /^[0-9a-f]{16}$/);
  assert.equal(promptHash(a), promptHash([{ content: 'x', role: 'user' }]));
  assert.notEqual(promptHash(a), promptHash([{ role: 'user', content: 'y' }]));
});

// ---- the judge-side requests (activities/steps/meta-judge.ts, activities/steps/consistency.ts) ----

const CONFIG = RunConfig.parse(JSON.parse(readFileSync(join(__dirname, '..', '..', 'configs', 'local.json'), 'utf8')));

test('meta-judge requests: rendered from the input and the judgment; ratings parse on the 1-5 scale', () => {
  assert.equal(metaTemplatePath(CONFIG), 'prompts/meta-judge-v1.txt');
  const template = { template: loadKind('meta-judge-v1.txt', 'meta'), hash: 'feedfacefeedface' };
  const sample = { request_id: 'ex-1', example_id: 'ex-1', sample_index: 3, rationale: 'Correct and short.', score: 5 };
  const request = buildMetaRequest(template, CONFIG, { id: 'ex-1', ...EXAMPLE }, sample);
  assert.equal(request.request_id, 'ex-1#3');
  assert.deepEqual(
    { ...request, messages: undefined, prompt_hash: undefined },
    {
      request_id: 'ex-1#3',
      example_id: 'ex-1',
      messages: undefined,
      prompt_hash: undefined,
      template_hash: 'feedfacefeedface',
      judged_request_id: 'ex-1',
      judged_sample_index: 3,
      judged_score: 5,
    },
  );
  assert.equal(request.prompt_hash, promptHash(request.messages));
  const user = request.messages[request.messages.length - 1].content;
  assert.match(user, /Rationale: Correct and short\.\nScore: 5/);
  assert.match(user, /### Instruction\nWhat is 2 \+ 2\?/);

  const raw = { ...request, sample_index: 0, text: 'The rationale fits. [RESULT] 4' };
  assert.deepEqual(metaRatingRow(raw, '[RESULT]'), { request_id: 'ex-1', example_id: 'ex-1', sample_index: 3, meta_score: 4, meta_status: 'ok' });
  assert.deepEqual(metaRatingRow({ ...raw, text: 'Hmm. [RESULT] 7' }, '[RESULT]'), {
    request_id: 'ex-1',
    example_id: 'ex-1',
    sample_index: 3,
    meta_score: null,
    meta_status: 'unparseable',
    reason: 'score_out_of_range',
  });
});

test('consistency requests: the original prompt, prefilled up to the score; the re-score is compared', () => {
  const messages = [{ role: 'user' as const, content: 'judge this' }];
  const original = { messages, prompt_hash: 'p'.repeat(16), template_hash: 't'.repeat(16) };
  const sample = { request_id: 'ex-2', example_id: 'ex-2', sample_index: 1, rationale: 'Mostly wrong.', score: 2 };
  const request = buildRescoreRequest(original, sample, '[RESULT]');
  assert.equal(request.assistant_prefix, 'Mostly wrong. [RESULT] ');
  assert.equal(rescorePrefix('  Mostly wrong.\n', '[RESULT]'), 'Mostly wrong. [RESULT] ');
  assert.deepEqual(request.messages, messages);
  assert.equal(request.request_id, 'ex-2#1');
  assert.equal(request.prompt_hash, original.prompt_hash);
  assert.equal(request.template_hash, original.template_hash);
  // generate.py writes prefix + score; that parses back to the same rationale.
  const parsed = parseJudgment(`${request.assistant_prefix}2`, { min: 1, max: 5, marker: '[RESULT]' });
  assert.deepEqual(parsed, { status: 'ok', rationale: 'Mostly wrong.', score: 2 });
  const raw = { ...request, sample_index: 0 };
  const scale = { min: 1, max: 5 };
  assert.deepEqual(rescoreRow({ ...raw, text: `${request.assistant_prefix}2` }, scale, '[RESULT]'), {
    request_id: 'ex-2',
    example_id: 'ex-2',
    sample_index: 1,
    score: 2,
    rescore: 2,
    consistent: true,
  });
  assert.equal(rescoreRow({ ...raw, text: `${request.assistant_prefix}4` }, scale, '[RESULT]').consistent, false);
  const broken = rescoreRow({ ...raw, text: `${request.assistant_prefix}9` }, scale, '[RESULT]');
  assert.equal(broken.rescore, null);
  assert.equal(broken.consistent, false);
});

// ---- golden prompts: byte-identical to the hand-written renderer that mustache replaced (issue 15) ----

test('golden: every shipped template and the inline layouts render byte for byte as before; problems word for word', () => {
  const golden = computeGolden();
  if (process.env.JUDGELOOP_UPDATE_PROMPT_GOLDEN === '1') writeFileSync(GOLDEN_FILE, `${JSON.stringify(golden, null, 2)}\n`);
  const expected = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden;
  // Every shipped template has cases, so a new one cannot ship without its golden prompts.
  const shipped = readdirSync(PROMPTS_DIR).filter((f) => f.endsWith('.txt'));
  assert.deepEqual(shipped.filter((f) => !RENDER_CASES.some((c) => c.template === f)), [], 'shipped templates without golden cases');
  assert.deepEqual(Object.keys(golden.renders).sort(), Object.keys(expected.renders).sort(), 'render cases');
  for (const [name, messages] of Object.entries(expected.renders)) assert.deepEqual(golden.renders[name], messages, name);
  assert.deepEqual(Object.keys(golden.parses).sort(), Object.keys(expected.parses).sort(), 'parse cases');
  for (const [name, result] of Object.entries(expected.parses)) assert.deepEqual(golden.parses[name], result, name);
});

test('rendering never HTML-escapes: <, >, &, quotes and apostrophes reach the prompt as written', () => {
  const template = parsedOrThrow('=== system ===\n<{{marker}}> & "{{score_min}}"\n=== user ===\n{{instruction}}|{{response}}|{{rubric}}|{{score_max}}');
  const text = `<b class="x">Tom & 'Jerry'</b> a<b && c>d "q" \`t\` =/ &amp;`;
  const [system, user] = renderPointwise(
    template,
    { instruction: text, response: text, rubric: { ...RUBRIC, criteria: text } },
    { scale: SCALE, marker: '<&"\'>', systemPlacement: 'system' },
  );
  assert.equal(system.content, '<<&"\'>> & "1"');
  assert.equal(user.content, `${text}|${text}|${text}\nScore 1: Wrong.\nScore 2: Mostly wrong.\nScore 3: Partly right.\nScore 4: Right but wordy.\nScore 5: Right and concise.|5`);
});

test('parseTemplate: layouts mustache would read differently are refused, naming the line', () => {
  const all = '{{instruction}} {{response}} {{rubric}} {{score_min}} {{score_max}} {{marker}}';
  const cases: Array<{ name: string; text: string; problem: string }> = [
    {
      name: 'two section tags alone on a line',
      text: `# c\n=== user ===\n\n${all}\n{{#reference_answer}}\nR\n{{/reference_answer}} {{#criteria}}\n{{criteria}}\n{{/criteria}}`,
      problem:
        'f.txt: user: line 7 holds nothing but the section tags {{/reference_answer}}{{#criteria}}: put each on a line of its own (a section tag alone on its line removes the line) or add text to the line',
    },
    {
      name: 'a no-break space beside a section tag alone on its line',
      text: `=== system ===\nx\n=== user ===\n${all}\n\u00a0{{#reference_answer}}\nR\n{{/reference_answer}}`,
      problem: 'f.txt: user: line 5: only spaces and tabs may stand beside a section tag alone on its line, found U+00A0 beside {{#reference_answer}}',
    },
    {
      name: 'a brace right before a tag',
      text: `=== system ===\n\nJSON:\n  {{{marker}}}\n=== user ===\n${all}`,
      problem: `f.txt: system: line 4: "{" right before {{marker}} reads as mustache's triple-brace tag "{{{": put a space between them`,
    },
  ];
  for (const c of cases) {
    const result = parseTemplate(c.text, { source: 'f.txt' });
    assert.equal(result.ok, false, c.name);
    if (!result.ok) assert.deepEqual(result.problems, [c.problem], c.name);
  }
  // One section tag alone on its line with spaces and tabs, or section tags beside text, stay fine.
  assert.ok(parseTemplate(`=== user ===\n${all}\n \t{{#reference_answer}}\t \nR\n{{/reference_answer}}{{#criteria}}C{{/criteria}}`).ok);
});
