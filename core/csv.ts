/**
 * RFC 4180 CSV, small and strict enough for answer sheets that spreadsheets round-trip: fields separated by
 * commas, quoted with `"` when they hold a comma, quote or line break (`""` is a quote inside quotes), rows
 * ended by CRLF or LF. A UTF-8 byte-order mark (what spreadsheet programs write) is skipped. Pure.
 */

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

/** Parses CSV text into records; completely empty lines are skipped. */
export function parseCsv(text: string): CsvRecord[] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let quoted = false;
  let wasQuoted = false;
  const endField = () => {
    fields.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
    fields = [];
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field !== '' || wasQuoted) throw new CsvSyntaxError(`line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`, line);
      quoted = true;
      wasQuoted = true;
    } else if (c === ',') endField();
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      if (wasQuoted) throw new CsvSyntaxError(`line ${line}: text after a closing quote`, line);
      field += c;
    }
  }
  if (quoted) throw new CsvSyntaxError(`line ${start}: a quoted field is not closed before the end of the file`, start);
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return records;
}

/**
 * One CSV field. With `spreadsheetSafe`, a text that a spreadsheet would run as a formula (starting with
 * = + - @, tab or CR, OWASP's list) gets a leading apostrophe: for context columns holding model output.
 */
export function csvField(value: string | number | null | undefined, spreadsheetSafe = false): string {
  let s = value === null || value === undefined ? '' : String(value);
  if (spreadsheetSafe && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: ReadonlyArray<string | number | null | undefined>, spreadsheetSafe = false): string {
  return values.map((v) => csvField(v, spreadsheetSafe)).join(',');
}
