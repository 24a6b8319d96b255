/**
 * Work done once per content address: every data step and every model job asks the same two questions, in
 * this one module, before it does any work.
 *
 * 1. **Done here?** A data step writes its objects, then `manifest.json` last, under its own prefix; a retried
 *    or rerun step that finds its manifest with the same inputs hash returns the recorded summary. (A job's
 *    own earlier attempt is the runner's to adopt, by its name: activities/jobs/local-runner.ts and
 *    sagemaker-runner.ts.)
 * 2. **Done elsewhere?** With `reuse.acrossRuns`, the work is addressed by content (`workAddress`): what it
 *    is (a step and its place in the run, `iter-1/score`; or a job's entry point), the code that does it (core/
 *    and activities/ for a step, jobs/ for a job), and its inputs with every S3 URI replaced by the content it
 *    names (each object's key, size and ETag). The reuse index, `<storage prefix>/cache/{steps,jobs}/<address>.json`,
 *    says where work with that address finished. A step's objects are then copied into the new step's prefix,
 *    ETags kept, with the URIs in its summary moved along (the new run owns its artifacts, and readers that
 *    find outputs by path find them); a job's outputs are used where they are.
 *
 * Either way the work's own manifest (a step) or usage record (a job) says it was reused and from where.
 */
import path from 'node:path';
import { MANIFEST, cacheIndexUri, joinUri } from '../../core/run/artifacts';
import type { RunConfig } from '../../core/config/config';
import { activityLog, throttledHeartbeat } from '../context';
import { canonicalJson, hashInputs, sha256Hex } from './hashing';
import type { ListedObject, ObjectStore, WrittenObject } from './object-store';
import { contentHash, sourceDirFiles } from '../jobs/sagemaker-runner';
import type { JobContext, JobResult, JobRunner, JobSpec } from '../jobs/types';
import { writeUsageRecord } from '../jobs/usage-record';

// ------------------------------------------------------------------------------------ content addresses

/** The content address of a folder's listing; objects whose relative key starts with `_` (usage records) are left out. */
export function listingAddress(prefixUri: string, listed: readonly ListedObject[]): string {
  const base = prefixUri.replace(/\/+$/, '');
  const rows = listed
    .map((o) => [o.uri.slice(base.length + 1), o.size, o.etag ?? ''] as const)
    .filter(([rel]) => rel.length > 0 && !rel.startsWith('_'))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sha256Hex(canonicalJson(rows));
}

/** The content address of what a URI names: a folder's listing, else the object's size and ETag, else absent. */
export async function contentAddress(store: Pick<ObjectStore, 'list' | 'stat'>, uri: string): Promise<string> {
  const base = uri.replace(/\/+$/, '');
  const listed = await store.list(base);
  if (listed.length > 0) return listingAddress(base, listed);
  const object = await store.stat(base);
  return sha256Hex(canonicalJson(object ? ['object', object.size, object.etag ?? ''] : ['absent']));
}

/** The inputs with every S3 URI (at any depth) replaced by `{ content: <its content address> }`. */
export async function contentInputs(store: Pick<ObjectStore, 'list' | 'stat'>, inputs: unknown, onUri: () => void = () => undefined): Promise<unknown> {
  if (typeof inputs === 'string' && inputs.startsWith('s3://')) {
    const content = await contentAddress(store, inputs);
    onUri();
    return { content };
  }
  if (Array.isArray(inputs)) {
    const out: unknown[] = [];
    for (const item of inputs) out.push(await contentInputs(store, item, onUri));
    return out;
  }
  if (inputs && typeof inputs === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inputs)) out[k] = await contentInputs(store, v, onUri);
    return out;
  }
  return inputs;
}

/** What is being done, as far as its outputs depend on it. */
export interface Work {
  kind: 'step' | 'job';
  /** The step (`score`, `evaluate:metrics`) or the job's entry point (`generate.py`). */
  name: string;
  /** A step's place in its run (`iter-1/score`): only the same step of another run matches. Jobs have none. */
  place?: string;
  /** The content hash of the code that does it. */
  code: string;
  /** Its inputs; S3 URIs among them count by content. */
  inputs: unknown;
}

/** The one address of a step or a job: the same work by content has the same address, in any run. */
export async function workAddress(store: Pick<ObjectStore, 'list' | 'stat'>, work: Work, onUri?: () => void): Promise<string> {
  return sha256Hex(canonicalJson({ ...work, inputs: await contentInputs(store, work.inputs, onUri) }));
}

const codeHashes = new Map<string, Promise<string>>();

/** The content hash of a code folder, once per process and folder (jobs/ hashes as its SageMaker source package does). */
export function folderCodeHash(dir: string): Promise<string> {
  let h = codeHashes.get(dir);
  if (!h) {
    h = sourceDirFiles(dir).then((files) => contentHash(dir, files));
    h.catch(() => codeHashes.delete(dir));
    codeHashes.set(dir, h);
  }
  return h;
}

