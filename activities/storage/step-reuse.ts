/**
 * Reuse of data steps across runs (the jobs' counterpart is activities/jobs/reuse.ts). Within a run a step's
 * manifest is enough: it hashes the step's inputs as given. But those inputs name run-specific places (the
 * seed as this run staged it, this run's prepared data, its own earlier steps), so across runs a step is
 * addressed by content instead: every S3 URI among its inputs is replaced by the content address of what it
 * names (each object's key, size and ETag), and the step's place in the run (`iter-1/score`) and the code
 * of core/ and activities/ are hashed in. The index lives at `<storage prefix>/cache/steps/<address>.json`.
 *
 * A hit's objects are copied into the new step's prefix, ETags kept (ObjectStore.copy), and the URIs in its
 * summary are moved with them: readers that find a step's outputs by path (job channels, review export)
 * find them, the new run owns its artifacts, and the jobs downstream see the same content addresses and are
 * reused in turn.
 */
import path from 'node:path';
import { MANIFEST, cacheIndexUri, joinUri } from '../../core/run/artifacts';
import type { RunConfig } from '../../core/config/config';
import { canonicalJson, sha256Hex } from './hashing';
import { folderCodeHash, listingAddress } from '../jobs/reuse';
import type { StepManifest } from './manifest';
import type { ListedObject, ObjectStore } from './object-store';

/** What a step needs to be looked up across runs (acrossRunsFor builds it). */
export interface StepReuse {
  /** `<storage prefix>/cache/steps`. */
  indexUri: string;
  /** The content hash of the code that computes data steps (core/ and activities/). */
  codeHash: string;
  /** The run the step belongs to: its place in the run is the step prefix relative to this. */
  runPrefixUri: string;
}

/** An index entry: where the step with this address finished. */
export interface IndexedStep {
  address: string;
  step: string;
  prefixUri: string;
  finishedAt: string;
}

export type ReuseStore = Pick<ObjectStore, 'list' | 'stat' | 'getJson' | 'putJson' | 'copy'>;

/** Cross-run lookup for a step of this run, or undefined when the config turns it off (`reuse.acrossRuns`). */
export async function acrossRunsFor(config: RunConfig, runPrefixUri: string): Promise<StepReuse | undefined> {
  if (!config.reuse.acrossRuns) return undefined;
  return { indexUri: cacheIndexUri(config.storage, 'steps'), codeHash: await dataStepCodeHash(), runPrefixUri };
}

/** The code of the data steps: core/ and activities/ of this checkout (source or build); each folder is hashed once per process. */
export async function dataStepCodeHash(): Promise<string> {
  const root = path.resolve(__dirname, '../..');
  const hashes = await Promise.all(['core', 'activities'].map(async (dir) => [dir, await folderCodeHash(path.join(root, dir))]));
  return sha256Hex(canonicalJson(hashes));
}

/** The content address of what a URI names: a folder's listing, else the object's size and ETag, else absent. */
export async function contentAddress(store: Pick<ObjectStore, 'list' | 'stat'>, uri: string): Promise<string> {
  const listed = await store.list(uri);
  if (listed.length > 0) return listingAddress(uri, listed);
  const object = await store.stat(uri);
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

/** Where a step sits in its run (`iter-1/score`): part of its address, so only the same step of another run matches. */
export function placeInRun(runPrefixUri: string, prefixUri: string): string {
  const base = runPrefixUri.replace(/\/+$/, '') + '/';
  return prefixUri.startsWith(base) ? prefixUri.slice(base.length) : prefixUri;
}

export async function stepAddress(
  store: Pick<ObjectStore, 'list' | 'stat'>,
  reuse: StepReuse,
  opts: { prefixUri: string; step: string; inputs: unknown },
  onUri?: () => void,
): Promise<string> {
  return sha256Hex(
    canonicalJson({
      step: opts.step,
      place: placeInRun(reuse.runPrefixUri, opts.prefixUri),
      code: reuse.codeHash,
      inputs: await contentInputs(store, opts.inputs, onUri),
    }),
  );
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
