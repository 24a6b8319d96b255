/**
 * `npm run bench`: the speed and memory of Judgeloop's own data path, measured on the real local S3 server
 * (versitygw, started here on a free port) with the real activities — no Temporal, no model.
 *
 * - parse: parseJudgment on synthetic judge outputs (judgments per second).
 * - For each size N (inputs, each with `--samples` judgments with rationales of a few hundred characters, as a
 *   real judge writes them): score (parse and write every judgment), pair (merge-join requests and judgments,
 *   curate, write pairs), the evaluation's metric step (score and parse as many evaluation outputs of one
 *   pointwise suite, write them, compute the suite's metrics; bootstrap off), and the same steps in a second
 *   run whose inputs have the same content: copied
 *   from the first run instead (activities/storage/reuse.ts). Each step runs in a process of its own, so its
 *   peak resident memory (maxRSS) is its own: reported above that of a process that loads the same code and
 *   runs nothing. The steps stream their rows, so that figure should not grow with N.
 * - Beside each computed step, its limit on the same objects and server: reading the step's input objects
 *   (GET, line splitting, JSON.parse) and writing as many rows as the step writes (JSON.stringify and the
 *   same streamed upload), nothing else. The ratio step/limit says how much of the step's time is its own.
 *
 * With `--heap-mb M` every step process runs with V8's old space capped at M MB: a step that held its rows
 * in memory would fail at a large N; one that streams them completes.
 *
 * Usage: npm run bench -- [--inputs 2000,20000] [--samples 8] [--heap-mb 96] [--json FILE] [--cpu-prof DIR] [--quick]
 * (--quick: one small size, for a person checking a change in about a minute)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../cli/config-file';
import { renderTable } from '../core/report/summary-tables';
import { createActivities, defaultActivityDeps } from '../activities';
import { storageSettings } from '../activities/context';
import { ObjectStore, createS3Client } from '../activities/storage/object-store';
import { parseJudgment } from '../core/judging/judgment';
import type { RunConfig } from '../core/config/config';
import { startTestServices } from '../test/support/services';

interface Options {
  inputs: number[];
  samples: number;
  /** Caps each step process's V8 old space (--max-old-space-size): a step that held its rows would fail. */
  heapMb?: number;
  json?: string;
  /** Writes a V8 CPU profile of every step process into this folder (open it in Chrome's DevTools). */
  cpuProf?: string;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { inputs: [2000, 20000], samples: 8 };
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') {
      quick = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value (npm run bench -- --inputs 2000,20000 --samples 8 --heap-mb 96 --json FILE)`);
    if (flag === '--inputs') opts.inputs = value.split(',').map((v) => positiveInt(v, flag));
    else if (flag === '--samples') opts.samples = positiveInt(value, flag);
    else if (flag === '--heap-mb') opts.heapMb = positiveInt(value, flag);
    else if (flag === '--json') opts.json = value;
    else if (flag === '--cpu-prof') opts.cpuProf = path.resolve(value);
    else throw new Error(`unknown flag ${flag}: use --inputs N[,N…], --samples N, --heap-mb MB, --json FILE, --cpu-prof DIR, --quick`);
    i++;
  }
  if (quick && !argv.includes('--inputs')) opts.inputs = [1000];
  return opts;
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: "${v}" is not a positive integer`);
  return n;
}

interface Measured {
  seconds: number;
  /** The process's peak resident set size (MB). */
  maxRssMb: number;
}

/** What a step process is told (JSON in JUDGELOOP_BENCH_STEP). */
interface StepTask {
  /** `limit-*`: the step's limit (see the top of this file). */
  step: 'score' | 'pair' | 'metrics' | 'limit-score' | 'limit-pair' | 'limit-metrics' | 'none';
  config: RunConfig;
  runPrefixUri: string;
  modelUri: string;
  rawUri: string;
  requestsUri: string;
  /** metrics: the evaluation job's output folder (its `judgments.jsonl`) and how many rows it holds. */
  evalOutputsUri?: string;
  evalRows?: number;
  /** limit-pair: how many rows the pair step wrote. */
  rows?: number;
}

