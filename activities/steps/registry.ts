/**
 * The judge registry's reads and writes (core/promotion/registry.ts has the layout and the entry's shape).
 *
 * Idempotent and safe under concurrent runs of the same judge, with S3 conditional writes (AWS S3 and
 * versitygw both honour If-Match / If-None-Match on PutObject):
 * - a history entry is written with `If-None-Match: *`: a retried activity finds the entry its earlier
 *   attempt wrote and adopts it instead of writing a second decision;
 * - registry.json's champion is replaced with `If-Match: <the ETag read>` (or `If-None-Match: *` for the
 *   first champion), and only when its champion is still the judge this run's gate compared against. When
 *   another run promoted meanwhile, the entry is recorded with `championReplaced: false` and a note, so no
 *   run silently overwrites a champion it never compared with.
 * registry.json is replaced before the history entry is written, so an attempt that dies between the two is
 * completed by its retry (which finds the champion already set to its model).
 *
 * A failed condition never ends in an unconditional write: 412 PreconditionFailed (another writer got there
 * first) and 409 ConditionalRequestConflict (AWS S3: a conditional write to the same key was in flight, and
 * ours did not happen) both mean "read it again and re-check", with a jittered backoff. When that keeps
 * failing, the activity fails with nothing written by it, and Temporal's retry starts it over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MANIFEST, joinUri, parseS3Uri } from '../../core/run/artifacts';
import {
  historyEntryUri,
  registryDocumentUri,
  registryPrefixUri,
  sortHistory,
  type RegistryConfig,
  type RegistryData,
  type RegistryDecision,
  type RegistryDocument,
  type RegistryEntry,
} from '../../core/promotion/registry';
import type { StepManifest } from '../storage/reuse';
import type { ObjectStore } from '../storage/object-store';
import { type ActivityDeps, storageSettings } from '../context';

/** The registry's champion as the workflow needs it (the full entry, with metrics, stays in S3). */
export interface ChampionInfo {
  modelUri: string;
  runId: string;
  iteration: number;
  seedModelUri: string;
}

/** An entry as the workflow proposes it; the activity adds the time, the data fingerprint and the outcome. */
export type ProposedEntry = Omit<RegistryEntry, 'decision' | 'championReplaced' | 'note' | 'data'> & {
  decision: Omit<RegistryDecision, 'at'>;
  data: Omit<RegistryData, 'trainSha256'>;
};

export interface RecordDecisionInput {
  config: RegistryConfig;
  entry: ProposedEntry;
  /** The champion this run's gate compared against; null when the run found no champion (a first champion). */
  expectedChampionModelUri: string | null;
}

export interface RecordedDecision {
  historyUri: string;
  championReplaced: boolean;
  note?: string;
  /** True when an earlier attempt had already recorded this decision. */
  adopted: boolean;
}

type Conditional = { ifMatch: string } | { ifNoneMatch: '*' };

/** How a conditional write ended: written; lost to another writer (412); or collided with one in flight (409). */
export type ConditionalWrite = 'written' | 'precondition-failed' | 'conflict';

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 412 || e?.name === 'PreconditionFailed' || e?.Code === 'PreconditionFailed';
}

function isConditionalConflict(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 409 || e?.name === 'ConditionalRequestConflict' || e?.Code === 'ConditionalRequestConflict';
}

/** Conditional writes to one key per decision before the activity gives up (and Temporal retries it). */
export const MAX_CONDITIONAL_ATTEMPTS = 8;

/** 50 ms, 100 ms, … up to 0.8 s, times 0.5–1.5 so that writers that collided do not collide again in step. */
function backoff(attempt: number): Promise<void> {
  return sleep(Math.min(800, 25 * 2 ** attempt) * (0.5 + Math.random()));
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** Reads a JSON object with its ETag (null when absent). */
async function getJsonWithEtag<T>(store: ObjectStore, uri: string): Promise<{ value: T; etag: string } | null> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    const out = await store.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = Buffer.from(await out.Body!.transformToByteArray()).toString('utf8');
    if (!out.ETag) throw new Error(`${uri}: the S3 server returned no ETag, which the registry's conditional writes need`);
    return { value: JSON.parse(text) as T, etag: out.ETag };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Writes JSON only if the condition holds (see ConditionalWrite). */
async function putJsonIf(store: ObjectStore, uri: string, value: unknown, cond: Conditional): Promise<ConditionalWrite> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    await store.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(value, null, 2) + '\n',
        ContentType: 'application/json',
        ...('ifMatch' in cond ? { IfMatch: cond.ifMatch } : { IfNoneMatch: cond.ifNoneMatch }),
      }),
    );
    return 'written';
  } catch (err) {
    if (isPreconditionFailed(err)) return 'precondition-failed';
    if (isConditionalConflict(err)) return 'conflict';
    throw err;
  }
}

/** sha256 of the training rows, from the manifest of the folder that holds them (prepare writes it). */
async function trainSha256(store: ObjectStore, trainUri: string): Promise<string | undefined> {
  if (!trainUri.startsWith('s3://')) return undefined;
  const parent = trainUri.slice(0, trainUri.lastIndexOf('/'));
  const grandparent = parent.slice(0, parent.lastIndexOf('/'));
  for (const folder of [parent, grandparent]) {
    const manifest = await store.getJson<StepManifest<unknown>>(joinUri(folder, MANIFEST));
    const hit = manifest?.objects.find((o) => o.uri === trainUri);
    if (hit) return hit.sha256;
  }
  return undefined;
}

function describeChampion(e: RegistryEntry): string {
  return `${e.modelUri} (run ${e.runId}, iteration ${e.iteration})`;
}

