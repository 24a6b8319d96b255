/**
 * The ObjectStore methods the data steps use, in memory, for unit tests of activities that need no S3 server:
 * objects as bytes by URI, JSON and JSONL as the real store writes them, streamed reads in small chunks,
 * JSONL read line by line with the real store's errors, listings with sizes and ETags (what the cross-run
 * lookup reads), each object's content type, and what the test wants to count (the URIs written and read).
 */
import { createHash } from 'node:crypto';
import { jsonlLines } from '../../activities/storage/object-store';
import { Readable } from 'node:stream';

export interface MemoryStoreOptions {
  /**
   * The size of the chunks openRead streams an object in. Small by default, so that a CRLF, a byte-order
   * mark or a multi-byte character falls across two chunks, as it may in a real body, and a reader that
   * assumes a chunk ends on a line or a character fails in the unit tests.
   */
  readChunkBytes?: number;
}

export function memoryStore({ readChunkBytes = 7 }: MemoryStoreOptions = {}) {
  const objects = new Map<string, Buffer>();
  const contentTypes = new Map<string, string>();
  const reads: string[] = [];
  const written: string[] = [];
  const put = (uri: string, body: Buffer, rows?: number, contentType = 'application/octet-stream') => {
    written.push(uri);
    objects.set(uri, body);
    contentTypes.set(uri, contentType);
    return { uri, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), ...(rows !== undefined ? { rows } : {}) };
  };
  const etag = (body: Buffer) => createHash('md5').update(body).digest('hex');
  const jsonl = (rows: Iterable<unknown>) => Buffer.from([...rows].map((r) => `${JSON.stringify(r)}\n`).join(''));
  /** The rows of a JSONL object (none when it does not exist). */
  const rows = <T = unknown>(uri: string): T[] =>
    (objects.get(uri) ?? Buffer.from('')).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
  const openRead = async (uri: string): Promise<Readable> => {
    const body = objects.get(uri);
    // The real store's message: the prepare step tells a missing dataset by it.
    if (!body) throw new Error(`object not found: ${uri}`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += readChunkBytes) chunks.push(body.subarray(i, i + readChunkBytes));
    return Readable.from(chunks);
  };
  /** As the real store: line numbers count blank lines, and a bad line is reported, not thrown. */
  async function* readJsonlLines(uri: string): AsyncGenerator<{ line: number; value?: unknown; error?: string }> {
    yield* jsonlLines(await openRead(uri), uri);
  }
  return {
    objects,
    contentTypes,
    /** The URIs getBytes and getJson were asked for, in order. */
    reads,
    /** The URIs written, in order (a rewrite appears again); seeded objects are not among them. */
    written,
    rows,
    /** How many objects were written so far. */
    writes: () => written.length,
    /** Puts a test's input rows as a JSONL object, as writeJsonl would, without counting it as a write. */
    seedRows(uri: string, items: Iterable<unknown>): void {
      objects.set(uri, jsonl(items));
    },
    async putBytes(uri: string, body: Buffer | string, contentType?: string) {
      return put(uri, typeof body === 'string' ? Buffer.from(body) : body, undefined, contentType);
    },
    async putJson(uri: string, value: unknown) {
      return put(uri, Buffer.from(JSON.stringify(value, null, 2) + '\n'), undefined, 'application/json');
    },
    async getBytes(uri: string): Promise<Buffer | null> {
      reads.push(uri);
      return objects.get(uri) ?? null;
    },
    async getJson<T>(uri: string): Promise<T | null> {
      reads.push(uri);
      const b = objects.get(uri);
      return b ? (JSON.parse(b.toString('utf8')) as T) : null;
    },
    async exists(uri: string) {
      return objects.has(uri);
    },
    async writeJsonl(uri: string, items: AsyncIterable<unknown> | Iterable<unknown>) {
      const collected: unknown[] = [];
      for await (const r of items) collected.push(r);
      return put(uri, jsonl(collected), collected.length);
    },
    openRead,
    readJsonlLines,
    async *readJsonl<T>(uri: string): AsyncGenerator<T> {
      for await (const { value, error } of readJsonlLines(uri)) {
        if (error !== undefined) throw new Error(error);
        yield value as T;
      }
    },
    async list(prefixUri: string) {
      const base = prefixUri.replace(/\/+$/, '') + '/';
      return [...objects.entries()]
        .filter(([uri]) => uri.startsWith(base))
        .map(([uri, body]) => ({ uri, key: uri.replace(/^s3:\/\/[^/]+\//, ''), size: body.length, etag: etag(body) }));
    },
    async stat(uri: string) {
      const b = objects.get(uri);
      return b ? { size: b.length, etag: etag(b) } : null;
    },
    async copy(src: string, dest: string) {
      const b = objects.get(src);
      if (!b) throw new Error(`copy: ${src} does not exist`);
      objects.set(dest, b);
    },
  };
}

export type MemoryStore = ReturnType<typeof memoryStore>;
