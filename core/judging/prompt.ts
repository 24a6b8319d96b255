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
 *
 * The parts are mustache templates (a subset of its syntax), rendered by mustache without HTML escaping.
 * Ours on top: the file format around them, a strict scan that reports every problem at once with
 * per-kind placeholder rules, and the section rule that a whitespace-only value counts as empty.
 */

import Mustache from 'mustache';
import type { Context, OpeningAndClosingTags, PartialsOrLookupFn, RenderOptions as MustacheRenderOptions, TemplateSpans } from 'mustache';
import type { ChatMessage } from '../data/records';

export type { ChatMessage };

/**
 * A rubric: the criterion plus one description per score level, in fields `score<level>` (`score1` …
 * `score5` for the default 1–5 scale, as in the canonical `Rubric` of core/data/records.ts). Typed loosely
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

/** A parsed template. Plain data (JSON-serialisable), so it may cross an activity boundary. */
export interface Template {
  /** What the template renders: checked by the render functions. */
  kind: TemplateKind;
  /** The header comment lines, without their leading `#`, trimmed. */
  comments: string[];
  /**
   * The system part's mustache template, checked by `parseTemplate` and trimmed. Empty when the template
   * has no system section (then no system text is rendered).
   */
  system: string;
  /** The user part's mustache template, checked and trimmed. */
  user: string;
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
/** Always passed explicitly: `Mustache.tags` is global and mutable. */
const MUSTACHE_TAGS: OpeningAndClosingTags = ['{{', '}}'];

/**
 * Joins lines back, dropping the line break of a line that holds only a section tag: the text the strict scan
 * reads, so that its messages (the malformed-tag snippets) quote the text as they always did. Mustache
 * applies the same rule itself when rendering (`checkMustacheReading` makes sure it is the same rule).
 */
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

/** What the strict scan of one part found: the placeholders it uses, and those outside any section. */
interface PartScan {
  used: Set<PlaceholderName>;
  topLevel: Set<PlaceholderName>;
  /** Whether the scan reported a problem in this part. */
  clean: boolean;
}

/**
 * The strict scan of one part, in front of mustache: our syntax is a subset of mustache's (only `{{name}}`,
 * `{{#name}}` and `{{/name}}`; mustache would also take `{{ name }}`, `{{^name}}`, `{{&name}}`, `{{!...}}`,
 * partials and delimiter changes) and mustache stops at the first unbalanced section, whereas a template's
 * author gets every problem at once: unknown or misplaced placeholders, unbalanced or malformed tags.
 */
function scanPart(body: string, where: string, kind: TemplateKind, problems: string[]): PartScan {
  const before = problems.length;
  const allowed: readonly string[] = TEMPLATE_KIND_SPECS[kind].allowed;
  const isAllowed = (name: string): name is PlaceholderName => allowed.includes(name);
  const used = new Set<PlaceholderName>();
  const topLevel = new Set<PlaceholderName>();
  const open: string[] = [];
  const checkText = (text: string): void => {
    const stray = text.search(/\{\{|\}\}/);
    if (stray >= 0) {
      const snippet = text.slice(Math.max(0, stray - 10), stray + 20);
      problems.push(`${where}: malformed tag near "${snippet}" (use {{name}}, {{#name}} or {{/name}})`);
    }
  };

  const source = removeStandaloneTagLines(body);
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    const index = match.index ?? 0;
    checkText(source.slice(last, index));
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
      used.add(name);
      open.push(name);
    } else if (sigil === '/') {
      const innermost = open[open.length - 1];
      if (innermost === undefined) problems.push(`${where}: {{/${name}}} closes a section that was never opened`);
      else if (innermost !== name) problems.push(`${where}: {{/${name}}} closes {{#${innermost}}}`);
      else open.pop();
    } else {
      used.add(name);
      // Values inside a section may vanish, so they do not satisfy a requirement.
      if (open.length === 0) topLevel.add(name);
    }
  }
  checkText(source.slice(last));
  for (const name of open) problems.push(`${where}: {{#${name}}} is never closed`);
  return { used, topLevel, clean: problems.length === before };
}