/** Runs one step in this process and prints its time and this process's peak memory as JSON. */
async function runStepTask(task: StepTask): Promise<void> {
  const deps = defaultActivityDeps();
  const activities = createActivities(deps);
  const common = { config: task.config, runPrefixUri: task.runPrefixUri, iteration: 1 };
  const start = performance.now();
  let result: unknown = null;
  if (task.step === 'score') result = await activities.scoreJudgments({ ...common, modelUri: task.modelUri, rawJudgmentsUri: task.rawUri });
  const judgmentsUri = `${task.runPrefixUri}/iter-1/score/data/judgments.jsonl`;
  if (task.step === 'pair') result = await activities.buildPairs({ ...common, requestsUri: task.requestsUri, judgmentsUri });
  if (task.step === 'metrics') result = await activities.computeEvaluationMetrics(metricsInput(task));
  if (task.step === 'limit-metrics') result = await readAndWrite(deps.storeFor(storageSettings(task.config)), [`${task.evalOutputsUri}/judgments.jsonl`], Infinity, task);
  if (task.step === 'limit-score') result = await readAndWrite(deps.storeFor(storageSettings(task.config)), [task.rawUri], Infinity, task);
  if (task.step === 'limit-pair') result = await readAndWrite(deps.storeFor(storageSettings(task.config)), [task.requestsUri, judgmentsUri], task.rows ?? 0, task);
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ seconds, maxRssMb: process.resourceUsage().maxRSS / 1024, result }) + '\n');
}

/**
 * The limit of a step: read its input objects whole (GET, line splitting, JSON.parse) and write as many rows
 * as it writes (JSON.stringify and the same streamed upload), streaming as the steps do. Score writes one row
 * per judgment read; pair reads the requests and the scored judgments and writes as many rows as its pairs.
 */
async function readAndWrite(store: ObjectStore, uris: string[], maxRows: number, task: StepTask): Promise<{ read: number; written: number }> {
  let read = 0;
  async function* rows() {
    for (const uri of uris) {
      for await (const row of store.readJsonl(uri)) {
        read++;
        if (read <= maxRows) yield row;
      }
    }
  }
  const written = await store.writeJsonl(`${task.runPrefixUri}/limit/${task.step}.jsonl`, rows());
  return { read, written: written.rows ?? 0 };
}

/** The evaluation suite of the metric step's rows: one of the config's pointwise suites. */
const EVAL_SUITE = 'synthetic-heldout';

/**
 * The metric step over one pointwise suite whose evaluation job judged every row once. Its bootstrap is
 * off: intervals cost per resample, not per judgment (docs/benchmarks.md gives what they add).
 */
function metricsInput(task: StepTask): Parameters<ReturnType<typeof createActivities>['computeEvaluationMetrics']>[0] {
  const rows = task.evalRows ?? 0;
  return {
    config: { ...task.config, evaluation: { ...task.config.evaluation, bootstrap: { ...task.config.evaluation.bootstrap, resamples: 0 } } },
    runId: 'bench',
    runPrefixUri: task.runPrefixUri,
    iteration: 1,
    modelUri: task.modelUri,
    suites: [{ name: EVAL_SUITE, kind: 'pointwise', uri: `${task.runPrefixUri}/datasets/${EVAL_SUITE}`, rows, quarantined: 0, quarantineUri: `${task.runPrefixUri}/datasets/${EVAL_SUITE}/quarantine.jsonl` }],
    requests: { pointwise: { dataUri: `${task.runPrefixUri}/iter-1/evaluate/requests/data`, requests: rows }, relative: null },
    outputs: { pointwise: task.evalOutputsUri ?? '', baselines: null, relative: null },
  };
}

/** Writes what an evaluation job writes for `rows` requests of one pointwise suite (one greedy judgment each). */
async function writeEvaluated(store: ObjectStore, runPrefix: string, rows: number, marker: string) {
  const folder = `${runPrefix}/iter-1/evaluate/job/model`;
  const id = (i: number) => `heldout-${String(i).padStart(7, '0')}`;
  await store.writeJsonl(
    `${folder}/judgments.jsonl`,
    (function* () {
      for (let i = 0; i < rows; i++) {
        const gold = 1 + (i % 5);
        const score = 1 + ((i * 7) % 5);
        yield { request_id: id(i), example_id: id(i), sample_index: 0, text: judgmentText(i, score, marker), seed: 0, prompt_hash: 'p', template_hash: 't', gold_score: gold, suite: EVAL_SUITE, group: `capability-${i % 6}` };
      }
    })(),
  );
  return folder;
}

