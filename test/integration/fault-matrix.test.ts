/**
 * The fault matrix (docs/reliability.md): faults injected into real runs on the local stack — the tiny judge,
 * a small budget, every optional step on — and, after each, the same checks: the run completed; its results
 * (model hashes, metrics, pair and sample counts) equal those of a fault-free run of the same config,
 * computed once for the suite; no job ran twice at once or left two outputs; no process of the run is left.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { selfRationalizationRun } from '../../workflows';
import type { IterationSummary, RunSummary } from '../../core/run/run-types';
import { bundleWorkflows } from '../../workers/main';
import type { WorkerProcess } from '../../stack/worker';
import { startTestServices, type TestServices } from '../support/services';
import { runCli, storeFor, testConfig, useLocalS3Credentials, summaryOf } from '../support/judgeloop';
import { activityAttempts } from '../support/history';
import { isAlive, waitGone } from '../support/processes';
import { sleep } from '../../core/common/sleep';
import { stepPrefix, type RunStep } from '../../core/run/artifacts';
import { startChaosProxy } from '../support/s3-chaos-proxy';

let services: TestServices;
let env: TestWorkflowEnvironment;
const work = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-faults-'));
const bundleFile = path.join(work, 'workflow-bundle.json');
const referenceFile = path.join(work, 'references.jsonl');
const REAL_PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

before(async () => {
  services = await startTestServices();
  useLocalS3Credentials(services);
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
  writeFileSync(bundleFile, JSON.stringify(await bundleWorkflows()));
  writeReferenceRows(referenceFile);
});

after(async () => {
  await env?.teardown();
  await services?.stop();
});

/** 24 synthetic training rows with one reference judgment each, for the warm start. */
function writeReferenceRows(file: string): void {
  const rows = readFileSync(path.resolve(__dirname, '../../datasets/synthetic/train.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .slice(0, 24)
    .map((l) => JSON.parse(l) as { gold_score: number; meta: Record<string, unknown> & { keyword: string } });
  const withReferences = rows.map((r) => ({ ...r, meta: { ...r.meta, reference_judgments: [{ rationale: `The verdict is ${r.meta.keyword}.`, score: r.gold_score }] } }));
  writeFileSync(file, withReferences.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** The suite's config: every optional step on (warm start, meta-judge, registry and gate, report), nothing reused across runs. */
function faultConfig(overrides: Record<string, unknown> = {}, on: TestServices = services) {
  return testConfig(on, {
    loop: {
      iterations: 1,
      inputsPerIteration: 24,
      samplesPerInput: 4,
      pairing: {
        strategies: [
          { name: 'gold_margin', margin: 2, maxPairsPerInput: 2 },
          { name: 'meta_judge', margin: 2, maxPairsPerInput: 2 },
        ],
      },
    },
    data: {
      evalSuites: [{ name: 'synthetic-validation', kind: 'pointwise', uri: 'datasets/synthetic/validation.jsonl', adapter: 'canonical', limit: 20, role: 'validation' }],
    },
    warmStart: { data: { uri: referenceFile, adapter: 'canonical' }, epochs: 1, learningRate: 0.005 },
    training: { epochs: 1 },
    evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
    reuse: { acrossRuns: false },
    timeouts: { heartbeatTimeoutSeconds: 3, jobTimeoutMinutes: 20 },
    backend: { kind: 'local', python: path.resolve(__dirname, '../support/fault-python.sh') },
    ...overrides,
  } as Parameters<typeof testConfig>[1]);
}

async function startFaultWorker(taskQueue: string, faultDir: string, on: TestServices = services): Promise<WorkerProcess> {
  mkdirSync(faultDir, { recursive: true });
  return on.startWorker({
    entry: 'test/support/fault-worker.ts',
    taskQueue,
    // A killed worker's runs wait this long before a new worker takes their next workflow task (10 s by default).
    env: { JUDGELOOP_WORKFLOW_BUNDLE: bundleFile, JUDGELOOP_FAULT_DIR: faultDir, JUDGELOOP_REAL_PYTHON: REAL_PYTHON, JUDGELOOP_STICKY_TIMEOUT_SECONDS: '1' },
  });
}

/** What must not depend on faults: model bytes, metrics, counts. */
interface Outcome {
  models: Record<string, string>;
  iterations: Array<Record<string, unknown>>;
}

async function outcomeOf(summary: RunSummary, on: TestServices = services): Promise<Outcome> {
  const store = storeFor(on);
  const models: Record<string, string> = {};
  const hash = async (label: string, modelUri: string) => {
    const bytes = await store.getBytes(`${modelUri}/model.safetensors`);
    assert.ok(bytes, `${label}: ${modelUri}/model.safetensors`);
    models[label] = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  };
  if (summary.warmStart) await hash('warm-start', summary.warmStart.modelUri);
  for (const it of summary.iterations) if (it.iteration > 0) await hash(`iteration ${it.iteration}`, it.modelUri);
  const iterations = summary.iterations.map((it: IterationSummary) => ({
    iteration: it.iteration,
    eval: stripTimes(it.eval),
    sample: it.sample ? { inputs: it.sample.inputs, judgments: it.sample.judgments, parsed: it.sample.parsed } : null,
    pairs: it.pairs?.pairs ?? null,
    metaRated: it.metaJudge?.rated ?? null,
  }));
  return { models, iterations };
}

/** Metrics without wall-clock fields. */
function stripTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripTimes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !/seconds|Seconds|time|Time|At$|Uri$/.test(k))
        .map(([k, v]) => [k, stripTimes(v)]),
    );
  }
  return value;
}

