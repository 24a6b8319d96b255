/**
 * `npm run stack` / `judgeloop stack`: the local stack in the foreground until Ctrl-C.
 *
 *   judgeloop stack [--temporal-port 7233] [--ui-port 8233] [--s3-port 9000] [--mlflow-port 5000]
 *                   [--data-dir .judgeloop/stack] [--namespace default] [--no-worker] [--no-mlflow]
 *
 * Exit codes: 0 after a clean Ctrl-C, 1 when something fails to start or dies, 2 for bad flags.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { StackError, describeError } from './errors';
import {
  DEFAULT_ACCESS_KEY,
  DEFAULT_BUCKET,
  DEFAULT_MLFLOW_PORT,
  DEFAULT_NAMESPACE,
  DEFAULT_S3_PORT,
  DEFAULT_SECRET_KEY,
  DEFAULT_TASK_QUEUE,
  DEFAULT_TEMPORAL_PORT,
  LocalStack,
  displayPath,
  type StackInfo,
} from './stack';

export const STACK_USAGE = `usage: judgeloop stack [flags]

Starts the local stack: the Temporal dev server (SQLite file, Web UI), a local S3 server (versitygw) with the
bucket, an MLflow tracking server (SQLite file, artifacts in the bucket) and a worker. Keeps running until
Ctrl-C, then stops the worker, MLflow, S3 and Temporal in that order. A server that already answers on its
port is reused (and left running).

flags:
  --temporal-port N   Temporal gRPC frontend port (default ${DEFAULT_TEMPORAL_PORT})
  --ui-port N         Temporal Web UI port (default: temporal port + 1000)
  --s3-port N         S3 server port (default ${DEFAULT_S3_PORT})
  --mlflow-port N     MLflow tracking server port (default ${DEFAULT_MLFLOW_PORT})
  --data-dir DIR      Temporal database, S3 buckets, MLflow database and logs (default .judgeloop/stack)
  --namespace NAME    Temporal namespace (default ${DEFAULT_NAMESPACE})
  --no-worker         start only the servers (run a worker yourself with: npm run worker)
  --no-mlflow         no MLflow server (runs whose config has tracking.mlflow then warn that they are not tracked)
  -h, --help          this text`;

interface StackArgs {
  temporalPort: number;
  uiPort?: number;
  s3Port: number;
  mlflowPort: number;
  dataDir?: string;
  namespace: string;
  worker: boolean;
  mlflow: boolean;
  help: boolean;
}

class FlagError extends Error {}

export function parseStackArgs(argv: string[]): StackArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'temporal-port': { type: 'string' },
        'ui-port': { type: 'string' },
        's3-port': { type: 'string' },
        'mlflow-port': { type: 'string' },
        'data-dir': { type: 'string' },
        namespace: { type: 'string' },
        'no-worker': { type: 'boolean' },
        'no-mlflow': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const port = (flag: string, value: string | undefined, fallback?: number): number | undefined => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new FlagError(`${flag} must be a port number (1-65535), got "${value}"`);
    return n;
  };
  return {
    temporalPort: port('--temporal-port', values['temporal-port'], DEFAULT_TEMPORAL_PORT)!,
    uiPort: port('--ui-port', values['ui-port']),
    s3Port: port('--s3-port', values['s3-port'], DEFAULT_S3_PORT)!,
    mlflowPort: port('--mlflow-port', values['mlflow-port'], DEFAULT_MLFLOW_PORT)!,
    dataDir: values['data-dir'],
    namespace: values.namespace ?? DEFAULT_NAMESPACE,
    worker: !values['no-worker'],
    mlflow: !values['no-mlflow'],
    help: values.help ?? false,
  };
}

function summary(info: StackInfo, dataDir: string): string {
  const rel = displayPath;
  const t = info.temporal;
  const s = info.s3;
  const lines = [
    '',
    'Judgeloop local stack',
    `  Temporal   ${t.address}  namespace ${t.namespace}  ${t.reused ? '(reused: already running)' : `(database ${rel(t.dbFile!)})`}`,
    `  Web UI     ${t.uiUrl}`,
    `  S3         ${s.endpoint}  bucket ${s.bucket}  region ${s.region}  ${s.reused ? '(reused: already running)' : `(data ${rel(s.dataDir!)})`}`,
    `             access key ${s.accessKeyId}  secret ${s.secretAccessKey}`,
    info.mlflow
      ? `  MLflow     ${info.mlflow.url}  ${info.mlflow.reused ? '(reused: already running)' : `(database ${rel(info.mlflow.dbFile!)}, artifacts s3://${s.bucket}/mlflow)`}`
      : `  MLflow     not started (--no-mlflow)`,
    info.worker
      ? `  worker     task queue ${info.worker.taskQueue}  pid ${info.worker.pid}  metrics ${info.worker.metricsUrl}`
      : `  worker     not started (--no-worker); start one with: npm run worker`,
    `  logs       ${rel(path.join(dataDir, 'logs'))}`,
    '',
    'Ready. Press Ctrl-C to stop.',
  ];
  return lines.join('\n');
}

/** Runs the stack command; resolves with the process exit code once the stack is down again. */
export async function runStackCommand(argv: string[]): Promise<number> {
  // The pinned AWS SDK warns that *future* releases will need Node 22; that is noise for this command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let args: StackArgs;
  try {
    args = parseStackArgs(argv);
  } catch (err) {
    process.stderr.write(`judgeloop stack: ${(err as Error).message}\n\n${STACK_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(STACK_USAGE + '\n');
    return 0;
  }
  const dataDir = args.dataDir ? path.resolve(args.dataDir) : undefined;
  const stack = new LocalStack({
    temporalPort: args.temporalPort,
    uiPort: args.uiPort,
    s3Port: args.s3Port,
    mlflowPort: args.mlflowPort,
    mlflow: args.mlflow,
    dataDir,
    namespace: args.namespace,
    taskQueue: process.env.JUDGELOOP_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    bucket: DEFAULT_BUCKET,
    accessKey: DEFAULT_ACCESS_KEY,
    secretKey: DEFAULT_SECRET_KEY,
    worker: args.worker,
    log: (line) => process.stdout.write(`judgeloop stack: ${line}\n`),
  });

  let signalled: NodeJS.Signals | undefined;
  let signalledAt = 0;
  let wake: () => void = () => undefined;
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // One Ctrl-C can arrive more than once (the terminal signals the whole process group, and npm and tsx
      // also relay it): only a second Ctrl-C a moment later means "do not wait for graceful shutdown".
      if (Date.now() - signalledAt < 1500) return;
      process.stderr.write('judgeloop stack: stopping forcefully\n');
      for (const p of [stack.worker?.process, stack.s3Server?.process, stack.temporalServer?.process]) p?.killGroup('SIGKILL');
      process.exit(130);
    }
    signalled = signal;
    signalledAt = Date.now();
    process.stdout.write(`\njudgeloop stack: ${signal} received, stopping (worker, then S3, then Temporal)...\n`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    const starting = stack.start();
    const first = await Promise.race([starting.then(() => 'started' as const), stopRequested.then(() => 'signal' as const)]);
    if (first === 'signal') {
      await starting.catch(() => undefined);
      await stack.stop();
      process.stdout.write('judgeloop stack: stopped before it was ready\n');
      return 130;
    }
    process.stdout.write(summary(stack.info!, stack.opts.dataDir) + '\n');
    // Signal handlers do not keep node alive, and a stack that reuses both servers without a worker has no
    // child process that would: hold the event loop open until Ctrl-C.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const outcome = await Promise.race([
      stopRequested.then(() => undefined),
      stack.unexpectedExit(),
    ]).finally(() => clearInterval(keepAlive));
    if (outcome) {
      process.stderr.write(`judgeloop stack: the ${outcome.name} ${outcome.description}; stopping the rest\n`);
      await stack.stop();
      return 1;
    }
    await stack.stop();
    process.stdout.write('judgeloop stack: stopped\n');
    return 0;
  } catch (err) {
    if (signalled) {
      await stack.stop().catch(() => undefined);
      return 130;
    }
    process.stderr.write(`judgeloop stack: ${describeError(err)}\n`);
    if (!(err instanceof StackError) && process.env.JUDGELOOP_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

if (require.main === module) {
  runStackCommand(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`judgeloop stack: ${describeError(err)}\n`);
      process.exit(1);
    },
  );
}
