/**
 * The MLflow tracking server of the local stack (and of the tracking tests): `mlflow server` from the venv
 * scripts/setup.sh builds (.tools/mlflow-venv), with its runs in a SQLite file and its artifacts on the local
 * S3 server, as a production server keeps them in a database and S3.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from './errors';
import { LOCALHOST, assertPortFree } from './ports';
import { ManagedProcess, describeExit, sleep } from './process';
import type { S3Connection } from './s3';

export const MLFLOW_SERVICE = 'MLflow tracking server';

export interface MlflowServerOptions {
  /** The venv with mlflow and boto3 (.tools/mlflow-venv). */
  venv: string;
  host?: string;
  port: number;
  portFlag?: string;
  /** Holds mlflow.db. */
  dataDir: string;
  /** Where artifacts go: the S3 server and a bucket (`s3://<bucket>/<prefix>`). */
  artifacts: S3Connection & { bucket: string; prefix?: string };
  logFile?: string;
  startTimeoutMs?: number;
}

export interface MlflowServer {
  url: string;
  pid: number;
  process: ManagedProcess;
  dbFile: string;
  stop(): Promise<void>;
}

/** The venv's mlflow command, or a StackError that says how to get it. */
export function mlflowCommand(venv: string): string {
  const command = path.join(venv, 'bin', 'mlflow');
  if (!fs.existsSync(command)) {
    throw new StackError(`the MLflow tracking server is not installed at ${command}`, 'Run the set-up once: bash scripts/setup.sh --only mlflow');
  }
  return command;
}

export async function startMlflowServer(opts: MlflowServerOptions): Promise<MlflowServer> {
  const host = opts.host ?? LOCALHOST;
  const command = mlflowCommand(opts.venv);
  await assertPortFree(opts.port, MLFLOW_SERVICE, opts.portFlag ?? '--mlflow-port', host);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const dbFile = path.join(opts.dataDir, 'mlflow.db');
  const a = opts.artifacts;
  const proc = await ManagedProcess.start({
    name: 'MLflow server',
    command,
    args: [
      'server',
      '--backend-store-uri',
      `sqlite:///${dbFile}`,
      '--artifacts-destination',
      `s3://${a.bucket}/${a.prefix ?? 'mlflow'}`,
      '--host',
      host,
      '--port',
      String(opts.port),
      '--workers',
      '1',
    ],
    output: opts.logFile ? { file: opts.logFile } : 'ignore',
    env: {
      ...process.env,
      MLFLOW_S3_ENDPOINT_URL: a.endpoint,
      AWS_ACCESS_KEY_ID: a.accessKeyId,
      AWS_SECRET_ACCESS_KEY: a.secretAccessKey,
      AWS_DEFAULT_REGION: a.region,
      // The server's background job runner (prompt optimisation, scorers) is not used here and costs ~0.5 GB.
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    },
  });
  const url = `http://${host}:${opts.port}`;
  const server: MlflowServer = { url, pid: proc.pid, process: proc, dbFile, stop: async () => {
    await proc.stop('SIGTERM', 10_000);
  } };
  try {
    await waitForMlflow(url, { timeoutMs: opts.startTimeoutMs ?? 90_000, process: proc });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** True when an MLflow server answers at `url` (its /health says OK). */
export async function probeMlflow(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && (await res.text()).trim() === 'OK';
  } catch {
    return false;
  }
}

export async function waitForMlflow(url: string, opts: { timeoutMs: number; process?: ManagedProcess }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    const proc = opts.process;
    if (proc && !proc.alive) {
      throw new StackError(
        `the MLflow server ${describeExit(proc.exitStatus!)} while starting` + (proc.logFile ? `; last lines of ${proc.logFile}:\n${proc.logTail(15)}` : ''),
        'Check the log above; rebuild its venv with: bash scripts/setup.sh --only mlflow',
      );
    }
    if (await probeMlflow(url)) return;
    await sleep(250);
  }
  throw new StackError(`the MLflow server at ${url} did not answer within ${Math.round(opts.timeoutMs / 1000)} s`);
}