/** Runs a step in a fresh process (the same code loaded), for a peak memory of its own. */
function stepProcess(task: StepTask, opts: Pick<Options, 'heapMb' | 'cpuProf'>): Measured & { result: unknown } {
  const heap = opts.heapMb ? [`--max-old-space-size=${opts.heapMb}`] : [];
  const profile = opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`, `--cpu-prof-name=${task.step}-${Date.now()}.cpuprofile`] : [];
  const out = execFileSync(process.execPath, [...heap, ...profile, '--import', 'tsx', __filename], {
    env: { ...process.env, JUDGELOOP_BENCH_STEP: JSON.stringify(task) },
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Measured & { result: unknown };
}

/**
 * A judge's output as a real one writes it: a rationale of a few hundred characters, the marker and a score;
 * one in 50 is malformed (it must be kept and counted).
 */
function judgmentText(i: number, score: number, marker: string): string {
  const rationale =
    `The response addresses ${i % 7} of the rubric's points and misses ${i % 3}. It follows the instruction's ` +
    `format and stays on topic, but the second paragraph repeats the first without adding evidence, and the ` +
    `closing claim (item ${i % 11}) is not supported by the reference answer. Compared with the rubric's ` +
    `description of a ${score}, the explanation is ${score > 3 ? 'clear and mostly complete' : 'partial and at times vague'}.`;
  if (i % 50 === 49) return rationale;
  return `${rationale} ${marker} ${score}`;
}

function benchParse(marker: string): { perSecond: number; n: number } {
  const n = 200_000;
  const texts = Array.from({ length: 1000 }, (_, i) => judgmentText(i, 1 + (i % 5), marker));
  const start = performance.now();
  let ok = 0;
  for (let i = 0; i < n; i++) if (parseJudgment(texts[i % texts.length], { min: 1, max: 5, marker }).status === 'ok') ok++;
  if (ok === 0) throw new Error('parse bench: nothing parsed');
  return { n, perSecond: n / ((performance.now() - start) / 1000) };
}

