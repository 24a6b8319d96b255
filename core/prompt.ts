/**
 * Prompt templates: parsing a versioned template file and rendering it into chat messages. Three kinds:
 * - `pointwise` (absolute grading): one response against a rubric, result `<rationale> <marker> <score>`;
 * - `pairwise` (relative grading): responses A and B to one instruction, result `<rationale> <marker> A|B`;
 * - `meta` (meta-judge): the judge rates one of its own judgments (rationale and score) for an input on a
 *   1–5 scale of how well the rationale justifies a correct score, result `<rationale> <marker> <1-5>`.
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

/** What `renderPairwise` needs: two responses to one instruction, labelled A and B in the prompt. */
export interface PairwisePromptInput {
  instruction: string;
  response_a: string;
  response_b: string;
  /** The criterion to compare on; empty or missing uses `DEFAULT_PAIRWISE_CRITERIA`. */
  criteria?: string | null;
  reference_answer?: string | null;
}

/** What `renderMeta` needs: the judged input plus one of the judge's own judgments of it. */
export interface MetaPromptInput extends PointwisePromptInput {
  judgment: { rationale: string; score: number };
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

/** Pairwise prompts have no score scale. */
export type PairwiseRenderOptions = Omit<RenderOptions, 'scale'>;

/**
 * `scale` is the judge's scale (the rubric's levels and the judgment's score); `ratingScale` is the
 * meta-judge's own 1–5 scale (`META_SCALE`), which `{{score_min}}`/`{{score_max}}` show in a meta template.
 */
export interface MetaRenderOptions extends RenderOptions {
  ratingScale?: ScoreScale;
}

/** The meta-judge's rating scale: how well a rationale justifies a correct score. */
export const META_SCALE: ScoreScale = { min: 1, max: 5 };

/** The two verdicts of a pairwise judgment (what `parsePairwiseVerdict` accepts after the marker). */
export const PAIRWISE_CHOICES = ['A', 'B'] as const;

/** The comparison criterion when a pairwise input brings none. */
export const DEFAULT_PAIRWISE_CRITERIA = 'Which response follows the instruction more precisely, helpfully and correctly?';

export const TEMPLATE_KINDS = ['pointwise', 'pairwise', 'meta'] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/** Every placeholder any kind of template may use. */
export const PLACEHOLDERS = [
  'instruction',
  'response',
  'response_a',
  'response_b',
  'reference_answer',
  'rubric',
  'criteria',
  'score_descriptions',
  'judgment',
  'judgment_rationale',
  'judgment_score',
  'score_min',
  'score_max',
  'marker',
] as const;
export type PlaceholderName = (typeof PLACEHOLDERS)[number];

/**
 * One alternative of a requirement: every listed placeholder must appear outside any `{{#...}}` section.
 * A requirement is met when one of its alternatives is.
 */
interface Requirement {
  alternatives: PlaceholderName[][];
}

interface KindSpec {
  /** Placeholders this kind may use; anything else is reported as unknown (usually a typo). */
  allowed: readonly PlaceholderName[];
  required: Requirement[];
}

const single = (name: PlaceholderName): Requirement => ({ alternatives: [[name]] });
const RUBRIC_REQUIREMENT: Requirement = { alternatives: [['rubric'], ['criteria', 'score_descriptions']] };
const JUDGMENT_REQUIREMENT: Requirement = { alternatives: [['judgment'], ['judgment_rationale', 'judgment_score']] };

/** `missing required placeholder {{rubric}} (or both {{criteria}} and {{score_descriptions}}) ...`. */
function describeMissing(requirement: Requirement, kind: TemplateKind): string {
  const [first, ...others] = requirement.alternatives.map((a) => a.map((n) => `{{${n}}}`));
  const alternatives = others.map((o) => (o.length > 1 ? ` (or ${o.length === 2 ? 'both ' : 'all of '}${o.join(' and ')})` : ` (or ${o[0]})`));
  return `missing required placeholder ${first.join(' and ')}${alternatives.join('')} in a ${kind} template (it must appear outside any {{#...}} section)`;
}

/** What each kind of template may and must contain. Documented in prompts/README.md. */
export const TEMPLATE_KIND_SPECS: Readonly<Record<TemplateKind, KindSpec>> = {
  pointwise: {
    allowed: ['instruction', 'response', 'reference_answer', 'rubric', 'criteria', 'score_descriptions', 'score_min', 'score_max', 'marker'],
    required: [single('instruction'), single('response'), single('score_min'), single('score_max'), RUBRIC_REQUIREMENT],
  },
  pairwise: {
    allowed: ['instruction', 'response_a', 'response_b', 'reference_answer', 'criteria', 'marker'],
    required: [single('instruction'), single('response_a'), single('response_b')],
  },
  meta: {
    allowed: [
      'instruction',
      'response',
      'reference_answer',
      'rubric',
      'criteria',
      'score_descriptions',
      'judgment',
      'judgment_rationale',
      'judgment_score',
      'score_min',
      'score_max',
      'marker',
    ],
    required: [
      single('instruction'),
      single('response'),
      JUDGMENT_REQUIREMENT,
      single('score_min'),
      single('score_max'),
      RUBRIC_REQUIREMENT,
    ],
  },
};

/** The placeholders a kind requires, for messages and docs: `rubric` stands for the rubric alternatives. */
export function requiredPlaceholders(kind: TemplateKind): string[] {
  return TEMPLATE_KIND_SPECS[kind].required.map((r) => r.alternatives.map((a) => a.join('+')).join(' | '));
}

export type TemplateNode =
  | { kind: 'text'; text: string }
  | { kind: 'value'; name: PlaceholderName }
  | { kind: 'section'; name: PlaceholderName; children: TemplateNode[] };

/** A parsed template. Plain data (JSON-serialisable), so it may cross an activity boundary. */
export interface Template {
  /** What the template renders: checked by the render functions. */
  kind: TemplateKind;
  /** The header comment lines, without their leading `#`, trimmed. */
  comments: string[];
  /** Empty when the template has no system section (then no system text is rendered). */
  system: TemplateNode[];
  user: TemplateNode[];
  /** Every placeholder the template uses, sorted. */
  placeholders: PlaceholderName[];
}

export interface ParseTemplateOptions {
  /** Which placeholders are allowed and required (default `pointwise`). */
  kind?: TemplateKind;
  /** The template's file name (or config key): every problem then starts with it. */
  source?: string;
}

export type ParseTemplateResult =
  | { ok: true; template: Template }
  | {
      ok: false;
      /** Every problem found, human-readable. */
      problems: string[];
      /**
       * Required placeholders the template lacks (a subset of what `problems` reports). For a requirement
       * with alternatives, the closest alternative's missing names (e.g. `score_descriptions` when only
       * `criteria` is there), else the first alternative's.
       */
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
function parseBody(body: string, where: string, kind: TemplateKind, problems: string[]): TemplateNode[] {
  const allowed: readonly string[] = TEMPLATE_KIND_SPECS[kind].allowed;
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
  const isAllowed = (name: string): name is PlaceholderName => allowed.includes(name);

  const source = removeStandaloneTagLines(body);
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    const index = match.index ?? 0;
    pushText(source.slice(last, index));
    last = index + match[0].length;
    const [, sigil, name] = match;
    if (!isAllowed(name)) {
      const otherKinds = TEMPLATE_KINDS.filter((k) => k !== kind && (TEMPLATE_KIND_SPECS[k].allowed as readonly string[]).includes(name));
      problems.push(
        otherKinds.length
          ? `${where}: placeholder "${name}" belongs to ${otherKinds.join('/')} templates, not ${kind} (known: ${allowed.join(', ')})`
          : `${where}: unknown placeholder "${name}" (known: ${allowed.join(', ')})`,
      );
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

/** The names a requirement still lacks: none when an alternative is met, else the closest alternative's. */
function missingFor(requirement: Requirement, present: Set<PlaceholderName>): PlaceholderName[] {
  let best: PlaceholderName[] | null = null;
  let bestPresent = -1;
  for (const alternative of requirement.alternatives) {
    const lacking = alternative.filter((n) => !present.has(n));
    if (lacking.length === 0) return [];
    const have = alternative.length - lacking.length;
    if (have > bestPresent) {
      best = lacking;
      bestPresent = have;
    }
  }
  return best ?? [];
}

/**
 * Parses a template file of the given kind (default `pointwise`). Required placeholders (outside any
 * section, in either part) per kind: see `TEMPLATE_KIND_SPECS` and prompts/README.md. Returns every problem
 * at once rather than the first; with `source`, each problem starts with it (`prompts/x.txt: ...`).
 */
export function parseTemplate(text: string, options: ParseTemplateOptions = {}): ParseTemplateResult {
  const kind = options.kind ?? 'pointwise';
  if (!TEMPLATE_KINDS.includes(kind)) throw new RangeError(`unknown template kind "${String(kind)}" (known: ${TEMPLATE_KINDS.join(', ')})`);
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

  const system = parseBody(systemText, 'system', kind, problems);
  const user = parseBody(userText, 'user', kind, problems);

  const all = new Set<PlaceholderName>();
  const topLevel = new Set<PlaceholderName>();
  collectPlaceholders(system, all, topLevel);
  collectPlaceholders(user, all, topLevel);

  const missing: string[] = [];
  for (const requirement of TEMPLATE_KIND_SPECS[kind].required) {
    const lacking = missingFor(requirement, topLevel);
    if (lacking.length === 0) continue;
    missing.push(...lacking);
    problems.push(describeMissing(requirement, kind));
  }

  if (problems.length) {
    const prefix = options.source ? `${options.source}: ` : '';
    return { ok: false, problems: problems.map((p) => prefix + p), missingPlaceholders: missing };
  }
  return { ok: true, template: { kind, comments, system, user, placeholders: [...all].sort() } };
}

function checkScale(scale: ScoreScale, what = 'score scale'): void {
  if (!Number.isInteger(scale.min) || !Number.isInteger(scale.max) || scale.min >= scale.max) {
    throw new PromptRenderError(`invalid ${what} ${scale.min}..${scale.max}: need integers with min < max`);
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

type Values = Partial<Record<PlaceholderName, string>>;

function valueOf(values: Values, name: PlaceholderName): string {
  const value = values[name];
  // Unreachable for a template parsed with its kind: parseTemplate rejects placeholders of other kinds.
  if (value === undefined) throw new PromptRenderError(`no value for placeholder {{${name}}}`);
  return value;
}

function renderNodes(nodes: TemplateNode[], values: Values): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'value') out += valueOf(values, node.name);
    else if (valueOf(values, node.name).trim() !== '') out += renderNodes(node.children, values);
  }
  return out;
}

function usesValue(nodes: TemplateNode[], name: PlaceholderName): boolean {
  return nodes.some((n) => (n.kind === 'value' && n.name === name) || (n.kind === 'section' && usesValue(n.children, name)));
}

function literalText(nodes: TemplateNode[]): string {
  return nodes.map((n) => (n.kind === 'text' ? n.text : n.kind === 'section' ? literalText(n.children) : '')).join('');
}

function checkKind(template: Template, expected: TemplateKind, fn: string): void {
  if (template.kind !== expected) {
    throw new PromptRenderError(`${fn} needs a ${expected} template, got a ${template.kind} template`);
  }
}

/** The marker must be non-empty and shown to the judge, as `{{marker}}` or as its literal text. */
function checkMarker(template: Template, marker: string): void {
  if (marker.trim() === '') throw new PromptRenderError('marker must not be empty');
  const mentionsMarker =
    usesValue(template.system, 'marker') ||
    usesValue(template.user, 'marker') ||
    literalText(template.system).includes(marker) ||
    literalText(template.user).includes(marker);
  if (!mentionsMarker) {
    throw new PromptRenderError(`the template never shows the judge the marker "${marker}" (use {{marker}})`);
  }
}

/** Renders both parts and places the system text (see `renderPointwise`). */
function renderMessages(template: Template, values: Values, systemPlacement: 'system' | 'user'): ChatMessage[] {
  const systemText = renderNodes(template.system, values).trim();
  const userText = renderNodes(template.user, values).trim();
  if (systemText === '') return [{ role: 'user', content: userText }];
  if (systemPlacement === 'user') return [{ role: 'user', content: `${systemText}\n\n${userText}` }];
  return [
    { role: 'system', content: systemText },
    { role: 'user', content: userText },
  ];
}

/**
 * The values a pointwise or meta template reads from the judged input, the rubric on the judge's scale.
 * The whole rubric is always rendered, so a rubric lacking a level fails whichever form the template uses.
 */
function inputValues(example: PointwisePromptInput, scale: ScoreScale): Values {
  return {
    instruction: example.instruction,
    response: example.response,
    reference_answer: example.reference_answer ?? '',
    rubric: renderRubric(example.rubric, scale),
    criteria: example.rubric.criteria.trim(),
    score_descriptions: renderScoreDescriptions(example.rubric, scale),
  };
}

/**
 * Renders a pointwise template for one example. Returns `[system, user]`, or `[user]` when the system text
 * goes into the user turn (`systemPlacement: 'user'`, system text first, a blank line between) or is empty.
 * Throws `PromptRenderError` for a rubric lacking a level of the scale, an invalid scale, a template of
 * another kind, or a template that never tells the judge the marker (neither `{{marker}}` nor the marker's
 * literal text appears in it).
 */
export function renderPointwise(template: Template, example: PointwisePromptInput, options: RenderOptions): ChatMessage[] {
  const { scale, marker, systemPlacement } = options;
  checkKind(template, 'pointwise', 'renderPointwise');
  checkScale(scale);
  checkMarker(template, marker);
  const values: Values = {
    ...inputValues(example, scale),
    score_min: String(scale.min),
    score_max: String(scale.max),
    marker,
  };
  return renderMessages(template, values, systemPlacement);
}

/**
 * Renders a pairwise template: the instruction, response A, response B, the criterion (defaulting to
 * `DEFAULT_PAIRWISE_CRITERIA`) and the optional reference answer. The judge answers
 * `<rationale> <marker> A` or `... B` (`parsePairwiseVerdict` in core/judgment.ts). Which response is A is
 * the caller's choice (a seeded swap; record it).
 */
export function renderPairwise(template: Template, example: PairwisePromptInput, options: PairwiseRenderOptions): ChatMessage[] {
  checkKind(template, 'pairwise', 'renderPairwise');
  checkMarker(template, options.marker);
  const criteria = example.criteria?.trim() ? example.criteria.trim() : DEFAULT_PAIRWISE_CRITERIA;
  const values: Values = {
    instruction: example.instruction,
    response_a: example.response_a,
    response_b: example.response_b,
    criteria,
    reference_answer: example.reference_answer ?? '',
    marker: options.marker,
  };
  return renderMessages(template, values, options.systemPlacement);
}

/**
 * Renders a meta-judge template: the judged input (rubric on the judge's `scale`) and one judgment of it;
 * `{{score_min}}`/`{{score_max}}` are the rating scale (`ratingScale`, default `META_SCALE`), which the
 * generation job must decode (its score_min/score_max). `{{judgment}}` is the judgment in canonical form,
 * `<rationale> <marker> <score>`; `{{judgment_rationale}}` and `{{judgment_score}}` are its two parts.
 */
export function renderMeta(template: Template, example: MetaPromptInput, options: MetaRenderOptions): ChatMessage[] {
  const { scale, marker, systemPlacement } = options;
  const ratingScale = options.ratingScale ?? META_SCALE;
  checkKind(template, 'meta', 'renderMeta');
  checkScale(scale);
  checkScale(ratingScale, 'rating scale');
  checkMarker(template, marker);
  const { rationale, score } = example.judgment;
  if (rationale.trim() === '') throw new PromptRenderError('the judgment to rate has an empty rationale');
  if (!Number.isInteger(score)) throw new PromptRenderError(`the judgment to rate has a non-integer score ${score}`);
  const values: Values = {
    ...inputValues(example, scale),
    judgment: `${rationale.trim()} ${marker} ${score}`,
    judgment_rationale: rationale.trim(),
    judgment_score: String(score),
    score_min: String(ratingScale.min),
    score_max: String(ratingScale.max),
    marker,
  };
  return renderMessages(template, values, systemPlacement);
}
