/**
 * A misbehaving network between the worker and S3, for the fault matrix: an HTTP proxy in front of the S3
 * server that answers some requests with faults, chosen by a seeded generator so a failing run can be
 * replayed exactly.
 *
 * - `slowdown`: 503 SlowDown, as S3 throttles (the request does not reach S3);
 * - `reset`: the connection is destroyed before the request is forwarded;
 * - `lost-reply`: the request reaches S3 and is applied, then the connection is destroyed before the reply
 *   (a PUT the client must retry without harm);
 * - `truncate`: the reply's headers and half its body, then the connection is destroyed;
 * - `slow`: the reply is held back for `slowMs` first.
 *
 * The first request for each method and path meets a fault (the kinds in turn), so every step meets several;
 * after that each request meets one with probability `rate`. Requests are forwarded with their headers as
 * signed (path-style S3 signs the host the client used, which the S3 server accepts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRng } from '../../core/common/rng';

export const FAULT_KINDS = ['slowdown', 'reset', 'lost-reply', 'truncate', 'slow'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface InjectedFault {
  kind: FaultKind;
  method: string;
  path: string;
}

export interface ChaosProxy {
  endpoint: string;
  /** Every fault injected, in order. */
  faults: InjectedFault[];
  /** Requests forwarded without a fault. */
  clean(): number;
  stop(): Promise<void>;
}

export interface ChaosOptions {
  /** The S3 server, `http://host:port`. */
  target: string;
  seed: number;
  rate: number;
  slowMs?: number;
}

export async function startChaosProxy(opts: ChaosOptions): Promise<ChaosProxy> {
  const target = new URL(opts.target);
  const rng = createRng(opts.seed);
  const seen = new Set<string>();
  const faults: InjectedFault[] = [];
  let turn = 0;
  let clean = 0;

  const choose = (key: string): FaultKind | null => {
    if (!seen.has(key)) {
      seen.add(key);
      return FAULT_KINDS[turn++ % FAULT_KINDS.length];
    }
    return rng.next() < opts.rate ? FAULT_KINDS[Math.floor(rng.next() * FAULT_KINDS.length)] : null;
  };

  const forward = (req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? '/').split('?')[0];
        const kind = choose(`${req.method} ${req.url}`);
        if (kind) faults.push({ kind, method: req.method ?? '?', path });
        else clean++;
        if (kind === 'reset') return req.socket.destroy();
        if (kind === 'slowdown') {
          res.writeHead(503, { 'content-type': 'application/xml' });
          return res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
        }
        if (kind === 'slow') await new Promise((r) => setTimeout(r, opts.slowMs ?? 1500));
        let reply;
        try {
          reply = await forward(req, body);
        } catch {
          return req.socket.destroy();
        }
        if (kind === 'lost-reply') return req.socket.destroy();
        if (kind === 'truncate' && reply.body.length > 1) {
          res.writeHead(reply.status, reply.headers);
          res.write(reply.body.subarray(0, Math.floor(reply.body.length / 2)));
          // Let the half reach the client before the connection goes.
          return setTimeout(() => req.socket.destroy(), 20);
        }
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    clean: () => clean,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
