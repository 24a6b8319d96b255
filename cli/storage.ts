/**
 * The object store as the CLI reaches it. The CLI runs in the user's shell, which for the embedded stack knows
 * neither the S3 endpoint (the stack hands it to its worker) nor credentials. So: the endpoint is the config's,
 * else JUDGELOOP_S3_ENDPOINT, else — when Temporal is on this machine, i.e. the embedded stack — the stack's
 * S3 server (http://127.0.0.1:9000); and for an endpoint on this machine without credentials in the
 * environment, the credentials `judgeloop stack` starts its S3 server with (stack/stack.ts).
 */
import type { RunConfig } from '../core/config/config';
import { storageSettings } from '../activities/context';
import { ObjectStore, createS3Client, type StorageSettings } from '../activities/storage/object-store';
import { readRunSummary } from '../activities/storage/run-summary';
import { isRunResult, type RunOutcome, type RunSummary } from '../core/run/run-types';
import { DEFAULT_ACCESS_KEY, DEFAULT_S3_PORT, DEFAULT_SECRET_KEY } from '../stack/stack';

export function isLoopbackEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host === '::1';
  } catch {
    return false;
  }
}

function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && isLoopbackEndpoint(`http://${address}`);
}

export interface CliStorageAccess {
  settings: StorageSettings;
  /** The local stack's credentials; absent: the AWS SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** How the CLI reaches the config's bucket (see the top of this file). Pure, for the tests. */
export function cliStorageAccess(config: RunConfig, temporalAddress: string | undefined, env: NodeJS.ProcessEnv): CliStorageAccess {
  const endpoint =
    config.storage.endpoint ??
    env.JUDGELOOP_S3_ENDPOINT ??
    (isLoopbackAddress(temporalAddress) ? `http://127.0.0.1:${DEFAULT_S3_PORT}` : undefined);
  const settings: StorageSettings = { ...storageSettings(config), endpoint };
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  if (hasCredentials || !isLoopbackEndpoint(endpoint)) return { settings };
  return { settings, credentials: { accessKeyId: DEFAULT_ACCESS_KEY, secretAccessKey: DEFAULT_SECRET_KEY } };
}

export function cliObjectStore(config: RunConfig, temporalAddress?: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  const { settings, credentials } = cliStorageAccess(config, temporalAddress, env);
  return new ObjectStore(createS3Client(settings, credentials));
}

/**
 * A run's whole summary from what the run returned: a RunResult's iterations are read from S3 (their
 * `iter-K/summary.json`), reached as above; an older run's RunSummary is returned as it is.
 */
export async function runSummaryOf(outcome: RunOutcome, config: RunConfig, temporalAddress?: string, env: NodeJS.ProcessEnv = process.env): Promise<RunSummary> {
  if (!isRunResult(outcome)) return outcome;
  const store = cliObjectStore(config, temporalAddress, env);
  try {
    return await readRunSummary(store, outcome);
  } finally {
    store.client.destroy();
  }
}