let clean: Outcome;

test('the fault-free run (computed once; every faulted run must equal it)', { timeout: 15 * 60_000 }, async () => {
  const taskQueue = 'faults-clean';
  const worker = await startFaultWorker(taskQueue, path.join(work, 'clean'));
  const t0 = Date.now();
  const summary = await summaryOf(services, await env.client.workflow.execute(selfRationalizationRun, {
    taskQueue,
    workflowId: `faults-clean-${Date.now()}`,
    args: [faultConfig()],
  }));
  clean = await outcomeOf(summary);
  console.log(`fault-free run: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await worker.stop();
  assert.ok(Object.keys(clean.models).length === 2 && clean.iterations.length === 2, 'a warm start and one iteration');
});

/** One fault the suite injected, and what the run did about it (docs/reliability.md's rows). */
interface Injected {
  fault: string;
  step: string;
  outcome: string;
}
/** By scenario, so that rows keep their order when scenarios run at the same time. */
const matrix = { kill: [] as Injected[], cancel: [] as Injected[], services: [] as Injected[] };


/** The data steps, held after their work (test/support/fault-worker.ts) so a fault lands before they report it. */
const DATA_STEPS = ['prepareRun', 'readChampion', 'scoreJudgments', 'buildPairs', 'summarizeUsage', 'recordDecision', 'writeRunReport'];

interface JobLaunch {
  dir: string;
  /** The step part of the job name: `warm-start`, `evaluate`, `sample`, `meta-judge`, `train`. */
  step: string;
  iteration: number;
  pid: number;
}

/** Job folders of a run that have launched a process, with the first launch's pid. */
function launchedJobs(workDir: string, runId: string): JobLaunch[] {
  if (!existsSync(workDir)) return [];
  const out: JobLaunch[] = [];
  for (const name of readdirSync(workDir)) {
    const m = new RegExp(`^${runId}-i(\\d+)-(.+)$`).exec(name);
    const file = path.join(workDir, name, 'launches.log');
    if (!m || !existsSync(file)) continue;
    const [pid] = launchPids(path.join(workDir, name));
    if (pid === undefined) continue;
    out.push({ dir: path.join(workDir, name), step: m[2], iteration: Number(m[1]), pid });
  }
  return out;
}

/** The pids of every launch of a job folder, in order (launches.log). */
function launchPids(dir: string): number[] {
  return readFileSync(path.join(dir, 'launches.log'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { pid: number }).pid);
}

function launchCount(dir: string): number {
  return launchPids(dir).length;
}

/** Every job process of the run has exited (checked for a while: a stopped job takes its grace period). */
async function assertNoJobLeft(workDir: string, runId: string): Promise<void> {
  const pids = launchedJobs(workDir, runId).flatMap((j) => launchPids(j.dir));
  assert.deepEqual(await waitGone(pids, 15_000), [], `job processes of ${runId} still running`);
}

/** Per job folder of the run: one completion record in S3, i.e. one set of outputs. */
async function assertOneOutputPerJob(summary: RunSummary, workDir: string, on: TestServices = services): Promise<void> {
  const store = storeFor(on);
  const records = (await store.list(`${summary.runPrefixUri}/`)).filter((o) => o.uri.endsWith('/_job.json'));
  const jobs = launchedJobs(workDir, summary.runId);
  assert.equal(records.length, jobs.length, `completion records ${records.map((r) => r.uri).join(', ')} for ${jobs.length} job folders`);
}

describe('three faulted runs of one config at the same time, under different ids', { concurrency: 3 }, () => {
test('worker SIGKILLed in every step, a job process SIGKILLed, a job that exits 0 without outputs: same results, nothing twice', { timeout: 20 * 60_000 }, async () => {
  assert.ok(clean, 'the fault-free run ran first');
  const taskQueue = 'faults-kill';
  const faultDir = path.join(work, 'kill');
  const runId = `faults-kill-${Date.now()}`;
  const config = faultConfig();
  mkdirSync(faultDir, { recursive: true });
  writeFileSync(path.join(faultDir, 'hold.json'), JSON.stringify({ hold: DATA_STEPS }));
  // The first evaluation job (iteration 0) exits 0 without running (test/support/fault-python.sh).
  writeFileSync(path.join(faultDir, 'exit0-generate.py'), '');
  // Each job runs at least 2 s, so the loop below (100 ms polls) sees every one running.
  writeFileSync(path.join(faultDir, 'job-delay'), '2');
  let worker = await startFaultWorker(taskQueue, faultDir);
  const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [config] });
  let finished = false;
  const result = handle.result().finally(() => (finished = true));
  result.catch(() => undefined);

  const handled = new Set<string>();
  const kills: Array<{ fault: string; step: string; key: string }> = [];
  // The manifests of the steps that record one, as they were when their worker died: a retry must take them.
  const manifestsAtKill = new Map<string, string>();
  const restart = async (step: string, key: string) => {
    if (MANIFEST_STEPS.has(step) && step !== 'prepareRun') manifestsAtKill.set(step, await manifestCreatedAt(runId, step));
    worker.kill('SIGKILL');
    await new Promise((r) => worker.process.child.once('exit', r)).catch(() => undefined);
    kills.push({ fault: 'worker SIGKILL', step, key });
    worker = await startFaultWorker(taskQueue, faultDir);
  };
  while (!finished) {
    for (const type of DATA_STEPS) {
      const key = `hold:${type}`;
      if (!handled.has(key) && existsSync(path.join(faultDir, `holding-${type}`))) {
        handled.add(key);
        await restart(type, key);
      }
    }
    for (const job of launchedJobs(config.backend.workDir, runId)) {
      const key = `job:${path.basename(job.dir)}`;
      // The first evaluation's job exits at once (exit0 above): its fault is that, not a kill.
      if (handled.has(key) || !isAlive(job.pid) || (job.step === 'evaluate' && job.iteration === 0)) continue;
      handled.add(key);
      if (job.step === 'train') {
        process.kill(-job.pid, 'SIGKILL'); // the job's process group: its shell and Python
        kills.push({ fault: 'job process SIGKILL', step: `trainJudge`, key });
      } else {
        await restart(`${job.step} job (iteration ${job.iteration})`, key);
      }
    }
    // The train job, started again after its kill: now the worker dies while it runs.
    for (const job of launchedJobs(config.backend.workDir, runId).filter((j) => j.step === 'train')) {
      const key = `job:${path.basename(job.dir)}:relaunch`;
      const relaunched = launchPids(job.dir)[1];
      if (handled.has(key) || relaunched === undefined || !isAlive(relaunched)) continue;
      handled.add(key);
      await restart(`train job (iteration ${job.iteration})`, key);
    }
    await sleep(100);
  }
  const summary = await summaryOf(services, await result);
  await worker.stop();
  assert.deepEqual(await outcomeOf(summary), clean, 'the same models and metrics as the fault-free run');
  await assertNoJobLeft(config.backend.workDir, runId);
  await assertOneOutputPerJob(summary, config.backend.workDir);
  const jobs = launchedJobs(config.backend.workDir, runId);
  for (const job of jobs) {
    const expected = job.step === 'train' || (job.step === 'evaluate' && job.iteration === 0) ? 2 : 1;
    assert.equal(launchCount(job.dir), expected, `${path.basename(job.dir)} launched ${expected === 1 ? 'once' : 'again after its fault'}`);
  }
  for (const type of DATA_STEPS) assert.ok(handled.has(`hold:${type}`), `${type} met a worker kill`);
  for (const [step, createdAt] of manifestsAtKill) {
    assert.equal(await manifestCreatedAt(runId, step), createdAt, `${step}: the retry took the recorded output, not redoing it`);
  }
  assert.equal(manifestsAtKill.size, 2, 'the score and pair steps were caught with their manifest written');
  assert.equal(summary.iterations[1].train?.adopted, true, 'the last train attempt adopted the running job');
  for (const step of ['warm-start', 'sample', 'meta-judge', 'train', 'evaluate']) {
    assert.ok(kills.some((k) => k.fault === 'worker SIGKILL' && k.step.startsWith(`${step} job`)), `a worker kill during the ${step} job`);
  }

  const attempts = await finalAttempts(runId);
  for (const k of kills) {
    const job = jobs.find((j) => k.key === `job:${path.basename(j.dir)}` || k.key === `job:${path.basename(j.dir)}:relaunch`);
    const activity = job ? JOB_ACTIVITY[job.step] : k.step;
    const retried = (attempts.get(activity) ?? []).some((a) => a >= 2);
    assert.ok(retried, `${activity} was retried after ${k.fault}`);
    const label = job ? `${activity} (iteration ${job.iteration} ${job.step} job running)` : `${activity} (work done, not yet reported)`;
    const jobPart = !job
      ? `; ${dataRetry(k.step)}`
      : k.fault === 'job process SIGKILL'
        ? '; the job was started again'
        : '; the running job was adopted, not started again';
    matrix.kill.push({ fault: k.fault === 'job process SIGKILL' ? 'job process SIGKILL' : 'worker SIGKILL, new worker', step: label, outcome: `retried${jobPart}` });
  }
  matrix.kill.push({ fault: 'job exits 0 without its outputs', step: 'generateEvaluationJudgments (iteration 0 job)', outcome: 'not adopted: retried (JobIncomplete) and the job started again' });
  matrix.kill.push({ fault: '(all of the above, one run)', step: 'the whole run', outcome: 'completed; models and metrics equal the fault-free run; one output per job; no process left' });
});

/** Steps that record a manifest last and skip their work when it is there (activities/storage/reuse.ts). */
const MANIFEST_STEPS = new Set(['prepareRun', 'scoreJudgments', 'buildPairs']);

function dataRetry(step: string): string {
  return MANIFEST_STEPS.has(step) ? 'the retry took its recorded output (manifest), not redoing it' : 'the retry did it again (idempotent: the same reads, the same objects written)';
}

/** When the step's manifest (its last write) was made, in iteration 1 of the run. */
async function manifestCreatedAt(runId: string, activity: string): Promise<string> {
  const step: RunStep = activity === 'scoreJudgments' ? 'score' : 'pair';
  const manifest = await storeFor(services).getJson<{ createdAt: string }>(`${stepPrefixOf(runId, 1, step)}/manifest.json`);
  assert.ok(manifest?.createdAt, `${activity} wrote its manifest before it was held`);
  return manifest.createdAt;
}

/** The activity that runs each kind of job. */
const JOB_ACTIVITY: Record<string, string> = {
  'warm-start': 'trainWarmStartJudge',
  evaluate: 'generateEvaluationJudgments',
  sample: 'generateSampledJudgments',
  'meta-judge': 'generateMetaRatings',
  train: 'trainJudge',
};

/** Activity type → the final attempt numbers of its executions, over the run's and its iterations' histories. */
async function finalAttempts(runId: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const id of [runId, `${runId}-iter-0`, `${runId}-iter-1`]) {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    for (const [type, list] of activityAttempts(history)) out.set(type, [...(out.get(type) ?? []), ...list]);
  }
  return out;
}

test('cancelled during each step in turn, rerun under the same id: ends cancelled with no job left, reuses what finished, completes equal', { timeout: 20 * 60_000 }, async () => {
  assert.ok(clean, 'the fault-free run ran first');
  const taskQueue = 'faults-cancel';
  const faultDir = path.join(work, 'cancel');
  const runId = `faults-cancel-${Date.now()}`;
  const config = faultConfig();
  const configFile = path.join(work, 'cancel-config.json');
  writeFileSync(configFile, JSON.stringify(config));
  mkdirSync(faultDir, { recursive: true });
  writeFileSync(path.join(faultDir, 'hold.json'), JSON.stringify({ hold: DATA_STEPS }));
  // Each job runs at least 5 s (test/support/fault-python.sh), long enough for a cancellation to reach it
  // through a heartbeat: a tiny job forked from a warm Python could otherwise finish first.
  writeFileSync(path.join(faultDir, 'job-delay'), '5');
  const worker = await startFaultWorker(taskQueue, faultDir);
  const store = storeFor(services);
  const cancelled = new Set<string>();
  const jobsCancelled = new Set<string>();
  let duplicateRefused = '';
  try {
    for (let cycle = 0; ; cycle++) {
      assert.ok(cycle < 20, 'at most one cancellation per step');
      const handle = await env.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [config] });
      if (cycle === 0) {
        // One id started twice while it runs: refused, saying how to follow or reset the existing run.
        const twice = await runCli(['run', '--config', configFile, '--id', runId, '--no-follow', '--address', services.temporalAddress, '--task-queue', taskQueue]);
        assert.notEqual(twice.rc, 0);
        duplicateRefused = twice.err.trim();
        assert.match(duplicateRefused, new RegExp(`already running; follow it with .*follow ${runId}.*reset ${runId} --iteration K`));
      }
      let finished = false;
      const result = handle.result().finally(() => (finished = true));
      result.catch(() => undefined);
      // The next step not cancelled yet: a held data step, or a job running.
      let target: string | null = null;
      while (!finished && target === null) {
        for (const type of DATA_STEPS) {
          if (!cancelled.has(type) && existsSync(path.join(faultDir, `holding-${type}`))) target = type;
        }
        for (const job of launchedJobs(config.backend.workDir, runId)) {
          const key = `${job.step} job (iteration ${job.iteration})`;
          if (target === null && !cancelled.has(key) && isAlive(job.pid) && launchCount(job.dir) === 1) {
            target = key;
            jobsCancelled.add(path.basename(job.dir));
          }
        }
        if (target === null) await sleep(100);
      }
      if (target === null) {
        const summary = await summaryOf(services, await result);
        assert.deepEqual(await outcomeOf(summary), clean, 'the final rerun equals the fault-free run');
        await assertOneOutputPerJob(summary, config.backend.workDir);
        break;
      }
      cancelled.add(target);
      const scoreManifest = `${stepPrefixOf(runId, 1, 'score')}/manifest.json`;
      await handle.cancel();
      await assert.rejects(result, (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure, `${target}: the run ends cancelled`);
      await assertNoJobLeft(config.backend.workDir, runId);
      if (target === 'scoreJudgments') scoreDone = (await store.getJson<{ createdAt: string }>(scoreManifest))?.createdAt ?? null;
      matrix.cancel.push({
        fault: 'run cancelled, then started again under the same id',
        step: DATA_STEPS.includes(target)
          ? `${target} (work done, not yet reported)`
          : `${JOB_ACTIVITY[target.split(' ')[0]]} (iteration ${/iteration (\d+)/.exec(target)![1]} ${target.replace(/ \(iteration \d+\)$/, '')} running)`,
        outcome: DATA_STEPS.includes(target)
          ? `ended cancelled; the rerun ${dataRetry(target).replace(/^the retry /, '')}`
          : 'ended cancelled with its job process stopped; the rerun started the job again',
      });
    }
  } finally {
    await worker.stop();
  }
  // Each job that was cancelled ran again once; every other one ran once, its outputs reused by every rerun.
  for (const job of launchedJobs(config.backend.workDir, runId)) {
    const name = path.basename(job.dir);
    assert.equal(launchCount(job.dir), jobsCancelled.has(name) ? 2 : 1, name);
  }
  assert.ok(scoreDone, 'the score step was cancelled after its work');
  assert.equal((await store.getJson<{ createdAt: string }>(`${stepPrefixOf(runId, 1, 'score')}/manifest.json`))?.createdAt, scoreDone, 'the rerun reused the score step, not redone');
  for (const type of DATA_STEPS) assert.ok(cancelled.has(type), `cancelled during ${type}`);
  for (const step of ['warm-start', 'evaluate', 'sample', 'meta-judge', 'train']) {
    assert.ok([...cancelled].some((c) => c.startsWith(`${step} job`)), `cancelled during the ${step} job`);
  }
  matrix.cancel.push({ fault: 'the same id started twice (`judgeloop run --id`)', step: 'while it runs', outcome: 'refused with a non-zero exit; the message says how to follow the run or reset it' });
});


// Its own Temporal and S3 servers, which it kills: the other two scenarios run beside it on the suite's.
test('Temporal server and S3 server killed and restarted mid-step, S3 behind a flaky network throughout: same results', { timeout: 20 * 60_000 }, async () => {
  assert.ok(clean, 'the fault-free run ran first');
  const own = await startTestServices();
  const ownEnv = await TestWorkflowEnvironment.createFromExistingServer({ address: own.temporalAddress });
  const taskQueue = 'faults-services';
  const runId = `faults-services-${Date.now()}`;
  const proxy = await startChaosProxy({ target: own.s3.endpoint, seed: 14, rate: 0.05, slowMs: 300 });
  const config = faultConfig({ storage: { endpoint: proxy.endpoint } }, own);
  const worker = await startFaultWorker(taskQueue, path.join(work, 'services'), own);
  // Each job runs at least 2 s, so a server is killed while the job is seen running.
  writeFileSync(path.join(work, 'services', 'job-delay'), '2');
  try {
    const handle = await ownEnv.client.workflow.start(selfRationalizationRun, { taskQueue, workflowId: runId, args: [config] });
    const waitForJob = async (step: string) => {
      for (;;) {
        const job = launchedJobs(config.backend.workDir, runId).find((j) => j.step === step && isAlive(j.pid));
        if (job) return job;
        await sleep(100);
      }
    };
    const sample = await waitForJob('sample');
    await own.restartTemporal();
    assert.ok(sample.pid > 0);
    matrix.services.push({ fault: 'Temporal server SIGKILLed and restarted (same database)', step: 'generateSampledJudgments (job running)', outcome: 'the worker and the client reconnected; the job ran once' });
    const train = await waitForJob('train');
    await own.restartS3({ kill: true });
    assert.ok(train.pid > 0);
    matrix.services.push({ fault: 'S3 server SIGKILLed and restarted (same data)', step: 'trainJudge (job running)', outcome: 'the requests it met were retried until S3 was back; the job ran once' });
    const summary = await summaryOf(own, await handle.result());
    assert.deepEqual(await outcomeOf(summary, own), clean, 'the same models and metrics as the fault-free run');
    await assertNoJobLeft(config.backend.workDir, runId);
    await assertOneOutputPerJob(summary, config.backend.workDir, own);
    for (const job of launchedJobs(config.backend.workDir, runId)) assert.equal(launchCount(job.dir), 1, path.basename(job.dir));
  } finally {
    await worker.stop();
    await proxy.stop();
    await ownEnv.teardown();
    await own.stop();
  }
  // Which step each fault met, from the object key: iter-K/<step>/..., else the run's own objects.
  const byStep = new Map<string, number>();
  for (const f of proxy.faults) {
    const m = /\/iter-(\d+)\/([a-z-]+)\//.exec(f.path);
    const step = m ? `iteration ${m[1]} ${m[2]}` : /\/cache\//.test(f.path) ? 'reuse index' : 'run level';
    byStep.set(step, (byStep.get(step) ?? 0) + 1);
  }
  for (const step of ['iteration 0 evaluate', 'iteration 1 sample', 'iteration 1 score', 'iteration 1 pair', 'iteration 1 train', 'iteration 1 evaluate']) {
    assert.ok((byStep.get(step) ?? 0) >= 2, `${step} met ${byStep.get(step) ?? 0} faults`);
  }
  const kinds = new Map<string, number>();
  for (const f of proxy.faults) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
  matrix.services.push({
    fault: `S3 behind a flaky network (seeded): ${[...kinds.keys()].sort().join(', ')}`,
    step: 'every step (≥ 2 faults each)',
    outcome: 'completed; the SDK retried failed requests, cut-off bodies were resumed',
  });
  matrix.services.push({ fault: '(the three above, one run)', step: 'the whole run', outcome: 'completed; models and metrics equal the fault-free run; no job started twice; no process left' });
});
});

let scoreDone: string | null = null;

function stepPrefixOf(runId: string, iteration: number, step: RunStep): string {
  return stepPrefix(`s3://${services.s3.bucket}/runs/${runId}`, iteration, step);
}

const DOC = path.resolve(__dirname, '../../docs/reliability.md');
const START = '<!-- fault-matrix:start (written by test/integration/fault-matrix.test.ts) -->';
const END = '<!-- fault-matrix:end -->';

function renderMatrix(rows: Injected[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| fault | step | what happened |', '| --- | --- | --- |', ...rows.map((r) => `| ${cell(r.fault)} | ${cell(r.step)} | ${cell(r.outcome)} |`)].join('\n');
}

test('docs/reliability.md holds the fault matrix as this suite measured it', () => {
  const table = renderMatrix([...matrix.kill, ...matrix.cancel, ...matrix.services]);
  const doc = readFileSync(DOC, 'utf8');
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  assert.ok(from >= 0 && to > from, `${DOC} has the markers ${START} … ${END}`);
  const updated = `${doc.slice(0, from + START.length)}\n${table}\n${doc.slice(to)}`;
  if (process.env.JUDGELOOP_WRITE_RELIABILITY === '1') {
    writeFileSync(DOC, updated);
    return;
  }
  assert.equal(doc.slice(from + START.length, to).trim(), table, 'docs/reliability.md differs from what the suite measured: rerun it with JUDGELOOP_WRITE_RELIABILITY=1 and review the change');
});
