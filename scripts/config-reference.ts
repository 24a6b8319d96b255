/**
 * The configuration reference, docs/config-reference.md, generated from the run config's zod schema
 * (core/config/config.ts) through zod 4's JSON Schema export, so the page cannot drift from what `validate` accepts.
 *
 *   node --import tsx scripts/config-reference.ts           print the page
 *   node --import tsx scripts/config-reference.ts --write   write docs/config-reference.md (npm run config-reference)
 *   node --import tsx scripts/config-reference.ts --check   exit 1 when the committed page is out of date
 *
 * The JSON Schema is taken on the input side (`io: 'input'`): a key with a default is optional, and `required`
 * lists what a config file must give. Every field needs a description (`.describe()` in the schema): a field
 * without one stops the generator, so a new key cannot reach the page undocumented. test/unit/config-reference.test.ts
 * fails when the committed page differs from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RunConfig } from '../core/config/config';

type Node = z.core.JSONSchema.JSONSchema;

export const REGENERATE = 'npm run config-reference';
export const PAGE_PATH = 'docs/config-reference.md';
const ROOT = path.resolve(__dirname, '..');

interface Row {
  path: string;
  type: string;
  default: string;
  required: boolean;
  description: string;
}

/** One object's fields; `title` is its heading (absent for a section's own object, which sits under the section's). */
interface Table {
  title?: string;
  anchor: string;
  description?: string;
  rows: Row[];
  /** Whether the table is of the field that leads to it (not of an object nested deeper): the field's row links it. */
  direct?: boolean;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function code(text: string): string {
  return '`' + text + '`';
}

/** Table cells hold one line, and a `|` would end the cell (GitHub honours `\|` inside code spans too). */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function isObject(node: Node): boolean {
  return node.type === 'object' && node.properties !== undefined;
}

/** The alternatives of a union of objects (a discriminated union such as `backend`), else undefined. */
function objectVariants(node: Node): Node[] | undefined {
  const list = node.oneOf ?? node.anyOf;
  return list !== undefined && list.length > 0 && list.every(isObject) ? list : undefined;
}

function arrayItems(node: Node): Node | undefined {
  if (node.type !== 'array' || node.items === undefined) return undefined;
  if (typeof node.items === 'boolean' || Array.isArray(node.items)) throw new Error(`unsupported array items: ${JSON.stringify(node.items)}`);
  return node.items;
}

/** The key whose constant value tells a union's variants apart (`kind`, `name`). */
function discriminator(variants: Node[]): string {
  const first = variants[0].properties ?? {};
  const key = Object.keys(first).find((k) => variants.every((v) => asNode(v.properties?.[k]).const !== undefined));
  if (key === undefined) throw new Error('a union of objects without a constant key to tell them apart');
  return key;
}

function asNode(value: z.core.JSONSchema._JSONSchema | undefined): Node {
  if (value === undefined) return {};
  if (typeof value === 'boolean') throw new Error('boolean schemas are not expected in the run config');
  return value;
}

/** A value as a config gives it: strings bare, small numbers as 1e-5 (as configs write learning rates), the rest JSON. */
function value(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && v !== 0 && Math.abs(v) < 1e-3) return v.toExponential();
  return JSON.stringify(v);
}

const SAFE = Number.MAX_SAFE_INTEGER;

/** `> 0`, `≤ 9`, `in [0, 20]`, `in (0, 1]`; zod's safe-integer bounds on every integer are left out. */
function range(node: Node): string {
  const lower =
    typeof node.exclusiveMinimum === 'number'
      ? { at: node.exclusiveMinimum, closed: false }
      : typeof node.minimum === 'number' && node.minimum > -SAFE
        ? { at: node.minimum, closed: true }
        : undefined;
  const upper =
    typeof node.exclusiveMaximum === 'number'
      ? { at: node.exclusiveMaximum, closed: false }
      : typeof node.maximum === 'number' && node.maximum < SAFE
        ? { at: node.maximum, closed: true }
        : undefined;
  if (lower && upper) return ` in ${lower.closed ? '[' : '('}${lower.at}, ${upper.at}${upper.closed ? ']' : ')'}`;
  if (lower) return ` ${lower.closed ? '≥' : '>'} ${lower.at}`;
  if (upper) return ` ${upper.closed ? '≤' : '<'} ${upper.at}`;
  return '';
}

function count(min: number | undefined, max: number | undefined, unit: string): string {
  if (min !== undefined && max !== undefined) return `${min}–${max} ${unit}`;
  if (min !== undefined) return `at least ${min} ${unit}`;
  if (max !== undefined) return `at most ${max} ${unit}`;
  return '';
}

function stringType(node: Node): string {
  if (node.format === 'uri') return 'URL';
  if (node.pattern !== undefined) return `string matching ${code(node.pattern)}`;
  if (node.minLength === 1 && node.maxLength === undefined) return 'non-empty string';
  const length = count(node.minLength, node.maxLength, 'characters');
  return length ? `string of ${length}` : 'string';
}