/** `U+00A0` for a character. */
function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * For a part the strict scan found clean: the few layouts our syntax and mustache read differently, so
 * that every accepted template renders exactly as before mustache. Mustache removes every line that holds
 * section tags and any whitespace only; ours removes a line holding one section tag and spaces or tabs only
 * (prompts/README.md), and a `{` right before a tag opens mustache's `{{{name}}}`. Then mustache parses the
 * part; its tags must be the scan's.
 */
function checkMustacheReading(body: string, where: string, firstLine: number, problems: string[]): void {
  const before = problems.length;
  body.split('\n').forEach((line, i) => {
    const tags = [...line.matchAll(TAG)].map((m) => m[0]);
    const rest = line.replace(TAG, '');
    if (tags.length === 0 || tags.some((t) => !/^\{\{[#/]/.test(t)) || /\S/.test(rest) || STANDALONE_SECTION_TAG.test(line)) return;
    const at = `${where}: line ${firstLine + i}`;
    if (tags.length > 1) {
      problems.push(`${at} holds nothing but the section tags ${tags.join('')}: put each on a line of its own (a section tag alone on its line removes the line) or add text to the line`);
    } else {
      const odd = [...rest].find((c) => c !== ' ' && c !== '\t')!;
      problems.push(`${at}: only spaces and tabs may stand beside a section tag alone on its line, found ${codePoint(odd)} beside ${tags[0]}`);
    }
  });
  for (const match of body.matchAll(TAG)) {
    const index = match.index ?? 0;
    if (body[index - 1] === '{') {
      const at = `${where}: line ${firstLine + body.slice(0, index).split('\n').length - 1}`;
      problems.push(`${at}: "{" right before ${match[0]} reads as mustache's triple-brace tag "{{{": put a space between them`);
    }
  }
  if (problems.length > before) return;
  let tokens: TemplateSpans;
  try {
    tokens = tokensOf(body);
  } catch (e) {
    // Unreachable after a clean scan; kept so that a disagreement is a problem report, not a crash.
    problems.push(`${where}: ${(e as Error).message}`);
    return;
  }
  const seen = tagsOf(tokens).join('');
  const scanned = [...body.matchAll(TAG)].map((m) => m[0]).join('');
  // Unreachable as well: the checks above cover every way the two readings differ.
  if (seen !== scanned) problems.push(`${where}: mustache reads the tags as ${seen}, not ${scanned}`);
}

/** The tags of a mustache token tree, in template order, as written (`{{#a}}`, `{{b}}`, `{{/a}}`). */
function tagsOf(tokens: TemplateSpans): string[] {
  return tokens.flatMap((token): string[] => {
    const [type, name] = token;
    if (type === 'text') return [];
    if (type === 'name') return [`{{${name}}}`];
    if (type === '#') return [`{{#${name}}}`, ...tagsOf(sectionBody(token)), `{{/${name}}}`];
    return [`{{${type}${name}}}`];
  });
}

/** A part's lines joined and trimmed, and the file line the trimmed text starts on. */
function trimPart(lines: string[] = [], headerNext = 1): { text: string; firstLine: number } {
  const raw = lines.join('\n');
  const skipped = raw.slice(0, raw.length - raw.trimStart().length);
  return { text: raw.trim(), firstLine: headerNext + skipped.split('\n').length - 1 };
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
  /** The file line (1-based) after each part's header, for messages that point into a part. */
  const bodyLine: Partial<Record<'system' | 'user', number>> = {};
  let part: 'system' | 'user' | null = null;

  lines.forEach((line, i) => {
    const header = SECTION_HEADER.exec(line);
    if (header) {
      const name = header[1] as 'system' | 'user';
      if (bodies[name]) problems.push(`line ${i + 1}: a second "=== ${name} ===" section`);
      bodies[name] = [];
      bodyLine[name] = i + 2;
      part = name;
    } else if (part === null) {
      if (line.trim().startsWith('#')) comments.push(line.trim().replace(/^#+/, '').trim());
      else if (line.trim() !== '') problems.push(`line ${i + 1}: text before the first "=== system ===" or "=== user ===" line`);
    } else {
      bodies[part]!.push(line);
    }
  });

  if (!bodies.user) problems.push('no "=== user ===" section');
  const parts = { system: trimPart(bodies.system, bodyLine.system), user: trimPart(bodies.user, bodyLine.user) };
  if (bodies.user && parts.user.text === '') problems.push('the user section is empty');

  const all = new Set<PlaceholderName>();
  const topLevel = new Set<PlaceholderName>();
  for (const name of ['system', 'user'] as const) {
    const { text, firstLine } = parts[name];
    const scan = scanPart(text, name, kind, problems);
    scan.used.forEach((n) => all.add(n));
    scan.topLevel.forEach((n) => topLevel.add(n));
    if (scan.clean && text !== '') checkMustacheReading(text, name, firstLine, problems);
  }

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
  return { ok: true, template: { kind, comments, system: parts.system.text, user: parts.user.text, placeholders: [...all].sort() } };
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

/** Prompts are plain text: mustache's default escaping would turn `<`, `&` and quotes into HTML entities. */
const VERBATIM: MustacheRenderOptions = { tags: MUSTACHE_TAGS, escape: (value: string) => value };

/**
 * Mustache's writer with our section rule: a section renders when its value holds non-whitespace text
 * (mustache keeps a section for any non-empty string, so a reference answer of spaces would keep its
 * heading). Its cache holds each distinct part once: a run uses a handful of templates.
 */
class PromptWriter extends Mustache.Writer {
  override renderSection(token: string[], context: Context, partials?: PartialsOrLookupFn, originalTemplate?: string, config?: MustacheRenderOptions): string {
    const value: unknown = context.lookup(token[1]);
    if (typeof value !== 'string' || value.trim() === '') return '';
    return super.renderSection(token, context, partials, originalTemplate, config);
  }
}

const writer = new PromptWriter();

function tokensOf(part: string): TemplateSpans {
  return Mustache.parse(part, MUSTACHE_TAGS);
}

function sectionBody(token: TemplateSpans[number]): TemplateSpans {
  const nested = (token as unknown[])[4];
  return Array.isArray(nested) ? (nested as TemplateSpans) : [];
}

/** Every name a part's tokens read, as a value or as a section. */
function namesIn(tokens: TemplateSpans): string[] {
  return tokens.flatMap((t) => (t[0] === 'name' ? [t[1]] : t[0] === '#' ? [t[1], ...namesIn(sectionBody(t))] : []));
}

function usesValue(tokens: TemplateSpans, name: PlaceholderName): boolean {
  return tokens.some((t) => (t[0] === 'name' && t[1] === name) || (t[0] === '#' && usesValue(sectionBody(t), name)));
}

function literalText(tokens: TemplateSpans): string {
  return tokens.map((t) => (t[0] === 'text' ? t[1] : t[0] === '#' ? literalText(sectionBody(t)) : '')).join('');
}

function checkKind(template: Template, expected: TemplateKind, fn: string): void {
  if (template.kind !== expected) {
    throw new PromptRenderError(`${fn} needs a ${expected} template, got a ${template.kind} template`);
  }
}

/** The marker must be non-empty and shown to the judge, as `{{marker}}` or as its literal text. */
function checkMarker(template: Template, marker: string): void {
  if (marker.trim() === '') throw new PromptRenderError('marker must not be empty');
  const parts = [tokensOf(template.system), tokensOf(template.user)];
  const mentionsMarker = parts.some((tokens) => usesValue(tokens, 'marker') || literalText(tokens).includes(marker));
  if (!mentionsMarker) {
    throw new PromptRenderError(`the template never shows the judge the marker "${marker}" (use {{marker}})`);
  }
}

/** Renders both parts and places the system text (see `renderPointwise`). */
function renderMessages(template: Template, values: Values, systemPlacement: 'system' | 'user'): ChatMessage[] {
  for (const part of [template.system, template.user]) {
    for (const name of namesIn(tokensOf(part))) {
      // Unreachable for a template parsed with its kind: parseTemplate rejects placeholders of other kinds.
      if (values[name as PlaceholderName] === undefined) throw new PromptRenderError(`no value for placeholder {{${name}}}`);
    }
  }
  const systemText = writer.render(template.system, values, undefined, VERBATIM).trim();
  const userText = writer.render(template.user, values, undefined, VERBATIM).trim();
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
 * `<rationale> <marker> A` or `... B` (`parsePairwiseVerdict` in core/judging/judgment.ts). Which response is A is
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
