/**
 * Where every artifact of a run lives, and how jobs are named. Pure, so workflows derive the same names on
 * every replay: `s3://BUCKET/PREFIX/RUN_ID/iter-K/STEP/...`.
 */
import { hashString32 } from '../common/rng';

export interface S3Location {
  bucket: string;
  key: string;
}

export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`not an s3:// URI: "${uri}"`);
  return { bucket: match[1], key: match[2] };
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key.replace(/^\/+/, '')}`;
}

/** Joins URI segments with single slashes. */
export function joinUri(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter(Boolean).join('/');
}

/** A location under the config's storage prefix: `s3://<bucket>/<prefix>/<parts…>` (no prefix: at the bucket root). */
export function storageUri(storage: { bucket: string; prefix: string }, ...parts: string[]): string {
  return s3Uri(storage.bucket, [storage.prefix, ...parts].filter(Boolean).join('/'));
}

export function runPrefixUri(storage: { bucket: string; prefix: string }, runId: string): string {
  return storageUri(storage, runId);
}

/** Where the index of reusable jobs (`jobs`) or data steps (`steps`) lives: `s3://<bucket>/<prefix>/cache/<kind>`. */
export function cacheIndexUri(storage: { bucket: string; prefix: string }, kind: 'jobs' | 'steps'): string {
  return storageUri(storage, 'cache', kind);
}

export type RunStep = 'warm-start' | 'sample' | 'score' | 'pair' | 'train' | 'evaluate';

export function iterationPrefix(runPrefix: string, iteration: number): string {
  return joinUri(runPrefix, `iter-${iteration}`);
}

/** The run's resolved config with its id and hash (`{runId, configHash, config}`), written by the prepare step. */
export function runConfigUri(runPrefix: string): string {
  return joinUri(runPrefix, 'config.json');
}

/** An iteration's IterationSummary, written as the iteration ends (RunResult.iterationResults[].summaryUri). */
export function iterationSummaryUri(runPrefix: string, iteration: number): string {
  return joinUri(iterationPrefix(runPrefix, iteration), 'summary.json');
}

export function stepPrefix(runPrefix: string, iteration: number, step: RunStep): string {
  return joinUri(iterationPrefix(runPrefix, iteration), step);
}

export function datasetPrefix(runPrefix: string, name: string): string {
  return joinUri(runPrefix, 'data', name);
}

export const MANIFEST = 'manifest.json';

export const MAX_JOB_NAME = 63;

/**
 * A deterministic job name (SageMaker's rule: at most 63 characters of letters, digits and hyphens, starting
 * with a letter or digit). Derived from the run, iteration and step, so a retried activity finds the job its
 * earlier attempt started instead of starting a second one.
 */
export function jobName(runId: string, iteration: number, step: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  const suffix = `i${iteration}-${clean(step)}`;
  const full = `${clean(runId)}-${suffix}`;
  if (full.length <= MAX_JOB_NAME) return full;
  const hash = hashString32(`${runId}/${iteration}/${step}`).toString(16).padStart(8, '0');
  const room = MAX_JOB_NAME - suffix.length - hash.length - 2;
  return `${clean(runId).slice(0, Math.max(room, 1)).replace(/-$/, '')}-${hash}-${suffix}`.slice(0, MAX_JOB_NAME);
}
