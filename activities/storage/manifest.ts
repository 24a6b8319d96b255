/**
 * Step manifests make activities idempotent: a step writes its outputs, then `manifest.json` last. A retried
 * or rerun step whose manifest exists with the same inputs hash returns the recorded summary instead of
 * redoing the work. With `acrossRuns`, a step that finished in another run with the same inputs by content
 * is copied from there instead (activities/storage/step-reuse.ts).
 */
import { MANIFEST, joinUri } from '../../core/run/artifacts';
import type { ObjectStore, WrittenObject } from './object-store';
import { activityLog, throttledHeartbeat } from '../context';
import { hashInputs } from './hashing';
import { type IndexedStep, type StepReuse, copyFinishedStep, stepAddress } from './step-reuse';

export { canonicalJson, hashInputs, sha256Hex } from './hashing';

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

export async function runStepOnce<S>(
  store: ObjectStore,
  opts: { prefixUri: string; step: string; inputs: unknown; codeVersion: string; acrossRuns?: StepReuse },
  work: () => Promise<{ objects: WrittenObject[]; summary: S }>,
): Promise<StepOutcome<S>> {
  const manifestUri = joinUri(opts.prefixUri, MANIFEST);
  const inputsHash = hashInputs(opts.inputs);
  const existing = await store.getJson<StepManifest<S>>(manifestUri);
  if (existing && existing.inputsHash === inputsHash) {
    activityLog(`step ${opts.step}: reusing its finished outputs in ${opts.prefixUri} (manifest of ${existing.createdAt}, same inputs ${inputsHash.slice(0, 12)})`);
    return { summary: existing.summary, reused: true, ...(existing.reusedFrom ? { reusedFrom: existing.reusedFrom } : {}) };
  }

  let indexUri: string | undefined;
  let address: string | undefined;
  if (opts.acrossRuns) {
    const heartbeat = throttledHeartbeat();
    address = await stepAddress(store, opts.acrossRuns, opts, () => heartbeat({ phase: 'checking', step: opts.step }));
    indexUri = joinUri(opts.acrossRuns.indexUri, `${address}.json`);
    const found = await store.getJson<IndexedStep>(indexUri);
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
  const manifest: StepManifest<S> = {
    step: opts.step,
    inputsHash,
    codeVersion: opts.codeVersion,
    objects,
    summary,
    createdAt: new Date().toISOString(),
  };
  await store.putJson(manifestUri, manifest);
  if (indexUri && address) {
    // Replaces an entry whose outputs were gone: this step is now where the address's outputs are.
    const entry: IndexedStep = { address, step: opts.step, prefixUri: opts.prefixUri, finishedAt: manifest.createdAt };
    await store.putJson(indexUri, entry);
  }
  return { summary, reused: false };
}
