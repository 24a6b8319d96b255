/**
 * Annotators' answer files for a blind review (core/review/human-review.ts), in either form:
 * - JSON, what the review page saves: `{ reviewId, annotator, answers: [{ item_id, choice, comment? }] }`
 *   (other fields are ignored);
 * - CSV, the answer sheet: a header with `item_id` and `choice` columns (`comment` and `annotator` optional,
 *   any other column, such as the texts the exported sheet carries, ignored), one row per item.
 *
 * `choice` is A, B or tie, case-insensitive. What counts as an error (the whole file is rejected, with every
 * problem listed by file and line or answer index, so that it can be fixed in one go):
 * - an unknown item id (not in the review's key), an item answered twice, a choice other than A/B/tie;
 * - a JSON answer file for another review (`reviewId`), or no annotator name;
 * - a CSV without the `item_id` / `choice` header, or with two different `annotator` values;
 * - a file that answers nothing.
 * What is only counted: an item left blank (empty choice; the exported sheet starts that way), in `blank`,
 * and items of the review not answered at all (aggregation reports them per annotator).
 *
 * The CSV's annotator is its `annotator` column when filled in, else the file name without its extension
 * (`carol.csv` → carol). Pure: the caller reads the file and passes its name and text.
 */
import { CsvSyntaxError, parseCsv } from './csv';

export const REVIEW_CHOICES = ['A', 'B', 'tie'] as const;
export type ReviewChoice = (typeof REVIEW_CHOICES)[number];

export interface ReviewAnswer {
  itemId: string;
  choice: ReviewChoice;
  comment?: string;
}

/** One annotator's answers, as read from one file. */
export interface AnswerSheet {
  /** The file the answers came from. */
  source: string;
  annotator: string;
  answers: ReviewAnswer[];
  /** Items listed with an empty choice (left unanswered). */
  blank: number;
}

/** What a file is checked against: the review's id and its items (from the key). */
export interface AnswerContext {
  reviewId: string;
  itemIds: ReadonlySet<string>;
}

export class AnswerFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    const shown = problems.slice(0, MAX_SHOWN);
    const more = problems.length > MAX_SHOWN ? [`  … and ${problems.length - MAX_SHOWN} more`] : [];
    super([`${source}: ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:`, ...shown.map((p) => `  ${p}`), ...more].join('\n'));
    this.name = 'AnswerFileError';
  }
}

const MAX_SHOWN = 20;

/** A, B or tie in any case; null for an empty value; undefined when invalid. */
export function parseChoice(raw: string): ReviewChoice | null | undefined {
  const v = raw.trim().toLowerCase();
  if (v === '') return null;
  if (v === 'a') return 'A';
  if (v === 'b') return 'B';
  if (v === 'tie') return 'tie';
  return undefined;
}

/** The annotator name a file name implies: its base name without the extension. */
export function annotatorFromFileName(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? source;
  return base.replace(/\.[^.]*$/, '');
}

/** Reads an answer file by its extension (`.csv` as CSV, anything else as JSON). */
export function parseAnswerFile(source: string, text: string, context: AnswerContext): AnswerSheet {
  return /\.csv$/i.test(source) ? parseAnswersCsv(source, text, context) : parseAnswersJson(source, text, context);
}

/** Collects answers, checking ids and duplicates; `where` names the row for messages. */
class Collector {
  readonly answers: ReviewAnswer[] = [];
  readonly problems: string[] = [];
  blank = 0;
  private readonly seen = new Map<string, string>();

  constructor(private readonly context: AnswerContext) {}

  add(where: string, itemId: string, rawChoice: string, comment: string | undefined): void {
    const id = itemId.trim();
    if (id === '') {
      this.problems.push(`${where}: item_id is empty`);
      return;
    }
    if (!this.context.itemIds.has(id)) {
      this.problems.push(`${where}: item_id "${id}" is not an item of review ${this.context.reviewId}`);
      return;
    }
    const choice = parseChoice(rawChoice);
    if (choice === undefined) {
      this.problems.push(`${where}: choice "${rawChoice}" for item "${id}" is not A, B or tie`);
      return;
    }
    const first = this.seen.get(id);
    if (first !== undefined) {
      this.problems.push(`${where}: item "${id}" is answered twice (first at ${first})`);
      return;
    }
    this.seen.set(id, where);
    if (choice === null) {
      this.blank++;
      return;
    }
    const c = comment?.trim();
    this.answers.push({ itemId: id, choice, ...(c ? { comment: c } : {}) });
  }

