/**
 * Reading the rows of a dataset file (JSONL or one JSON array) from raw bytes, so that every kind of bad
 * line becomes an error that names its line and says what is wrong, and every harmless oddity is accepted:
 * - a UTF-8 byte-order mark at the start of the file is skipped (editors on Windows write one);
 * - CRLF and lone CR line ends are line ends, as LF is (readline's rule, which this replaces);
 * - blank lines (only whitespace) are skipped and are not rows;
 * - a line that is not valid UTF-8 is an error: decoding it leniently would put U+FFFD into the training
 *   text without anybody noticing;
 * - a line longer than `maxRowBytes` is an error, and is never held in memory whole;
 * - a line that is not JSON is an error with JSON.parse's message.
 * Pure (no Node modules): bytes come in as any async iterable of Uint8Array chunks (a file stream, an S3 body).
 */

/**
 * One row at most this many bytes (1 MiB): about 250k tokens, far beyond any prompt a judge reads
 * (judge.decoding.maxPromptTokens defaults to 3072), so a longer row is a broken file or a mistake
 * (a whole document pasted into one field), not an example.
 */
export const MAX_ROW_BYTES = 1024 * 1024;

export interface SourceLine {
  /** 0-based position among the file's non-blank lines: generated ids (`<prefix>-<index>`) use it. */
  index: number;
  /** 1-based physical line number, for messages. */
  line: number;
  value?: unknown;
  /** Why the line is not a row, naming the line. */
  error?: string;
  /** With `invalidUtf8: 'replace'`: the line was not UTF-8 and `value` was read with U+FFFD in its place. */
  notUtf8?: true;
}

export interface SourceLineOptions {
  maxRowBytes?: number;
  /**
   * `error` (default): a line that is not UTF-8 is an error. `replace`: it is decoded with U+FFFD for the
   * bad bytes and flagged `notUtf8`, for readers that must keep the row and mark it (a job's outputs).
   */
  invalidUtf8?: 'error' | 'replace';
}

const LF = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf];

/** "1.0 MiB", "10.0 MiB", "512 KiB": sizes in the messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

/**
 * The first byte offset at which `bytes` stops being valid UTF-8, or -1. TextDecoder's fatal mode says
 * whether, not where; the offset lets the message point at the bad byte.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= bytes.length) return i; // the sequence is cut off by the end
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return i;
    i += need + 1;
  }
  return -1;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes strict UTF-8; `null` when the bytes are not UTF-8. */
function decodeStrict(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}

/**
 * A whole text file (a `.json` dataset, an instances table) decoded as strict UTF-8 without its byte-order
 * mark; an error names the byte offset and its line.
 */
export function decodeSourceText(bytes: Uint8Array, uri: string): { ok: true; text: string } | { ok: false; reason: string } {
  const skip = hasBom(bytes) ? 3 : 0;
  const body = bytes.subarray(skip);
  const text = decodeStrict(body);
  if (text !== null) return { ok: true, text };
  const at = invalidUtf8Offset(body);
  let line = 1;
  for (let i = 0; i < at; i++) if (body[i] === LF) line++;
  return {
    ok: false,
    reason: `${uri} is not valid UTF-8: byte ${at + skip} (line ${line}) is 0x${hex(body[at])}; save the file as UTF-8`,
  };
}

