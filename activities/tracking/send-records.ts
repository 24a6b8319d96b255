/**
 * Sends a run's records to MLflow from what the run keeps in S3 — its `config.json` and its iterations'
 * `iter-K/summary.json` — so the run's own sends and `judgeloop track <run id>` are one function, and sending
 * again adds nothing: the runs are found by their tags, params are sent only when missing, and metrics carry a
 * fixed step and timestamp (MLflow keeps one copy of each).
 *
 * What reached the tracker is recorded in `<run prefix>/tracking/mlflow.json` (TrackingStatus): the run
 * report shows it, and a send that could not reach the tracker lists the iterations it left out.
 */
import type { RunConfig } from '../../core/config/config';
import { iterationSummaryUri, joinUri, runConfigUri } from '../../core/run/artifacts';
import type { IterationSummary } from '../../core/run/run-types';
import {
  MLFLOW_LIMITS,
  TAG,
  batches,
  configParams,
  experimentName,
  iterationMetrics,
  iterationTags,
  runTags,
  type RunFacts,
} from '../../core/tracking/records';
import type { ObjectStore } from '../storage/object-store';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { MlflowClient, TrackerError, managedMlflowOf, quoted, type MlflowRun, type RunStatus } from './mlflow-client';

/** What a run's sends reached, kept at `<run prefix>/tracking/mlflow.json`. */
export interface TrackingStatus {
  tracker: 'mlflow';
  trackingUri: string | null;
  experiment: string;
  experimentId?: string;
  /** The run's MLflow run (the parent of the iterations' runs) and its page. */
  mlflowRunId?: string;
  runUrl?: string;
  /** Iterations whose records are in the tracker. */
  tracked: number[];
  /** Iterations whose records are not, and why (the last send's problem). */
  untracked: Array<{ iteration: number; reason: string }>;
  /** The run's MLflow status once a send marked it ended (FINISHED, FAILED, KILLED). */
  ended?: RunStatus;
}

export const TRACKING_STATUS_FILE = 'tracking/mlflow.json';

export function trackingStatusUri(runPrefixUri: string): string {
  return joinUri(runPrefixUri, TRACKING_STATUS_FILE);
}

/** The run's facts and config as the prepare step wrote them (`config.json`). */
export interface RunConfigFile {
  runId: string;
  configHash: string;
  config: RunConfig;
}

export async function readRunConfigFile(store: Pick<ObjectStore, 'getJson'>, runPrefixUri: string): Promise<RunConfigFile> {
  const uri = runConfigUri(runPrefixUri);
  const file = await store.getJson<RunConfigFile>(uri);
  if (!file?.config || !file.runId) throw new Error(`${uri} is missing or is not a run's config: the run never got past its prepare step`);
  return file;
}

export function runFactsOf(file: RunConfigFile, runPrefixUri: string): RunFacts {
  return { runId: file.runId, runName: file.config.name, judgeName: file.config.judge.name, configHash: file.configHash, runPrefixUri };
}

/** The tracking URI a run uses: its config's, else the worker's (or CLI's) MLFLOW_TRACKING_URI. */
export function trackingUriOf(config: Pick<RunConfig, 'tracking'>, env: NodeJS.ProcessEnv = process.env): string | null {
  return config.tracking?.mlflow?.trackingUri ?? (env.MLFLOW_TRACKING_URI?.trim() || null);
}

export const NO_TRACKING_URI = 'no tracking server: set tracking.mlflow.trackingUri in the config, or MLFLOW_TRACKING_URI on the worker';

export function clientFor(config: Pick<RunConfig, 'tracking'>, env: NodeJS.ProcessEnv = process.env): MlflowClient | null {
  const uri = trackingUriOf(config, env);
  if (!uri) return null;
  const timeoutMs = (config.tracking?.mlflow?.requestTimeoutSeconds ?? 10) * 1000;
  const managed = managedMlflowOf(uri);
  if (!managed) return new MlflowClient(uri, timeoutMs);
  // A managed MLflow signs with the worker's AWS credentials, from the SDK's default chain (role, profile, variables).
  const sdk = credentialClient(managed.region);
  return new MlflowClient(uri, timeoutMs, { credentials: () => sdk.config.credentials(), customEndpoint: env.SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT });
}

/** One SDK client per region, for its credential chain: resolved once and refreshed by the SDK, not per send. */
const credentialClients = new Map<string, SageMakerClient>();
function credentialClient(region: string): SageMakerClient {
  let client = credentialClients.get(region);
  if (!client) {
    client = new SageMakerClient({ region });
    credentialClients.set(region, client);
  }
  return client;
}

const runFilter = (runId: string) => `tags.\`${TAG.runId}\` = ${quoted(runId)} and tags.\`${TAG.kind}\` = 'run'`;
const iterationFilter = (runId: string, iteration: number) =>
  `tags.\`${TAG.runId}\` = ${quoted(runId)} and tags.\`${TAG.kind}\` = 'iteration' and tags.\`${TAG.iteration}\` = ${quoted(String(iteration))}`;

/** The run's MLflow run, found by its tags or created (started at `startTime`). */
export async function ensureRunRecord(client: MlflowClient, experimentId: string, facts: RunFacts, startTime: number): Promise<MlflowRun> {
  const [found] = await client.searchRuns(experimentId, runFilter(facts.runId));
  return found ?? client.createRun(experimentId, startTime, runTags(facts));
}

