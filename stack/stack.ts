/**
 * The whole local stack: Temporal dev server, S3 server (+ bucket) and a worker, started in that order,
 * stopped in the reverse one (worker, then S3, then Temporal). A server that already listens on its port and
 * answers correctly is reused (and left running on stop); anything else on a needed port is reported.
 */
import path from 'node:path';
import { PortInUseError, StackError } from './errors';
import { LOCALHOST, freePort, isPortFree } from './ports';
import {
  DEFAULT_S3_REGION,
  S3_SERVICE,
  ensureBucket,
  probeS3,
  startS3Server,
  type S3Connection,
  type S3Server,
} from './s3';
import {
  TEMPORAL_SERVICE,
  ensureNamespace,
  ensureSearchAttributes,
  probeTemporal,
  startTemporalDevServer,
  type SearchAttributeTypeName,
  type TemporalDevServer,
} from './temporal';
import { PROJECT_ROOT, startWorker, type WorkerProcess } from './worker';
import { MLFLOW_SERVICE, probeMlflow, startMlflowServer, type MlflowServer } from './mlflow';
import type { ProcessOutput } from './process';
import { JUDGELOOP_SEARCH_ATTRIBUTES as CORE_SEARCH_ATTRIBUTES } from '../core/run/search-attributes';

export const DEFAULT_TEMPORAL_PORT = 7233;
export const DEFAULT_S3_PORT = 9000;
export const DEFAULT_MLFLOW_PORT = 5000;
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_TASK_QUEUE = 'judgeloop';
export const DEFAULT_ACCESS_KEY = 'judgeloop';
export const DEFAULT_SECRET_KEY = 'judgeloop-local-secret';
export const DEFAULT_BUCKET = 'judgeloop';

/** Custom search attributes the stack registers in its namespace (core/run/search-attributes.ts). */
export const JUDGELOOP_SEARCH_ATTRIBUTES: Record<string, SearchAttributeTypeName> = { ...CORE_SEARCH_ATTRIBUTES };

/** The project's binaries, built by scripts/setup.sh; overridable for unusual installs. */
export function toolPaths(root = PROJECT_ROOT): { temporal: string; versitygw: string } {
  return {
    temporal: process.env.JUDGELOOP_TEMPORAL_BIN || path.join(root, '.tools', 'bin', 'temporal'),
    versitygw: process.env.JUDGELOOP_S3_BIN || path.join(root, '.tools', 'bin', 'versitygw'),
  };
}

/** The MLflow server's venv (scripts/setup.sh --only mlflow). */
export function mlflowVenv(root = PROJECT_ROOT): string {
  return process.env.JUDGELOOP_MLFLOW_VENV || path.join(root, '.tools', 'mlflow-venv');
}

export interface StackOptions {
  root?: string;
  host?: string;
  temporalPort?: number;
  uiPort?: number;
  s3Port?: number;
  mlflowPort?: number;
  /** Start the MLflow tracking server (default true); the worker then tracks runs whose config asks (tracking.mlflow). */
  mlflow?: boolean;
  /** Holds temporal.sqlite, s3/ (the buckets), mlflow/ and logs/. */
  dataDir?: string;
  namespace?: string;
  taskQueue?: string;
  bucket?: string;
  accessKey?: string;
  secretKey?: string;
  /** Start a worker (default true). */
  worker?: boolean;
  workerOutput?: ProcessOutput;
  /** Reuse servers that already answer on their ports (default true). */
  reuse?: boolean;
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Progress lines ("starting the Temporal dev server..."). */
  log?: (line: string) => void;
}

export interface StackInfo {
  temporal: { address: string; namespace: string; uiUrl: string; reused: boolean; dbFile?: string; logFile?: string };
  s3: S3Connection & { bucket: string; reused: boolean; dataDir?: string; logFile?: string };
  mlflow?: { url: string; reused: boolean; dbFile?: string; logFile?: string };
  worker?: { pid: number; taskQueue: string; metricsUrl: string };
}

export class LocalStack {
  readonly opts: Required<Omit<StackOptions, 'log' | 'workerOutput'>> & Pick<StackOptions, 'log' | 'workerOutput'>;
  temporalServer?: TemporalDevServer;
  s3Server?: S3Server;
  mlflowServer?: MlflowServer;
  worker?: WorkerProcess;
  info?: StackInfo;
  private stopping?: Promise<void>;

