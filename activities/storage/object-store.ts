/**
 * The object store: every artifact of a run is an S3 object. JSONL is streamed in and out (multipart upload
 * for large objects), so memory stays flat as datasets grow.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInterface } from 'node:readline';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { joinUri, parseS3Uri, s3Uri } from '../../core/run/artifacts';

export interface StorageSettings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
}

export interface WrittenObject {
  uri: string;
  bytes: number;
  sha256: string;
  rows?: number;
}

export interface ListedObject {
  uri: string;
  key: string;
  size: number;
  /** The object's ETag (MD5 of a single-part upload): with the key and size, a content address. */
  etag?: string;
}

/** `credentials` overrides the SDK's default chain (the CLI's for the local stack: cli/storage.ts). */
export function createS3Client(settings: StorageSettings, credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({
    ...(credentials ? { credentials } : {}),
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    // S3-compatible servers differ in their support for the SDK's default trailing checksums; compute them
    // only where the API requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** About how many characters of JSONL writeJsonl encodes and writes at once (64 Ki). */
const WRITE_BATCH_CHARS = 64 * 1024;

export class ObjectStore {
  constructor(readonly client: S3Client) {}

  async exists(uri: string): Promise<boolean> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** An object's size and ETag, or null when there is none at `uri`. */
  async stat(uri: string): Promise<{ size: number; etag?: string } | null> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { size: Number(out.ContentLength ?? 0), ...(out.ETag ? { etag: out.ETag } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Copies an object inside S3 (no bytes pass through here) so that the copy has the source's ETag: a
   * multipart object is copied part by part with the same part boundaries (a plain CopyObject would give it
   * a single-part ETag). Content addresses are built from ETags (activities/storage/reuse.ts), so a copied
   * step output still matches the jobs that read the original.
   */
  async copy(srcUri: string, destUri: string): Promise<void> {
    const src = parseS3Uri(srcUri);
    const dest = parseS3Uri(destUri);
    const copySource = `${src.bucket}/${src.key.split('/').map(encodeURIComponent).join('/')}`;
    const whole = await this.client.send(new HeadObjectCommand({ Bucket: src.bucket, Key: src.key }));
    const size = Number(whole.ContentLength ?? 0);
    const parts = multipartParts(whole.ETag);
    // The part size: the server's first part where it reports parts (AWS does), else our writers' when it
    // gives that many parts. Unknown: a plain copy (its ETag differs, so later jobs may not be reused).
    let partSize: number | null = null;
    if (parts !== null && size > 0) {
      const first = await this.client.send(new HeadObjectCommand({ Bucket: src.bucket, Key: src.key, PartNumber: 1 }));
      const firstPart = Number(first.ContentLength ?? 0);
      if (first.PartsCount === parts && firstPart > 0) partSize = firstPart;
      else if (Math.ceil(size / UPLOAD_PART_SIZE) === parts) partSize = UPLOAD_PART_SIZE;
    }
    if (partSize === null) {
      await this.client.send(
        new CopyObjectCommand({ Bucket: dest.bucket, Key: dest.key, CopySource: copySource, ...(whole.ContentType ? { ContentType: whole.ContentType } : {}) }),
      );
      return;
    }
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: dest.bucket, Key: dest.key, ...(whole.ContentType ? { ContentType: whole.ContentType } : {}) }),
    );
    try {
      const copied: { PartNumber: number; ETag: string }[] = [];
      for (let n = 1, start = 0; start < size; n++, start += partSize) {
        const end = Math.min(start + partSize, size) - 1;
        const out = await this.client.send(
          new UploadPartCopyCommand({ Bucket: dest.bucket, Key: dest.key, UploadId, PartNumber: n, CopySource: copySource, CopySourceRange: `bytes=${start}-${end}` }),
        );
        copied.push({ PartNumber: n, ETag: out.CopyPartResult!.ETag! });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: dest.bucket, Key: dest.key, UploadId, MultipartUpload: { Parts: copied } }));
    } catch (err) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: dest.bucket, Key: dest.key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  async putBytes(uri: string, body: Buffer | string, contentType = 'application/octet-stream'): Promise<WrittenObject> {
    const { bucket, key } = parseS3Uri(uri);
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: buf, ContentType: contentType }));
    return { uri, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
  }

  async putJson(uri: string, value: unknown): Promise<WrittenObject> {
    return this.putBytes(uri, JSON.stringify(value, null, 2) + '\n', 'application/json');
  }

  async getBytes(uri: string): Promise<Buffer | null> {
    const { bucket, key } = parseS3Uri(uri);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of this.bodyChunks(bucket, key, uri)) chunks.push(chunk);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    return Buffer.concat(chunks);
  }

  /**
   * An object's bytes, resumed where they broke off. The SDK retries a request that fails before its reply
   * (throttling, a reset connection), but not a body cut short after the headers: that is resumed here with
   * a ranged GET of the same version (If-Match on its ETag), so a long read survives a flaky network
   * instead of failing the whole step.
   */
  private async *bodyChunks(bucket: string, key: string, uri: string): AsyncGenerator<Buffer> {
    let offset = 0;
    let expected: number | null = null;
    let etag: string | undefined;
    for (let resumes = 0; ; resumes++) {
      try {
        const out = await this.client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, ...(offset > 0 ? { Range: `bytes=${offset}-`, IfMatch: etag } : {}) }),
        );
        etag ??= out.ETag;
        if (expected === null && out.ContentLength !== undefined) expected = offset + out.ContentLength;
        for await (const chunk of out.Body as AsyncIterable<Uint8Array>) {
          const buf = Buffer.from(chunk);
          offset += buf.length;
          yield buf;
        }
        if (expected !== null && offset < expected) throw new ShortBodyError(`${uri}: the body ended after ${offset} of ${expected} bytes`);
        return;
      } catch (err) {
        // Only a cut-short body is resumed; a request that failed outright has had the SDK's retries already.
        if (!isBodyInterruption(err) || resumes >= READ_RESUMES) throw err;
        await new Promise((r) => setTimeout(r, 200 * 2 ** resumes));
      }
    }
  }

  async getJson<T>(uri: string): Promise<T | null> {
    const bytes = await this.getBytes(uri);
    if (bytes === null) return null;
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (err) {
      throw new Error(`${uri} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** Streams an object's body (resumed where it breaks off, as getBytes). */
  async openRead(uri: string): Promise<Readable> {
    const { bucket, key } = parseS3Uri(uri);
    const chunks = this.bodyChunks(bucket, key, uri);
    // The first chunk is awaited here, so a missing object is this call's error, not the stream's.
    let first: IteratorResult<Buffer>;
    try {
      first = await chunks.next();
    } catch (err) {
      if (isNotFound(err)) throw new Error(`object not found: ${uri}`);
      throw err;
    }
    return Readable.from(
      (async function* () {
        if (first.done) return;
        yield first.value;
        yield* chunks;
      })(),
      { objectMode: false },
    );
  }

  /** Reads a JSONL object line by line; blank lines are skipped, a bad line is an error naming its number. */
  async *readJsonl<T = unknown>(uri: string): AsyncGenerator<T> {
    for await (const { value, error } of this.readJsonlLines(uri)) {
      if (error !== undefined) throw new Error(error);
      yield value as T;
    }
  }

  /** Like readJsonl, but yields each line's number and a parse error instead of throwing on bad JSON. */
  async *readJsonlLines(uri: string): AsyncGenerator<{ line: number; value?: unknown; error?: string }> {
    yield* jsonlLines(await this.openRead(uri), uri);
  }

  /**
   * Writes rows as JSONL through a multipart upload, hashing and counting on the way. The object appears
   * only when the upload completes, so a crashed writer never leaves a half-written object behind.
   */
  async writeJsonl(uri: string, rows: AsyncIterable<unknown> | Iterable<unknown>): Promise<WrittenObject> {
    const { bucket, key } = parseS3Uri(uri);
    const body = new PassThrough();
    const hash = createHash('sha256');
    let bytes = 0;
    let count = 0;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' },
      queueSize: 2,
      partSize: UPLOAD_PART_SIZE,
    });
    const done = upload.done();
    // Rows are joined into batches of about WRITE_BATCH_CHARS before they are encoded, hashed and written:
    // one Buffer, one hash update and one stream write per batch instead of per row.
    let batch = '';
    const flush = async () => {
      const chunk = Buffer.from(batch);
      batch = '';
      hash.update(chunk);
      bytes += chunk.length;
      if (!body.write(chunk)) await new Promise((resolve) => body.once('drain', resolve));
    };
    try {
      for await (const row of rows as AsyncIterable<unknown>) {
        batch += JSON.stringify(row) + '\n';
        count++;
        if (batch.length >= WRITE_BATCH_CHARS) await flush();
      }
      if (batch.length > 0) await flush();
      body.end();
    } catch (err) {
      body.destroy(err as Error);
      await upload.abort().catch(() => undefined);
      await done.catch(() => undefined);
      throw err;
    }
    await done;
    return { uri, bytes, sha256: hash.digest('hex'), rows: count };
  }

  async list(prefixUri: string): Promise<ListedObject[]> {
    const { bucket, key } = parseS3Uri(prefixUri);
    const prefix = key && !key.endsWith('/') ? `${key}/` : key;
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) {
        objects.push({ uri: s3Uri(bucket, o.Key!), key: o.Key!, size: Number(o.Size ?? 0), ...(o.ETag ? { etag: o.ETag } : {}) });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async uploadFile(localPath: string, uri: string): Promise<WrittenObject> {
    const { bucket, key } = parseS3Uri(uri);
    const hash = createHash('sha256');
    await pipeline(createReadStream(localPath), hash);
    const size = (await stat(localPath)).size;
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: createReadStream(localPath) },
      queueSize: 2,
      partSize: 16 * 1024 * 1024,
    });
    await upload.done();
    return { uri, bytes: size, sha256: hash.digest('hex') };
  }

  /** Uploads every file under a local folder to `prefixUri/<relative path>`. */
  async uploadDir(localDir: string, prefixUri: string): Promise<WrittenObject[]> {
    const written: WrittenObject[] = [];
    for (const rel of await listFilesRecursive(localDir)) {
      written.push(await this.uploadFile(path.join(localDir, rel), joinUri(prefixUri, rel.split(path.sep).join('/'))));
    }
    return written;
  }

  /** Downloads every object under a prefix into a local folder; files already there with the same size are kept. */
  async downloadPrefix(prefixUri: string, localDir: string): Promise<number> {
    const { key: prefixKey } = parseS3Uri(prefixUri);
    const base = prefixKey && !prefixKey.endsWith('/') ? `${prefixKey}/` : prefixKey;
    const objects = await this.list(prefixUri);
    if (objects.length === 0) throw new Error(`nothing found under ${prefixUri}`);
    for (const o of objects) {
      const rel = o.key.slice(base.length);
      if (!rel || rel.endsWith('/')) continue;
      const dest = path.join(localDir, ...rel.split('/'));
      const existing = await stat(dest).catch(() => null);
      if (existing && existing.size === o.size) continue;
      await mkdir(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.part`;
      await pipeline(await this.openRead(o.uri), createWriteStream(tmp));
      await rename(tmp, dest);
    }
    return objects.length;
  }
}

