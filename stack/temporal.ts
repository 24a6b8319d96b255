/**
 * The Temporal CLI's dev server (`temporal server start-dev`): start it, wait until its frontend answers,
 * recognise one that is already running, register namespaces and search attributes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { StackError } from './errors';
import { LOCALHOST, assertPortFree, freePort } from './ports';
import { ManagedProcess, describeExit, sleep } from './process';

export type SearchAttributeTypeName = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface TemporalDevServerOptions {
  /** Path of the `temporal` executable (the project's is `.tools/bin/temporal`). */
  binary: string;
  /** gRPC frontend port. */
  port: number;
  /** Web UI port; default port + 1000. Ignored when headless. */
  uiPort?: number;
  /** No Web UI (tests). */
  headless?: boolean;
  /** SQLite file for persistence; without it the server keeps everything in memory. */
  dbFile?: string;
  /** Namespace to create at launch (the "default" namespace always exists). */
  namespace?: string;
  /** Custom search attributes to register in the namespace once the server is up. */
  searchAttributes?: Record<string, SearchAttributeTypeName>;
  /** Server output goes here (appended); default: discarded. */
  logFile?: string;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** How long to wait for the frontend to answer; default 90 s (startup can exceed 5 s on a busy 2-core box). */
  startTimeoutMs?: number;
  /** Extra arguments for `temporal server start-dev` (e.g. --dynamic-config-value K=V). */
  extraArgs?: string[];
  /** Flags named in port-in-use messages; default --temporal-port / --ui-port. */
  portFlag?: string;
  uiPortFlag?: string;
}

export interface TemporalDevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  namespace: string;
  /** The Web UI, unless headless. */
  uiUrl: string | undefined;
  process: ManagedProcess;
  pid: number;
  /** SIGTERM (graceful), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export const TEMPORAL_SERVICE = 'Temporal dev server (gRPC frontend)';
export const TEMPORAL_UI_SERVICE = 'Temporal Web UI';

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const host = opts.host ?? LOCALHOST;
  const namespace = opts.namespace ?? 'default';
  const uiPort = opts.uiPort ?? opts.port + 1000;
  if (!fs.existsSync(opts.binary)) {
    throw new StackError(
      `the Temporal CLI is not installed at ${opts.binary}`,
      'Run the set-up once: bash scripts/setup.sh (it builds it with go install into .tools/bin).',
    );
  }
  await assertPortFree(opts.port, TEMPORAL_SERVICE, opts.portFlag ?? '--temporal-port', host);
  if (!opts.headless) await assertPortFree(uiPort, TEMPORAL_UI_SERVICE, opts.uiPortFlag ?? '--ui-port', host);

  // The HTTP API port too: left to the CLI, it picks a free port before the gRPC frontend binds, and once picked
  // the very port we asked for the frontend (both failed with "address already in use").
  let httpPort = await freePort(host);
  while (httpPort === opts.port || httpPort === uiPort) httpPort = await freePort(host);
  const args = ['server', 'start-dev', '--ip', host, '--port', String(opts.port), '--http-port', String(httpPort), '--log-level', 'warn'];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (namespace !== 'default') args.push('--namespace', namespace);
  args.push(...(opts.extraArgs ?? []));

  const proc = await ManagedProcess.start({
    name: 'Temporal dev server',
    command: opts.binary,
    args,
    output: opts.logFile ? { file: opts.logFile } : 'ignore',
    // The dev server must not pick up a user's temporal.yaml / TEMPORAL_* environment for its own client.
    env: { ...process.env, TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined },
  });
  const address = `${host}:${opts.port}`;
  const server: TemporalDevServer = {
    address,
    namespace,
    uiUrl: opts.headless ? undefined : `http://${host}:${uiPort}`,
    process: proc,
    pid: proc.pid,
    stop: async () => {
      await proc.stop('SIGTERM', 15_000);
    },
  };
  try {
    await waitForTemporal(address, namespace, { timeoutMs: opts.startTimeoutMs ?? 90_000, process: proc });
    if (opts.searchAttributes) await ensureSearchAttributes(address, namespace, opts.searchAttributes);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Connects to a frontend (short timeout); the caller closes the connection. */
