/**
 * Real services for integration tests: a Temporal dev server and an S3 server (versitygw) on free ports in a
 * temporary folder, using the binaries scripts/setup.sh put in .tools/bin (a test never downloads a server).
 *
 *   const services = await startTestServices();
 *   after(() => services.stop());
 *   const env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
 *
 * Why not TestWorkflowEnvironment.createLocal: it waits only 5 s for the server, which a busy 2-core machine
 * can exceed (see docs/design.md, "Local stack").
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { PortInUseError, StackError } from '../../stack/errors';
import { freePort } from '../../stack/ports';
import { ensureBucket, s3Client, startS3Server, type S3Connection, type S3Server } from '../../stack/s3';
import { JUDGELOOP_SEARCH_ATTRIBUTES, toolPaths } from '../../stack/stack';
import { startTemporalDevServer, type SearchAttributeTypeName, type TemporalDevServer } from '../../stack/temporal';
import { PROJECT_ROOT, startWorker, type WorkerOptions, type WorkerProcess } from '../../stack/worker';

export { freePort };

// The pinned AWS SDK warns that future releases need Node 22; keep test output readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface TestS3 extends S3Connection {
  bucket: string;
}

export interface TestServices {
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  namespace: string;
  s3: TestS3;
  /** Temporary folder with temporal.sqlite, s3/ and logs/ (removed by stop() unless JUDGELOOP_KEEP_TEST_DATA=1). */
  dir: string;
  temporal: TemporalDevServer;
  /** The current S3 server process (replaced by restartS3()). */
  s3Server: S3Server;
  /** A client for the test bucket's server (path-style, local credentials); destroyed by stop(). */
  s3Client(): S3Client;
  /** Stops the S3 server (SIGTERM; `{ kill: true }`: SIGKILL) and starts it again on the same port and data folder. */
  restartS3(opts?: { kill?: boolean }): Promise<void>;
  /** Kills the Temporal dev server (SIGKILL) and starts it again on the same port and database file. */
  restartTemporal(): Promise<void>;
  /** Starts a worker (workers/main.ts by default) wired to these services; stop() stops it too. */
  startWorker(opts?: Partial<WorkerOptions>): Promise<WorkerProcess>;
  /** Stops workers, then S3, then Temporal, and removes the temporary folder. Idempotent. */
  stop(): Promise<void>;
}

export interface TestServicesOptions {
  /** Start the Temporal dev server (default true); false gives S3 only (temporalAddress then throws). */
  temporal?: boolean;
  namespace?: string;
  bucket?: string;
  /** Default: the stack's Judgeloop search attributes. */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Keep the temporary folder after stop() (also JUDGELOOP_KEEP_TEST_DATA=1). */
  keepData?: boolean;
  /** The S3 server's credentials (default: fixed local ones); a secret-scanning test gives unique values. */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
}

const ACCESS_KEY = 'judgeloop-test';
const SECRET_KEY = 'judgeloop-test-secret';

function binaries(): { temporal: string; versitygw: string } {
  const tools = toolPaths(PROJECT_ROOT);
  for (const [name, p] of Object.entries(tools)) {
    if (!fs.existsSync(p)) {
      throw new StackError(
        `${name} is not installed at ${p}; integration tests use the project's own binaries`,
        'Run: bash scripts/setup.sh --only tools',
      );
    }
  }
  return tools;
}

/** Retries `start` on a fresh port when another process grabbed the free port first. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= 5) throw err;
    }
  }
}

export async function startTestServices(opts: TestServicesOptions = {}): Promise<TestServices> {
  const tools = binaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-test-'));
  const namespace = opts.namespace ?? 'default';
  const bucket = opts.bucket ?? 'judgeloop-test';
  const keep = opts.keepData || process.env.JUDGELOOP_KEEP_TEST_DATA === '1';
  const workers: WorkerProcess[] = [];
  const clients: S3Client[] = [];
  let temporal: TemporalDevServer | undefined;
  let s3Server: S3Server | undefined;
  let s3Port = 0;
  const accessKey = opts.s3Credentials?.accessKeyId ?? ACCESS_KEY;
  const secretKey = opts.s3Credentials?.secretAccessKey ?? SECRET_KEY;

  const startS3 = (port: number) =>
    startS3Server({
      binary: tools.versitygw,
      port,
      dataDir: path.join(dir, 's3'),
      accessKey,
      secretKey,
      logFile: path.join(dir, 'logs', 's3.log'),
    });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const c of clients) c.destroy();
      await Promise.all(workers.map((w) => w.stop(15_000)));
      await s3Server?.stop();
      await temporal?.stop();
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const startTemporal = (port: number) =>
    startTemporalDevServer({
      binary: tools.temporal,
      port,
      headless: true,
      dbFile: path.join(dir, 'temporal.sqlite'),
      namespace,
      searchAttributes: opts.searchAttributes ?? JUDGELOOP_SEARCH_ATTRIBUTES,
      logFile: path.join(dir, 'logs', 'temporal.log'),
    });

  try {
    if (opts.temporal !== false) temporal = await onFreePort(startTemporal);
    s3Server = await onFreePort(async (port) => {
      const server = await startS3(port);
      s3Port = port;
      return server;
    });
    const s3: TestS3 = {
      endpoint: s3Server.endpoint,
      accessKeyId: accessKey,
      secretAccessKey: secretKey,
      region: s3Server.region,
      bucket,
    };
    await ensureBucket(s3);

    const noTemporal = () =>
      new Error('startTestServices({ temporal: false }) started no Temporal server');
    const services: TestServices = {
      get temporalAddress() {
        if (!temporal) throw noTemporal();
        return temporal.address;
      },
      namespace,
      s3,
      dir,
      get temporal() {
        if (!temporal) throw noTemporal();
        return temporal;
      },
      get s3Server() {
        return s3Server!;
      },
      s3Client() {
        const client = s3Client(s3);
        clients.push(client);
        return client;
      },
      async restartS3(restart: { kill?: boolean } = {}) {
        if (restart.kill) await s3Server!.process.stop('SIGKILL', 5000);
        else await s3Server!.stop();
        s3Server = await startS3(s3Port);
      },
      async restartTemporal() {
        if (!temporal) throw noTemporal();
        const port = Number(temporal.address.split(':').pop());
        await temporal.process.stop('SIGKILL', 5000);
        temporal = await startTemporal(port);
      },
      async startWorker(workerOpts: Partial<WorkerOptions> = {}) {
        if (!temporal) throw noTemporal();
        const worker = await startWorker({
          temporalAddress: temporal.address,
          namespace,
          taskQueue: 'judgeloop',
          s3,
          output: { file: path.join(dir, 'logs', `worker-${workers.length + 1}.log`) },
          ...workerOpts,
        });
        workers.push(worker);
        return worker;
      },
      stop,
    };
    return services;
  } catch (err) {
    await stop();
    throw err;
  }
}