/** The code of the data steps: core/ and activities/ of this checkout (source or build). */
export async function dataStepCodeHash(): Promise<string> {
  const root = path.resolve(__dirname, '../..');
  const hashes = await Promise.all(['core', 'activities'].map(async (dir) => [dir, await folderCodeHash(path.join(root, dir))]));
  return sha256Hex(canonicalJson(hashes));
}

// ------------------------------------------------------------------------------------------ the index

/** Where finished work of one kind is found by its address: `<storage prefix>/cache/<kind>/<address>.json`. */
export class ReuseIndex<E extends { address: string }> {
  constructor(
    private readonly store: Pick<ObjectStore, 'getJson' | 'putJson'>,
    readonly indexUri: string,
  ) {}

  entryUri(address: string): string {
    return joinUri(this.indexUri, `${address}.json`);
  }

  find(address: string): Promise<E | null> {
    return this.store.getJson<E>(this.entryUri(address));
  }

  async record(entry: E): Promise<void> {
    await this.store.putJson(this.entryUri(entry.address), entry);
  }
}

// ------------------------------------------------------------------------------------------ data steps

export interface StepManifest<S> {
  step: string;
  inputsHash: string;
  codeVersion: string;
  objects: WrittenObject[];
  summary: S;
  createdAt: string;
  /** Set when the outputs were copied from the same step of an earlier run: that step's prefix. */
  reusedFrom?: string;
}

export interface StepOutcome<S> {
  summary: S;
  /** True when a finished manifest was found (here, or in an earlier run) and the work was not redone. */
  reused: boolean;
  /** The prefix the outputs were copied from, when they came from an earlier run. */
  reusedFrom?: string;
}

/** A step index entry: where the step with this address finished. */
export interface IndexedStep {
  address: string;
  step: string;
  prefixUri: string;
  finishedAt: string;
}

/** What a step needs to be looked up across runs (`acrossRunsFor` builds it). */
export interface StepReuse {
  /** `<storage prefix>/cache/steps`. */
  indexUri: string;
  /** The content hash of the code that computes data steps (core/ and activities/). */
  codeHash: string;
  /** The run the step belongs to: its place in the run is the step prefix relative to this. */
  runPrefixUri: string;
}

export type ReuseStore = Pick<ObjectStore, 'list' | 'stat' | 'getJson' | 'putJson' | 'copy'>;

/** Cross-run lookup for a step of this run, or undefined when the config turns it off (`reuse.acrossRuns`). */
export async function acrossRunsFor(config: Pick<RunConfig, 'reuse' | 'storage'>, runPrefixUri: string): Promise<StepReuse | undefined> {
  if (!config.reuse.acrossRuns) return undefined;
  return { indexUri: cacheIndexUri(config.storage, 'steps'), codeHash: await dataStepCodeHash(), runPrefixUri };
}

/** Where a step sits in its run (`iter-1/score`): part of its address, so only the same step of another run matches. */
export function placeInRun(runPrefixUri: string, prefixUri: string): string {
  const base = runPrefixUri.replace(/\/+$/, '') + '/';
  return prefixUri.startsWith(base) ? prefixUri.slice(base.length) : prefixUri;
}

/** A data step's address (`workAddress` of the step at its place, with the data steps' code). */
export function stepAddress(
  store: Pick<ObjectStore, 'list' | 'stat'>,
  reuse: StepReuse,
  opts: { prefixUri: string; step: string; inputs: unknown },
  onUri?: () => void,
): Promise<string> {
  return workAddress(store, { kind: 'step', name: opts.step, place: placeInRun(reuse.runPrefixUri, opts.prefixUri), code: reuse.codeHash, inputs: opts.inputs }, onUri);
}

/** Every string equal to `from` or under `from/` moved to `to` (the URIs of a copied step's summary). */
export function rebaseUris<T>(value: T, from: string, to: string): T {
  const base = from.replace(/\/+$/, '');
  const move = (v: unknown): unknown => {
    if (typeof v === 'string') return v === base ? to : v.startsWith(base + '/') ? to.replace(/\/+$/, '') + v.slice(base.length) : v;
    if (Array.isArray(v)) return v.map(move);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, move(x)]));
    return v;
  };
  return move(value) as T;
}

/**
 * Copies the finished step `found` into `prefixUri` and returns the manifest for it there, or null when its
 * manifest or any of its objects is gone (the other run's prefix was cleaned up) or it wrote outside its
 * prefix; then the step is computed anew.
 */