export async function connectTemporal(address: string, timeoutMs = 3000): Promise<Connection> {
  return Connection.connect({ address, connectTimeout: timeoutMs });
}

/**
 * Whether a Temporal frontend answers at address (and, if given, knows the namespace).
 * Returns 'ok', 'no-namespace' (a Temporal server, but without that namespace) or 'no' (nothing, or not Temporal).
 */
export async function probeTemporal(
  address: string,
  namespace?: string,
  timeoutMs = 3000,
): Promise<'ok' | 'no-namespace' | 'no'> {
  let connection: Connection | undefined;
  try {
    connection = await connectTemporal(address, timeoutMs);
    if (!namespace) return 'ok';
    try {
      await connection.withDeadline(Date.now() + timeoutMs, () =>
        connection!.workflowService.describeNamespace({ namespace }),
      );
      return 'ok';
    } catch (err) {
      return (err as { code?: number }).code === 5 /* NOT_FOUND */ ? 'no-namespace' : 'no';
    }
  } catch {
    return 'no';
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** Waits until the frontend at address answers DescribeNamespace; fails early if `process` exits. */
export async function waitForTemporal(
  address: string,
  namespace: string,
  opts: { timeoutMs: number; process?: ManagedProcess },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const proc = opts.process;
    if (proc && !proc.alive) {
      throw new StackError(
        `the Temporal dev server ${describeExit(proc.exitStatus!)} while starting` +
          (proc.logFile ? `; last lines of ${proc.logFile}:\n${indent(proc.logTail(15))}` : ''),
        'Check the log above; a port or database file problem is the usual cause.',
      );
    }
    const state = await probeTemporal(address, namespace, 2000);
    if (state === 'ok') return;
    last = state === 'no-namespace' ? `namespace ${namespace} not registered yet` : 'frontend not answering yet';
    await sleep(250);
  }
  throw new StackError(
    `the Temporal dev server at ${address} did not become ready within ${Math.round(opts.timeoutMs / 1000)} s (${last})` +
      (opts.process?.logFile ? `; last lines of ${opts.process.logFile}:\n${indent(opts.process.logTail(15))}` : ''),
    'The machine may be overloaded; try again, or start it by hand to see its output: .tools/bin/temporal server start-dev',
  );
}

/** Registers a namespace on a running server if it does not exist yet (for a reused server). */
export async function ensureNamespace(address: string, namespace: string): Promise<void> {
  const connection = await connectTemporal(address);
  try {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 5) throw err;
    }
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw err;
    }
    // Namespace registration propagates asynchronously.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch {
        await sleep(250);
      }
    }
    throw new StackError(`namespace ${namespace} was registered but does not answer yet`);
  } finally {
    await connection.close();
  }
}

// temporal.api.enums.v1.IndexedValueType as numbers, so this file needs no direct @temporalio/proto import.
const INDEXED_VALUE_TYPES: Record<SearchAttributeTypeName, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};
type AddSearchAttributesRequest = Parameters<Connection['operatorService']['addSearchAttributes']>[0];

/** Registers the custom search attributes that the namespace lacks (idempotent). */
export async function ensureSearchAttributes(
  address: string,
  namespace: string,
  attributes: Record<string, SearchAttributeTypeName>,
): Promise<void> {
  if (Object.keys(attributes).length === 0) return;
  const connection = await connectTemporal(address);
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const have: Record<string, number> = { ...(existing.customAttributes ?? {}), ...(existing.systemAttributes ?? {}) };
    const missing: Record<string, number> = {};
    for (const [name, type] of Object.entries(attributes)) {
      if (!(name in have)) missing[name] = INDEXED_VALUE_TYPES[type];
      else if (have[name] !== INDEXED_VALUE_TYPES[type]) {
        throw new StackError(
          `search attribute ${name} already exists in namespace ${namespace} with another type (wanted ${type})`,
          'Use a fresh data folder (--data-dir) or another namespace.',
        );
      }
    }
    if (Object.keys(missing).length === 0) return;
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: missing as AddSearchAttributesRequest['searchAttributes'],
      });
    } catch (err) {
      if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS: a concurrent caller won */) throw err;
    }
  } finally {
    await connection.close();
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    | ${l}`)
    .join('\n');
}