/** Writes a run's requests and raw judgments (the sample step's outputs) for N inputs. */
async function writeSampled(store: ObjectStore, runPrefix: string, n: number, samples: number, marker: string) {
  const requestsUri = `${runPrefix}/iter-1/sample/requests/data/requests.jsonl`;
  const rawUri = `${runPrefix}/iter-1/sample/job/model/judgments.jsonl`;
  const id = (i: number) => `ex-${String(i).padStart(7, '0')}`;
  const gold = (i: number) => 1 + (i % 5);
  await store.writeJsonl(
    requestsUri,
    (function* () {
      for (let i = 0; i < n; i++) {
        yield {
          request_id: id(i),
          example_id: id(i),
          messages: [{ role: 'user', content: `Grade the response to instruction ${i} against the rubric. ${'Context. '.repeat(40)}` }],
          prompt_hash: 'p',
          template_hash: 't',
          gold_score: gold(i),
        };
      }
    })(),
  );
  await store.writeJsonl(
    rawUri,
    (function* () {
      for (let i = 0; i < n; i++) {
        for (let s = 0; s < samples; s++) {
          const score = 1 + ((i + s * 2) % 5);
          yield { request_id: id(i), example_id: id(i), sample_index: s, text: judgmentText(i * samples + s, score, marker), seed: s, prompt_hash: 'p', template_hash: 't', gold_score: gold(i) };
        }
      }
    })(),
  );
  return { requestsUri, rawUri, modelUri: `${runPrefix}/models/seed` };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const loaded = await loadConfigFile(path.join(__dirname, '..', 'configs', 'local.json'));
  const services = await startTestServices({ temporal: false });
  try {
    process.env.AWS_ACCESS_KEY_ID = services.s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = services.s3.secretAccessKey;
    process.env.JUDGELOOP_S3_ENDPOINT = services.s3.endpoint;
    const config: RunConfig = { ...loaded.config, storage: { ...loaded.config.storage, bucket: services.s3.bucket, prefix: 'bench' } };
    const store = new ObjectStore(createS3Client({ endpoint: services.s3.endpoint, region: services.s3.region, forcePathStyle: true }));
    const marker = config.judge.marker;

    const parse = benchParse(marker);
    console.log(`parse: ${Math.round(parse.perSecond).toLocaleString('en-US')} judgments/s (${parse.n.toLocaleString('en-US')} parsed)`);

    const base = { config, runPrefixUri: '', modelUri: '', rawUri: '', requestsUri: '' };
    const idle = stepProcess({ ...base, step: 'none' }, opts);
    console.log(`a process that loads the code and runs nothing: ${idle.maxRssMb.toFixed(0)} MB peak RSS${opts.heapMb ? ` (step processes: old space capped at ${opts.heapMb} MB)` : ''}`);

    const rows: Record<string, unknown>[] = [];
    for (const n of opts.inputs) {
      for (const run of ['computed', 'copied'] as const) {
        const runPrefixUri = `s3://${services.s3.bucket}/bench/n${n}-${run}`;
        const sampled = await writeSampled(store, runPrefixUri, n, opts.samples, marker);
        const task = { ...base, runPrefixUri, modelUri: sampled.modelUri, rawUri: sampled.rawUri, requestsUri: sampled.requestsUri };
        const evalOutputsUri = await writeEvaluated(store, runPrefixUri, n * opts.samples, marker);
        const score = stepProcess({ ...task, step: 'score' }, opts);
        const pair = stepProcess({ ...task, step: 'pair' }, opts);
        const metrics = stepProcess({ ...task, step: 'metrics', evalOutputsUri, evalRows: n * opts.samples }, opts);
        const pairs = (pair.result as { pairs: number }).pairs;
        const reused = (await store.getJson<{ reusedFrom?: string }>(`${runPrefixUri}/iter-1/pair/manifest.json`))?.reusedFrom;
        if ((run === 'copied') !== Boolean(reused)) throw new Error(`the ${run} run's pair step was ${reused ? 'copied' : 'computed'}`);
        // The limits beside the computed steps only: a copied step reads and writes nothing of its rows.
        const limits =
          run === 'computed'
            ? {
                score: stepProcess({ ...task, step: 'limit-score' }, opts),
                pair: stepProcess({ ...task, step: 'limit-pair', rows: pairs }, opts),
                metrics: stepProcess({ ...task, step: 'limit-metrics', evalOutputsUri }, opts),
              }
            : undefined;
        const steps = [
          ['score', score, n * opts.samples, 'judgments'],
          ['pair', pair, n, 'inputs'],
          ['metrics', metrics, n * opts.samples, 'judgments'],
        ] as const;
        for (const [step, m, count, unit] of steps) {
          const limit = limits?.[step];
          rows.push({
            inputs: n,
            judgments: n * opts.samples,
            step,
            how: run,
            seconds: round(m.seconds, 2),
            perSecond: Math.round(count / m.seconds),
            unit,
            ...(limit ? { limitSeconds: round(limit.seconds, 2), ofLimit: round(limit.seconds / m.seconds, 2) } : {}),
            peakRssAboveIdleMb: round(m.maxRssMb - idle.maxRssMb, 1),
          });
        }
        const vs = limits ? ` (limits: score ${limits.score.seconds.toFixed(2)} s, pair ${limits.pair.seconds.toFixed(2)} s, metrics ${limits.metrics.seconds.toFixed(2)} s)` : '';
        console.log(`N=${n} ${run}: score ${score.seconds.toFixed(2)} s, pair ${pair.seconds.toFixed(2)} s, ${pairs} pairs, metrics ${metrics.seconds.toFixed(2)} s${vs}`);
      }
    }

    console.log('');
    console.log(
      renderTable({
        header: ['inputs', 'judgments', 'step', 'how', 'seconds', 'rows/s', 'limit (s)', 'throughput ÷ limit', 'peak RSS above idle (MB)'],
        rows: rows.map((r) => [
          String(r.inputs),
          String(r.judgments),
          String(r.step),
          String(r.how),
          String(r.seconds),
          `${r.perSecond} ${r.unit}/s`,
          r.limitSeconds === undefined ? '—' : String(r.limitSeconds),
          r.ofLimit === undefined ? '—' : `${r.ofLimit}×`,
          String(r.peakRssAboveIdleMb),
        ]),
        align: ['right', 'right', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
      }),
    );
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ at: new Date().toISOString(), node: process.version, samples: opts.samples, heapMb: opts.heapMb ?? null, parse, idleMaxRssMb: idle.maxRssMb, steps: rows }, null, 2) + '\n');
      console.log(`\nwritten: ${opts.json}`);
    }
  } finally {
    await services.stop();
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const stepTask = process.env.JUDGELOOP_BENCH_STEP;
(stepTask ? runStepTask(JSON.parse(stepTask) as StepTask) : main()).catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
