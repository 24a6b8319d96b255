/**
 * Step manifests make activities idempotent: a step writes its outputs, then `manifest.json` last. A retried
 * or rerun step whose manifest exists with the same inputs hash returns the recorded summary instead of
 * redoing the work.
 */
import { createHash } from 'node:crypto';
import { MANIFEST, joinUri } from '../core/artifacts';
import type { ObjectStore, WrittenObject } from './storage';
import { activityLog } from './context';

export interface StepManifest<S> {
  step: string;
  inputsHash: string;
  codeVersion: string;
  objects: WrittenObject[];
  summary: S;
  createdAt: string;
}

/** JSON with object keys sorted, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export function hashInputs(inputs: unknown): string {
  return sha256Hex(canonicalJson(inputs));
}

export interface StepOutcome<S> {
  summary: S;
  /** True when a finished manifest was found and the work was not redone. */
  reused: boolean;
}

export async function runStepOnce<S>(
  store: ObjectStore,
  opts: { prefixUri: string; step: string; inputs: unknown; codeVersion: string },
  work: () => Promise<{ objects: WrittenObject[]; summary: S }>,
): Promise<StepOutcome<S>> {
  const manifestUri = joinUri(opts.prefixUri, MANIFEST);
  const inputsHash = hashInputs(opts.inputs);
  const existing = await store.getJson<StepManifest<S>>(manifestUri);
  if (existing && existing.inputsHash === inputsHash) {
    activityLog(`step ${opts.step}: reusing its finished outputs in ${opts.prefixUri} (manifest of ${existing.createdAt}, same inputs ${inputsHash.slice(0, 12)})`);
    return { summary: existing.summary, reused: true };
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
  return { summary, reused: false };
}
