/**
 * The local S3-compatible server: versitygw (Apache-2.0) serving a posix folder, one sub-folder per bucket.
 * Reached only through @aws-sdk/client-s3 with a custom endpoint and path-style addressing.
 *
 * Known limit of a posix backend: an object key cannot also be a "folder" of other keys (`a/b` and `a/b/c`
 * cannot both exist). Judgeloop's keys (`runs/RUN/iter-K/STEP/file`) never do that.
 */
import fs from 'node:fs';
import {
  CreateBucketCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { StackError } from './errors';
import { LOCALHOST, assertPortFree } from './ports';
import { ManagedProcess, describeExit, sleep } from './process';

export const S3_SERVICE = 'S3 server (versitygw)';
export const DEFAULT_S3_REGION = 'us-east-1';

/** What a client needs to reach the S3 server. */
export interface S3Connection {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface S3ServerOptions {
  /** Path of the versitygw executable (the project's is `.tools/bin/versitygw`). */
  binary: string;
  port: number;
  /** Folder that holds the buckets (created if missing); data persists across restarts. */
  dataDir: string;
  accessKey: string;
  secretKey: string;
  region?: string;
  host?: string;
  /** Server output goes here (appended); default: discarded. */
  logFile?: string;
  startTimeoutMs?: number;
  /** Flag named in port-in-use messages; default --s3-port. */
  portFlag?: string;
}

export interface S3Server extends S3Connection {
  process: ManagedProcess;
  pid: number;
  dataDir: string;
  stop(): Promise<void>;
}

export function s3ClientConfig(conn: S3Connection): S3ClientConfig {
  return {
    endpoint: conn.endpoint,
    region: conn.region,
    forcePathStyle: true,
    credentials: { accessKeyId: conn.accessKeyId, secretAccessKey: conn.secretAccessKey },
    maxAttempts: 3,
  };
}

export function s3Client(conn: S3Connection): S3Client {
  return new S3Client(s3ClientConfig(conn));
}

export async function startS3Server(opts: S3ServerOptions): Promise<S3Server> {
  const host = opts.host ?? LOCALHOST;
  const region = opts.region ?? DEFAULT_S3_REGION;
  if (!fs.existsSync(opts.binary)) {
    throw new StackError(
      `the S3 server (versitygw) is not installed at ${opts.binary}`,
      'Run the set-up once: bash scripts/setup.sh (it builds it with go install into .tools/bin).',
    );
  }
  await assertPortFree(opts.port, S3_SERVICE, opts.portFlag ?? '--s3-port', host);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const proc = await ManagedProcess.start({
    name: 'S3 server',
    command: opts.binary,
    args: ['--port', `${host}:${opts.port}`, '--region', region, '--quiet', 'posix', opts.dataDir],
    output: opts.logFile ? { file: opts.logFile } : 'ignore',
    // Credentials through the environment, not argv (argv is visible to every user in `ps`).
    env: { ...process.env, ROOT_ACCESS_KEY_ID: opts.accessKey, ROOT_SECRET_ACCESS_KEY: opts.secretKey },
  });
  const server: S3Server = {
    endpoint: `http://${host}:${opts.port}`,
    accessKeyId: opts.accessKey,
    secretAccessKey: opts.secretKey,
    region,
    dataDir: opts.dataDir,
    process: proc,
    pid: proc.pid,
    stop: async () => {
      await proc.stop('SIGTERM', 10_000);
    },
  };
  try {
    await waitForS3(server, { timeoutMs: opts.startTimeoutMs ?? 60_000, process: proc });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

export type S3ProbeResult = 'ok' | 'denied' | 'no';

/**
 * What answers at conn.endpoint: 'ok' (an S3 server that accepts these credentials), 'denied' (an S3-like
 * server that rejects them) or 'no' (nothing, or not S3).
 */
export async function probeS3(conn: S3Connection, timeoutMs = 3000): Promise<S3ProbeResult> {
  const client = new S3Client({ ...s3ClientConfig(conn), maxAttempts: 1 });
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(timeoutMs) });
    return 'ok';
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    if ((status === 403 || status === 401) && /AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId/i.test(e.name ?? '')) {
      return 'denied';
    }
    return 'no';
  } finally {
    client.destroy();
  }
}

export async function waitForS3(
  conn: S3Connection,
  opts: { timeoutMs: number; process?: ManagedProcess },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let state: S3ProbeResult = 'no';
  while (Date.now() < deadline) {
    const proc = opts.process;
    if (proc && !proc.alive) {
      throw new StackError(
        `the S3 server ${describeExit(proc.exitStatus!)} while starting` +
          (proc.logFile ? `; last lines of ${proc.logFile}:\n${proc.logTail(15)}` : ''),
        'Check the log above (a data folder on a file system without extended attributes is a known cause).',
      );
    }
    state = await probeS3(conn, 2000);
    if (state === 'ok') return;
    if (state === 'denied') {
      throw new StackError(`the S3 server at ${conn.endpoint} rejects access key ${conn.accessKeyId}`);
    }
    await sleep(100);
  }
  throw new StackError(`the S3 server at ${conn.endpoint} did not answer within ${Math.round(opts.timeoutMs / 1000)} s`);
}

/** Creates the bucket unless it exists (idempotent). */
export async function ensureBucket(conn: S3Connection & { bucket: string }): Promise<void> {
  const client = s3Client(conn);
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket: conn.bucket }));
      return;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw err;
    }
    try {
      await client.send(new CreateBucketCommand({ Bucket: conn.bucket }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
  } finally {
    client.destroy();
  }
}