/** How many times one read resumes a body that broke off. */
const READ_RESUMES = 5;

class ShortBodyError extends Error {}

/** A reply whose body broke off: the connection closed mid-body, or fewer bytes came than announced. */
function isBodyInterruption(err: unknown): boolean {
  if (err instanceof ShortBodyError) return true;
  const e = err as { code?: string; message?: string; name?: string };
  return (
    ['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET', 'ETIMEDOUT'].includes(e.code ?? '') ||
    /^(aborted|premature close|socket hang up)$/i.test(e.message ?? '')
  );
}

/** The part size of writeJsonl's multipart uploads. */
export const UPLOAD_PART_SIZE = 8 * 1024 * 1024;

/** The number of parts of a multipart object, from its ETag (`"<md5 of the parts' md5s>-<parts>"`); null for a single-part one. */
export function multipartParts(etag: string | undefined): number | null {
  const m = /-(\d+)"?$/.exec(etag ?? '');
  return m ? Number(m[1]) : null;
}

export async function listFilesRecursive(dir: string, rel = ''): Promise<string[]> {
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const child = rel ? path.join(rel, e.name) : e.name;
    if (e.isDirectory()) files.push(...(await listFilesRecursive(dir, child)));
    else if (e.isFile()) files.push(child);
  }
  return files;
}

/** The lines of a JSONL body, numbered from 1 (blank lines count and are skipped); a bad line is reported with its number, not thrown. */
export async function* jsonlLines(body: Readable, uri: string): AsyncGenerator<{ line: number; value?: unknown; error?: string }> {
  const lines = createInterface({ input: body, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (!text.trim()) continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch (err) {
      yield { line, error: `line ${line} of ${uri} is not valid JSON: ${(err as Error).message}` };
    }
  }
}
