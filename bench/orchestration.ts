/**
 * Orchestration overhead and history size, measured on real runs (docs/benchmarks.md):
 *
 *   node --import tsx bench/orchestration.ts [--quick] [--json FILE]
 *
 * Starts the test services (a Temporal dev server and the S3 server) and a worker with the real activities,
 * runs the embedded default (configs/local.json: two iterations, 400 inputs each) and the same config with a
 * quarter of the inputs, with reuse across runs off so that every job runs. From each run's histories and its
 * jobs' usage records (bench/orchestration-figures.ts) it prints:
 *
 * 1. each job step's wall time against the job's own wall time (the limit), and the difference;
 * 2. per iteration, the time no activity ran plus those differences, as a share of the iteration;
 * 3. events and the largest payload per workflow, against Temporal's limits, for both input counts.
 *
 * --quick: a one-iteration tiny config with a 20-row evaluation, at 40 and 160 inputs (about 30 s).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { selfRationalizationRun } from '../workflows';
import { startTestServices } from '../test/support/services';
import { createTestWorker, storeFor, testConfig, useLocalS3Credentials } from '../test/support/judgeloop';
import { payloadSizes } from '../test/support/history';
import { jobName } from '../core/run/artifacts';
import type { JobUsage } from '../core/run/usage';
import type { RunConfigInput } from '../core/config/config';
import { TEMPORAL_LIMITS, activitySpans, jobStepFigures, workflowFigures, type JobStepFigure, type WorkflowFigures } from './orchestration-figures';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

const TASK_QUEUE = 'bench-orchestration';

interface Scenario {
  label: string;
  inputs: number;
  overrides: DeepPartial<RunConfigInput>;
}

function scenarios(quick: boolean): Scenario[] {
  // Quick: one iteration and a 20-row evaluation, so the jobs take seconds and the run mostly shows overhead.
  const tiny = (inputs: number): DeepPartial<RunConfigInput> => ({
    loop: { iterations: 1, inputsPerIteration: inputs, samplesPerInput: 4 },
    training: { epochs: 1 },
    data: { evalSuites: [{ name: 'synthetic-heldout', kind: 'pointwise', uri: 'datasets/synthetic/heldout.jsonl', adapter: 'canonical', limit: 20 }] },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
    reuse: { acrossRuns: false },
  });
  const embedded = (inputs: number): DeepPartial<RunConfigInput> => ({ loop: { inputsPerIteration: inputs }, reuse: { acrossRuns: false } });
  return quick
    ? [
        { label: 'tiny, 1 iteration', inputs: 40, overrides: tiny(40) },
        { label: 'tiny, 1 iteration', inputs: 160, overrides: tiny(160) },
      ]
    : [
        { label: 'embedded default', inputs: 400, overrides: embedded(400) },
        { label: 'embedded default', inputs: 100, overrides: embedded(100) },
      ];
}

interface IterationResult {
  iteration: number;
  steps: JobStepFigure[];
  figures: WorkflowFigures;
}

interface ScenarioResult {
  label: string;
  inputs: number;
  run: { events: number; largestPayloadBytes: number; wallSeconds: number };
  iterations: IterationResult[];
}

type History = temporal.api.history.v1.IHistory;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
  // The SDK's own lines (worker state changes) would bury the tables.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const services = await startTestServices();
  useLocalS3Credentials(services);
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
  const worker = await createTestWorker(env.nativeConnection, TASK_QUEUE);
  const results: ScenarioResult[] = [];
  try {
    await worker.runUntil(async () => {
      for (const scenario of scenarios(values.quick ?? false)) {
        const runId = `bench-orchestration-${scenario.inputs}-${Date.now().toString(36)}`;
        const config = testConfig(services, scenario.overrides as never);
        console.log(`running ${scenario.label} with ${scenario.inputs} inputs per iteration (${runId})...`);
        await env.client.workflow.execute(selfRationalizationRun, { taskQueue: TASK_QUEUE, workflowId: runId, args: [config] });
        results.push(await measure(env, services, scenario, runId, config.storage?.bucket ?? services.s3.bucket, config.storage?.prefix ?? 'judgeloop'));
      }
    });
  } finally {
    await env.teardown();
    await services.stop();
  }
  print(results);
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
}

async function measure(
  env: TestWorkflowEnvironment,
  services: Awaited<ReturnType<typeof startTestServices>>,
  scenario: Scenario,
  runId: string,
  bucket: string,
  prefix: string,
): Promise<ScenarioResult> {
  const store = storeFor(services);
  const usage = new Map<string, JobUsage>();
  for (const object of await store.list(`s3://${bucket}/${prefix}/${runId}/`)) {
    if (!object.uri.includes('/_usage/')) continue;
    const record = await store.getJson<JobUsage>(object.uri);
    if (record && record.status === 'Completed') usage.set(record.jobName, record);
  }
  const runHistory: History = await env.client.workflow.getHandle(runId).fetchHistory();
  const runSpans = activitySpans(runHistory);
  const runSteps = jobStepFigures(runSpans, (job) => usage.get(jobName(runId, 0, job))?.seconds);
  const runFigures = workflowFigures(runHistory, runSteps, payloadSizes(runHistory));
  const iterations: IterationResult[] = [];
  for (let k = 0; ; k++) {
    const id = `${runId}-iter-${k}`;
    const history: History | null = await env.client.workflow.getHandle(id).fetchHistory().catch(() => null);
    if (!history) break;
    const steps = jobStepFigures(activitySpans(history), (job) => usage.get(jobName(runId, k, job))?.seconds);
    iterations.push({ iteration: k, steps, figures: workflowFigures(history, steps, payloadSizes(history)) });
  }
  return {
    label: scenario.label,
    inputs: scenario.inputs,
    run: { events: runFigures.events, largestPayloadBytes: runFigures.largestPayloadBytes, wallSeconds: runFigures.wallSeconds },
    iterations,
  };
}

const s = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)} s`);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function print(results: ScenarioResult[]): void {
  const [first] = results;
  console.log(`\n== job steps against their jobs (${first.label}, ${first.inputs} inputs per iteration)`);
  console.log('| iteration | step | step (scheduled → completed) | job\'s own wall time | overhead |');
  console.log('| ---: | --- | ---: | ---: | ---: |');
  for (const it of first.iterations) {
    for (const step of it.steps) console.log(`| ${it.iteration} | ${step.activity} | ${s(step.stepSeconds)} | ${s(step.jobSeconds)} | ${s(step.overheadSeconds)} |`);
  }
  console.log(`\n== iterations: time outside the work (${first.label})`);
  console.log('| iteration | wall | no activity running | job steps beyond their jobs | overhead ÷ wall |');
  console.log('| ---: | ---: | ---: | ---: | ---: |');
  for (const it of first.iterations) {
    const f = it.figures;
    console.log(`| ${it.iteration} | ${s(f.wallSeconds)} | ${s(f.outsideActivitiesSeconds)} | ${s(f.jobStepOverheadSeconds)} | ${(f.overheadShare * 100).toFixed(1)}% |`);
  }
  console.log(`\n== history size against Temporal's limits (${TEMPORAL_LIMITS.events} events, ${kb(TEMPORAL_LIMITS.payloadBytes)} per payload)`);
  console.log('| config | inputs per iteration | run: events | run: largest payload | each iteration: events | each iteration: largest payload |');
  console.log('| --- | ---: | ---: | ---: | --- | --- |');
  for (const r of results) {
    const events = r.iterations.map((it) => it.figures.events).join(', ');
    const payloads = r.iterations.map((it) => kb(it.figures.largestPayloadBytes)).join(', ');
    console.log(`| ${r.label} | ${r.inputs} | ${r.run.events} | ${kb(r.run.largestPayloadBytes)} | ${events} | ${payloads} |`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
