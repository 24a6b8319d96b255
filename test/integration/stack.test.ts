/**
 * The local stack on real servers: the Temporal dev server and versitygw from .tools/bin (scripts/setup.sh).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { PortInUseError } from '../../stack/errors';
import { S3_SERVICE, startS3Server } from '../../stack/s3';
import { JUDGELOOP_SEARCH_ATTRIBUTES, toolPaths } from '../../stack/stack';
import { TEMPORAL_SERVICE, TEMPORAL_UI_SERVICE, probeTemporal, startTemporalDevServer } from '../../stack/temporal';
import { PROJECT_ROOT } from '../../stack/worker';
import { childrenOf, isAlive, processTree, waitGone } from '../support/processes';
import { freePort, startTestServices, type TestServices } from '../support/services';

const T = { timeout: 180_000 };

async function readBody(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Listens on a free port with a plain TCP server that is neither Temporal nor S3. */
async function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end('not a temporal server\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs `judgeloop stack` (stack/main.ts) as a child process and collects its output. */
function runStack(args: string[]): {
  child: ChildProcess;
  output: () => string;
  stderr: () => string;
  /** The exit code, or the signal that killed it. */
  exit: Promise<number | string | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', 'stack/main.ts', ...args], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, output: () => out + err, stderr: () => err, exit };
}

async function waitForText(get: () => string, pattern: RegExp, exit: Promise<unknown>, timeoutMs = 120_000): Promise<void> {
  let exited = false;
  void exit.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(get())) return;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`expected ${pattern} in the output of judgeloop stack, got:\n${get()}`);
}