  constructor(options: StackOptions = {}) {
    const root = options.root ?? PROJECT_ROOT;
    const temporalPort = options.temporalPort ?? DEFAULT_TEMPORAL_PORT;
    this.opts = {
      root,
      host: options.host ?? LOCALHOST,
      temporalPort,
      uiPort: options.uiPort ?? temporalPort + 1000,
      s3Port: options.s3Port ?? DEFAULT_S3_PORT,
      mlflowPort: options.mlflowPort ?? DEFAULT_MLFLOW_PORT,
      mlflow: options.mlflow ?? true,
      dataDir: path.resolve(root, options.dataDir ?? path.join('.judgeloop', 'stack')),
      namespace: options.namespace ?? DEFAULT_NAMESPACE,
      taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
      bucket: options.bucket ?? DEFAULT_BUCKET,
      accessKey: options.accessKey ?? DEFAULT_ACCESS_KEY,
      secretKey: options.secretKey ?? DEFAULT_SECRET_KEY,
      worker: options.worker ?? true,
      reuse: options.reuse ?? true,
      searchAttributes: options.searchAttributes ?? JUDGELOOP_SEARCH_ATTRIBUTES,
      log: options.log,
      workerOutput: options.workerOutput,
    };
  }

  private say(line: string): void {
    this.opts.log?.(line);
  }

