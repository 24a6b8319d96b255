/**
 * Pure request building for the SageMaker job runner (no AWS calls): job names, the exact
 * CreateTrainingJob request for a JobSpec, failure classification and cost. Kept apart from the runner so
 * the requests are asserted literally in unit tests.
 *
 * Where SageMaker puts a job's outputs. With `OutputDataConfig.CompressionType: 'NONE'` SageMaker uploads
 * `/opt/ml/model` (SM_MODEL_DIR) file by file, uncompressed, under
 * `<S3OutputPath>/<TrainingJobName>/output/model/`, and reports that prefix as
 * `ModelArtifacts.S3ModelArtifacts`; `/opt/ml/output/data` (SM_OUTPUT_DATA_DIR) lands beside it under
 * `.../output/data/`. The job's `S3OutputPath` is the spec's `outputUri`, so a step's model folder is
 * `<outputUri>/<sagemaker job name>/output/model/` (not `<outputUri>/model/` as with the local runner):
 * steps must read `JobResult.modelUri` / `outputDataUri`, never rebuild the path.
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  CreateTrainingJobCommandInput,
  DescribeTrainingJobCommandOutput,
  TrainingInstanceType,
} from '@aws-sdk/client-sagemaker';
import { joinUri, storageUri } from '../../core/run/artifacts';
import type { SageMakerBackend } from '../../core/config/config';
import { hashString32 } from '../../core/common/rng';
import { costUsd } from '../../core/run/usage';
import type { JobCost, JobSpec } from './types';
import type { AttemptUsage } from './usage-record';

/** SageMaker's limit for TrainingJobName (pattern `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`). */
export const MAX_SAGEMAKER_JOB_NAME = 63;

/** Where the source directory is unpacked and where SageMaker syncs checkpoints inside the container. */
export const CHECKPOINT_LOCAL_PATH = '/opt/ml/checkpoints';

export type SageMakerJobKind = 'generation' | 'training';

/** The entry points that train (Hugging Face PyTorch training image); every other job generates. */
const TRAINING_ENTRY_POINTS = new Set(['train_dpo.py', 'train_sft.py']);

export function jobKind(entryPoint: string): SageMakerJobKind {
  return TRAINING_ENTRY_POINTS.has(entryPoint) ? 'training' : 'generation';
}

/** What every SageMaker job name starts with (docs/aws/worker-policy.json grants `training-job/judgeloop-*`). */
export const SAGEMAKER_JOB_PREFIX = 'judgeloop-';

/**
 * The SageMaker job name for a workflow-derived job name and the runner's attempt number. Deterministic, so a
 * retried activity finds the job an earlier attempt created. Attempt 1 is the name itself (with the
 * `judgeloop-` prefix added when it lacks it) when it is valid; attempt n > 1 (a new job after a retryable failure: SageMaker never reuses a name) ends in
 * `-r<n>`. A name that had to be cleaned or shortened gets an 8-hex hash of the original so two
 * different names never collide after truncation.
 */
