/**
 * core/review/csv.ts over csv-parse and csv-stringify (issue 15): the records, line numbers and messages below were
 * captured from the hand-written parser and writer they replaced, so the behaviour stays exactly as it was.
 * Answer-file use of the parser is tested in test/unit/human-review.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvSyntaxError, csvField, csvRow, parseCsv } from '../../core/review/csv';

/** `[line, ...fields]` per record. */
function parsed(text: string): Array<[number, ...string[]]> {
  return parseCsv(text).map((r) => [r.line, ...r.fields]);
}

test('parseCsv: BOM, CRLF, LF and CR alone (mixed), empty lines skipped, lines counted across quoted breaks', () => {
  const cases: Array<[string, Array<[number, ...string[]]>]> = [
    ['\ufeffa,b\r\nc,d\r\n', [[1, 'a', 'b'], [2, 'c', 'd']]],
    ['a,b\nc,d', [[1, 'a', 'b'], [2, 'c', 'd']]],
    ['a\rb\r\nc\n\nd', [[1, 'a'], [2, 'b'], [3, 'c'], [5, 'd']]],
    ['h1,h2\n"multi\nline",x\n"after",y\n', [[1, 'h1', 'h2'], [2, 'multi\nline', 'x'], [4, 'after', 'y']]],
    // Inside quotes CRLF is one line break and CR alone none; both stay in the value as written.
    ['"a\r\nb",c\n"d\re",f\nlast', [[1, 'a\r\nb', 'c'], [3, 'd\re', 'f'], [4, 'last']]],
    // A line holding only `""` counts as empty; a line of commas or of a space does not.
    ['\n\n"",\n""\n,\n \n', [[3, '', ''], [5, '', ''], [6, ' ']]],
    ['x,"say ""hi""",', [[1, 'x', 'say "hi"', '']]],
    ['a,"",""""', [[1, 'a', '', '"']]],
    ['', []],
    ['\ufeff', []],
  ];
  for (const [text, expected] of cases) assert.deepEqual(parsed(text), expected, JSON.stringify(text));
});

test('parseCsv: syntax errors name the line (a quoted field left open: where its record starts)', () => {
  const quoteInside = 'a quote inside an unquoted field (quote the whole field and double the quote)';
  const cases: Array<[string, string, number]> = [
    ['id,note\n"a\nb",ok\nc,d"e\n', `line 4: ${quoteInside}`, 4],
    ['a, "b"', `line 1: ${quoteInside}`, 1],
    ['id,note\n"a\nb",ok\n"c" d,e\n', 'line 4: text after a closing quote', 4],
    ['"x\ny" z', 'line 2: text after a closing quote', 2],
    ['\ufeff"x"y', 'line 1: text after a closing quote', 1],
    ['id,note\nok,1\n"a\nb,c\nd\n', 'line 3: a quoted field is not closed before the end of the file', 3],
    ['a\r\n\r\nb,"c""', 'line 3: a quoted field is not closed before the end of the file', 3],
  ];
  for (const [text, message, line] of cases) {
    assert.throws(
      () => parseCsv(text),
      (e: unknown) => e instanceof CsvSyntaxError && e.name === 'CsvSyntaxError' && e.message === message && e.line === line,
      JSON.stringify(text),
    );
  }
});

test('csvField and csvRow: quoted only when needed; spreadsheetSafe neutralises formulas before quoting', () => {
  const cases: Array<[string | number | null | undefined, string, string]> = [
    // [value, plain, spreadsheetSafe]
    ['=1+2', '=1+2', "'=1+2"],
    ['+x', '+x', "'+x"],
    ['-5', '-5', "'-5"],
    [-5, '-5', "'-5"],
    ['@a', '@a', "'@a"],
    ['\tt', '\tt', "'\tt"],
    ['\rr', '"\rr"', `"'\rr"`],
    ['-"q",\n', '"-""q"",\n"', `"'-""q"",\n"`],
    ['a=b', 'a=b', 'a=b'],
    [" 'x", " 'x", " 'x"],
    ['a,b', '"a,b"', '"a,b"'],
    ['', '', ''],
    [null, '', ''],
    [undefined, '', ''],
    [0, '0', '0'],
    [1.5, '1.5', '1.5'],
  ];
  for (const [value, plain, safe] of cases) {
    assert.equal(csvField(value), plain, JSON.stringify(value));
    assert.equal(csvField(value, true), safe, `${JSON.stringify(value)} spreadsheet-safe`);
  }
  assert.equal(csvRow([-3, 0, null, undefined, '=A1', 'x,y'], true), `'-3,0,,,'=A1,"x,y"`);
  assert.equal(csvRow(['a,b', 'c"d', 'e']), '"a,b","c""d",e');
  assert.equal(csvRow([]), '');
  // What the writer writes, the parser reads back.
  const row = ['=SUM(A1)', 'line\r\nbreak', '"q"', '', 'plain'];
  assert.deepEqual(parseCsv(`${csvRow(row)}\r\n${csvRow(row, true)}\n`).map((r) => r.fields), [row, ["'=SUM(A1)", ...row.slice(1)]]);
});