  finish(source: string, annotator: string): AnswerSheet {
    if (this.problems.length === 0 && this.answers.length === 0) {
      this.problems.push(`no item is answered${this.blank ? ` (${this.blank} left blank)` : ''}: fill in the choice column (A, B or tie)`);
    }
    if (this.problems.length) throw new AnswerFileError(source, this.problems);
    return { source, annotator, answers: this.answers, blank: this.blank };
  }
}

export function parseAnswersCsv(source: string, text: string, context: AnswerContext): AnswerSheet {
  let records;
  try {
    records = parseCsv(text);
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new AnswerFileError(source, [`not valid CSV: ${e.message}`]);
    throw e;
  }
  const [header, ...rows] = records;
  if (!header) throw new AnswerFileError(source, ['the file is empty; expected a header line "item_id,choice,comment"']);
  const columns = header.fields.map((f) => f.trim().toLowerCase());
  const col = (name: string) => columns.indexOf(name);
  const [idCol, choiceCol, commentCol, annotatorCol] = [col('item_id'), col('choice'), col('comment'), col('annotator')];
  if (idCol < 0 || choiceCol < 0) {
    const missing = [idCol < 0 ? 'item_id' : null, choiceCol < 0 ? 'choice' : null].filter(Boolean).join(' and ');
    throw new AnswerFileError(source, [`line ${header.line}: the header has no ${missing} column (expected "item_id,choice,comment"; found "${header.fields.join(',')}")`]);
  }
  const collector = new Collector(context);
  const annotators = new Set<string>();
  for (const row of rows) {
    const where = `line ${row.line}`;
    const get = (i: number) => (i >= 0 && i < row.fields.length ? row.fields[i] : '');
    // Spreadsheets export trailing empty rows as ",,,": nothing to read there.
    if (row.fields.every((f) => f.trim() === '')) continue;
    const name = get(annotatorCol).trim();
    if (name) annotators.add(name);
    collector.add(where, get(idCol), get(choiceCol), commentCol >= 0 ? get(commentCol) : undefined);
  }
  if (annotators.size > 1) {
    collector.problems.push(`the annotator column names ${[...annotators].map((a) => `"${a}"`).join(', ')}: one file holds one annotator's answers`);
  }
  const annotator = [...annotators][0] ?? annotatorFromFileName(source);
  if (!annotator) collector.problems.push('no annotator: fill in the annotator column or name the file after the annotator');
  return collector.finish(source, annotator);
}

export function parseAnswersJson(source: string, text: string, context: AnswerContext): AnswerSheet {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new AnswerFileError(source, [`not valid JSON (${(e as Error).message}); a review page saves {"reviewId", "annotator", "answers": [...]}`]);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new AnswerFileError(source, ['expected a JSON object {"reviewId", "annotator", "answers": [...]}']);
  }
  const doc = value as Record<string, unknown>;
  const problems: string[] = [];
  if (doc.reviewId !== context.reviewId) {
    problems.push(
      typeof doc.reviewId === 'string'
        ? `reviewId: these are answers to review "${doc.reviewId}", not to "${context.reviewId}" (wrong key file?)`
        : 'reviewId: missing or not a string',
    );
  }
  const annotator = typeof doc.annotator === 'string' ? doc.annotator.trim() : '';
  if (!annotator) problems.push('annotator: missing or empty (type a name in the page before saving)');
  if (!Array.isArray(doc.answers)) {
    problems.push('answers: missing or not an array');
    throw new AnswerFileError(source, problems);
  }
  const collector = new Collector(context);
  collector.problems.push(...problems);
  doc.answers.forEach((raw: unknown, i: number) => {
    const where = `answers[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      collector.problems.push(`${where}: expected an object {"item_id", "choice"}`);
      return;
    }
    const a = raw as Record<string, unknown>;
    if (typeof a.item_id !== 'string') {
      collector.problems.push(`${where}: item_id missing or not a string`);
      return;
    }
    const choice = a.choice === null || a.choice === undefined ? '' : a.choice;
    if (typeof choice !== 'string') {
      collector.problems.push(`${where}: choice for item "${a.item_id}" must be "A", "B" or "tie"`);
      return;
    }
    if (a.comment !== undefined && a.comment !== null && typeof a.comment !== 'string') {
      collector.problems.push(`${where}: comment must be a string`);
      return;
    }
    collector.add(where, a.item_id, choice, typeof a.comment === 'string' ? a.comment : undefined);
  });
  return collector.finish(source, annotator);
}
