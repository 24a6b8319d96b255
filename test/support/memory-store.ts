/**
 * The ObjectStore methods the data steps use, in memory, for unit tests of activities that need no S3 server:
 * objects as bytes by URI, JSON and JSONL as the real store writes them, listings with sizes and ETags (what
 * the cross-run lookup reads), each object's content type, and what the test wants to count (writes, and
 * the URIs read).
 */
import { createHash } from 'node:crypto';

export function memoryStore() {
  const objects = new Map<string, Buffer>();
  const contentTypes = new Map<string, string>();
  const reads: string[] = [];
  let writes = 0;
  const put = (uri: string, body: Buffer, rows?: number, contentType = 'application/octet-stream') => {
    writes++;
    objects.set(uri, body);
    contentTypes.set(uri, contentType);
    return { uri, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), ...(rows !== undefined ? { rows } : {}) };
  };
  const etag = (body: Buffer) => createHash('md5').update(body).digest('hex');
  /** The rows of a JSONL object (none when it does not exist). */
  const rows = <T = unknown>(uri: string): T[] =>
    (objects.get(uri) ?? Buffer.from('')).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
  return {
    objects,
    contentTypes,
    /** The URIs getBytes and getJson were asked for, in order. */
    reads,
    rows,
    /** How many objects were written so far. */
    writes: () => writes,
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
      const lines: string[] = [];
      for await (const r of items) lines.push(`${JSON.stringify(r)}\n`);
      return put(uri, Buffer.from(lines.join('')), lines.length);
    },
    async *readJsonl<T>(uri: string): AsyncGenerator<T> {
      yield* rows<T>(uri);
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
