/**
 * The codec server: Temporal's remote codec protocol over HTTP, so the Temporal Web UI and CLI
 * (`temporal workflow show --codec-endpoint URL`) show decrypted payloads to whoever can reach it.
 *
 *   POST /encode, POST /decode (also under any prefix, e.g. /default/decode for `--codec-endpoint 'URL/{namespace}'`)
 *   body and answer: {"payloads": [{"metadata": {"encoding": "<base64>", ...}, "data": "<base64>"}]}
 *
 * CORS: the browser UI calls it from its own origin, so preflights (OPTIONS) are answered and the listed
 * origins (default: the local dev server's UI) get Access-Control-Allow-Origin, with credentials allowed.
 * Auth: with a token, every POST must carry `Authorization: Bearer <token>` (`temporal … --codec-auth 'Bearer
 * <token>'`); the token is compared in constant time. It answers only what its keys allow: a payload of an
 * unknown key id is an error naming it.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const DEFAULT_CODEC_PORT = 8888;
export const DEFAULT_CODEC_HOST = '127.0.0.1';
/** The local dev server's UI (`npm run stack`, `temporal server start-dev`), under both names a browser may use. */
export const DEFAULT_CORS_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];
/** A history's payloads are each at most 2 MB in Temporal; a UI batch of several stays far below this. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  host?: string;
  /** 0: any free port (tests). */
  port?: number;
  /** Origins allowed to call from a browser; exact `scheme://host[:port]`, or "*" for any. */
  corsOrigins?: string[];
  /** When set, POSTs need `Authorization: Bearer <token>`. */
  token?: string;
  /** One line per request that failed (never a payload's contents). */
  log?: (line: string) => void;
}

export interface CodecServer {
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A payload as the protocol writes it: proto3 JSON, so every bytes field is base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fromBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new HttpError(400, `${where} is not a base64 string`);
  return Buffer.from(value, 'base64');
}

export function payloadFromJson(p: unknown, i: number): Payload {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new HttpError(400, `payloads[${i}] is not an object`);
  const { metadata, data } = p as { metadata?: unknown; data?: unknown };
  const out: Payload = { metadata: {} };
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new HttpError(400, `payloads[${i}].metadata is not an object`);
    for (const [k, v] of Object.entries(metadata)) out.metadata![k] = fromBase64(v, `payloads[${i}].metadata.${k}`);
  }
  out.data = data === undefined || data === null ? new Uint8Array() : fromBase64(data, `payloads[${i}].data`);
  return out;
}

export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

function parseBody(body: Buffer): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `the body is not JSON: ${(e as Error).message}`);
  }
  const payloads = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'the body must be {"payloads": [...]}');
  return payloads.map(payloadFromJson);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `the body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '')?.[1] ?? '';
  // Hash both sides first: timingSafeEqual needs equal lengths, and the length must not leak either.
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b) && given !== '';
}

/** Which route a path is: the last segment, so a `{namespace}` prefix (or a proxy's path) is allowed. */
function routeOf(url: string | undefined): 'encode' | 'decode' | null {
  const path = (url ?? '/').split('?')[0].replace(/\/+$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last === 'encode' || last === 'decode' ? last : null;
}

export function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const origins = opts.corsOrigins ?? DEFAULT_CORS_ORIGINS;
  const anyOrigin = origins.includes('*');
  const log = opts.log ?? (() => undefined);

  const cors = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (!origin || !(anyOrigin || origins.includes(origin))) return;
    // The origin itself, not "*": the UI may send credentials (its "Include cross-origin credentials" option).
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
  };

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-store'); // decrypted payloads must not sit in a browser or proxy cache
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      cors(req, res);
      const route = routeOf(req.url);
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
        res.setHeader('Access-Control-Max-Age', '600');
        res.statusCode = 204;
        res.end();
        return;
      }
      if (route === null) throw new HttpError(404, 'not found: POST /encode or /decode');
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST, OPTIONS');
        throw new HttpError(405, `${req.method} is not allowed: POST /${route}`);
      }
      if (opts.token !== undefined && !tokenMatches(req.headers.authorization, opts.token)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        throw new HttpError(401, 'missing or wrong Authorization: Bearer <token> (JUDGELOOP_CODEC_SERVER_TOKEN of the codec server)');
      }
      const payloads = parseBody(await readBody(req));
      let out: Payload[];
      try {
        out = route === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
      } catch (e) {
        // The codec's messages name key ids and variables, never key bytes or payload contents.
        throw new HttpError(400, (e as Error).message);
      }
      send(res, 200, { payloads: out.map(payloadToJson) });
    })().catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof Error ? e.message : String(e);
      log(`codec server: ${req.method} ${req.url} -> ${status}: ${message}`);
      if (!res.headersSent) send(res, status, { error: message });
      else res.end();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_CODEC_PORT, opts.host ?? DEFAULT_CODEC_HOST, () => {
      server.off('error', reject);
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      resolve({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