export function sagemakerJobName(jobName: string, attempt = 1): string {
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`attempt must be a positive integer, got ${attempt}`);
  const suffix = attempt === 1 ? '' : `-r${attempt}`;
  // Every job carries the prefix, whatever the run id, so IAM can scope the worker to `training-job/judgeloop-*`.
  const named = jobName.startsWith(SAGEMAKER_JOB_PREFIX) ? jobName : `${SAGEMAKER_JOB_PREFIX}${jobName}`;
  const clean = named.replace(/[^A-Za-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
  const candidate = `${clean}${suffix}`;
  if (clean === named && candidate.length <= MAX_SAGEMAKER_JOB_NAME) return candidate;
  const hash = hashString32(jobName).toString(16).padStart(8, '0');
  if (clean.length + hash.length + suffix.length + 1 <= MAX_SAGEMAKER_JOB_NAME) return `${clean}-${hash}${suffix}`;
  // Cut from the middle: the head names the run, the tail the iteration and step (`-i2-evaluate`).
  const room = MAX_SAGEMAKER_JOB_NAME - hash.length - suffix.length - 2;
  const tailLength = Math.min(24, Math.floor(room / 2));
  const head = clean.slice(0, room - tailLength).replace(/-+$/, '');
  const tail = clean.slice(clean.length - tailLength).replace(/^-+/, '');
  return `${head}-${hash}-${tail}${suffix}`;
}

/** The default code prefix: `s3://<bucket>/<prefix>/code/`. */
export function defaultCodeUri(storage: { bucket: string; prefix: string }): string {
  return `${storageUri(storage, 'code')}/`;
}

/** The default checkpoint prefix: `s3://<bucket>/<prefix>/checkpoints/`. */
export function defaultCheckpointUri(storage: { bucket: string; prefix: string }): string {
  return `${storageUri(storage, 'checkpoints')}/`;
}

export interface CreateRequestOptions {
  /** The sourcedir.tar.gz URI (script mode's `sagemaker_submit_directory`). */
  sourceDirUri: string;
  kind: SageMakerJobKind;
  /** Default 1; see sagemakerJobName. */
  attempt?: number;
  /** The resolved checkpoint prefix (backend.spot.checkpointUri or the storage default); needed with spot. */
  checkpointUri?: string;
}

/**
 * The exact CreateTrainingJob request for a job. Hyperparameters are JSON-encoded strings as script mode
 * expects (the container decodes them back; jobs/ read them as JSON too). The checkpoint folder is keyed by
 * the workflow's job name, not the attempt's, so a later attempt resumes from an earlier one's checkpoints.
 */
export function createTrainingJobRequest(
  spec: JobSpec,
  backend: SageMakerBackend,
  opts: CreateRequestOptions,
): CreateTrainingJobCommandInput {
  const name = sagemakerJobName(spec.jobName, opts.attempt ?? 1);
  const hyperParameters: Record<string, string> = {};
  for (const key of Object.keys(spec.hyperparameters).sort()) {
    hyperParameters[key] = JSON.stringify(spec.hyperparameters[key]);
  }
  hyperParameters.sagemaker_program = JSON.stringify(spec.entryPoint);
  hyperParameters.sagemaker_submit_directory = JSON.stringify(opts.sourceDirUri);
  // Script mode's container reads the region for its own S3 client (the source directory download).
  hyperParameters.sagemaker_region = JSON.stringify(backend.region);

  const request: CreateTrainingJobCommandInput = {
    TrainingJobName: name,
    RoleArn: backend.roleArn,
    AlgorithmSpecification: {
      TrainingImage: backend.images[opts.kind],
      TrainingInputMode: 'File',
    },
    HyperParameters: hyperParameters,
    InputDataConfig: Object.keys(spec.channels)
      .sort()
      .map((channel) => ({
        ChannelName: channel,
        DataSource: {
          S3DataSource: {
            S3DataType: 'S3Prefix',
            // A prefix without its trailing slash would also match sibling folders (`requests-old/`).
            S3Uri: spec.channels[channel].replace(/\/*$/, '/'),
            S3DataDistributionType: 'FullyReplicated',
          },
        },
      })),
    OutputDataConfig: {
      S3OutputPath: spec.outputUri,
      CompressionType: 'NONE',
      ...(backend.kmsKeyId ? { KmsKeyId: backend.kmsKeyId } : {}),
    },
    ResourceConfig: {
      // The config checks the `ml.<family>.<size>` shape; SageMaker itself rejects a type it does not offer.
      InstanceType: backend.instanceTypes[opts.kind] as TrainingInstanceType,
      InstanceCount: backend.instanceCount,
      VolumeSizeInGB: backend.volumeSizeGB,
      ...(backend.kmsKeyId ? { VolumeKmsKeyId: backend.kmsKeyId } : {}),
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: Math.round(backend.maxRuntimeHours * 3600),
      ...(backend.spot.enabled && backend.spot.maxWaitHours !== undefined
        ? { MaxWaitTimeInSeconds: Math.round(backend.spot.maxWaitHours * 3600) }
        : {}),
    },
    Tags: [
      ...Object.entries(backend.tags ?? {})
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([Key, Value]) => ({ Key, Value })),
      { Key: 'judgeloop:job', Value: spec.jobName },
    ],
  };
  if (backend.spot.enabled) {
    if (!opts.checkpointUri) {
      throw new Error(`job ${spec.jobName}: spot training needs a checkpoint URI (backend.spot.checkpointUri or the storage default)`);
    }
    request.EnableManagedSpotTraining = true;
    request.CheckpointConfig = {
      S3Uri: joinUri(opts.checkpointUri, spec.jobName) + '/',
      LocalPath: CHECKPOINT_LOCAL_PATH,
    };
  }
  if (spec.environment && Object.keys(spec.environment).length > 0) request.Environment = { ...spec.environment };
  if (backend.vpc) {
    request.VpcConfig = { Subnets: [...backend.vpc.subnets], SecurityGroupIds: [...backend.vpc.securityGroupIds] };
  }
  return request;
}

/** Where a job's model folder and output data are (see the file comment), from its describe output. */
export function outputLocations(
  describe: Partial<Pick<DescribeTrainingJobCommandOutput, 'TrainingJobName' | 'ModelArtifacts' | 'OutputDataConfig'>>,
  fallbackOutputUri: string,
): { modelUri: string; outputDataUri: string } {
  const base = joinUri(describe.OutputDataConfig?.S3OutputPath ?? fallbackOutputUri, describe.TrainingJobName ?? '', 'output');
  const reported = describe.ModelArtifacts?.S3ModelArtifacts;
  // SageMaker's own answer wins; a compressed model (model.tar.gz) would be unreadable downstream, so only a
  // prefix is taken as the model folder.
  const modelUri = reported && !reported.endsWith('.tar.gz') ? reported.replace(/\/+$/, '') : joinUri(base, 'model');
  return { modelUri, outputDataUri: joinUri(base, 'data') };
}

export type FailureKind = 'capacity' | 'throttling' | 'internal' | 'script' | 'validation' | 'permission' | 'stopped' | 'unknown';

export interface FailureClass {
  retryable: boolean;
  kind: FailureKind;
  message: string;
}

interface FailureRule {
  kind: FailureKind;
  retryable: boolean;
  next: string;
}

const RETRIED = 'It is retried with backoff.';
const CAPACITY: FailureRule = { kind: 'capacity', retryable: true, next: 'It is retried with backoff; another instance type or region may have capacity.' };
const INTERNAL: FailureRule = { kind: 'internal', retryable: true, next: RETRIED };
const SCRIPT: FailureRule = { kind: 'script', retryable: false, next: 'The job script failed; read its CloudWatch log (/aws/sagemaker/TrainingJobs), fix the cause and rerun.' };
const VALIDATION: FailureRule = { kind: 'validation', retryable: false, next: 'Fix the job\'s inputs or the backend config and rerun.' };
const PERMISSION: FailureRule = {
  kind: 'permission',
  retryable: false,
  next: 'Grant the execution role (backend.roleArn) access to the S3 prefixes, ECR image and KMS key, then rerun.',
};

/** The error classes SageMaker puts at the start of a FailureReason (`AlgorithmError: ...`). */
const FAILURE_CLASSES: Record<string, FailureRule> = {
  AlgorithmError: SCRIPT,
  ClientError: VALIDATION,
  ValidationException: VALIDATION,
  CapacityError: CAPACITY,
  InsufficientCapacityError: CAPACITY,
  InternalServerError: INTERNAL,
  InternalFailure: INTERNAL,
  ServiceUnavailable: INTERNAL,
  ThrottlingException: { kind: 'throttling', retryable: true, next: RETRIED },
  AccessDeniedException: PERMISSION,
};

const PERMISSION_TEXT = /AccessDenied|not authorized|UnauthorizedOperation|permission/i;

/** For reasons without a known leading class: what the text says. */
const FAILURE_PATTERNS: Array<[RegExp, FailureKind, boolean, string]> = [
  [/insufficient capacity|unable to provision/i, CAPACITY.kind, true, CAPACITY.next],
  [/\b(ThrottlingException|Throttling|Rate exceeded|SlowDown)\b/i, 'throttling', true, RETRIED],
  [/internal (server )?error/i, 'internal', true, RETRIED],
  [PERMISSION_TEXT, PERMISSION.kind, false, PERMISSION.next],
];

type DescribeForFailure = Partial<
  Pick<DescribeTrainingJobCommandOutput, 'TrainingJobName' | 'TrainingJobStatus' | 'SecondaryStatus' | 'FailureReason'>
>;

/**
 * Why a Failed (or Stopped) job ended, and whether another attempt can succeed. SageMaker's FailureReason
 * starts with its error class (`AlgorithmError: ...`, `ClientError: ...`, `CapacityError: ...`,
 * `InternalServerError: ...`), which decides when it is one we know; only a reason without one is read for
 * what it says. The secondary status tells the stopping conditions apart.
 */
export function classifyFailure(describe: DescribeForFailure): FailureClass {
  const name = describe.TrainingJobName ?? '(unnamed job)';
  const reason = describe.FailureReason ?? '';
  const secondary = describe.SecondaryStatus ?? '';
  const say = (what: string, next: string) =>
    `SageMaker job ${name} ${what}${reason ? `: ${reason}` : ''}${secondary ? ` (secondary status ${secondary})` : ''}. ${next}`;

  if (secondary === 'MaxWaitTimeExceeded') {
    return {
      retryable: true,
      kind: 'capacity',
      message: say('waited longer than spot.maxWaitHours for spot capacity', 'It is retried as a new job that resumes from its checkpoints; raise spot.maxWaitHours or turn spot off if this repeats.'),
    };
  }
  if (secondary === 'MaxRuntimeExceeded') {
    return {
      retryable: false,
      kind: 'stopped',
      message: say('ran longer than backend.maxRuntimeHours', 'Raise backend.maxRuntimeHours (or use a larger instance type) and rerun.'),
    };
  }
  if (describe.TrainingJobStatus === 'Stopped') {
    return {
      retryable: false,
      kind: 'stopped',
      message: say('was stopped outside this activity (console, CLI or another worker)', 'Rerun the run to start it again.'),
    };
  }
  const leading = /^\s*([A-Za-z]+(?:Error|Exception|Failure|Unavailable))\b/.exec(reason)?.[1];
  const byClass = leading ? FAILURE_CLASSES[leading] : undefined;
  // SageMaker names the failure's class first; the text after it is often a traceback, which may mention
  // anything ("internal error", "permission") without that being the cause. So the class decides when known.
  if (byClass) {
    // A ClientError is SageMaker refusing the job's own setup; when that was access to S3, ECR or KMS, the
    // role is what to fix (still not retried).
    const rule = leading === 'ClientError' && PERMISSION_TEXT.test(reason) ? PERMISSION : byClass;
    return { retryable: rule.retryable, kind: rule.kind, message: say('failed', rule.next) };
  }
  for (const [pattern, kind, retryable, next] of FAILURE_PATTERNS) {
    if (pattern.test(reason)) return { retryable, kind, message: say('failed', next) };
  }
  // An unknown reason is retried: Temporal's retry policy bounds it, and failing a long run on a transient
  // cause costs more than one extra attempt.
  return { retryable: true, kind: 'unknown', message: say('failed', 'The reason is not recognised; it is retried with backoff.') };
}

/** An error thrown by the SDK: its class name (`ThrottlingException`) and HTTP status. */
interface ApiErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** How an API call's error (not a job's failure) is handled. */
/** What the worker's role needs for the training jobs: the permission error's hint unless the caller names its own. */
const TRAINING_JOB_PERMISSIONS = "Check the worker's AWS credentials and its IAM policy (sagemaker:*TrainingJob, iam:PassRole on backend.roleArn).";

export function classifyApiError(err: unknown, permissionHint: string = TRAINING_JOB_PERMISSIONS): FailureClass {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ApiErrorLike;
  const name = e.name ?? 'Error';
  const message = `${name}: ${e.message ?? String(err)}`;
  const status = e.$metadata?.httpStatusCode;
  if (/Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/.test(name) || status === 429) {
    return { retryable: true, kind: 'throttling', message };
  }
  if (/AccessDenied|Unauthorized|ExpiredToken|InvalidClientTokenId|UnrecognizedClient/.test(name) || status === 403) {
    return { retryable: false, kind: 'permission', message: `${message}. ${permissionHint}` };
  }
  if (name === 'ResourceLimitExceeded') {
    return { retryable: true, kind: 'capacity', message: `${message}. Check the account's SageMaker service quota for this instance type.` };
  }
  if (/Validation|InvalidParameter|MissingParameter/.test(name) || status === 400) {
    return { retryable: false, kind: 'validation', message };
  }
  if (/InternalFailure|InternalServer|ServiceUnavailable|TimeoutError|ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up/.test(`${name} ${e.message ?? ''}`) || (status !== undefined && status >= 500)) {
    return { retryable: true, kind: 'internal', message };
  }
  return { retryable: true, kind: 'unknown', message };
}

/**
 * A Describe call's answer for a name that does not exist (the SDK's ResourceNotFound, or AWS's
 * ValidationException): a training job, a model package group.
 */
export function isNotFound(err: unknown): boolean {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ApiErrorLike;
  // AWS says "Requested resource not found."; moto (the tests' local server) "Could not find training job …"
  // and "ModelPackageGroup … does not exist.".
  return e.name === 'ResourceNotFound' || (e.name === 'ValidationException' && /not found|could not find|does not exist/i.test(e.message ?? ''));
}

/**
 * A SageMaker API error as the activity's failure: `<typePrefix><Kind>`, retryable as classifyApiError says,
 * with what was being done and, for a permission error, what the role needs.
 */
export function apiFailure(err: unknown, what: string, opts: { typePrefix?: string; permissionHint?: string } = {}): ApplicationFailure {
  const c = classifyApiError(err, opts.permissionHint);
  return ApplicationFailure.create({
    type: `${opts.typePrefix ?? 'SageMakerApi'}${c.kind[0].toUpperCase()}${c.kind.slice(1)}`,
    message: `${what}: ${c.message}`,
    nonRetryable: !c.retryable,
    cause: err instanceof Error ? err : undefined,
  });
}

/**
 * The job's cost: billable seconds (wall-clock per instance; with managed spot, only the billed part) ×
 * instance count × the configured hourly price. `usd` is null when the price table has no entry.
 */
export function jobCost(
  describe: Partial<Pick<DescribeTrainingJobCommandOutput, 'BillableTimeInSeconds' | 'TrainingTimeInSeconds' | 'ResourceConfig'>>,
  prices: Record<string, number> | undefined,
): JobCost {
  const billableSeconds = describe.BillableTimeInSeconds ?? describe.TrainingTimeInSeconds ?? 0;
  const instanceType = describe.ResourceConfig?.InstanceType ?? 'unknown';
  const instanceCount = describe.ResourceConfig?.InstanceCount ?? 1;
  return { billableSeconds, instanceType, instanceCount, usd: costUsd(billableSeconds, instanceCount, prices?.[instanceType]) };
}

/**
 * The usage record of a SageMaker job that ended (Completed, Failed or Stopped): a failed job bills for the
 * time it ran, so it is recorded too, under its own name.
 */
export function attemptUsage(
  describe: Partial<
    Pick<
      DescribeTrainingJobCommandOutput,
      'TrainingJobName' | 'TrainingJobStatus' | 'BillableTimeInSeconds' | 'TrainingTimeInSeconds' | 'ResourceConfig' | 'TrainingEndTime' | 'LastModifiedTime'
    >
  >,
  prices: Record<string, number> | undefined,
): AttemptUsage {
  const cost = jobCost(describe, prices);
  const status = describe.TrainingJobStatus === 'Failed' || describe.TrainingJobStatus === 'Stopped' ? describe.TrainingJobStatus : 'Completed';
  const ended = describe.TrainingEndTime ?? describe.LastModifiedTime;
  return {
    attempt: describe.TrainingJobName ?? 'unknown',
    status,
    backend: 'sagemaker',
    seconds: describe.TrainingTimeInSeconds ?? cost.billableSeconds,
    billableSeconds: cost.billableSeconds,
    instanceType: cost.instanceType,
    instanceCount: cost.instanceCount,
    usd: cost.usd,
    finishedAt: ended ? new Date(ended).toISOString() : new Date(0).toISOString(),
  };
}
