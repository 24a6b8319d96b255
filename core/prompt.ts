/**
 * Prompt templates for pointwise (absolute grading) judging: parsing a versioned template file and
 * rendering it into chat messages for one example.
 *
 * Pure and deterministic (no I/O): activities read the template file and pass its text to `parseTemplate`.
 *
 * Template file format (see prompts/README.md):
 * - optional header lines starting with `#` (comments) before the first section;
 * - `=== system ===` then the system text (optional section), `=== user ===` then the user text;
 * - `{{name}}` inserts a value; `{{#name}}...{{/name}}` keeps its content only when `name` is non-empty.
 *   A section tag alone on its line removes that whole line, so an omitted section leaves no blank lines.
 * Substitution is single-pass: a value that itself contains `{{...}}` (a response quoting a template, say)
 * is inserted verbatim and never expanded.
 */

import type { ChatMessage } from './records';

export type { ChatMessage };

/**
 * A rubric: the criterion plus one description per score level, in fields `score<level>` (`score1` …
 * `score5` for the default 1–5 scale, as in the canonical `Rubric` of core/records.ts). Typed loosely
 * because the configured scale decides which level fields are read (a 0–9 scale needs `score0` …
 * `score9`); a missing one is a render error.
 */
export type RubricLike = {
  criteria: string;
  [level: `score${number}`]: string | undefined;
};

/** What `renderPointwise` needs from a pointwise example. */
export interface PointwisePromptInput {
  instruction: string;
  response: string;
  rubric: RubricLike;
  /** Optional: an answer that deserves the top score. Empty or missing drops the template's section. */
  reference_answer?: string | null;
}

export interface ScoreScale {
  min: number;
  max: number;
}

export interface RenderOptions {
  scale: ScoreScale;
  /** Text between the rationale and the score, e.g. `[RESULT]`. */
  marker: string;
  /** A system turn, or the system text prepended to the user turn (for chat templates without one). */
  systemPlacement: 'system' | 'user';
}

/** Every placeholder a template may use. Anything else is reported as unknown (usually a typo). */
export const PLACEHOLDERS = [
  'instruction',
  'response',
  'reference_answer',
  'rubric',
  'criteria',
  'score_descriptions',
  'score_min',
  'score_max',
  'marker',
] as const;
export type PlaceholderName = (typeof PLACEHOLDERS)[number];

/** Placeholders that must appear outside any `{{#...}}` section; the rubric is checked separately. */
const ALWAYS_REQUIRED: readonly PlaceholderName[] = ['instruction', 'response', 'score_min', 'score_max'];

export type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'value'; name: PlaceholderName }
  | { kind: 'section'; name: PlaceholderName; children: TemplateNode[] };

/** A parsed template. Plain data (JSON-serialisable), so it may cross an activity boundary. */
export interface Template {
  /** The header comment lines, without their leading `#`, trimmed. */
  comments: string[];
  /** Empty when the template has no system section (then no system text is rendered). */
  system: TemplateNode[];
  user: TemplateNode[];
  /** Every placeholder the template uses, sorted. */
  placeholders: PlaceholderName[];
}

export type ParseTemplateResult =
  | { ok: true; template: Template }
  | {
      ok: false;
      /** Every problem found, human-readable. */
      problems: string[];
      /** Required placeholders the template lacks (a subset of what `problems` reports). */
      missingPlaceholders: string[];
    };

/** Thrown by the render functions for inputs that cannot produce a valid prompt. */
export class PromptRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromptRenderError';
  }
}