const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Why one decoded line is not a row (or its value). */
function parseLine(
  bytes: Uint8Array,
  line: number,
  invalidUtf8: 'error' | 'replace',
): { value?: unknown; error?: string; blank?: boolean; notUtf8?: true } {
  let text = decodeStrict(bytes);
  let notUtf8 = false;
  if (text === null) {
    if (invalidUtf8 === 'error') {
      const at = invalidUtf8Offset(bytes);
      return { error: `line ${line} is not valid UTF-8 (byte ${at + 1} of the line is 0x${hex(bytes[at])}); save the file as UTF-8` };
    }
    text = lenientDecoder.decode(bytes);
    notUtf8 = true;
  }
  if (!text.trim()) return { blank: true };
  try {
    // No spread of an optional flag: this runs for every row of every file read this way.
    return notUtf8 ? { value: JSON.parse(text), notUtf8: true } : { value: JSON.parse(text) };
  } catch (err) {
    return { error: `line ${line} is not valid JSON: ${(err as Error).message}` };
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The rows of a JSONL byte stream: one entry per non-blank line, a value or an error naming the line. */
export async function* jsonlSourceLines(chunks: AsyncIterable<Uint8Array>, opts: SourceLineOptions = {}): AsyncGenerator<SourceLine> {
  const max = opts.maxRowBytes ?? MAX_ROW_BYTES;
  let parts: Uint8Array[] = [];
  let length = 0;
  /** Bytes of the current line, counted past the limit too (the parts are dropped then). */
  let lineBytes = 0;
  let line = 1;
  let index = 0;
  /** The file's first bytes, held until there are 3 of them to tell a byte-order mark (null once told). */
  let head: Uint8Array | null = new Uint8Array(0);
  /** The previous chunk ended with CR: an LF at the start of the next one belongs to that line end. */
  let afterCr = false;

  /** The row of the line just ended, or undefined for a blank line. A plain function: it runs for every line. */
  function endLine(): SourceLine | undefined {
    const oversize = lineBytes > max;
    const bytes = oversize ? new Uint8Array(0) : concat(parts, length);
    const thisLine = line;
    parts = [];
    length = 0;
    const size = lineBytes;
    lineBytes = 0;
    line++;
    if (oversize) {
      return { index: index++, line: thisLine, error: `line ${thisLine} is ${formatBytes(size)}, above the ${formatBytes(max)} limit of one row; shorten its text or drop the row` };
    }
    const parsed = parseLine(bytes, thisLine, opts.invalidUtf8 ?? 'error');
    if (parsed.blank) return undefined;
    const row: SourceLine = { index: index++, line: thisLine };
    if (parsed.error !== undefined) row.error = parsed.error;
    else row.value = parsed.value;
    if (parsed.notUtf8) row.notUtf8 = true;
    return row;
  }

  function* take(chunk: Uint8Array): Generator<SourceLine> {
    let start = 0;
    if (afterCr && chunk.length > 0) {
      afterCr = false;
      if (chunk[0] === LF) start = 1;
    }
    // Line ends found with indexOf (native) rather than a loop over every byte. Each kind is looked for again
    // only once passed, so a chunk without one (no CR in an LF file) is scanned for it once.
    let nextLf = chunk.indexOf(LF, start);
    let nextCr = chunk.indexOf(CR, start);
    for (let i = start; i < chunk.length; i++) {
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (end === -1) break;
      i = end;
      const b = chunk[i];
      const piece = chunk.subarray(start, i);
      lineBytes += piece.length;
      if (lineBytes <= max) {
        parts.push(piece);
        length += piece.length;
      }
      const row = endLine();
      if (row) yield row;
      if (b === CR) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === LF) i++;
        } else afterCr = true;
      }
      start = i + 1;
    }
    const rest = chunk.subarray(start);
    lineBytes += rest.length;
    if (lineBytes <= max) {
      // Copied: a stream may reuse its chunk's memory once we ask for the next one.
      parts.push(rest.slice());
      length += rest.length;
    } else {
      parts = [];
      length = 0;
    }
  }

  for await (const raw of chunks) {
    const chunk = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
    if (head !== null) {
      head = concat([head, chunk], head.length + chunk.length);
      if (head.length < 3) continue;
      const body: Uint8Array = hasBom(head) ? head.subarray(3) : head;
      head = null;
      yield* take(body);
    } else yield* take(chunk);
  }
  if (head !== null) yield* take(head); // a file of fewer than 3 bytes
  if (lineBytes > 0) {
    const row = endLine();
    if (row) yield row;
  }
}

/**
 * The rows of a `.json` dataset (one array): decoded strictly (BOM skipped), each element a row; an element
 * whose JSON is longer than `maxRowBytes` is an error naming its position. A file that is not UTF-8, not
 * JSON or not an array is one error for the whole file (`fileError`), since no row can be told apart.
 */
export function jsonArraySourceRows(
  bytes: Uint8Array,
  uri: string,
  opts: SourceLineOptions = {},
): { fileError: string } | { rows: Array<{ index: number; value?: unknown; error?: string }> } {
  const max = opts.maxRowBytes ?? MAX_ROW_BYTES;
  const decoded = decodeSourceText(bytes, uri);
  if (!decoded.ok) return { fileError: decoded.reason };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded.text);
  } catch (err) {
    return { fileError: `${uri} is not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(parsed)) return { fileError: `${uri}: a .json dataset must hold an array of rows` };
  const encoder = new TextEncoder();
  return {
    rows: parsed.map((value: unknown, index) => {
      const size = encoder.encode(JSON.stringify(value) ?? '').length;
      return size > max
        ? { index, error: `row ${index} of the array is ${formatBytes(size)}, above the ${formatBytes(max)} limit of one row; shorten its text or drop the row` }
        : { index, value };
    }),
  };
}
