/**
 * The worker's observability, end to end on the real worker process (workers/main.ts) against a real
 * Temporal dev server and S3: started with the Prometheus endpoint, JSON logs at DEBUG and tracing to a
 * spans file, it runs
 *   - run A, whose training data has too many invalid rows: the run fails in its prepare step (a whole run,
 *     so every workflow span ends and is exported), and
 *   - run B, a valid tiny run, followed until iteration 0's evaluate job has started (then the run is
 *     terminated and the worker stopped), so that activities of the run workflow and of an iteration
 *     workflow have both run.
 * Then: /metrics serves Temporal's worker metrics for the task queue and Judgeloop's step histogram; every
 * line the worker wrote is JSON, and activity records carry run, iteration and step beside the SDK's own
 * attributes; the spans file holds the run's workflow and activity spans in one trace, begun by the
 * client's start span (the test's client uses workers/otel.ts clientTracing, as the CLI can).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { freePort, startTestServices, type TestServices } from '../support/services';
import { TINY_DATA, testConfig, writeHalfInvalidTrain } from '../support/judgeloop';
import { readTail } from '../../stack/process';
import { PROJECT_ROOT, type WorkerProcess } from '../../stack/worker';
import { clientTracing, type ClientTracing } from '../../workers/otel';

const T = { timeout: 10 * 60_000 };

type Rec = Record<string, any>;
type Overrides = Parameters<typeof testConfig>[1];

function readLines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '') : [];
}

function parseJsonLines(file: string): Rec[] {
  return readLines(file).map((line, i) => {
    try {
      return JSON.parse(line) as Rec;
    } catch {
      throw new Error(`line ${i + 1} of ${file} is not JSON: ${line}`);
    }
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>, diagnostics: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${diagnostics()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('worker observability: Prometheus metrics, JSON logs with run/iteration/step, OpenTelemetry spans', () => {
  let services: TestServices;
  let worker: WorkerProcess;
  let connection: Connection;
  let client: Client;
  let tracing: ClientTracing | undefined;
  let logFile: string;
  let spansFile: string;
  let metricsAddress: string;
  const runA = `obs-bad-data-${Date.now()}`;
  const runB = `obs-tiny-${Date.now()}`;
  let metricsText = '';
  let evaluateJobLine: Rec | undefined;

  const diagnostics = () => `worker log tail:\n${readTail(logFile, 30)}`;

  before(async () => {
    services = await startTestServices();
    logFile = path.join(services.dir, 'logs', 'observability-worker.log');
    spansFile = path.join(services.dir, 'spans.jsonl');
    metricsAddress = `127.0.0.1:${await freePort()}`;
    worker = await services.startWorker({
      output: { file: logFile },
      env: {
        JUDGELOOP_METRICS_ADDRESS: metricsAddress,
        JUDGELOOP_LOG_FORMAT: 'json',
        JUDGELOOP_LOG_LEVEL: 'DEBUG',
        JUDGELOOP_OTEL: '1',
        JUDGELOOP_OTEL_FILE: spansFile,
        // The file is the only exporter: no collector here (a set endpoint would add OTLP export).
        OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
      },
    });
    connection = await Connection.connect({ address: services.temporalAddress });
    // The client starts runs as the CLI would with tracing on: its spans go to the same file.
    tracing = clientTracing({ JUDGELOOP_OTEL_FILE: spansFile });
    assert.ok(tracing);
    client = new Client({ connection, namespace: services.namespace, interceptors: { workflow: tracing.workflowInterceptors } });
  }, T);

  after(async () => {
    await connection?.close();
    await services?.stop();
  });

  test('run A fails in prepare; run B reaches iteration 0 evaluate; /metrics is scraped while the worker runs', T, async () => {
    // Run A: half of the training rows are invalid (limit 25%): prepareRun fails with InvalidData at once.
    const bad = path.join(services.dir, 'train-bad.jsonl');
    writeHalfInvalidTrain(bad);
    const configA = testConfig(services, { data: { ...TINY_DATA, train: { uri: bad, adapter: 'canonical' }, maxInvalidFraction: 0.25 } } as Overrides);
    const handleA = await client.workflow.start('selfRationalizationRun', { taskQueue: 'judgeloop', workflowId: runA, args: [configA] });
    await assert.rejects(handleA.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      // WorkflowFailedError ← ActivityFailure ← ApplicationFailure (InvalidData)
      assert.match(String((err.cause?.cause as Error | undefined)?.message), /2 of 4 rows are invalid/);
      return true;
    });

    // Run B: a valid tiny run, until an activity of iteration 0 has started.
    const configB = testConfig(services, {
      data: TINY_DATA,
      loop: { iterations: 1, inputsPerIteration: 8, samplesPerInput: 2 },
      evaluation: { baselines: { samples: 0 } },
    } as Overrides);
    const handleB = await client.workflow.start('selfRationalizationRun', { taskQueue: 'judgeloop', workflowId: runB, args: [configB] });
    // The activity's own records (sdkComponent activity: the job runner's lines) come once its job started.
    await waitFor(
      "a record of iteration 0's evaluate job",
      5 * 60_000,
      () => parseJsonLines(logFile).find((r) => r.workflowId === `${runB}-iter-0` && r.sdkComponent === 'activity'),
      diagnostics,
    );

    // Scraped while the worker runs: its endpoint goes away with it.
    const res = await fetch(`http://${metricsAddress}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    metricsText = await res.text();

    await handleB.terminate('observability test: enough seen');
    await worker.stop(30_000);
    await tracing?.flush();
  });

  test('GET /metrics: Temporal worker metrics for the task queue and the judgeloop_step_seconds histogram', (t) => {
    assert.ok(metricsText, 'scraped in the first test');
    const series = (name: RegExp) => metricsText.split('\n').filter((l) => !l.startsWith('#') && name.test(l));
    const workflowTask = series(/^temporal_workflow_task_\w+\{/);
    assert.ok(workflowTask.some((l) => /task_queue="judgeloop"/.test(l)), `temporal_workflow_task_* series with task_queue="judgeloop":\n${metricsText.slice(0, 3000)}`);
    assert.ok(series(/^temporal_activity_execution_latency\w*\{/).some((l) => /activity_type="prepareRun"/.test(l) && /task_queue="judgeloop"/.test(l)));
    // Judgeloop's own: one observation of prepare per run, failed for A, completed for B.
    const count = (labels: RegExp) => {
      const line = series(/^judgeloop_step_seconds_count\{/).find((l) => labels.test(l));
      return line ? Number(line.trim().split(/\s+/).pop()) : 0;
    };
    assert.match(metricsText, /# TYPE judgeloop_step_seconds histogram/);
    t.diagnostic(series(/^judgeloop_step_seconds_count\{/).join(' | '));
    assert.equal(count(/step="prepare"(?=.*outcome="failed")|outcome="failed"(?=.*step="prepare")/), 1, series(/^judgeloop_step_seconds_count/).join('\n'));
    assert.equal(count(/step="prepare"(?=.*outcome="completed")|outcome="completed"(?=.*step="prepare")/), 1);
    const bucket = series(/^judgeloop_step_seconds_bucket\{/).find((l) => /step="prepare"/.test(l) && /le="7200"/.test(l));
    assert.ok(bucket, 'the step buckets reach hours');
    assert.match(bucket, /activityType="prepareRun"/);
    assert.match(bucket, /taskQueue="judgeloop"/);
  });

  test('logs: every line is JSON; activity records carry run, iteration and step and keep the SDK attributes', () => {
    const records = parseJsonLines(logFile); // throws on a line that is not JSON
    assert.ok(records.length > 0);
    for (const r of records) {
      assert.equal(typeof r.time, 'string', JSON.stringify(r));
      assert.ok(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(r.level), JSON.stringify(r));
      assert.equal(typeof r.message, 'string');
    }
    assert.ok(records.some((r) => r.message === 'judgeloop worker: polling' && r.metrics === `http://${metricsAddress}/metrics`));

    const activity = records.filter((r) => typeof r.activityType === 'string' && typeof r.workflowId === 'string');
    assert.ok(activity.length >= 3, diagnostics());
    for (const r of activity) {
      for (const key of ['run', 'iteration', 'step', 'namespace', 'taskQueue', 'workflowId', 'workflowRunId', 'workflowType', 'activityId', 'attempt']) {
        assert.ok(key in r, `${key} in ${JSON.stringify(r)}`);
      }
    }
    // Run A's prepare: a run-level step (no iteration), failed with the data error.
    const failed = activity.find((r) => r.workflowId === runA && r.message === 'Activity failed');
    assert.ok(failed, `run A's "Activity failed" record\n${diagnostics()}`);
    assert.deepEqual([failed.run, failed.iteration, failed.step, failed.level], [runA, null, 'prepare', 'WARN']);
    assert.equal(failed.activityType, 'prepareRun');
    assert.equal(failed.workflowType, 'selfRationalizationRun');
    assert.equal(failed.taskQueue, 'judgeloop');
    assert.equal(failed.error.type, 'InvalidData');
    assert.match(failed.error.message, /2 of 4 rows are invalid/);
    // Run B's prepare completed; iteration 0's activity belongs to run B, iteration 0, step evaluate.
    const completed = activity.find((r) => r.workflowId === runB && r.activityType === 'prepareRun' && r.message === 'Activity completed');
    assert.ok(completed);
    assert.deepEqual([completed.run, completed.iteration, completed.step], [runB, null, 'prepare']);
    assert.equal(typeof completed.durationMs, 'number');
    const iter0 = activity.filter((r) => r.workflowId === `${runB}-iter-0`);
    assert.ok(iter0.length >= 2, 'the SDK\'s "Activity started" and the job\'s own line');
    for (const r of iter0) {
      assert.deepEqual([r.run, r.iteration, r.step, r.workflowType], [runB, 0, 'evaluate', 'iterationWorkflow']);
      assert.ok(['renderEvaluationRequests', 'generateEvaluationJudgments'].includes(String(r.activityType)), String(r.activityType));
    }
    // Records logged inside the activity (Context.log: the job's lines) carry the trace and span of its span.
    const jobLine = iter0.find((r) => r.sdkComponent === 'activity');
    assert.ok(jobLine);
    assert.match(jobLine.message, /^job /);
    assert.equal(jobLine.activityType, 'generateEvaluationJudgments');
    assert.match(jobLine.trace_id, /^[0-9a-f]{32}$/);
    assert.match(jobLine.span_id, /^[0-9a-f]{16}$/);
    evaluateJobLine = jobLine;

    // Workflow records keep the workflow's id and type (and get the run).
    const wf = records.find((r) => r.workflowId === runA && r.workflowType === 'selfRationalizationRun' && !r.activityType);
    assert.ok(wf, `a workflow record of run A\n${diagnostics()}`);
    assert.equal(wf.run, runA);
    assert.equal(typeof wf.runId, 'string', "the SDK's Temporal run id is kept");
  });

  test('spans: the workflow and its activity in one trace, activity spans tagged with run and step', () => {
    const spans = parseJsonLines(spansFile);
    const ofRunA = spans.filter((s) => s.attributes?.workflowId === runA || s.attributes?.temporalWorkflowId === runA);
    const names = ofRunA.map((s) => s.name);
    const byName = (name: string) => {
      const s = ofRunA.find((x) => x.name === name);
      assert.ok(s, `span ${name} of run A; its spans: ${names.join(', ')}; all: ${spans.map((x) => x.name).join(', ')}`);
      return s;
    };
    const runWorkflow = byName('RunWorkflow:selfRationalizationRun');
    const startActivity = byName('StartActivity:prepareRun');
    const runActivity = byName('RunActivity:prepareRun');
    assert.equal(startActivity.traceId, runWorkflow.traceId);
    assert.equal(runActivity.traceId, runWorkflow.traceId, 'the activity joins the workflow trace through the Temporal headers');
    assert.equal(runActivity.parentSpanId, startActivity.spanId);
    assert.equal(runActivity.status.code, 'ERROR');
    assert.equal(runWorkflow.status.code, 'ERROR');
    assert.equal(runActivity.attributes['judgeloop.run'], runA);
    assert.equal(runActivity.attributes['judgeloop.step'], 'prepare');
    assert.equal(runWorkflow.attributes['judgeloop.run'], runA);
    assert.equal(runActivity.resource['service.name'], 'judgeloop-worker');
    // The client's start span is the root: the run's trace begins where it was started.
    const start = byName('StartWorkflow:selfRationalizationRun');
    assert.equal(start.resource['service.name'], 'judgeloop-cli');
    assert.equal(start.parentSpanId, null);
    assert.equal(runWorkflow.traceId, start.traceId);
    assert.equal(runWorkflow.parentSpanId, start.spanId);
    // Run B's prepare completed inside its own trace; its iteration workflow and evaluate activity joined it.
    const ofRunB = spans.filter((s) => s.attributes?.['judgeloop.run'] === runB);
    const namesB = ofRunB.map((s) => s.name).join(', ');
    const prepareB = ofRunB.find((s) => s.name === 'RunActivity:prepareRun');
    assert.ok(prepareB, namesB);
    assert.notEqual(prepareB.traceId, runWorkflow.traceId, 'one trace per run');
    assert.equal(prepareB.status.code, 'OK');
    for (const s of ofRunB) assert.equal(s.traceId, prepareB.traceId, `${s.name} in run B's trace`);
    assert.ok(ofRunB.some((s) => s.name === 'StartChildWorkflow:iterationWorkflow'), namesB);
    // Iteration 0's evaluation job (cancelled when the worker stopped) is in the run's trace, with its iteration;
    // the job's log lines name this very span.
    const evaluate = ofRunB.find((s) => s.name === 'RunActivity:generateEvaluationJudgments');
    assert.ok(evaluate, namesB);
    assert.equal(evaluate.attributes['judgeloop.iteration'], 0);
    assert.equal(evaluate.attributes['judgeloop.step'], 'evaluate');
    assert.equal(evaluate.attributes.temporalWorkflowId, `${runB}-iter-0`);
    assert.ok(evaluateJobLine, 'found by the logs test');
    assert.equal(evaluateJobLine.trace_id, evaluate.traceId);
    assert.equal(evaluateJobLine.span_id, evaluate.spanId);
  });
});

test('a metrics address that is taken stops the worker at once, naming the variable', T, async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    // Nothing listens on Temporal's address either: the Runtime (and its endpoint) comes before any connection.
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, JUDGELOOP_METRICS_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_ADDRESS: '127.0.0.1:1', JUDGELOOP_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1, output);
    const last = JSON.parse(output.trim().split('\n').pop()!) as Rec;
    assert.equal(last.level, 'ERROR');
    assert.match(last.message, new RegExp(`cannot listen on JUDGELOOP_METRICS_ADDRESS=127\\.0\\.0\\.1:${port} \\(.*Address already in use`));
  } finally {
    server.close();
  }
});
