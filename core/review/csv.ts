/**
 * RFC 4180 CSV, small and strict enough for answer sheets that spreadsheets round-trip: fields separated by
 * commas, quoted with `"` when they hold a comma, quote or line break (`""` is a quote inside quotes), rows
 * ended by CRLF, LF or CR (mixed in one file too). A UTF-8 byte-order mark (what spreadsheet programs write)
 * is skipped. Pure.
 *
 * Parsing and writing are csv-parse's and csv-stringify's. Ours on top: each record's line number (a quoted
 * field may span lines), our error messages, skipping empty lines, and the spreadsheet-safe writing option.
 */
import { CsvError, parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

export interface CsvRecord {
  /** 1-based line of the file where the record starts (a quoted field may span lines). */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/** How csv-parse reports each record with `raw: true`. */
interface RawRecord {
  record: string[];
  raw: string;
}

function lineBreaksIn(text: string): number {
  return text.split('\n').length - 1;
}

/**
 * Parses CSV text into records; completely empty lines (and lines holding only `""`) are skipped. Throws
 * `CsvSyntaxError` naming the line: for a quote inside an unquoted field and for text after a closing quote
 * the line it is on, for a quoted field left open the line where its record starts.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  // The line the next record starts on. A record spans one line plus the line breaks inside its quoted
  // fields: those are in its field values as written (a CR alone inside quotes is not a line break).
  let line = 1;
  try {
    parse(text, {
      bom: true,
      // Every record and every empty line reaches `on_record`, so that the line count stays right.
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      raw: true,
      on_record: (raw: unknown) => {
        const { record } = raw as RawRecord;
        if (!(record.length === 1 && record[0] === '')) records.push({ line, fields: record });
        line += 1 + record.reduce((n, field) => n + lineBreaksIn(field), 0);
        return null;
      },
    });
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    // `raw` is the failing record up to the error; its line breaks are inside quoted fields.
    const at = line + (typeof e.raw === 'string' ? lineBreaksIn(e.raw) : 0);
    if (e.code === 'INVALID_OPENING_QUOTE') {
      throw new CsvSyntaxError(`line ${at}: a quote inside an unquoted field (quote the whole field and double the quote)`, at);
    }
    if (e.code === 'CSV_INVALID_CLOSING_QUOTE') throw new CsvSyntaxError(`line ${at}: text after a closing quote`, at);
    if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new CsvSyntaxError(`line ${line}: a quoted field is not closed before the end of the file`, line);
    }
    // Unreachable with the options above (no column count, size limit or trimming to break).
    throw new CsvSyntaxError(`line ${at}: ${e.message}`, at);
  }
  return records;
}

/** A text that a spreadsheet would run as a formula: starting with = + - @, tab or CR (OWASP's list). */
const FORMULA_START = /^[=+\-@\t\r]/;

function cell(value: string | number | null | undefined, spreadsheetSafe: boolean): string | number | null | undefined {
  if (!spreadsheetSafe || value === null || value === undefined) return value;
  const s = String(value);
  return FORMULA_START.test(s) ? `'${s}` : value;
}

/**
 * One CSV field. With `spreadsheetSafe`, a text that a spreadsheet would run as a formula (starting with
 * = + - @, tab or CR, OWASP's list) gets a leading apostrophe: for context columns holding model output.
 */
export function csvField(value: string | number | null | undefined, spreadsheetSafe = false): string {
  return csvRow([value], spreadsheetSafe);
}

/** One CSV row, without a line ending. */
export function csvRow(values: ReadonlyArray<string | number | null | undefined>, spreadsheetSafe = false): string {
  return stringify([values.map((v) => cell(v, spreadsheetSafe))], { eof: false });
}