/** A readable type: enums listed, number ranges, lists with their item type, unions, maps. */
function typeText(node: Node, where: string): string {
  if (node.const !== undefined) return code(value(node.const));
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => code(value(v))).join(', ')}`;
  if (objectVariants(node)) return 'object';
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives !== undefined) return alternatives.map((a) => typeText(a, where)).join(', or ');
  switch (node.type) {
    case 'string':
      return stringType(node);
    case 'integer':
    case 'number':
      return node.type + range(node);
    case 'boolean':
      return 'boolean';
    case 'array': {
      const items = arrayItems(node);
      const size = count(node.minItems, node.maxItems, node.minItems === 1 && node.maxItems === undefined ? 'item' : 'items');
      const of = items === undefined ? 'anything' : isObject(items) || objectVariants(items) ? 'objects' : typeText(items, `${where}[]`);
      return `list${size ? ` (${size})` : ''} of ${of}`;
    }
    case 'object': {
      if (node.properties !== undefined) return 'object';
      const values = node.additionalProperties;
      if (values === undefined || typeof values === 'boolean') return 'object';
      const keys = node.propertyNames === undefined ? 'string' : typeText(asNode(node.propertyNames), where);
      return `map from ${keys} to ${typeText(values, where)}`;
    }
    default:
      throw new Error(`${where}: no readable type for the schema ${JSON.stringify(node)}`);
  }
}

function described(node: Node, where: string): string {
  const text = node.description?.trim();
  if (!text) throw new Error(`${where} has no description: add .describe('…') to it in the schema (core/config/config.ts or the module it comes from)`);
  return text;
}

function row(fieldPath: string, node: Node, required: boolean, nested: Table[]): Row {
  const links = nested.filter((t) => t.direct && t.title !== undefined).map((t) => `[${t.title}](#${t.anchor})`);
  return {
    path: fieldPath,
    type: typeText(node, fieldPath) + (links.length > 0 ? `: see ${links.join(', ')}` : ''),
    default: node.default === undefined ? '' : code(value(node.default)),
    required,
    description: described(node, fieldPath),
  };
}

/** The tables of an object's fields: its own first, then those of the objects nested in it, depth first. */
function objectTables(objectPath: string, node: Node, title: string | undefined, description: string | undefined): Table[] {
  const required = new Set(node.required ?? []);
  const own: Table = { title, anchor: title === undefined ? '' : slug(title), description, rows: [] };
  const later: Table[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const childPath = objectPath ? `${objectPath}.${key}` : key;
    const childNode = asNode(child);
    const nested = nestedTables(childPath, childNode);
    own.rows.push(row(childPath, childNode, required.has(key), nested));
    // Direct to this field, not to this object's own field.
    later.push(...nested.map((t) => ({ ...t, direct: false })));
  }
  return [own, ...later];
}

