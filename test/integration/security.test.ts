/**
 * Security, end to end on the real stack (Temporal dev server, S3 server, the real worker process and Python
 * jobs on the tiny judge): one small run (iteration 0, one training iteration, the report) with
 *   - payload encryption on (workers/codec.ts): the worker and the CLI hold the key;
 *   - unique secrets in the worker's environment: S3 access key id and secret, a Temporal API key (sent to the
 *     dev server over plaintext with TEMPORAL_TLS=false, which ignores it), the codec key, the codec server's token.
 * Then:
 *   - the raw history, read with a client that has no codec and with `temporal workflow show` without one,
 *     holds no config value, no s3:// URI and no metric name in clear, and every payload but the search
 *     attributes' (indexed by the server, so clear by design) is encrypted;
 *   - the codec server decodes it over HTTP: the run's input comes back as the config that was sent, and
 *     `temporal workflow show --codec-endpoint` prints the decoded history;
 *   - no secret appears in the histories (decoded), the worker's log, the job folders (logs, launch records),
 *     any S3 object the run wrote (reports, usage records, manifests, models), the CLI's output, or the command
 *     line of any process of the worker's tree or the S3 server, sampled while the run ran;
 *   - a schedule made by the CLI stores its action's input encrypted too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, type Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { startTestServices, type TestServices } from '../support/services';
import { TINY_DATA, runCli, testConfig } from '../support/judgeloop';
import { codecClient, testCodecEnv } from '../support/codec';
import { commandLine, processTree } from '../support/processes';
import { readTail } from '../../stack/process';
import { PROJECT_ROOT, type WorkerProcess } from '../../stack/worker';
import { toolPaths } from '../../stack/stack';
import { ENCRYPTED_ENCODING, codecFromEnv } from '../../workers/codec';
import { payloadFromJson, payloadToJson, startCodecServer, type CodecServer } from '../../workers/codec-server';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';

const T = { timeout: 15 * 60_000 };
const run = promisify(execFile);
type History = temporal.api.history.v1.IHistory;

const stamp = Date.now().toString(36);
const secrets = {
  s3AccessKeyId: `AKIASEC${crypto.randomBytes(6).toString('hex').toUpperCase()}`,
  s3SecretAccessKey: `sec-s3-${crypto.randomBytes(18).toString('base64url')}`,
  temporalApiKey: `sec-tmprl-${crypto.randomBytes(18).toString('base64url')}`,
  codecServerToken: `sec-token-${crypto.randomBytes(18).toString('base64url')}`,
};
const codecEnv = testCodecEnv(`sec-${stamp}`);
const codecKey = codecEnv.JUDGELOOP_CODEC_KEYS.slice(codecEnv.JUDGELOOP_CODEC_KEYS.indexOf(':') + 1);
/** Every secret, and its base64 (a leak through something that encoded it is still a leak). */
const SECRET_NEEDLES: Array<[string, string]> = Object.entries({ ...secrets, codecKey }).flatMap(([name, v]) => [
  [name, v],
  [`${name} (base64)`, Buffer.from(v).toString('base64')],
]);

function findSecrets(text: string): string[] {
  return SECRET_NEEDLES.filter(([, v]) => text.includes(v)).map(([name]) => name);
}

/**
 * Everything in a value as text, every byte string shown as its characters, so plaintext cannot hide in
 * base64. (Not JSON.stringify: protobuf messages' toJSON turns bytes into base64 before a replacer sees them.)
 */
function flatText(value: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown) => {
    if (v === null || v === undefined) return;
    if (v instanceof Uint8Array) return void parts.push(Buffer.from(v).toString('latin1'));
    if (typeof v !== 'object') return void parts.push(String(v));
    if (seen.has(v)) return;
    seen.add(v);
    for (const [k, child] of Object.entries(v)) {
      parts.push(k);
      walk(child);
    }
  };
  walk(value);
  return parts.join('\n');
}

const historyText = (history: History) => flatText(history.events ?? []);

/**
 * `temporal workflow show --output json` as text, every payload's base64 metadata and data decoded (the CLI
 * prints decoded payloads as base64 too).
 */