const SECTION_HEADER = /^===\s*(system|user)\s*===\s*$/;
const TAG = /\{\{([#/]?)([A-Za-z_][A-Za-z0-9_]*)\}\}/g;
const STANDALONE_SECTION_TAG = /^[ \t]*(\{\{[#/][A-Za-z_][A-Za-z0-9_]*\}\})[ \t]*$/;

function isPlaceholder(name: string): name is PlaceholderName {
  return (PLACEHOLDERS as readonly string[]).includes(name);
}

/** Joins lines back, dropping the line break of a line that holds only a section tag. */
function removeStandaloneTagLines(body: string): string {
  const lines = body.split('\n');
  let out = '';
  lines.forEach((line, i) => {
    const standalone = STANDALONE_SECTION_TAG.exec(line);
    if (standalone) out += standalone[1];
    else out += line + (i === lines.length - 1 ? '' : '\n');
  });
  return out;
}

/** Tokenises one section body into nodes; reports unknown, unbalanced or malformed tags. */
function parseBody(body: string, where: string, problems: string[]): TemplateNode[] {
  const root: TemplateNode[] = [];
  const stack: Array<{ name: string; children: TemplateNode[] }> = [];
  const current = (): TemplateNode[] => (stack.length ? stack[stack.length - 1].children : root);
  const pushText = (text: string): void => {
    if (!text) return;
    const stray = text.search(/\{\{|\}\}/);
    if (stray >= 0) {
      const snippet = text.slice(Math.max(0, stray - 10), stray + 20);
      problems.push(`${where}: malformed tag near "${snippet}" (use {{name}}, {{#name}} or {{/name}})`);
    }
    current().push({ kind: 'text', text });
  };

  const source = removeStandaloneTagLines(body);
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    const index = match.index ?? 0;
    pushText(source.slice(last, index));
    last = index + match[0].length;
    const [, sigil, name] = match;
    if (!isPlaceholder(name)) {
      problems.push(`${where}: unknown placeholder "${name}" (known: ${PLACEHOLDERS.join(', ')})`);
      continue;
    }
    if (sigil === '#') {
      const section: TemplateNode = { kind: 'section', name, children: [] };
      current().push(section);
      stack.push({ name, children: section.children });
    } else if (sigil === '/') {
      const open = stack[stack.length - 1];
      if (!open) problems.push(`${where}: {{/${name}}} closes a section that was never opened`);
      else if (open.name !== name) problems.push(`${where}: {{/${name}}} closes {{#${open.name}}}`);
      else stack.pop();
    } else {
      current().push({ kind: 'value', name });
    }
  }
  pushText(source.slice(last));
  for (const open of stack) problems.push(`${where}: {{#${open.name}}} is never closed`);
  return root;
}

function collectPlaceholders(nodes: TemplateNode[], all: Set<PlaceholderName>, topLevel: Set<PlaceholderName> | null): void {
  for (const node of nodes) {
    if (node.kind === 'value') {
      all.add(node.name);
      topLevel?.add(node.name);
    } else if (node.kind === 'section') {
      all.add(node.name);
      // Values inside a section may vanish, so they do not satisfy a requirement.
      collectPlaceholders(node.children, all, null);
    }
  }
}

/**
 * Parses a template file. Required (outside any section, in either part): `instruction`, `response`,
 * `score_min`, `score_max`, and the rubric as `{{rubric}}` or as both `{{criteria}}` and
 * `{{score_descriptions}}`. Returns every problem at once rather than the first.
 */
export function parseTemplate(text: string): ParseTemplateResult {
  const problems: string[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const comments: string[] = [];
  const bodies: Partial<Record<'system' | 'user', string[]>> = {};
  let part: 'system' | 'user' | null = null;

  lines.forEach((line, i) => {
    const header = SECTION_HEADER.exec(line);
    if (header) {
      const name = header[1] as 'system' | 'user';
      if (bodies[name]) problems.push(`line ${i + 1}: a second "=== ${name} ===" section`);
      bodies[name] = [];
      part = name;
    } else if (part === null) {
      if (line.trim().startsWith('#')) comments.push(line.trim().replace(/^#+/, '').trim());
      else if (line.trim() !== '') problems.push(`line ${i + 1}: text before the first "=== system ===" or "=== user ===" line`);
    } else {
      bodies[part]!.push(line);
    }
  });

  if (!bodies.user) problems.push('no "=== user ===" section');
  const systemText = (bodies.system ?? []).join('\n').trim();
  const userText = (bodies.user ?? []).join('\n').trim();
  if (bodies.user && userText === '') problems.push('the user section is empty');

  const system = parseBody(systemText, 'system', problems);
  const user = parseBody(userText, 'user', problems);

  const all = new Set<PlaceholderName>();
  const topLevel = new Set<PlaceholderName>();
  collectPlaceholders(system, all, topLevel);
  collectPlaceholders(user, all, topLevel);

  const missing: string[] = ALWAYS_REQUIRED.filter((name) => !topLevel.has(name));
  const hasSplitRubric = topLevel.has('criteria') && topLevel.has('score_descriptions');
  if (!topLevel.has('rubric') && !hasSplitRubric) {
    if (topLevel.has('criteria')) missing.push('score_descriptions');
    else if (topLevel.has('score_descriptions')) missing.push('criteria');
    else missing.push('rubric');
  }
  for (const name of missing) {
    problems.push(
      name === 'rubric'
        ? 'missing required placeholder {{rubric}} (or both {{criteria}} and {{score_descriptions}})'
        : `missing required placeholder {{${name}}} (it must appear outside any {{#...}} section)`,
    );
  }

  if (problems.length) return { ok: false, problems, missingPlaceholders: missing };
  return { ok: true, template: { comments, system, user, placeholders: [...all].sort() } };
}

function checkScale(scale: ScoreScale): void {
  if (!Number.isInteger(scale.min) || !Number.isInteger(scale.max) || scale.min >= scale.max) {
    throw new PromptRenderError(`invalid score scale ${scale.min}..${scale.max}: need integers with min < max`);
  }
}

/** One line per score level, `Score <level>: <description>`, from `scale.min` to `scale.max`. */
export function renderScoreDescriptions(rubric: RubricLike, scale: ScoreScale): string {
  checkScale(scale);
  const lines: string[] = [];
  for (let level = scale.min; level <= scale.max; level++) {
    const description: unknown = rubric[`score${level}`];
    if (typeof description !== 'string' || description.trim() === '') {
      throw new PromptRenderError(`rubric has no description for score ${level} (field "score${level}")`);
    }
    lines.push(`Score ${level}: ${description.trim()}`);
  }
  return lines.join('\n');
}

/** The rubric block: the criterion on its first line, then one line per score level. */
export function renderRubric(rubric: RubricLike, scale: ScoreScale): string {
  if (typeof rubric.criteria !== 'string' || rubric.criteria.trim() === '') {
    throw new PromptRenderError('rubric has no criteria');
  }
  return `${rubric.criteria.trim()}\n${renderScoreDescriptions(rubric, scale)}`;
}

function renderNodes(nodes: TemplateNode[], values: Record<PlaceholderName, string>): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'value') out += values[node.name];
    else if (values[node.name].trim() !== '') out += renderNodes(node.children, values);
  }
  return out;
}

function usesValue(nodes: TemplateNode[], name: PlaceholderName): boolean {
  return nodes.some((n) => (n.kind === 'value' && n.name === name) || (n.kind === 'section' && usesValue(n.children, name)));
}

function literalText(nodes: TemplateNode[]): string {
  return nodes.map((n) => (n.kind === 'text' ? n.text : n.kind === 'section' ? literalText(n.children) : '')).join('');
}

/**
 * Renders a template for one example. Returns `[system, user]`, or `[user]` when the system text goes into
 * the user turn (`systemPlacement: 'user'`, system text first, a blank line between) or is empty.
 * Throws `PromptRenderError` for a rubric lacking a level of the scale, an invalid scale, or a template that
 * never tells the judge the marker (neither `{{marker}}` nor the marker's literal text appears in it).
 */
export function renderPointwise(template: Template, example: PointwisePromptInput, options: RenderOptions): ChatMessage[] {
  const { scale, marker, systemPlacement } = options;
  checkScale(scale);
  if (marker.trim() === '') throw new PromptRenderError('marker must not be empty');
  const mentionsMarker =
    usesValue(template.system, 'marker') ||
    usesValue(template.user, 'marker') ||
    literalText(template.system).includes(marker) ||
    literalText(template.user).includes(marker);
  if (!mentionsMarker) {
    throw new PromptRenderError(`the template never shows the judge the marker "${marker}" (use {{marker}})`);
  }

  const values: Record<PlaceholderName, string> = {
    instruction: example.instruction,
    response: example.response,
    reference_answer: example.reference_answer ?? '',
    rubric: renderRubric(example.rubric, scale),
    criteria: example.rubric.criteria.trim(),
    score_descriptions: renderScoreDescriptions(example.rubric, scale),
    score_min: String(scale.min),
    score_max: String(scale.max),
    marker,
  };
  const systemText = renderNodes(template.system, values).trim();
  const userText = renderNodes(template.user, values).trim();

  if (systemText === '') return [{ role: 'user', content: userText }];
  if (systemPlacement === 'user') return [{ role: 'user', content: `${systemText}\n\n${userText}` }];
  return [
    { role: 'system', content: systemText },
    { role: 'user', content: userText },
  ];
}