/** The tables an object-valued field leads to: the object, each variant of a union, a list's item object. */
function nestedTables(fieldPath: string, node: Node): Table[] {
  const variants = objectVariants(node);
  if (variants) {
    const key = discriminator(variants);
    const perVariant = variants.map((v) => {
      const tag = value(asNode(v.properties?.[key]).const);
      const variant = code(`${key}: ${tag}`);
      return { variant, tables: markDirect(objectTables(fieldPath, v, `${code(fieldPath)} with ${variant}`, described(v, `${fieldPath} (${key}: ${tag})`))) };
    });
    // A nested object that several variants have (backend.sharding) gets one table per variant, each titled
    // with its variant: their defaults may differ, and each heading needs an anchor of its own.
    const titles = perVariant.flatMap((p) => p.tables.map((t) => t.title));
    const shared = new Set(titles.filter((t, i) => t !== undefined && titles.indexOf(t) !== i));
    return perVariant.flatMap(({ variant, tables }) => {
      const renamed = new Map<string, string>();
      const retitled = tables.map((t) => {
        if (t.title === undefined || !shared.has(t.title)) return t;
        const title = `${t.title} with ${variant}`;
        renamed.set(t.anchor, slug(title));
        return { ...t, title, anchor: slug(title) };
      });
      // The rows that link to a retitled table link to its new anchor.
      const relink = (type: string) => type.replace(/\]\(#([^)]+)\)/g, (whole, anchor: string) => (renamed.has(anchor) ? `](#${renamed.get(anchor)})` : whole));
      return retitled.map((t) => ({ ...t, rows: t.rows.map((r) => ({ ...r, type: relink(r.type) })) }));
    });
  }
  if (isObject(node)) return markDirect(objectTables(fieldPath, node, code(fieldPath), node.description));
  const items = arrayItems(node);
  return items === undefined ? [] : nestedTables(`${fieldPath}[]`, items);
}

/** objectTables lists the object's own table first. */
function markDirect(tables: Table[]): Table[] {
  return tables.map((t, i) => (i === 0 ? { ...t, direct: true } : t));
}

function renderTable(table: Table): string[] {
  const lines: string[] = [];
  if (table.title !== undefined) {
    lines.push(`### ${table.title}`, '');
    if (table.description) lines.push(table.description, '');
  }
  lines.push('| key | type | default | required | description |', '| --- | --- | --- | --- | --- |');
  for (const r of table.rows) {
    lines.push(`| ${[code(r.path), r.type, r.default || '—', r.required ? 'required' : 'optional', r.description].map(cell).join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

/** The JSON Schema the page is rendered from: input side, so defaulted keys are optional. */
export function configJsonSchema(schema: z.ZodType = RunConfig): Node {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' });
}

/** The whole page, from `schema` (the run config unless a test passes another). */
export function renderConfigReference(schema: z.ZodType = RunConfig): string {
  const root = configJsonSchema(schema);
  if (!isObject(root)) throw new Error('the config schema is not an object');
  const required = new Set(root.required ?? []);
  const sections = Object.entries(root.properties ?? {}).map(([key, child]) => {
    const node = asNode(child);
    const description = described(node, key);
    const tables = isObject(node)
      ? objectTables(key, node, undefined, undefined)
      : ((nested) => [{ anchor: '', rows: [row(key, node, required.has(key), nested)] }, ...nested])(nestedTables(key, node));
    const status = required.has(key)
      ? 'Required.'
      : node.default === undefined
        ? 'Optional.'
        : `Optional; default ${code(value(node.default))}${isObject(node) && JSON.stringify(node.default) === '{}' ? ' (every key at its default)' : ''}.`;
    return { key, description, status, tables };
  });

  const anchors = new Set<string>();
  for (const s of sections) {
    for (const a of [slug(code(s.key)), ...s.tables.filter((t) => t.title !== undefined).map((t) => t.anchor)]) {
      // GitHub would number a repeated heading's anchor; the links here assume each one is unique.
      if (anchors.has(a)) throw new Error(`two headings share the anchor #${a}`);
      anchors.add(a);
    }
  }

  const lines = [
    '# Configuration reference',
    '',
    `> Generated from the run config's zod schema (\`core/config/config.ts\`) by \`scripts/config-reference.ts\`: do not edit it by hand; regenerate it with \`${REGENERATE}\`.`,
    '',
    'Every key of a run config, section by section, with its type, default and whether a config must give it.',
    'How the keys work together, examples, the rules that span several keys and the prompt templates and',
    'datasets are in [configuration.md](configuration.md).',
    '',
    'Conventions: paths are written from the top of the config (`judge.decoding.mode`); `[]` stands for each item of',
    'a list (`data.evalSuites[].name`). A range `[a, b]` includes both ends, `(a, b]` leaves out `a`. "optional"',
    'with no default means the key is unset unless given (the description says what that means). Unknown keys',
    'are errors.',
    '',
    '## Sections',
    '',
    ...sections.map((s) => `- [${code(s.key)}](#${slug(code(s.key))}): ${s.description}`),
    '',
  ];
  for (const s of sections) {
    lines.push(`## ${code(s.key)}`, '', s.description, '', s.status, '');
    for (const t of s.tables) lines.push(...renderTable(t));
  }
  return lines.join('\n').replace(/\n+$/, '\n');
}

/** Whether the page at `file` is what the schema renders; the message says how to bring it up to date. */
export function checkPage(file: string = path.join(ROOT, PAGE_PATH)): { ok: boolean; message: string } {
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = undefined;
  }
  const shown = path.relative(ROOT, file) || file;
  if (current === renderConfigReference()) return { ok: true, message: `${shown} is up to date` };
  return {
    ok: false,
    message: `${shown} ${current === undefined ? 'is missing' : 'is out of date with the config schema (core/config/config.ts)'}: run \`${REGENERATE}\` and commit the result`,
  };
}

function main(args: string[]): void {
  const known = ['--write', '--check'];
  const unknown = args.filter((a) => !known.includes(a));
  if (unknown.length > 0 || args.length > 1) {
    process.stderr.write(`usage: node --import tsx scripts/config-reference.ts [--write | --check] (got ${args.join(' ')})\n`);
    process.exit(2);
  }
  if (args[0] === '--write') {
    writeFileSync(path.join(ROOT, PAGE_PATH), renderConfigReference());
    process.stdout.write(`wrote ${PAGE_PATH}\n`);
  } else if (args[0] === '--check') {
    const { ok, message } = checkPage();
    (ok ? process.stdout : process.stderr).write(message + '\n');
    process.exit(ok ? 0 : 1);
  } else {
    process.stdout.write(renderConfigReference());
  }
}

if (require.main === module) main(process.argv.slice(2));
