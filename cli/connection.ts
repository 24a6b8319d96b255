/**
 * Reaching Temporal from the CLI: connect with a short, friendly error when the server is not there, links
 * into the Web UI, and a check for a worker on the task queue.
 */
import { Client, Connection } from '@temporalio/client';
import type { ConnectionOptions } from './args';
import { connectOptions, describeTarget } from '../workers/temporal-target';
import { clientTracing } from '../workers/otel';
import { ObservabilityConfigError } from '../workers/logging';
import { CodecConfigError, payloadCodecsFromEnv } from '../workers/codec';

/** Temporal could not be reached or refused the request in a way the user must fix (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Connected {
  connection: Connection;
  client: Client;
  options: ConnectionOptions;
  close(): Promise<void>;
}

// temporal.api.enums.v1 values (@temporalio/proto is not a direct dependency).
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** `<ui>/namespaces/<ns>/workflows/<id>` */
export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export function unreachableMessage(options: ConnectionOptions, reason: string): string {
  return [
    `Cannot reach Temporal at ${describeTarget(options)}: ${reason}`,
    'Start the local stack in another terminal with `npm run stack`, or point --address / TEMPORAL_ADDRESS (or a',
    'Temporal client profile: --profile / TEMPORAL_PROFILE) at your server.',
  ].join('\n');
}

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim() || 'connection failed';
}

export async function connect(options: ConnectionOptions, connectTimeoutMs = 5000, env: NodeJS.ProcessEnv = process.env): Promise<Connected> {
  // Every client the CLI makes (runs, schedules, queries, updates, histories) encrypts and decrypts payloads
  // like the worker when JUDGELOOP_CODEC_KEYS is set (workers/codec.ts); a bad value is a usage error.
  let payloadCodecs: ReturnType<typeof payloadCodecsFromEnv>;
  try {
    payloadCodecs = payloadCodecsFromEnv(env);
  } catch (e) {
    if (e instanceof CodecConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectOptions(options), connectTimeout: connectTimeoutMs });
  } catch (e) {
    throw new CliError(unreachableMessage(options, shortReason(e)));
  }
  // With JUDGELOOP_OTEL / JUDGELOOP_OTEL_FILE, a run started here roots its trace in this process.
  let tracing: ReturnType<typeof clientTracing>;
  try {
    tracing = clientTracing(process.env);
  } catch (e) {
    await connection.close().catch(() => undefined);
    if (e instanceof ObservabilityConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  const client = new Client({
    connection,
    namespace: options.namespace,
    dataConverter: { payloadCodecs },
    interceptors: { workflow: tracing?.workflowInterceptors ?? [] },
  });
  const close = async () => {
    await tracing?.flush().catch(() => undefined);
    await connection.close().catch(() => undefined);
  };
  // Fail early, and clearly, on a namespace that does not exist.
  try {
    await connection.withDeadline(Date.now() + connectTimeoutMs, () =>
      connection.workflowService.describeNamespace({ namespace: options.namespace }),
    );
  } catch (e) {
    await close();
    const code = (e as { code?: number }).code;
    if (code === 5 /* NOT_FOUND */) {
      throw new CliError(
        `Temporal at ${options.address} has no namespace "${options.namespace}" (pass --namespace or set TEMPORAL_NAMESPACE).`,
      );
    }
    throw new CliError(unreachableMessage(options, shortReason(e)));
  }
  return { connection, client, options, close };
}

/**
 * Whether any worker polled the workflow task queue recently. Null when the server would not say (then the
 * caller should not warn).
 */
export async function hasWorkflowPollers(conn: Connected, timeoutMs = 3000): Promise<boolean | null> {
  try {
    const res = await conn.connection.withDeadline(Date.now() + timeoutMs, () =>
      conn.connection.workflowService.describeTaskQueue({
        namespace: conn.options.namespace,
        taskQueue: { name: conn.options.taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
        taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    return (res.pollers?.length ?? 0) > 0;
  } catch {
    return null;
  }
}

export function noWorkerWarning(taskQueue: string): string {
  return `warning: no worker is polling task queue "${taskQueue}" yet; the run waits until one does (start one with \`npm run worker\`, or the whole stack with \`npm run stack\`).`;
}
