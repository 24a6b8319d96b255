/**
 * Reuse across runs: a job is addressed by the hash of its inputs — entry point, hyperparameters, the code of
 * jobs/, the content of every input channel (each object's key, size and ETag), and where it runs (the
 * backend, and on SageMaker the image: another image is other library versions, so other outputs). When a job with the same
 * address has finished anywhere under the storage prefix (another run of the config, or a new run sharing a
 * prefix of its work), its outputs are used as they are instead of running it again. The index lives at
 * `<storage prefix>/cache/jobs/<address>.json`; reused outputs stay where they were written.
 */
import { joinUri } from '../../core/run/artifacts';
import { canonicalJson, sha256Hex } from '../storage/hashing';
import type { ListedObject, ObjectStore } from '../storage/object-store';
import { contentHash, sourceDirFiles } from './sagemaker-runner';
import type { JobContext, JobResult, JobRunner, JobSpec } from './types';
import { writeUsageRecord } from './usage-record';

/** What the index records for an address: where the finished job's outputs are. */
export interface ReusableJob {
  address: string;
  jobName: string;
  entryPoint: string;
  outputUri: string;
  modelUri: string;
  outputDataUri: string;
  finishedAt: string;
}

/** The content address of a channel: its objects' keys (relative to the channel), sizes and ETags. */
export async function channelAddress(store: Pick<ObjectStore, 'list'>, prefixUri: string): Promise<string> {
  const base = prefixUri.replace(/\/+$/, '');
  return listingAddress(base, await store.list(base));
}

/** The content address of a folder's listing; objects whose relative key starts with `_` (usage records) are left out. */
export function listingAddress(prefixUri: string, listed: readonly ListedObject[]): string {
  const base = prefixUri.replace(/\/+$/, '');
  const rows = listed
    .map((o) => [o.uri.slice(base.length + 1), o.size, o.etag ?? ''] as const)
    .filter(([rel]) => rel.length > 0 && !rel.startsWith('_'))
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return sha256Hex(canonicalJson(rows));
}

/** Where a job runs, as far as it changes the outputs: `{ backend: 'local' }`, or SageMaker and its image. */
export type JobRuntime = { backend: 'local' } | { backend: 'sagemaker'; image: string };

export async function jobAddress(
  store: Pick<ObjectStore, 'list'>,
  spec: JobSpec,
  codeHash: string,
  runtime: JobRuntime,
  /** Called after each channel is listed (the caller heartbeats: a channel may hold many objects). */
  onChannel: () => void = () => undefined,
): Promise<string> {
  const channels: Record<string, string> = {};
  for (const name of Object.keys(spec.channels).sort()) {
    channels[name] = await channelAddress(store, spec.channels[name]);
    onChannel();
  }
  return sha256Hex(canonicalJson({ entryPoint: spec.entryPoint, hyperparameters: spec.hyperparameters, code: codeHash, channels, runtime }));
}

const codeHashes = new Map<string, Promise<string>>();

/**
 * The content hash of a code folder, once per process and folder: jobs/ (the same as the SageMaker source
 * package's), and core/ and activities/ for the data steps (activities/storage/step-reuse.ts).
 */
export function folderCodeHash(dir: string): Promise<string> {
  let h = codeHashes.get(dir);
  if (!h) {
    h = sourceDirFiles(dir).then((files) => contentHash(dir, files));
    h.catch(() => codeHashes.delete(dir));
    codeHashes.set(dir, h);
  }
  return h;
}

/** Wraps a runner: a job whose address has finished elsewhere is reused; every finished job is indexed. */
export function reusingRunner(
  inner: JobRunner,
  store: ObjectStore,
  opts: { indexUri: string; jobsDir: string; runtimeOf: (spec: JobSpec) => JobRuntime },
): JobRunner {
  return {
    async run(spec: JobSpec, ctx: JobContext): Promise<JobResult> {
      // Heartbeat before any I/O: a retried activity must show it is alive within the heartbeat timeout
      // while it lists channels and hashes jobs/, before the inner runner's own heartbeats begin.
      const checking = () => ctx.heartbeat({ phase: 'checking', jobName: spec.jobName });
      checking();
      const address = await jobAddress(store, spec, await folderCodeHash(opts.jobsDir), opts.runtimeOf(spec), checking);
      const entryUri = joinUri(opts.indexUri, `${address}.json`);
      const found = await store.getJson<ReusableJob>(entryUri);
      // The job's own earlier outputs are the runner's business (adoption); another job's are reused when
      // they are still there.
      if (found && found.outputUri !== spec.outputUri && (await outputsPresent(store, found))) {
        ctx.log(`job ${spec.jobName}: reusing the outputs of job ${found.jobName} (${found.outputUri}): same inputs, code and parameters (address ${address.slice(0, 12)})`);
        ctx.heartbeat({ phase: 'done', jobName: spec.jobName, adopted: true });
        const usage = await writeUsageRecord(store, spec, {
          attempt: spec.jobName,
          status: 'Reused',
          reusedFrom: found.outputUri,
          backend: 'local',
          seconds: 0,
          billableSeconds: 0,
          instanceType: 'none',
          instanceCount: 0,
          usd: 0,
          finishedAt: found.finishedAt,
        });
        return { jobName: spec.jobName, outputUri: found.outputUri, modelUri: found.modelUri, outputDataUri: found.outputDataUri, how: 'reused', seconds: 0, usage };
      }
      const result = await inner.run(spec, ctx);
      const entry: ReusableJob = {
        address,
        jobName: spec.jobName,
        entryPoint: spec.entryPoint,
        outputUri: spec.outputUri,
        modelUri: result.modelUri,
        outputDataUri: result.outputDataUri,
        finishedAt: result.usage.finishedAt,
      };
      // First writer wins: an address names the same outputs whichever run wrote them.
      if (!found) await store.putJson(entryUri, entry);
      return result;
    },
  };
}

/** Whether the indexed job's outputs are still in S3 (a run's prefix may have been deleted since). */
async function outputsPresent(store: Pick<ObjectStore, 'list'>, job: ReusableJob): Promise<boolean> {
  const [model, data] = await Promise.all([store.list(job.modelUri), store.list(job.outputDataUri)]);
  return model.length + data.length > 0;
}