/** Iteration K's child run under the run's own `parent`, found by its tags or created. */
async function ensureChildRecord(client: MlflowClient, experimentId: string, facts: RunFacts, parent: MlflowRun, iteration: number, startTime: number): Promise<MlflowRun> {
  const [found] = await client.searchRuns(experimentId, iterationFilter(facts.runId, iteration));
  return found ?? client.createRun(experimentId, startTime, { ...iterationTags(facts, iteration), 'mlflow.parentRunId': parent.info.runId });
}

/** Iteration K's child run, found by its tags or created under the run's own (created too when missing). */
export async function ensureIterationRecord(
  client: MlflowClient,
  experimentId: string,
  facts: RunFacts,
  iteration: number,
  startTime: number,
): Promise<{ parent: MlflowRun; child: MlflowRun }> {
  const parent = await ensureRunRecord(client, experimentId, facts, startTime);
  return { parent, child: await ensureChildRecord(client, experimentId, facts, parent, iteration, startTime) };
}

export interface SendRecordsInput {
  store: Pick<ObjectStore, 'getJson' | 'putJson'>;
  runPrefixUri: string;
  /** The tracking settings (the run's config's, or a CLI's override); the rest is read from S3. */
  tracking: Pick<RunConfig, 'tracking'>;
  /** The run's start (ms since the epoch): the parent run's start and every metric's timestamp. */
  startedAt: number;
  /** Send iterations 0..through whose summaries exist (default: every one the config has). */
  through?: number;
  /** Mark the run's MLflow run ended with this status (the run finished, failed or was cancelled). */
  end?: { status: Exclude<RunStatus, 'RUNNING'>; at: number };
  env?: NodeJS.ProcessEnv;
}

/** Sends what is missing and records what reached the tracker; a tracker problem is recorded, never thrown. */
export async function sendRunRecords(input: SendRecordsInput): Promise<TrackingStatus> {
  const { store, runPrefixUri } = input;
  const file = await readRunConfigFile(store, runPrefixUri);
  const facts = runFactsOf(file, runPrefixUri);
  const through = input.through ?? file.config.loop.iterations;
  const summaries: IterationSummary[] = [];
  for (let iteration = 0; iteration <= through; iteration++) {
    const summary = await store.getJson<IterationSummary>(iterationSummaryUri(runPrefixUri, iteration));
    if (summary) summaries.push(summary);
  }
  const previous = await store.getJson<TrackingStatus>(trackingStatusUri(runPrefixUri));
  const settings = { tracking: input.tracking.tracking ?? file.config.tracking };
  const client = clientFor(settings, input.env);
  const status: TrackingStatus = {
    tracker: 'mlflow',
    trackingUri: client?.uri ?? null,
    experiment: experimentName({ judge: file.config.judge, tracking: settings.tracking }),
    tracked: [],
    untracked: [],
  };
  const untrack = (reason: string) => {
    const done = new Set(previous?.trackingUri === status.trackingUri ? previous.tracked : []);
    status.tracked = summaries.map((s) => s.iteration).filter((i) => done.has(i));
    status.untracked = summaries.filter((s) => !done.has(s.iteration)).map((s) => ({ iteration: s.iteration, reason }));
  };
  if (!client) {
    untrack(NO_TRACKING_URI);
  } else {
    try {
      await send(client, status, facts, file.config, summaries, input);
    } catch (err) {
      if (!(err instanceof TrackerError)) throw err;
      untrack(err.message);
    }
  }
  await store.putJson(trackingStatusUri(runPrefixUri), status);
  return status;
}

async function send(
  client: MlflowClient,
  status: TrackingStatus,
  facts: RunFacts,
  config: RunConfig,
  summaries: IterationSummary[],
  input: SendRecordsInput,
): Promise<void> {
  const experimentId = await client.ensureExperiment(status.experiment);
  const parent = await ensureRunRecord(client, experimentId, facts, input.startedAt);
  status.experimentId = experimentId;
  status.mlflowRunId = parent.info.runId;
  status.runUrl = client.runUrl(experimentId, parent.info.runId);

  // Params cannot change once logged: only the missing ones are sent (a resend of the same run sends none).
  const params = configParams(config).filter((p) => !(p.key in parent.params));
  for (const batch of batches(params, MLFLOW_LIMITS.paramsPerBatch)) await client.logBatch(parent.info.runId, { params: batch });
  await client.logBatch(parent.info.runId, { tags: runTags(facts) });

  for (const summary of summaries) {
    // The parent is known here: one search per iteration, not two.
    const child = await ensureChildRecord(client, experimentId, facts, parent, summary.iteration, input.startedAt);
    const metrics = iterationMetrics(summary).map((m) => ({ ...m, step: summary.iteration, timestamp: input.startedAt }));
    for (const batch of batches(metrics, MLFLOW_LIMITS.metricsPerBatch)) {
      await client.logBatch(child.info.runId, { metrics: batch });
      await client.logBatch(parent.info.runId, { metrics: batch });
    }
    await client.logBatch(child.info.runId, { tags: { ...iterationTags(facts, summary.iteration, summary), 'mlflow.parentRunId': parent.info.runId } });
    // The iteration's whole summary among its artifacts (the server's artifact store: S3 in the local stack).
    await client.putArtifact(child.info, 'judgeloop/summary.json', JSON.stringify(summary, null, 2));
    // The iteration's run ends when its records are in (a training job's callback may have ended it first).
    if (child.info.status === 'RUNNING') await client.updateRun(child.info.runId, 'FINISHED', input.end?.at ?? Date.now());
    status.tracked.push(summary.iteration);
  }
  if (input.end && parent.info.status !== input.end.status) {
    await client.updateRun(parent.info.runId, input.end.status, input.end.at);
    status.ended = input.end.status;
  } else if (parent.info.status !== 'RUNNING') {
    status.ended = parent.info.status as RunStatus;
  }
}