export async function copyFinishedStep<S>(
  store: ReuseStore,
  found: IndexedStep,
  prefixUri: string,
  onObject: () => void = () => undefined,
): Promise<StepManifest<S> | null> {
  const earlier = await store.getJson<StepManifest<S>>(joinUri(found.prefixUri, MANIFEST));
  if (!earlier) return null;
  const from = found.prefixUri.replace(/\/+$/, '');
  if (earlier.objects.some((o) => !o.uri.startsWith(from + '/'))) return null;
  for (const o of earlier.objects) {
    if (!(await store.stat(o.uri))) return null;
  }
  for (const o of earlier.objects) {
    await store.copy(o.uri, rebaseUris(o.uri, from, prefixUri));
    onObject();
  }
  return {
    ...earlier,
    objects: rebaseUris(earlier.objects, from, prefixUri),
    summary: rebaseUris(earlier.summary, from, prefixUri),
    reusedFrom: found.prefixUri,
    createdAt: new Date().toISOString(),
  };
}

/** A data step: where it writes, what it is called, what its outputs depend on. */
export interface StepWork {
  prefixUri: string;
  step: string;
  inputs: unknown;
}

/**
 * Runs `work` unless the step is done: here (its manifest, same inputs), or, with `acrossRuns`, in an earlier
 * run (copied from there). Fresh work's manifest is written last, then its index entry.
 */
export async function runStepOnce<S>(
  store: ObjectStore,
  opts: StepWork & { codeVersion: string; acrossRuns?: StepReuse },
  work: () => Promise<{ objects: WrittenObject[]; summary: S }>,
): Promise<StepOutcome<S>> {
  const manifestUri = joinUri(opts.prefixUri, MANIFEST);
  const inputsHash = hashInputs(opts.inputs);
  const existing = await store.getJson<StepManifest<S>>(manifestUri);
  if (existing && existing.inputsHash === inputsHash) {
    activityLog(`step ${opts.step}: reusing its finished outputs in ${opts.prefixUri} (manifest of ${existing.createdAt}, same inputs ${inputsHash.slice(0, 12)})`);
    return { summary: existing.summary, reused: true, ...(existing.reusedFrom ? { reusedFrom: existing.reusedFrom } : {}) };
  }

  let indexed: { index: ReuseIndex<IndexedStep>; address: string } | undefined;
  if (opts.acrossRuns) {
    const heartbeat = throttledHeartbeat();
    const index = new ReuseIndex<IndexedStep>(store, opts.acrossRuns.indexUri);
    const address = await stepAddress(store, opts.acrossRuns, opts, () => heartbeat({ phase: 'checking', step: opts.step }));
    indexed = { index, address };
    const found = await index.find(address);
    if (found && found.prefixUri !== opts.prefixUri) {
      const copied = await copyFinishedStep<S>(store, found, opts.prefixUri, () => heartbeat({ phase: 'copying', step: opts.step }));
      if (copied) {
        // Written last, as after fresh work: a retry that finds it is done; one that does not copies again.
        await store.putJson(manifestUri, { ...copied, inputsHash, codeVersion: opts.codeVersion });
        activityLog(
          `step ${opts.step}: reusing the outputs of ${found.prefixUri} (finished ${found.finishedAt}; same inputs by content, same code; address ${address.slice(0, 12)}): ${copied.objects.length} object(s) copied into ${opts.prefixUri}`,
        );
        return { summary: copied.summary, reused: true, reusedFrom: found.prefixUri };
      }
    }
  }

  const { objects, summary } = await work();
  const manifest: StepManifest<S> = { step: opts.step, inputsHash, codeVersion: opts.codeVersion, objects, summary, createdAt: new Date().toISOString() };
  await store.putJson(manifestUri, manifest);
  // Replaces an entry whose outputs were gone: this step is now where the address's outputs are.
  if (indexed) await indexed.index.record({ address: indexed.address, step: opts.step, prefixUri: opts.prefixUri, finishedAt: manifest.createdAt });
  return { summary, reused: false };
}

/** `runStepOnce` for the steps of one run: its store, the worker's code version, and the config's cross-run reuse. */
export type RunSteps = <S>(step: StepWork, work: () => Promise<{ objects: WrittenObject[]; summary: S }>) => Promise<StepOutcome<S>>;

export async function stepsOfRun(
  store: ObjectStore,
  config: Pick<RunConfig, 'reuse' | 'storage'>,
  runPrefixUri: string,
  codeVersion: string,
): Promise<RunSteps> {
  const acrossRuns = await acrossRunsFor(config, runPrefixUri);
  return (step, work) => runStepOnce(store, { ...step, codeVersion, ...(acrossRuns ? { acrossRuns } : {}) }, work);
}

/**
 * The steps among listed objects (an iteration's) whose outputs were copied from an earlier run, as their
 * places in the run (`iter-1/score`), sorted.
 */