/**
 * Replaces registry.json's champion with `entry` if it is still `expected` (compare-and-swap). Returns whether
 * it did, and why not.
 */
async function swapChampion(
  store: ObjectStore,
  docUri: string,
  entry: RegistryEntry,
  expected: string | null,
): Promise<{ replaced: boolean; note?: string }> {
  for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
    if (attempt > 0) await backoff(attempt);
    const current = await getJsonWithEtag<RegistryDocument>(store, docUri);
    const currentUri = current?.value.champion.modelUri ?? null;
    if (currentUri === entry.modelUri) return { replaced: true }; // an earlier attempt of this activity
    if (currentUri !== expected) {
      const note = current
        ? `promoted in this run, but the registry's champion is ${describeChampion(current.value.champion)}, not the judge this run's gate compared against${expected ? ` (${expected})` : ' (the run found no champion)'}; registry.json is unchanged. Compare the two in a run that starts from the champion (registry.startFrom: champion).`
        : `the registry has no champion although this run compared against ${expected}; registry.json is unchanged.`;
      return { replaced: false, note };
    }
    const doc: RegistryDocument = { judgeName: entry.judgeName, champion: entry, updatedAt: entry.decision.at };
    if ((await putJsonIf(store, docUri, doc, current ? { ifMatch: current.etag } : { ifNoneMatch: '*' })) === 'written') return { replaced: true };
    // 412: another run wrote registry.json between our read and write. 409: a write to it was in flight and
    // ours did not happen. Either way, read it again and re-check: never overwrite what we have not read.
  }
  // Nothing of this decision is written yet (the history entry comes after), so a retry starts clean.
  throw new Error(
    `${docUri}: ${MAX_CONDITIONAL_ATTEMPTS} conditional writes in a row met concurrent writers (412 PreconditionFailed / 409 ConditionalRequestConflict); the decision is not recorded yet and the activity will be retried`,
  );
}

export interface RegistryContents {
  prefixUri: string;
  champion: RegistryEntry | null;
  updatedAt: string | null;
  /** Every decision, oldest first. */
  history: RegistryEntry[];
}

/** Everything in a judge's registry (for the CLI and tests). */
export async function readRegistry(store: ObjectStore, storage: { bucket: string; prefix: string }, judgeName: string): Promise<RegistryContents> {
  const prefixUri = registryPrefixUri(storage, judgeName);
  const doc = await store.getJson<RegistryDocument>(registryDocumentUri(prefixUri));
  const history: RegistryEntry[] = [];
  for (const o of await store.list(joinUri(prefixUri, 'history'))) {
    if (!o.key.endsWith('.json')) continue;
    const e = await store.getJson<RegistryEntry>(o.uri);
    if (e) history.push(e);
  }
  return { prefixUri, champion: doc?.champion ?? null, updatedAt: doc?.updatedAt ?? null, history: sortHistory(history) };
}

export function createRegistryActivities(deps: ActivityDeps) {
  const storeOf = (config: RegistryConfig) => deps.storeFor(storageSettings(config));

  return {
    /** The registry's champion for `judge.name`, or null when it has none yet. */
    async readChampion(input: { config: RegistryConfig }): Promise<ChampionInfo | null> {
      const { config } = input;
      const doc = await storeOf(config).getJson<RegistryDocument>(registryDocumentUri(registryPrefixUri(config.storage, config.judge.name)));
      if (!doc) return null;
      const c = doc.champion;
      return { modelUri: c.modelUri, runId: c.runId, iteration: c.iteration, seedModelUri: c.seedModelUri };
    },

    /** Records one decision in the history, and makes a promoted judge the champion when that is safe (see above). */
    async recordDecision(input: RecordDecisionInput): Promise<RecordedDecision> {
      const { config, entry: proposed } = input;
      const store = storeOf(config);
      const prefixUri = registryPrefixUri(config.storage, config.judge.name);
      const historyUri = historyEntryUri(prefixUri, proposed.runId, proposed.iteration);
      const summarize = (e: RegistryEntry, adopted: boolean): RecordedDecision => ({
        historyUri,
        championReplaced: e.championReplaced,
        ...(e.note ? { note: e.note } : {}),
        adopted,
      });

      const existing = await store.getJson<RegistryEntry>(historyUri);
      if (existing) return summarize(existing, true);

      const sha = await trainSha256(store, proposed.data.trainUri);
      const entry: RegistryEntry = {
        ...proposed,
        data: { ...proposed.data, ...(sha ? { trainSha256: sha } : {}) },
        decision: { ...proposed.decision, at: new Date().toISOString() },
        championReplaced: false,
      };
      if (entry.decision.promoted) {
        const swap = await swapChampion(store, registryDocumentUri(prefixUri), { ...entry, championReplaced: true }, input.expectedChampionModelUri);
        entry.championReplaced = swap.replaced;
        if (swap.note) entry.note = swap.note;
      }
      for (let attempt = 0; attempt < MAX_CONDITIONAL_ATTEMPTS; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const outcome = await putJsonIf(store, historyUri, entry, { ifNoneMatch: '*' });
        if (outcome === 'written') return summarize(entry, false);
        // 412: a concurrent attempt of this same activity wrote it first, and its entry is the record. 409: a
        // write was in flight; if it landed it is the record, else ours goes in on the next attempt.
        const winner = await store.getJson<RegistryEntry>(historyUri);
        if (winner) return summarize(winner, true);
        if (outcome === 'precondition-failed') throw new Error(`${historyUri}: the conditional write failed but the object is not there`);
      }
      throw new Error(`${historyUri}: ${MAX_CONDITIONAL_ATTEMPTS} conditional writes in a row met 409 ConditionalRequestConflict; the activity will be retried`);
    },
  };
}