  /** Starts (or reuses) everything; on failure stops what it started and rethrows. */
  async start(): Promise<StackInfo> {
    try {
      return await this.startInner();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startInner(): Promise<StackInfo> {
    const o = this.opts;
    const tools = toolPaths(o.root);
    const logs = path.join(o.dataDir, 'logs');
    const address = `${o.host}:${o.temporalPort}`;

    // Temporal
    let temporalInfo: StackInfo['temporal'];
    if (o.reuse && !(await isPortFree(o.temporalPort, o.host))) {
      const state = await probeTemporal(address);
      if (state !== 'ok') {
        throw new PortInUseError(o.temporalPort, TEMPORAL_SERVICE, '--temporal-port', o.host, 'and it does not answer as a Temporal server');
      }
      this.say(`reusing the Temporal server already running at ${address}`);
      await ensureNamespace(address, o.namespace);
      await ensureSearchAttributes(address, o.namespace, o.searchAttributes);
      temporalInfo = { address, namespace: o.namespace, uiUrl: `http://${o.host}:${o.uiPort}`, reused: true };
    } else {
      const dbFile = path.join(o.dataDir, 'temporal.sqlite');
      const logFile = path.join(logs, 'temporal.log');
      this.say(`starting the Temporal dev server on ${address} (log: ${displayPath(logFile)})`);
      this.temporalServer = await startTemporalDevServer({
        binary: tools.temporal,
        host: o.host,
        port: o.temporalPort,
        uiPort: o.uiPort,
        dbFile,
        namespace: o.namespace,
        logFile,
        searchAttributes: o.searchAttributes,
      });
      temporalInfo = {
        address,
        namespace: o.namespace,
        uiUrl: this.temporalServer.uiUrl!,
        reused: false,
        dbFile,
        logFile,
      };
    }

    // S3
    const conn: S3Connection = {
      endpoint: `http://${o.host}:${o.s3Port}`,
      accessKeyId: o.accessKey,
      secretAccessKey: o.secretKey,
      region: DEFAULT_S3_REGION,
    };
    let s3Info: StackInfo['s3'];
    if (o.reuse && !(await isPortFree(o.s3Port, o.host))) {
      const state = await probeS3(conn);
      if (state !== 'ok') {
        throw new PortInUseError(
          o.s3Port,
          S3_SERVICE,
          '--s3-port',
          o.host,
          state === 'denied'
            ? `an S3 server answers there but rejects access key ${o.accessKey}`
            : 'and it does not answer as an S3 server',
        );
      }
      this.say(`reusing the S3 server already running at ${conn.endpoint}`);
      s3Info = { ...conn, bucket: o.bucket, reused: true };
    } else {
      const dataDir = path.join(o.dataDir, 's3');
      const logFile = path.join(logs, 's3.log');
      this.say(`starting the S3 server on ${conn.endpoint} (log: ${displayPath(logFile)})`);
      this.s3Server = await startS3Server({
        binary: tools.versitygw,
        host: o.host,
        port: o.s3Port,
        dataDir,
        accessKey: o.accessKey,
        secretKey: o.secretKey,
        logFile,
      });
      s3Info = { ...conn, bucket: o.bucket, reused: false, dataDir, logFile };
    }
    await ensureBucket({ ...conn, bucket: o.bucket });

    this.info = { temporal: temporalInfo, s3: s3Info };

    // MLflow: runs whose config has tracking.mlflow are tracked here (the worker gets MLFLOW_TRACKING_URI).
    if (o.mlflow) {
      const url = `http://${o.host}:${o.mlflowPort}`;
      if (o.reuse && !(await isPortFree(o.mlflowPort, o.host))) {
        if (!(await probeMlflow(url))) {
          throw new PortInUseError(o.mlflowPort, MLFLOW_SERVICE, '--mlflow-port', o.host, 'and it does not answer as an MLflow server');
        }
        this.say(`reusing the MLflow tracking server already running at ${url}`);
        this.info.mlflow = { url, reused: true };
      } else {
        const dataDir = path.join(o.dataDir, 'mlflow');
        const logFile = path.join(logs, 'mlflow.log');
        this.say(`starting the MLflow tracking server on ${url} (log: ${displayPath(logFile)})`);
        this.mlflowServer = await startMlflowServer({
          venv: mlflowVenv(o.root),
          host: o.host,
          port: o.mlflowPort,
          dataDir,
          artifacts: { ...conn, bucket: o.bucket, prefix: 'mlflow' },
          logFile,
        });
        this.info.mlflow = { url, reused: false, dbFile: this.mlflowServer.dbFile, logFile };
      }
    }

    // Worker
    if (o.worker) {
      this.say(`starting the worker on task queue ${o.taskQueue} (it bundles the workflow code first)`);
      // The worker's Prometheus endpoint, on a free port unless the environment names one.
      const metricsAddress = process.env.JUDGELOOP_METRICS_ADDRESS || `${LOCALHOST}:${await freePort()}`;
      this.worker = await startWorker({
        cwd: o.root,
        temporalAddress: address,
        namespace: o.namespace,
        taskQueue: o.taskQueue,
        s3: { ...conn, bucket: o.bucket },
        output: o.workerOutput ?? 'inherit',
        env: {
          JUDGELOOP_METRICS_ADDRESS: metricsAddress,
          ...(this.info.mlflow && !process.env.MLFLOW_TRACKING_URI ? { MLFLOW_TRACKING_URI: this.info.mlflow.url } : {}),
        },
      });
      this.info.worker = { pid: this.worker.pid, taskQueue: o.taskQueue, metricsUrl: `http://${metricsAddress}/metrics` };
    }
    return this.info;
  }

  /** Stops what this stack started: worker, then S3, then Temporal. Idempotent. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        const errors: unknown[] = [];
        for (const [name, stop] of [
          ['worker', () => this.worker?.stop()],
          ['MLflow server', () => this.mlflowServer?.stop()],
          ['S3 server', () => this.s3Server?.stop()],
          ['Temporal dev server', () => this.temporalServer?.stop()],
        ] as const) {
          try {
            await stop();
          } catch (err) {
            errors.push(new StackError(`stopping the ${name} failed: ${(err as Error).message}`));
          }
        }
        if (errors.length) throw errors[0];
      })();
    }
    return this.stopping;
  }

  /** Resolves when a process this stack started exits on its own (not through stop()). */
  unexpectedExit(): Promise<{ name: string; description: string }> {
    const watched = [
      this.worker?.process,
      this.mlflowServer?.process,
      this.s3Server?.process,
      this.temporalServer?.process,
    ].filter((p): p is NonNullable<typeof p> => p !== undefined);
    return new Promise((resolve) => {
      for (const p of watched) {
        void p.exited.then((status) => {
          if (!this.stopping) {
            resolve({
              name: p.name,
              description: status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`,
            });
          }
        });
      }
    });
  }
}

/** A path relative to the current folder when it lies inside it, absolute otherwise. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}