export async function reusedStepsIn(store: Pick<ObjectStore, 'getJson'>, runPrefixUri: string, listed: readonly ListedObject[]): Promise<string[]> {
  const places: string[] = [];
  for (const o of listed) {
    if (!o.uri.endsWith(`/${MANIFEST}`)) continue;
    const manifest = await store.getJson<StepManifest<unknown>>(o.uri);
    if (manifest?.reusedFrom) places.push(placeInRun(runPrefixUri, o.uri.slice(0, -MANIFEST.length - 1)));
  }
  return places.sort();
}

// ------------------------------------------------------------------------------------------ model jobs

/** A job index entry: where the finished job's outputs are. */
export interface ReusableJob {
  address: string;
  jobName: string;
  entryPoint: string;
  outputUri: string;
  modelUri: string;
  outputDataUri: string;
  finishedAt: string;
}

/** Where a job runs, as far as it changes the outputs: `{ backend: 'local' }`, or SageMaker and its image. */
export type JobRuntime = { backend: 'local' } | { backend: 'sagemaker'; image: string };

/**
 * A job's address (`workAddress` of its entry point with the jobs/ code): its hyperparameters, its channels
 * by content, and where it runs (on SageMaker another image is other library versions, so other outputs).
 */
export function jobAddress(
  store: Pick<ObjectStore, 'list' | 'stat'>,
  spec: JobSpec,
  codeHash: string,
  runtime: JobRuntime,
  /** Called after each channel is read (the caller heartbeats: a channel may hold many objects). */
  onChannel?: () => void,
): Promise<string> {
  return workAddress(store, { kind: 'job', name: spec.entryPoint, code: codeHash, inputs: { hyperparameters: spec.hyperparameters, channels: spec.channels, runtime } }, onChannel);
}

/** Wraps a runner: a job whose address has finished elsewhere is reused; every finished job is indexed. */
export function reusingRunner(
  inner: JobRunner,
  store: ObjectStore,
  opts: { indexUri: string; jobsDir: string; runtimeOf: (spec: JobSpec) => JobRuntime },
): JobRunner {
  const index = new ReuseIndex<ReusableJob>(store, opts.indexUri);
  return {
    prewarm(entryPoints: readonly string[]): void {
      inner.prewarm?.(entryPoints);
    },
    async run(spec: JobSpec, ctx: JobContext): Promise<JobResult> {
      // Heartbeat before any I/O: a retried activity must show it is alive within the heartbeat timeout
      // while it lists channels and hashes jobs/, before the inner runner's own heartbeats begin.
      const checking = () => ctx.heartbeat({ phase: 'checking', jobName: spec.jobName });
      checking();
      const address = await jobAddress(store, spec, await folderCodeHash(opts.jobsDir), opts.runtimeOf(spec), checking);
      const found = await index.find(address);
      // The job's own earlier outputs are the runner's business (adoption); another job's are reused when
      // they are still there.
      const elsewhere = found && found.outputUri !== spec.outputUri ? found : null;
      if (elsewhere && (await outputsPresent(store, elsewhere))) {
        ctx.log(`job ${spec.jobName}: reusing the outputs of job ${elsewhere.jobName} (${elsewhere.outputUri}): same inputs, code and parameters (address ${address.slice(0, 12)})`);
        ctx.heartbeat({ phase: 'done', jobName: spec.jobName, adopted: true });
        const usage = await writeUsageRecord(store, spec, {
          attempt: spec.jobName,
          status: 'Reused',
          reusedFrom: elsewhere.outputUri,
          backend: 'local',
          seconds: 0,
          billableSeconds: 0,
          instanceType: 'none',
          instanceCount: 0,
          usd: 0,
          finishedAt: elsewhere.finishedAt,
        });
        return { jobName: spec.jobName, outputUri: elsewhere.outputUri, modelUri: elsewhere.modelUri, outputDataUri: elsewhere.outputDataUri, how: 'reused', seconds: 0, usage };
      }
      const result = await inner.run(spec, ctx);
      // First writer wins while its outputs are there (an address names the same outputs whichever run
      // wrote them); an entry whose outputs are gone now points here.
      if (!found || elsewhere) {
        await index.record({
          address,
          jobName: spec.jobName,
          entryPoint: spec.entryPoint,
          outputUri: spec.outputUri,
          modelUri: result.modelUri,
          outputDataUri: result.outputDataUri,
          finishedAt: result.usage.finishedAt,
        });
      }
      return result;
    },
  };
}

/** Whether the indexed job's outputs are still in S3 (a run's prefix may have been deleted since). */
async function outputsPresent(store: Pick<ObjectStore, 'list'>, job: ReusableJob): Promise<boolean> {
  const [model, data] = await Promise.all([store.list(job.modelUri), store.list(job.outputDataUri)]);
  return model.length + data.length > 0;
}
