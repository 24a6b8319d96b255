/**
 * The few MLflow tracking REST calls Judgeloop makes (https://mlflow.org/docs/latest/rest-api.html), over
 * fetch: MLflow has no JavaScript client. Every request has a time limit and no retries of its own — the
 * caller decides what an unreachable tracker means (for a run: a warning, never a failure).
 */
import type { Metric, Param, Tags } from '../../core/tracking/records';
import { payloadHash, signRequest, type AwsCredentials } from './sigv4';

/**
 * SageMaker's managed MLflow, named by its ARN as the `sagemaker-mlflow` plugin takes it: requests go to the
 * region's `experiments.sagemaker.aws` endpoint with the ARN in a header, signed with SigV4 (service
 * `sagemaker-mlflow` for a tracking server, `sagemaker` for an MLflow app).
 */
export interface ManagedMlflow {
  arn: string;
  region: string;
  service: 'sagemaker-mlflow' | 'sagemaker';
  header: 'x-mlflow-sm-tracking-server-arn' | 'x-sm-mlflow-app-arn';
  endpoint: string;
}

const MANAGED_ARN = /^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:(mlflow-tracking-server|mlflow-app)\/[A-Za-z0-9-]+$/;

/** The managed MLflow an ARN names, or null for a tracking URI that is not one. */
export function managedMlflowOf(trackingUri: string, customEndpoint?: string): ManagedMlflow | null {
  const m = MANAGED_ARN.exec(trackingUri);
  if (!m) return null;
  const server = m[2] === 'mlflow-tracking-server';
  return {
    arn: trackingUri,
    region: m[1],
    service: server ? 'sagemaker-mlflow' : 'sagemaker',
    header: server ? 'x-mlflow-sm-tracking-server-arn' : 'x-sm-mlflow-app-arn',
    // The plugin's own override (SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT), e.g. a VPC endpoint.
    endpoint: (customEndpoint || `https://${m[1]}.experiments.sagemaker.aws`).replace(/\/+$/, ''),
  };
}

export interface MlflowClientOptions {
  /** AWS credentials for a managed MLflow (the SDK's default chain: role, profile or variables). */
  credentials?: () => Promise<AwsCredentials>;
  customEndpoint?: string;
}

