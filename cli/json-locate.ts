/**
 * Finds where a JSON text first goes wrong, as line and column, because JSON.parse's messages only sometimes
 * carry a position ("Unexpected token 'x', ... is not valid JSON" does not). A small strict scanner over
 * RFC 8259 JSON; it only runs after JSON.parse has already failed.
 */

export interface JsonSyntaxProblem {
  /** 0-based offset into the text. */
  offset: number;
  /** 1-based line and column (columns count UTF-16 code units, as editors mostly do). */
  line: number;
  column: number;
  message: string;
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class Stop extends Error {
  constructor(
    readonly offset: number,
    readonly what: string,
  ) {
    super(what);
  }
}

function show(ch: string | undefined): string {
  if (ch === undefined) return 'end of input';
  if (ch === '\n') return 'a line break';
  if (ch === '\t') return 'a tab';
  if (ch === '\uFEFF') return 'a byte-order mark';
  return `'${ch}'`;
}

/** Returns the first syntax problem of `text`, or null when it is valid JSON. */
export function locateJsonError(text: string): JsonSyntaxProblem | null {
  let i = 0;
  const fail = (what: string): never => {
    throw new Stop(i, what);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string) => {
    const found = /^[A-Za-z0-9_$]*/.exec(text.slice(i, i + 64))?.[0] ?? '';
    if (found !== word) fail(`unexpected ${found ? `"${found}"` : show(text[i])} (expected ${word}, or a quoted string)`);
    i += word.length;
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      const ch = text[i];
      if (ch === undefined) fail('unterminated string');
      if (ch === '"') {
        i++;
        return;
      }
      if (ch < ' ') fail(`${show(ch)} inside a string (escape it)`);
      if (ch === '\\') {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              fail('bad \\u escape in a string');
            }
          }
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail(`bad escape \\${e ?? ''} in a string`);
      } else i++;
    }
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') {
      i++;
      if (/[0-9]/.test(text[i] ?? '')) fail('numbers must not have leading zeros');
    } else if (/[1-9]/.test(text[i] ?? '')) while (/[0-9]/.test(text[i] ?? '')) i++;
    else fail(`unexpected ${show(text[i])} (expected a digit)`);
    if (text[i] === '.') {
      i++;
      if (!/[0-9]/.test(text[i] ?? '')) fail(`unexpected ${show(text[i])} (expected a digit after ".")`);
      while (/[0-9]/.test(text[i] ?? '')) i++;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!/[0-9]/.test(text[i] ?? '')) fail(`unexpected ${show(text[i])} (expected an exponent)`);
      while (/[0-9]/.test(text[i] ?? '')) i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > 512) fail('nesting too deep');
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`unexpected ${show(text[i])} (expected a double-quoted property name)`);
        string();
        ws();
        if (text[i] !== ':') fail(`unexpected ${show(text[i])} (expected ':' after a property name)`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') fail("trailing comma before '}'");
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`unexpected ${show(text[i])} (expected ',' or '}')`);
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === ']') fail("trailing comma before ']'");
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`unexpected ${show(text[i])} (expected ',' or ']')`);
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number();
    if (ch === "'") fail("unexpected \"'\" (JSON strings use double quotes)");
    if (ch !== undefined && /[A-Za-z_$]/.test(ch)) {
      const word = /^[A-Za-z0-9_$]*/.exec(text.slice(i, i + 64))?.[0] ?? ch;
      fail(`unexpected "${word}" (expected a value; strings need double quotes)`);
    }
    if (ch === '/') fail("unexpected '/' (JSON has no comments)");
    fail(`unexpected ${show(ch)} (expected a value)`);
  };
  try {
    value(0);
    ws();
    if (i < text.length) fail(`unexpected ${show(text[i])} after the end of the JSON value`);
    return null;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { offset: e.offset, ...lineColumn(text, e.offset), message: e.what };
  }
}