describe('local stack', () => {
  let services: TestServices;
  const spawned: ChildProcess[] = [];

  before(async () => {
    services = await startTestServices();
  });

  after(async () => {
    for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await services?.stop();
  });

  test('the Temporal frontend answers, with the namespace and search attributes registered', T, async () => {
    const connection = await Connection.connect({ address: services.temporalAddress });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion, 'server version');
      const ns = await connection.workflowService.describeNamespace({ namespace: services.namespace });
      assert.equal(ns.namespaceInfo?.name, services.namespace);
      const attrs = await connection.operatorService.listSearchAttributes({ namespace: services.namespace });
      for (const name of Object.keys(JUDGELOOP_SEARCH_ATTRIBUTES)) {
        assert.ok(name in (attrs.customAttributes ?? {}), `search attribute ${name} is registered`);
      }
    } finally {
      await connection.close();
    }
    assert.equal(await probeTemporal(services.temporalAddress, services.namespace), 'ok');
  });

  test('TestWorkflowEnvironment.createFromExistingServer connects to it', T, async () => {
    const env = await TestWorkflowEnvironment.createFromExistingServer({
      address: services.temporalAddress,
      namespace: services.namespace,
    });
    try {
      const res = await env.client.workflowService.describeNamespace({ namespace: services.namespace });
      assert.equal(res.namespaceInfo?.name, services.namespace);
    } finally {
      await env.teardown();
    }
  });

  test('S3 put, get, list and multipart upload work, and the data survives an S3 server restart', T, async () => {
    const { bucket } = services.s3;
    const client = services.s3Client();
    const small = Buffer.from('{"id":"a","score":3}\n{"id":"b","score":5}\n');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'runs/r1/iter-0/sample/part-0.jsonl', Body: small }));
    // 11 MiB in 5 MiB parts: a real multipart upload (3 parts).
    const big = crypto.randomBytes(11 * 1024 * 1024);
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: 'runs/r1/iter-0/sample/big.bin', Body: big },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const done = await upload.done();
    assert.match(String(done.ETag), /-3"?$/, 'ETag of a 3-part multipart upload');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'runs/r1/iter-0/sample/manifest.json', Body: '{}' }));

    const check = async (c: S3Client) => {
      assert.deepEqual(await readBody(c, bucket, 'runs/r1/iter-0/sample/part-0.jsonl'), small);
      assert.equal(sha256(await readBody(c, bucket, 'runs/r1/iter-0/sample/big.bin')), sha256(big));
      const head = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: 'runs/r1/iter-0/sample/big.bin' }));
      assert.equal(head.ContentLength, big.length);
      const listed = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'runs/r1/iter-0/sample/' }));
      assert.deepEqual(
        (listed.Contents ?? []).map((o) => o.Key).sort(),
        ['runs/r1/iter-0/sample/big.bin', 'runs/r1/iter-0/sample/manifest.json', 'runs/r1/iter-0/sample/part-0.jsonl'],
      );
      const folders = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'runs/r1/', Delimiter: '/' }));
      assert.deepEqual((folders.CommonPrefixes ?? []).map((p) => p.Prefix), ['runs/r1/iter-0/']);
    };
    await check(client);

    const oldPid = services.s3Server.pid;
    await services.restartS3();
    assert.notEqual(services.s3Server.pid, oldPid, 'a new S3 server process');
    assert.equal(isAlive(oldPid), false, 'the old S3 server is gone');
    await check(services.s3Client());
  });

  test('a port in use is reported with the port and the service, for Temporal and for S3', T, async () => {
    const busy = await occupyPort();
    try {
      const tools = toolPaths();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-port-'));
      try {
        await assert.rejects(
          startTemporalDevServer({ binary: tools.temporal, port: busy.port, headless: true }),
          (err: unknown) => {
            assert.ok(err instanceof PortInUseError);
            assert.equal(err.port, busy.port);
            assert.equal(err.service, TEMPORAL_SERVICE);
            assert.match(err.describe(), new RegExp(`port ${busy.port}\\b`));
            assert.match(err.describe(), /--temporal-port/);
            return true;
          },
        );
        const free = await freePort();
        await assert.rejects(
          startTemporalDevServer({ binary: tools.temporal, port: free, uiPort: busy.port }),
          (err: unknown) => err instanceof PortInUseError && err.service === TEMPORAL_UI_SERVICE && /--ui-port/.test(err.describe()),
        );
        await assert.rejects(
          startS3Server({ binary: tools.versitygw, port: busy.port, dataDir: dir, accessKey: 'a', secretKey: 'b' }),
          (err: unknown) => err instanceof PortInUseError && err.port === busy.port && err.service === S3_SERVICE,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await busy.close();
    }
  });

  test('`judgeloop stack` reports a busy port in one readable message, without a stack trace', T, async () => {
    const busy = await occupyPort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-stack-'));
    try {
      const run = runStack(['--no-worker', '--temporal-port', String(busy.port), '--s3-port', String(await freePort()), '--data-dir', dataDir]);
      spawned.push(run.child);
      assert.equal(await run.exit, 1);
      const err = run.stderr();
      assert.match(err, new RegExp(`port ${busy.port} on 127\\.0\\.0\\.1 is already in use`));
      assert.match(err, /Temporal dev server/);
      assert.match(err, /--temporal-port/);
      assert.doesNotMatch(err, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    } finally {
      await busy.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('`judgeloop stack` with its worker: the worker polls, and serves Prometheus metrics at the printed URL', T, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-stack-'));
    const ports = ['--temporal-port', String(await freePort()), '--ui-port', String(await freePort()), '--s3-port', String(await freePort())];
    try {
      const stack = runStack(['--data-dir', dataDir, '--no-mlflow', ...ports]);
      spawned.push(stack.child);
      await waitForText(stack.output, /Ready\. Press Ctrl-C to stop\./, stack.exit, 240_000);
      const metricsUrl = /metrics (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stack.output())?.[1];
      assert.ok(metricsUrl, stack.output());
      const res = await fetch(metricsUrl);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^temporal_\w+/m, 'the SDK\'s worker metrics');
      assert.match(stack.output(), /MLflow {5}not started \(--no-mlflow\)/);
      stack.child.kill('SIGINT');
      assert.equal(await stack.exit, 0, stack.output());
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('`judgeloop stack` starts, a second one reuses its servers, and Ctrl-C stops each cleanly', T, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-stack-'));
    const mlflowPort = await freePort();
    const ports = [
      '--temporal-port', String(await freePort()), '--ui-port', String(await freePort()), '--s3-port', String(await freePort()),
      '--mlflow-port', String(mlflowPort),
    ];
    try {
      const first = runStack(['--no-worker', '--data-dir', dataDir, ...ports]);
      spawned.push(first.child);
      await waitForText(first.output, /Ready\. Press Ctrl-C to stop\./, first.exit, 180_000);
      assert.match(first.output(), /Web UI {5}http:\/\/127\.0\.0\.1:\d+/);
      assert.match(first.output(), /S3 {9}http:\/\/127\.0\.0\.1:\d+ {2}bucket judgeloop/);
      // The MLflow server's address beside Temporal's UI, and a real MLflow server behind it.
      assert.match(first.output(), new RegExp(`MLflow {5}http://127\\.0\\.0\\.1:${mlflowPort} {2}\\(database .*mlflow\\.db, artifacts s3://judgeloop/mlflow\\)`));
      const health = await fetch(`http://127.0.0.1:${mlflowPort}/health`);
      assert.equal(await health.text(), 'OK');
      const servers = childrenOf(first.child.pid!);
      assert.equal(servers.length, 3, 'Temporal, S3 and MLflow run as children of the stack');
      assert.ok(fs.existsSync(path.join(dataDir, 'temporal.sqlite')));
      assert.ok(fs.existsSync(path.join(dataDir, 's3', 'judgeloop')), 'the bucket exists');
      assert.ok(fs.existsSync(path.join(dataDir, 'mlflow', 'mlflow.db')), "MLflow's SQLite store");

      const second = runStack(['--no-worker', '--data-dir', dataDir, ...ports]);
      spawned.push(second.child);
      await waitForText(second.output, /Ready\. Press Ctrl-C to stop\./, second.exit);
      assert.match(second.output(), /reusing the Temporal server already running/);
      assert.match(second.output(), /reusing the S3 server already running/);
      assert.match(second.output(), /reusing the MLflow tracking server already running/);
      second.child.kill('SIGINT');
      assert.equal(await second.exit, 0, second.output());
      for (const pid of servers) assert.ok(isAlive(pid), 'a reusing stack leaves the servers it did not start running');

      first.child.kill('SIGINT');
      assert.equal(await first.exit, 0, first.output());
      assert.match(first.output(), /stopped/);
      assert.deepEqual(await waitGone(servers, 5000), [], 'no server outlives the stack');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('the worker starts against the services and polls the task queue', { ...T, skip: !fs.existsSync(path.join(PROJECT_ROOT, 'workers', 'main.ts')) && 'workers/main.ts does not exist yet' }, async () => {
    const worker = await services.startWorker();
    assert.ok(isAlive(worker.pid));
    await worker.stop();
    assert.equal(isAlive(worker.pid), false);
  });

  test('stop() leaves no child processes behind', T, async () => {
    const before = new Set(childrenOf(process.pid));
    const other = await startTestServices();
    const started = childrenOf(process.pid).filter((p) => !before.has(p));
    assert.equal(started.length, 2, 'Temporal and S3 are children of the test process');
    const tree = started.flatMap(processTree);
    await other.stop();
    assert.deepEqual(await waitGone(tree, 5000), [], 'every process of the stopped services is gone');
    assert.deepEqual(childrenOf(process.pid).filter((p) => !before.has(p)), []);
    assert.equal(fs.existsSync(other.dir), false, 'the temporary folder is removed');
  });
});
