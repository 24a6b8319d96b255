/**
 * `npm run demo`: the whole embedded default in one command. Starts the local stack (or reuses a running
 * Temporal/S3), runs a self-rationalization run from a config (default configs/local.json), follows it to
 * its results table, then stops what it started.
 *
 *   npx tsx scripts/demo.ts [--config FILE] [--id RUN_ID] [--temporal-port 7233] [--s3-port 9000]
 *
 * The worker's log goes to .judgeloop/stack/logs/demo-worker.log.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalStack } from '../stack/stack';
import { describeError } from '../stack/errors';
import { main as cli } from '../cli/judgeloop';

async function demo(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'configs/local.json' },
      id: { type: 'string' },
      'temporal-port': { type: 'string', default: '7233' },
      's3-port': { type: 'string', default: '9000' },
    },
    strict: true,
  });
  const temporalPort = Number(values['temporal-port']);
  const stack = new LocalStack({
    temporalPort,
    s3Port: Number(values['s3-port']),
    workerOutput: { file: path.resolve('.judgeloop/stack/logs/demo-worker.log') },
    log: (line) => console.log(`stack: ${line}`),
  });
  const started = Date.now();
  try {
    const info = await stack.start();
    const mlflow = info.mlflow ? ` · MLflow ${info.mlflow.url}` : '';
    console.log(`stack: Temporal UI ${info.temporal.uiUrl}${mlflow} · S3 ${info.s3.endpoint} · worker log .judgeloop/stack/logs/demo-worker.log`);
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const argv = ['run', '--config', values.config!, '--address', info.temporal.address, '--ui', info.temporal.uiUrl];
    if (values.id) argv.push('--id', values.id);
    const code = await cli(argv, {
      out: process.stdout,
      err: process.stderr,
      signal: controller.signal,
      env: { ...process.env, JUDGELOOP_S3_ENDPOINT: info.s3.endpoint },
    });
    console.log(`demo: finished in ${((Date.now() - started) / 1000).toFixed(0)} s (exit ${code})`);
    return code;
  } catch (err) {
    console.error(`demo: ${describeError(err)}`);
    return 1;
  } finally {
    await stack.stop();
  }
}

demo().then((code) => process.exit(code));