export class TrackerError extends Error {
  constructor(
    message: string,
    /** MLflow's error code (`RESOURCE_DOES_NOT_EXIST`…), or `UNREACHABLE` when no answer came. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'TrackerError';
  }
}

export interface MlflowRunInfo {
  runId: string;
  experimentId: string;
  status: string;
  startTime?: number;
  endTime?: number;
  /** Where the run's artifacts go: `mlflow-artifacts:/…` when the server stores them itself (proxied). */
  artifactUri?: string;
}

export interface MlflowRun {
  info: MlflowRunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The latest value of each metric. */
  metrics: Record<string, number>;
}

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

interface RawRun {
  info: { run_id: string; experiment_id: string; status: string; start_time?: number | string; end_time?: number | string; artifact_uri?: string };
  data?: {
    params?: Array<{ key: string; value: string }>;
    tags?: Array<{ key: string; value: string }>;
    metrics?: Array<{ key: string; value: number }>;
  };
}

function runOf(raw: RawRun): MlflowRun {
  const pairs = <V>(list: Array<{ key: string; value: V }> | undefined) => Object.fromEntries((list ?? []).map((e) => [e.key, e.value]));
  const time = (t: number | string | undefined) => (t === undefined ? undefined : Number(t));
  return {
    info: {
      runId: raw.info.run_id,
      experimentId: raw.info.experiment_id,
      status: raw.info.status,
      ...(raw.info.start_time !== undefined ? { startTime: time(raw.info.start_time) } : {}),
      ...(raw.info.end_time !== undefined ? { endTime: time(raw.info.end_time) } : {}),
      ...(raw.info.artifact_uri ? { artifactUri: raw.info.artifact_uri } : {}),
    },
    params: pairs(raw.data?.params),
    tags: pairs(raw.data?.tags),
    metrics: pairs(raw.data?.metrics),
  };
}

const tagList = (tags: Tags) => Object.entries(tags).map(([key, value]) => ({ key, value }));

/** A filter value in MLflow's search syntax: single-quoted, quotes escaped. */
export function quoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export class MlflowClient {
  readonly baseUrl: string;
  /** Set when the tracking URI is a SageMaker managed MLflow's ARN. */
  readonly managed: ManagedMlflow | null;

  constructor(
    readonly trackingUri: string,
    private readonly timeoutMs = 10_000,
    private readonly options: MlflowClientOptions = {},
  ) {
    this.managed = managedMlflowOf(trackingUri, options.customEndpoint);
    this.baseUrl = this.managed?.endpoint ?? trackingUri.replace(/\/+$/, '');
  }

  /** The tracking URI as users and MLflow's own clients give it: the server's URL, or the managed MLflow's ARN. */
  get uri(): string {
    return this.managed ? this.trackingUri : this.baseUrl;
  }

  /** The request's headers: JSON for a POST, and for a managed MLflow its ARN header and the SigV4 signature. */
  private async headersFor(method: string, url: string, body: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = method === 'POST' ? { 'content-type': 'application/json' } : {};
    const managed = this.managed;
    if (!managed) return headers;
    if (!this.options.credentials) throw new TrackerError(`${this.trackingUri} is a SageMaker managed MLflow: its requests need AWS credentials`, 'NO_CREDENTIALS');
    let credentials: AwsCredentials;
    try {
      credentials = await this.options.credentials();
    } catch (err) {
      throw new TrackerError(`no AWS credentials to sign the requests to ${managed.arn}: ${(err as Error).message}`, 'NO_CREDENTIALS');
    }
    const unsigned = { ...headers, [managed.header]: managed.arn, 'x-amz-content-sha256': payloadHash(body) };
    return signRequest({ method, url, headers: unsigned, body }, managed.region, managed.service, credentials);
  }

  /**
   * The run's page in the MLflow UI. A managed MLflow's UI opens through a presigned URL, so for it this says
   * which run it is and how to open the UI.
   */
  runUrl(experimentId: string, runId: string): string {
    const page = `#/experiments/${experimentId}/runs/${runId}`;
    const managed = this.managed;
    if (!managed) return `${this.baseUrl}/${page}`;
    const name = managed.arn.slice(managed.arn.lastIndexOf('/') + 1);
    const opener =
      managed.service === 'sagemaker-mlflow'
        ? `aws sagemaker create-presigned-mlflow-tracking-server-url --tracking-server-name ${name} --region ${managed.region}`
        : `the SageMaker console`;
    return `${managed.arn} ${page} (open the UI with: ${opener})`;
  }

  /** A request that got no answer (refused, timed out, no route) as a TrackerError; its own errors pass through. */
  private unreachable(err: unknown): TrackerError {
    if (err instanceof TrackerError) return err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
    return new TrackerError(`the MLflow tracking server at ${this.baseUrl} cannot be reached (${why})`, 'UNREACHABLE');
  }

  private async call<T>(method: 'GET' | 'POST', endpoint: string, body?: Record<string, unknown>): Promise<T> {
    const base = `${this.baseUrl}/api/2.0/mlflow/${endpoint}`;
    // Spaces as %20, not URLSearchParams' `+`: what SigV4's canonical query encodes them as.
    const url = method === 'GET' && body ? `${base}?${new URLSearchParams(body as Record<string, string>).toString().replace(/\+/g, '%20')}` : base;
    const payload = method === 'POST' ? JSON.stringify(body ?? {}) : '';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: await this.headersFor(method, url, payload),
        ...(method === 'POST' ? { body: payload } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await response.text();
    if (!response.ok) {
      let code = `HTTP_${response.status}`;
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error_code?: string; message?: string };
        code = parsed.error_code ?? code;
        message = parsed.message ?? message;
      } catch {
        // Not MLflow's JSON (a proxy's page): the status and the start of the text say enough.
      }
      throw new TrackerError(`MLflow ${endpoint} at ${this.baseUrl} answered ${response.status} ${code}: ${message}`, code);
    }
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new TrackerError(`MLflow ${endpoint} at ${this.baseUrl} answered with something that is not JSON: ${text.slice(0, 120)}`, 'BAD_RESPONSE');
    }
  }

  async experimentId(name: string): Promise<string | null> {
    try {
      const found = await this.call<{ experiment: { experiment_id: string; lifecycle_stage?: string } }>('GET', 'experiments/get-by-name', { experiment_name: name });
      if (found.experiment.lifecycle_stage === 'deleted') {
        throw new TrackerError(`MLflow experiment "${name}" is deleted: restore it in the MLflow UI, or set tracking.mlflow.experiment to another name`, 'DELETED_EXPERIMENT');
      }
      return found.experiment.experiment_id;
    } catch (err) {
      if (err instanceof TrackerError && err.code === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw err;
    }
  }

  /** The experiment's id, created when missing (a concurrent creator's experiment is taken). */
  async ensureExperiment(name: string, tags: Tags = {}): Promise<string> {
    const existing = await this.experimentId(name);
    if (existing) return existing;
    try {
      return (await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name, tags: tagList(tags) })).experiment_id;
    } catch (err) {
      if (err instanceof TrackerError && err.code === 'RESOURCE_ALREADY_EXISTS') {
        const id = await this.experimentId(name);
        if (id) return id;
      }
      throw err;
    }
  }

  /** Active runs of the experiment that match `filter` (MLflow's search syntax), oldest first. */
  async searchRuns(experimentId: string, filter: string): Promise<MlflowRun[]> {
    const found = await this.call<{ runs?: RawRun[] }>('POST', 'runs/search', {
      experiment_ids: [experimentId],
      filter,
      run_view_type: 'ACTIVE_ONLY',
      max_results: 100,
      order_by: ['attributes.start_time ASC'],
    });
    return (found.runs ?? []).map(runOf);
  }

  async getRun(runId: string): Promise<MlflowRun> {
    return runOf((await this.call<{ run: RawRun }>('GET', 'runs/get', { run_id: runId })).run);
  }

  async createRun(experimentId: string, startTime: number, tags: Tags): Promise<MlflowRun> {
    const created = await this.call<{ run: RawRun }>('POST', 'runs/create', {
      experiment_id: experimentId,
      start_time: startTime,
      ...(tags['mlflow.runName'] ? { run_name: tags['mlflow.runName'] } : {}),
      tags: tagList(tags),
    });
    return runOf(created.run);
  }

  /** Metrics carry their step and timestamp: the same three logged again leave one value in MLflow. */
  async logBatch(runId: string, records: { metrics?: Array<Metric & { step: number; timestamp: number }>; params?: Param[]; tags?: Tags }): Promise<void> {
    await this.call('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: records.metrics ?? [],
      params: records.params ?? [],
      tags: tagList(records.tags ?? {}),
    });
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<void> {
    await this.call('POST', 'runs/update', { run_id: runId, status, ...(endTime !== undefined ? { end_time: endTime } : {}) });
  }

  /**
   * Stores a file among the run's artifacts through the server (its `mlflow-artifacts` proxy, which writes
   * to the server's artifact store, e.g. S3). False when the run's artifacts are not the server's to store
   * (an `s3://` artifact root is written by clients directly): nothing is sent then.
   */
  async putArtifact(run: MlflowRunInfo, relativePath: string, body: string, contentType = 'application/json'): Promise<boolean> {
    const root = /^mlflow-artifacts:\/+(.*)$/.exec(run.artifactUri ?? '')?.[1];
    if (root === undefined) return false;
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${root.replace(/\/+$/, '')}/${relativePath}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw this.unreachable(err);
    }
    if (!response.ok) throw new TrackerError(`MLflow artifact upload of ${relativePath} answered ${response.status}: ${(await response.text()).slice(0, 200)}`, `HTTP_${response.status}`);
    return true;
  }

  async metricHistory(runId: string, key: string): Promise<Array<{ value: number; step: number; timestamp: number }>> {
    const found = await this.call<{ metrics?: Array<{ value: number; step: number | string; timestamp: number | string }> }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: key,
    });
    return (found.metrics ?? []).map((m) => ({ value: m.value, step: Number(m.step), timestamp: Number(m.timestamp) }));
  }
}