function cliHistoryText(stdout: string): string {
  const decode = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? Buffer.from(v, 'base64').toString('latin1') : v);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
      return { metadata: Object.fromEntries(Object.entries(o.metadata as Record<string, unknown>).map(([k, m]) => [k, decode(m)])), data: decode(o.data) };
    }
    return Object.fromEntries(Object.entries(o).map(([k, c]) => [k, walk(c)]));
  };
  return flatText(walk(JSON.parse(stdout)));
}

/**
 * Payloads the SDK's Core writes itself, in clear: a patch marker's id and a local activity marker's
 * bookkeeping. Allowed clear only with exactly these keys (a value of ours would not fit).
 */
const CORE_MARKER_KEYS = [
  ['deprecated', 'id'],
  ['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq'],
];
function isCoreMarkerBookkeeping(path: string, payload: Payload): boolean {
  if (!/\.markerRecordedEventAttributes\.details\.(patch-data|data)\.payloads\.\d+$/.test(path)) return false;
  try {
    const keys = Object.keys(JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as object).sort().join(',');
    return CORE_MARKER_KEYS.some((k) => k.join(',') === keys);
  } catch {
    return false;
  }
}

/** Every Payload in a history, with the path it was found at. */
function payloadsOf(history: History): Array<{ path: string; payload: Payload }> {
  const found: Array<{ path: string; payload: Payload }> = [];
  const walk = (v: unknown, p: string) => {
    if (!v || typeof v !== 'object' || v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o && (o.data === null || o.data === undefined || o.data instanceof Uint8Array)) {
      found.push({ path: p, payload: o as Payload });
      return;
    }
    for (const [k, child] of Object.entries(o)) walk(child, `${p}.${k}`);
  };
  walk(history.events ?? [], 'events');
  return found;
}

