/**
 * The worker's observability settings and log records (workers/logging.ts, workers/telemetry.ts,
 * workers/otel.ts): environment parsing with its error messages, Judgeloop's run/iteration/step on log
 * records, the JSON line format, the Runtime options they make and the spans file format. The real worker
 * with all of it on is test/integration/observability.test.ts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { LogTimestamp } from '@temporalio/worker';
import * as otel from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  ACTIVITY_STEPS,
  ObservabilityConfigError,
  createWorkerLogger,
  formatJsonLogEntry,
  judgeloopLogFields,
  parseLogOptions,
  stepOfActivity,
} from '../../workers/logging';
import { STEP_SECONDS_BUCKETS, STEP_SECONDS_METRIC, parseMetricsAddress, parseObservabilityEnv, runtimeOptions } from '../../workers/telemetry';
import { FileSpanExporter, describeTracing, parseTracingOptions } from '../../workers/otel';
import { createActivities, defaultActivityDeps } from '../../activities';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-worker-logging-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function throwsConfig(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ObservabilityConfigError, `expected an ObservabilityConfigError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('environment', () => {
  test('log format and level: defaults, case-insensitive values, clear errors', () => {
    assert.deepEqual(parseLogOptions({}), { format: 'text', level: 'INFO' });
    assert.deepEqual(parseLogOptions({ JUDGELOOP_LOG_FORMAT: ' JSON ', JUDGELOOP_LOG_LEVEL: 'debug' }), { format: 'json', level: 'DEBUG' });
    assert.deepEqual(parseLogOptions({ JUDGELOOP_LOG_FORMAT: '', JUDGELOOP_LOG_LEVEL: '' }), { format: 'text', level: 'INFO' });
    throwsConfig(() => parseLogOptions({ JUDGELOOP_LOG_FORMAT: 'logfmt' }), /JUDGELOOP_LOG_FORMAT is "logfmt": use "json" .* or "text"/);
    throwsConfig(() => parseLogOptions({ JUDGELOOP_LOG_LEVEL: 'verbose' }), /JUDGELOOP_LOG_LEVEL is "verbose": use one of TRACE, DEBUG, INFO, WARN, ERROR/);
  });

  test('metrics address: IP:port or unset; anything else names the variable and shows an example', () => {
    assert.equal(parseMetricsAddress(undefined), undefined);
    assert.equal(parseMetricsAddress('  '), undefined);
    assert.equal(parseMetricsAddress('127.0.0.1:9464'), '127.0.0.1:9464');
    assert.equal(parseMetricsAddress(' 0.0.0.0:1 '), '0.0.0.0:1');
    assert.equal(parseMetricsAddress('[::1]:9464'), '[::1]:9464');
    const example = /Use IP:port, e\.g\. 127\.0\.0\.1:9464/;
    for (const [value, why] of [
      ['localhost:9464', /the host must be an IP address, not "localhost"/],
      ['9464', /it has no host/],
      ['127.0.0.1', /it is not an address with a port/],
      ['http://127.0.0.1:9464', /it is not an address with a port/],
      ['127.0.0.1:0', /port 0 is not between 1 and 65535/],
      ['127.0.0.1:70000', /port 70000 is not between 1 and 65535/],
      ['1.2.3:80', /the host must be an IP address, not "1\.2\.3"/],
      ['[nope]:80', /nope is not an IPv6 address/],
    ] as const) {
      throwsConfig(() => parseMetricsAddress(value), new RegExp(`^JUDGELOOP_METRICS_ADDRESS is "${value.replace(/[.[\]]/g, '\\$&')}": `));
      throwsConfig(() => parseMetricsAddress(value), why);
      throwsConfig(() => parseMetricsAddress(value), example);
    }
    // parseObservabilityEnv reads the same variable (and stops at the first bad one).
    throwsConfig(() => parseObservabilityEnv({ JUDGELOOP_METRICS_ADDRESS: 'localhost:1' }), /JUDGELOOP_METRICS_ADDRESS/);
    assert.equal(parseObservabilityEnv({ JUDGELOOP_METRICS_ADDRESS: '127.0.0.1:9464' }).metricsAddress, '127.0.0.1:9464');
  });

  test('tracing: off by default; JUDGELOOP_OTEL, the file and the OTLP endpoint decide the exporters', () => {
    const spans = path.join(dir, 'spans.jsonl');
    assert.deepEqual(parseTracingOptions({}), { enabled: false, otlp: false, serviceName: 'judgeloop-worker' });
    assert.equal(parseTracingOptions({ JUDGELOOP_OTEL: 'off', JUDGELOOP_OTEL_FILE: spans }).enabled, false, 'an explicit off wins over the file');
    assert.deepEqual(parseTracingOptions({ JUDGELOOP_OTEL: '1' }), {
      enabled: true,
      otlp: true,
      otlpEndpoint: undefined,
      file: undefined,
      serviceName: 'judgeloop-worker',
    });
    // A file alone turns tracing on and is the only exporter: no collector is needed to debug locally.
    assert.deepEqual(parseTracingOptions({ JUDGELOOP_OTEL_FILE: spans }), {
      enabled: true,
      otlp: false,
      otlpEndpoint: undefined,
      file: spans,
      serviceName: 'judgeloop-worker',
    });
    const both = parseTracingOptions({
      JUDGELOOP_OTEL: 'true',
      JUDGELOOP_OTEL_FILE: spans,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'judges-prod',
    });
    assert.deepEqual(both, { enabled: true, otlp: true, otlpEndpoint: 'http://collector:4318', file: spans, serviceName: 'judges-prod' });
    assert.equal(describeTracing(both), `on, service judges-prod, to OTLP/HTTP http://collector:4318 and file ${spans}`);
    assert.equal(
      parseTracingOptions({ JUDGELOOP_OTEL: '1', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://x.example/v1/traces' }).otlpEndpoint,
      'https://x.example/v1/traces',
    );
    assert.equal(parseTracingOptions({ JUDGELOOP_OTEL: '1' }, 'judgeloop-cli').serviceName, 'judgeloop-cli');

    throwsConfig(() => parseTracingOptions({ JUDGELOOP_OTEL: 'maybe' }), /JUDGELOOP_OTEL is "maybe": use 1 to turn tracing on or 0/);
    throwsConfig(
      () => parseTracingOptions({ JUDGELOOP_OTEL: '1', OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT is "localhost:4318": .*http:\/\/ or https:\/\/ URL/,
    );
    throwsConfig(
      () => parseTracingOptions({ JUDGELOOP_OTEL: '1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
      /OTEL_EXPORTER_OTLP_PROTOCOL is "grpc": .*OTLP\/HTTP/,
    );
    throwsConfig(
      () => parseTracingOptions({ JUDGELOOP_OTEL_FILE: path.join(dir, 'missing', 'spans.jsonl') }),
      /JUDGELOOP_OTEL_FILE is .*spans\.jsonl, but its folder .*missing does not exist/,
    );
    // Tracing off: the OTEL_* variables are not the worker's business.
    assert.equal(parseTracingOptions({ OTEL_EXPORTER_OTLP_ENDPOINT: 'nonsense' }).enabled, false);
  });

  test('Runtime options: JSON forwards Core logs to the logger; an address turns on Prometheus', () => {
    const logger = createWorkerLogger({ format: 'json', level: 'INFO' }, () => undefined);
    const plain = runtimeOptions(parseObservabilityEnv({}), logger);
    assert.equal(plain.logger, logger);
    assert.deepEqual(plain.telemetryOptions, {});

    const all = runtimeOptions(
      parseObservabilityEnv({ JUDGELOOP_LOG_FORMAT: 'json', JUDGELOOP_LOG_LEVEL: 'DEBUG', JUDGELOOP_METRICS_ADDRESS: '0.0.0.0:9464' }),
      logger,
    );
    assert.deepEqual(all.telemetryOptions?.logging, { filter: { core: 'WARN', other: 'ERROR' }, forward: {} });
    assert.deepEqual(all.telemetryOptions?.metrics, {
      prometheus: { bindAddress: '0.0.0.0:9464', histogramBucketOverrides: { [STEP_SECONDS_METRIC]: STEP_SECONDS_BUCKETS } },
    });
    const quiet = runtimeOptions(parseObservabilityEnv({ JUDGELOOP_LOG_FORMAT: 'json', JUDGELOOP_LOG_LEVEL: 'ERROR' }), logger);
    assert.deepEqual(quiet.telemetryOptions?.logging?.filter, { core: 'ERROR', other: 'ERROR' }, 'Core follows a stricter level');
  });
});

describe('run, iteration and step on log records', () => {
  const activityOf = (workflowId: string, workflowType: string, activityType: string) => ({
    namespace: 'default',
    taskQueue: 'judgeloop',
    workflowId,
    workflowRunId: '0b0e-uuid',
    workflowType,
    activityId: '1',
    activityType,
    attempt: 1,
    isLocal: false,
  });

  test('from the workflow id, workflow type and activity type', () => {
    assert.deepEqual(judgeloopLogFields(activityOf('my-run-iter-2', 'iterationWorkflow', 'trainJudge')), { run: 'my-run', iteration: 2, step: 'train' });
    assert.deepEqual(judgeloopLogFields(activityOf('my-run', 'selfRationalizationRun', 'prepareRun')), { run: 'my-run', iteration: null, step: 'prepare' });
    assert.deepEqual(judgeloopLogFields(activityOf('my-run', 'selfRationalizationRun', 'recordDecision')), {
      run: 'my-run',
      iteration: null,
      step: 'registry',
    });
    // A run id that itself contains "-iter-": only the last suffix is the iteration.
    assert.deepEqual(judgeloopLogFields(activityOf('a-iter-b-iter-10', 'iterationWorkflow', 'evaluateJudge')), {
      run: 'a-iter-b',
      iteration: 10,
      step: 'evaluate',
    });
    // Workflow records (no activity): the run, and the iteration for an iteration workflow; no step.
    assert.deepEqual(judgeloopLogFields({ workflowId: 'my-run', workflowType: 'selfRationalizationRun', runId: 'uuid' }), { run: 'my-run' });
    assert.deepEqual(judgeloopLogFields({ workflowId: 'my-run-iter-0', workflowType: 'iterationWorkflow' }), { run: 'my-run', iteration: 0 });
    // Records of nothing Judgeloop: worker start-up, Core, another workflow type, standalone activities.
    assert.equal(judgeloopLogFields(undefined), undefined);
    assert.equal(judgeloopLogFields({ sdkComponent: 'worker', taskQueue: 'judgeloop' }), undefined);
    assert.equal(judgeloopLogFields(activityOf('other', 'someoneElsesWorkflow', 'prepareRun')), undefined);
    assert.equal(judgeloopLogFields({ activityType: 'prepareRun', activityRunId: 'x' }), undefined);
  });

  test("the job queue's worker has no workflows by design: the SDK's warning about it is logged at DEBUG", () => {
    const lines: string[] = [];
    const logger = createWorkerLogger({ format: 'json', level: 'INFO' }, (line) => lines.push(line));
    logger.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'judgeloop-jobs' });
    assert.deepEqual(lines, []);
    logger.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'judgeloop' });
    assert.equal(lines.length, 1, 'on the run\'s task queue it is a real mistake');
    assert.equal(JSON.parse(lines[0]).level, 'WARN');
  });

  test('every known activity has its step; an unknown one is its own step', () => {
    const steps = ['prepareRun', 'sampleJudgments', 'scoreJudgments', 'rateJudgments', 'rescoreJudgments', 'buildPairs', 'trainJudge', 'evaluateJudge'].map(stepOfActivity);
    assert.deepEqual(steps, ['prepare', 'sample', 'score', 'meta-judge', 'consistency', 'pair', 'train', 'evaluate']);
    assert.equal(stepOfActivity('writeReport'), 'writeReport');
    // Every activity the worker registers is named by its step.
    const unnamed = Object.keys(createActivities(defaultActivityDeps())).filter((a) => !Object.hasOwn(ACTIVITY_STEPS, a));
    assert.deepEqual(unnamed, [], 'activities without a step in workers/logging.ts ACTIVITY_STEPS');
    const evaluation = ['renderEvaluationRequests', 'generateEvaluationJudgments', 'generateBaselineJudgments', 'generateRelativeVerdicts', 'computeEvaluationMetrics'];
    assert.deepEqual(evaluation.map(stepOfActivity), evaluation.map(() => 'evaluate'));
    assert.equal(stepOfActivity('toString'), 'toString', 'not an inherited property');
  });

  test('the JSON logger: one parseable line per record, SDK attributes kept, level filtered', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger({ format: 'json', level: 'INFO' }, (line) => lines.push(line));
    const at = 1_700_000_000_123_456_789n;
    logger.info('job: loading model', { sdkComponent: 'activity', ...activityOf('r1-iter-1', 'iterationWorkflow', 'sampleJudgments'), [LogTimestamp]: at });
    logger.debug('Activity started', activityOf('r1-iter-1', 'iterationWorkflow', 'sampleJudgments'));
    logger.warn('Activity failed', {
      ...activityOf('r1', 'selfRationalizationRun', 'prepareRun'),
      error: ApplicationFailure.nonRetryable('dataset "train": 2 of 4 rows are invalid', 'InvalidData'),
      durationMs: 12,
    });
    logger.info('judgeloop worker: polling', { taskQueue: 'judgeloop' });
    assert.equal(lines.length, 3, 'the DEBUG record is below INFO');
    const [job, failed, startup] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(Object.keys(job).slice(0, 6), ['time', 'level', 'message', 'run', 'iteration', 'step']);
    assert.equal(job.time, '2023-11-14T22:13:20.123Z', "the record's own timestamp");
    assert.equal(job.level, 'INFO');
    assert.equal(job.message, 'job: loading model');
    assert.deepEqual([job.run, job.iteration, job.step], ['r1', 1, 'sample']);
    for (const key of ['sdkComponent', 'namespace', 'taskQueue', 'workflowId', 'workflowRunId', 'workflowType', 'activityId', 'activityType', 'attempt']) {
      assert.ok(key in job, `SDK attribute ${key} kept`);
    }
    assert.equal(job.workflowId, 'r1-iter-1');
    assert.deepEqual([failed.run, failed.iteration, failed.step, failed.level], ['r1', null, 'prepare', 'WARN']);
    const error = failed.error as Record<string, unknown>;
    assert.equal(error.name, 'ApplicationFailure');
    assert.equal(error.type, 'InvalidData');
    assert.equal(error.nonRetryable, true);
    assert.match(String(error.message), /2 of 4 rows are invalid/);
    assert.equal(startup.run, undefined, 'a record of no run has no run field');
    assert.equal(startup.taskQueue, 'judgeloop');
  });

  test('JSON values: bigint, cycles, nested errors, dates, non-finite numbers and reserved names', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const line = formatJsonLogEntry({
      level: 'ERROR',
      message: 'odd values',
      timestampNanos: 0n,
      meta: {
        big: 12345678901234567890n,
        cyclic,
        when: new Date(Date.UTC(2024, 0, 2)),
        ratio: Number.NaN,
        error: new Error('outer', { cause: new TypeError('inner') }),
        message: 'shadowed',
        fn: () => 1,
        bytes: Buffer.from('abc'),
      },
    });
    const rec = JSON.parse(line) as Record<string, any>;
    assert.equal(rec.time, '1970-01-01T00:00:00.000Z');
    assert.equal(rec.message, 'odd values');
    assert.equal(rec['attr.message'], 'shadowed');
    assert.equal(rec.big, '12345678901234567890');
    assert.deepEqual(rec.cyclic, { name: 'loop', self: '[Circular]' });
    assert.equal(rec.when, '2024-01-02T00:00:00.000Z');
    assert.equal(rec.ratio, 'NaN');
    assert.equal(rec.error.message, 'outer');
    assert.equal(rec.error.cause.name, 'TypeError');
    assert.equal(rec.error.cause.message, 'inner');
    assert.ok(!('fn' in rec));
    assert.equal(rec.bytes, '[Buffer 3 bytes]');
    assert.ok(!line.includes('\n'), 'one line');
  });
});

test('the spans file: one JSON line per ended span, with trace and parent ids', async () => {
  const file = path.join(dir, 'unit-spans.jsonl');
  // A provider of its own, not registered globally: nothing here touches the process's tracing.
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new FileSpanExporter(file))] });
  const tracer = provider.getTracer('unit');
  const parent = tracer.startSpan('RunWorkflow:selfRationalizationRun');
  const child = tracer.startSpan('StartActivity:prepareRun', { attributes: { 'judgeloop.step': 'prepare' } }, otel.trace.setSpan(otel.context.active(), parent));
  child.end();
  parent.end();
  await provider.shutdown();
  const spans = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  assert.deepEqual(spans.map((s) => s.name), ['StartActivity:prepareRun', 'RunWorkflow:selfRationalizationRun']);
  const [c, p] = spans;
  assert.equal(c.traceId, p.traceId);
  assert.equal(c.parentSpanId, p.spanId);
  assert.equal(p.parentSpanId, null);
  assert.equal(c.attributes['judgeloop.step'], 'prepare');
  assert.equal(c.kind, 'INTERNAL');
  assert.equal(c.status.code, 'UNSET');
  assert.match(c.startTime, /^\d{4}-\d\d-\d\dT/);
  assert.equal(typeof c.durationMs, 'number');
});