/** The history with each encrypted payload replaced by what it decrypts to (for the secret scan). */
async function decodedHistoryText(history: History): Promise<string> {
  const codec = codecFromEnv(codecEnv);
  const parts = [historyText(history)];
  for (const { payload } of payloadsOf(history)) parts.push(flatText(await codec.decode([payload])));
  return parts.join('\n');
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('security: encrypted payloads, a codec server, and no secret anywhere a run leaves traces', () => {
  let services: TestServices;
  let worker: WorkerProcess;
  let connection: Connection;
  let rawClient: Client;
  let codecServer: CodecServer;
  let logFile: string;
  let configFile: string;
  let reportFile: string;
  let config: ReturnType<typeof testConfig>;
  const runId = `sec-run-${stamp}`;
  const cliOutput: string[] = [];
  const commandLines = new Map<number, string>();
  /** The environment of each job process (the worker's own holds the secrets it needs; a job needs none). */
  const jobEnvironments = new Map<number, string>();
  const histories = new Map<string, History>();
  let sampler: NodeJS.Timeout | undefined;
  const savedEnv = { ...process.env };

  /** The CLI in-process, as a user with the key would run it (connect() reads the codec keys from process.env). */
  const cli = async (argv: string[]) => {
    const env = { ...process.env, ...codecEnv, TEMPORAL_API_KEY: secrets.temporalApiKey, TEMPORAL_TLS: 'false' };
    const r = await runCli([...argv, '--address', services.temporalAddress, '--task-queue', 'judgeloop'], env);
    cliOutput.push(r.out, r.err);
    return r;
  };

  const sample = () => {
    const roots = [worker?.pid, services?.s3Server.pid].filter((p): p is number => typeof p === 'number');
    for (const root of roots) {
      for (const pid of processTree(root)) {
        if (!commandLines.has(pid)) commandLines.set(pid, commandLine(pid));
        if (pid !== worker?.pid && /jobs\/\S+\.py/.test(commandLines.get(pid) ?? '') && !jobEnvironments.has(pid)) {
          try {
            jobEnvironments.set(pid, fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').join('\n'));
          } catch {
            /* exited meanwhile */
          }
        }
      }
    }
  };

  before(async () => {
    services = await startTestServices({ bucket: `sec-bucket-${stamp}`, s3Credentials: { accessKeyId: secrets.s3AccessKeyId, secretAccessKey: secrets.s3SecretAccessKey } });
    logFile = path.join(services.dir, 'logs', 'security-worker.log');
    worker = await services.startWorker({
      output: { file: logFile },
      env: {
        ...codecEnv,
        TEMPORAL_API_KEY: secrets.temporalApiKey,
        TEMPORAL_TLS: 'false',
        JUDGELOOP_CODEC_SERVER_TOKEN: secrets.codecServerToken,
        // The most the worker says: a secret in any record at any level would show.
        JUDGELOOP_LOG_LEVEL: 'DEBUG',
        JUDGELOOP_LOG_FORMAT: 'json',
      },
    });
    // The in-process CLI: the codec keys (connect() reads them), and S3 access for `report` (the SDK's chain).
    Object.assign(process.env, codecEnv, { AWS_ACCESS_KEY_ID: secrets.s3AccessKeyId, AWS_SECRET_ACCESS_KEY: secrets.s3SecretAccessKey, AWS_REGION: services.s3.region });
    connection = await Connection.connect({ address: services.temporalAddress });
    rawClient = codecClient(connection, services.namespace); // no codec: what the server (and its UI) holds
    codecServer = await startCodecServer({ codec: codecFromEnv(codecEnv), port: 0, token: secrets.codecServerToken });
    sampler = setInterval(sample, 250);
  }, T);

  after(async () => {
    if (sampler) clearInterval(sampler);
    await codecServer?.close();
    await connection?.close();
    await services?.stop();
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  });

  test('a run started and read through the CLI with the key completes', T, async () => {
    config = testConfig(services, {
      loop: { iterations: 1, inputsPerIteration: 40, samplesPerInput: 4 },
      training: { epochs: 1 },
      data: TINY_DATA,
      evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 }, gate: { metrics: { pointwise: 'exactAgreement' }, maxDrop: 1, parseRateFloor: 0 } },
      storage: { prefix: `sec-prefix-${stamp}` },
      registry: { enabled: true, startFrom: 'seed' },
    } as Parameters<typeof testConfig>[1]);
    configFile = path.join(services.dir, `sec-config-${stamp}.json`);
    fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
    const started = await cli(['run', '--config', configFile, '--id', runId, '--no-follow', '--json']);
    assert.equal(started.rc, 0, started.err);
    const results = await cli(['results', runId, '--json']);
    assert.equal(results.rc, 0, `${results.err}\nworker log tail:\n${readTail(logFile, 30)}`);
    const summary = JSON.parse(results.out) as { runId: string; iterations: Array<{ iteration: number; eval: Record<string, { exactAgreement?: number }> }> };
    // The CLI decrypted the result: the summary's metrics are there.
    assert.equal(summary.runId, runId);
    assert.deepEqual(summary.iterations.map((i) => i.iteration), [0, 1]);
    assert.equal(typeof summary.iterations[1].eval['synthetic-heldout'].exactAgreement, 'number');
    // `report` reads the config the run recorded (an encrypted payload of its raw history) to reach S3.
    reportFile = path.join(services.dir, `${runId}-report.html`);
    const report = await cli(['report', runId, '--out', reportFile]);
    assert.equal(report.rc, 0, report.err);
    assert.match(fs.readFileSync(reportFile, 'utf8'), /<html/i);
    sample();
    clearInterval(sampler);
    sampler = undefined;
    for (const id of [runId, `${runId}-iter-0`, `${runId}-iter-1`]) histories.set(id, await rawClient.workflow.getHandle(id).fetchHistory());
  });

  /** Values of the run's config, URIs and metric names that must not be readable on the server. */
  const clearNeedles = () => [
    config.storage.bucket!,
    config.storage.prefix!,
    config.storage.endpoint!,
    config.backend.workDir,
    'datasets/synthetic/heldout.jsonl',
    'synthetic-heldout',
    // The seed model's path; the judge's and the config's names are search attributes, clear by design.
    '.judgeloop/models/tiny-judge',
    's3://',
    'exactAgreement',
    'pearson',
    'parseRate',
  ];

  test('the raw history has no config value, URI or metric in clear; every payload but the search attributes is encrypted', () => {
    assert.equal(histories.size, 3, 'the run and its two iterations');
    for (const [id, history] of histories) {
      const text = historyText(history);
      assert.match(text, /activityTaskScheduledEventAttributes|childWorkflowExecutionCompletedEventAttributes/, `${id}: a real history`);
      for (const needle of clearNeedles()) assert.ok(!text.includes(needle), `${id}: "${needle}" is readable in the raw history`);
      const payloads = payloadsOf(history);
      assert.ok(payloads.length > 5, `${id}: ${payloads.length} payloads`);
      const clear = payloads.filter(({ payload }) => Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCRYPTED_ENCODING);
      // Search attributes stay clear (the server indexes them): the run and judge names, the iteration, the
      // status. So do the markers Core writes itself (patch ids, a local activity's attempt and times).
      const unexpected = clear.filter(({ path: p, payload }) => !/\.searchAttributes\.indexedFields\./.test(p) && !isCoreMarkerBookkeeping(p, payload));
      assert.deepEqual(unexpected.map(({ path: p }) => p), [], `${id}: clear payloads`);
      assert.ok(payloads.length - clear.length > 5, `${id}: the encrypted payloads`);
    }
  });

  test('`temporal workflow show` without the codec shows ciphertext; with --codec-endpoint (the codec server) the decoded history', T, async () => {
    const temporalCli = toolPaths(PROJECT_ROOT).temporal;
    // Only what the CLI needs: the test's own TEMPORAL_* (the API key) must not steer it.
    const env = { PATH: process.env.PATH ?? '', HOME: os.tmpdir() };
    const show = (extra: string[]) =>
      run(temporalCli, ['workflow', 'show', '--workflow-id', `${runId}-iter-1`, '--address', services.temporalAddress, '--output', 'json', ...extra], { env, maxBuffer: 256 << 20 });
    const raw = cliHistoryText((await show([])).stdout);
    assert.match(raw, /binary\/encrypted/, 'the encrypted payloads are what the server holds');
    for (const needle of clearNeedles()) assert.ok(!raw.includes(needle), `"${needle}" in temporal workflow show without a codec`);
    await assert.rejects(show(['--codec-endpoint', codecServer.url]), 'without the token the codec server refuses');
    const decoded = cliHistoryText((await show(['--codec-endpoint', `${codecServer.url}/{namespace}`, '--codec-auth', `Bearer ${secrets.codecServerToken}`])).stdout);
    // The same needles the raw history hides are there once decoded: they are a fair test of "in clear".
    for (const needle of clearNeedles()) assert.ok(decoded.includes(needle), `"${needle}" in the decoded history`);
    assert.doesNotMatch(decoded, /binary\/encrypted/);
  });

  test("the codec server decodes the run's input, over HTTP, back to the config that was sent", async () => {
    const started = histories.get(runId)!.events![0].workflowExecutionStartedEventAttributes!;
    const [input] = started.input!.payloads!;
    assert.equal(Buffer.from(input.metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
    const res = await fetch(`${codecServer.url}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': services.namespace, Authorization: `Bearer ${secrets.codecServerToken}` },
      body: JSON.stringify({ payloads: [payloadToJson(input)] }),
    });
    assert.equal(res.status, 200);
    const [decoded] = ((await res.json()) as { payloads: unknown[] }).payloads;
    assert.deepEqual(defaultPayloadConverter.fromPayload(payloadFromJson(decoded, 0)), JSON.parse(fs.readFileSync(configFile, 'utf8')));
  });

  test('no secret in the histories, the worker log, the job folders, the S3 objects, the CLI output or any command line', async (t) => {
    const scanned: Record<string, number> = {};
    const leaks: string[] = [];
    const scan = (kind: string, where: string, text: string) => {
      scanned[kind] = (scanned[kind] ?? 0) + 1;
      for (const name of findSecrets(text)) leaks.push(`${name} in ${kind} ${where}`);
    };
    for (const [id, history] of histories) {
      scan('history', `${id} (raw)`, historyText(history));
      const decoded = await decodedHistoryText(history);
      // The scan reads inside the ciphertext: the config, which is only there encrypted, is found.
      assert.ok(decoded.includes(config.storage.prefix!), `${id}: the decoded text holds the config`);
      scan('history', `${id} (decoded)`, decoded);
    }
    const log = fs.readFileSync(logFile, 'utf8');
    assert.match(log, /"activityType":"trainJudge"|trainJudge/, 'the log covers the run');
    scan('worker log', logFile, log);
    const jobFiles = filesUnder(config.backend.workDir);
    assert.ok(jobFiles.some((f) => f.endsWith('launch.json')) && jobFiles.some((f) => f.endsWith('job.log')), `job records: ${jobFiles.length} files`);
    for (const f of jobFiles) scan('job file', f, fs.readFileSync(f).toString('latin1'));
    const store = services.s3Client();
    const { ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await store.send(new ListObjectsV2Command({ Bucket: services.s3.bucket, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    for (const want of [/usage\.json$/, /manifest\.json$/, /report\.html$/, /registry\.json$/, /_job\.json$/]) {
      assert.ok(keys.some((k) => want.test(k)), `the run wrote an object matching ${want}: ${keys.length} objects`);
    }
    for (const key of keys) {
      const out = await store.send(new GetObjectCommand({ Bucket: services.s3.bucket, Key: key }));
      scan('S3 object', key, Buffer.from(await out.Body!.transformToByteArray()).toString('latin1'));
    }
    scan('CLI output', 'run/results/report', cliOutput.join('\n'));
    scan('report file', reportFile, fs.readFileSync(reportFile, 'utf8'));
    const lines = [...commandLines.entries()].filter(([, l]) => l !== '');
    assert.ok(lines.some(([, l]) => /jobs\/\S+\.py|python/.test(l)), `a job process was sampled: ${lines.map(([, l]) => l).join(' | ')}`);
    for (const [pid, line] of lines) scan('command line', `pid ${pid}: ${line}`, line);
    assert.ok(jobEnvironments.size > 0, 'a job process\'s environment was sampled');
    for (const [pid, environment] of jobEnvironments) scan('job environment', `pid ${pid}`, environment);
    t.diagnostic(`scanned: ${JSON.stringify(scanned)}; ${lines.length} command lines; ${jobEnvironments.size} job environments; ${keys.length} S3 objects`);
    assert.deepEqual(leaks, []);
  });

  test('a schedule created by the CLI keeps its action input encrypted on the server', async () => {
    const scheduleId = `sec-schedule-${stamp}`;
    const created = await cli(['schedule', 'create', '--config', configFile, '--id', scheduleId, '--every', '24h', '--paused']);
    assert.equal(created.rc, 0, created.err);
    try {
      const raw = await connection.workflowService.describeSchedule({ namespace: services.namespace, scheduleId });
      const input = raw.schedule?.action?.startWorkflow?.input?.payloads ?? [];
      assert.equal(input.length, 1);
      assert.equal(Buffer.from(input[0].metadata!.encoding!).toString(), ENCRYPTED_ENCODING);
      const text = flatText(raw);
      for (const needle of [`sec-prefix-${stamp}`, 'synthetic-heldout', config.storage.endpoint!]) assert.ok(!text.includes(needle), `"${needle}" in the schedule`);
      // The CLI, holding the key, reads it back.
      const described = await cli(['schedule', 'describe', scheduleId]);
      assert.equal(described.rc, 0, described.err);
    } finally {
      await cli(['schedule', 'delete', scheduleId]);
    }
  });

  test('a failure is encrypted too: its message, which names what failed, is not in the raw history; the key holder reads it', T, async () => {
    const missing = `missing-dataset-${stamp}`;
    const failing = { ...config, data: { ...config.data, train: { ...config.data.train, uri: `s3://${services.s3.bucket}/${missing}/train.jsonl` } } };
    const failingFile = path.join(services.dir, 'failing.json');
    fs.writeFileSync(failingFile, JSON.stringify(failing));
    const failingId = `sec-failing-${stamp}`;
    const started = await cli(['run', '--config', failingFile, '--id', failingId, '--no-follow']);
    assert.equal(started.rc, 0, started.err);
    const keyHolder = codecClient(connection, services.namespace, codecEnv);
    await assert.rejects(keyHolder.workflow.getHandle(failingId).result(), (err: unknown) => {
      const chain: string[] = [];
      for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) chain.push(String(e.message));
      assert.ok(chain.some((m) => m.includes(`dataset not found: s3://${services.s3.bucket}/${missing}/train.jsonl`)), chain.join(' <- '));
      return true;
    });
    const raw = await rawClient.workflow.getHandle(failingId).fetchHistory();
    const text = historyText(raw);
    assert.ok(!text.includes(missing), 'the failing URI is not in the raw history');
    assert.match(text, /Encoded failure/, 'the raw history holds the placeholder message');
  });
});
