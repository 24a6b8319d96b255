/**
 * Every environment variable the worker process reads, in one list, so the deployment examples in
 * docs/deploy/ cannot name a variable the worker ignores (test/unit/deploy-docs.test.ts) and this list
 * cannot name one no code reads (the same test greps the sources for each JUDGELOOP_ name).
 */

/** Judgeloop's own variables, each read by workers/, activities/ or core/. */
export const JUDGELOOP_WORKER_ENV = [
  'JUDGELOOP_TASK_QUEUE',
  'JUDGELOOP_S3_ENDPOINT',
  'JUDGELOOP_CODEC_KEYS',
  'JUDGELOOP_CODEC_KEY_ID',
  'JUDGELOOP_SHUTDOWN_GRACE_SECONDS',
  'JUDGELOOP_STICKY_TIMEOUT_SECONDS',
  'JUDGELOOP_MAX_DATA_STEPS',
  'JUDGELOOP_MAX_JOBS',
  'JUDGELOOP_MAX_ACTIVITIES',
  'JUDGELOOP_METRICS_ADDRESS',
  'JUDGELOOP_HEALTH_ADDRESS',
  'JUDGELOOP_LOG_FORMAT',
  'JUDGELOOP_LOG_LEVEL',
  'JUDGELOOP_OTEL',
  'JUDGELOOP_OTEL_FILE',
  'JUDGELOOP_CODE_VERSION',
  'JUDGELOOP_NO_PDEATHSIG',
] as const;

/** Temporal's client configuration, read through @temporalio/envconfig (workers/temporal-target.ts). */
export const TEMPORAL_WORKER_ENV = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
] as const;

/**
 * Standard variables of other tools that Judgeloop reads: the MLflow server of configs that track without naming
 * one, and the sagemaker-mlflow plugin's endpoint override for a managed MLflow (a VPC endpoint).
 */
export const TOOL_WORKER_ENV = ['MLFLOW_TRACKING_URI', 'SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT'] as const;

/**
 * Families read by libraries as they document them: gRPC headers (TEMPORAL_GRPC_META_<NAME>), the AWS SDK's
 * region and credentials (AWS_REGION, AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, ECS's container
 * credentials …) and OpenTelemetry's exporter settings (OTEL_*).
 */
export const LIBRARY_ENV_PREFIXES = ['TEMPORAL_GRPC_META_', 'AWS_', 'OTEL_'] as const;

/** Whether the worker (or a library it configures) reads `name`. */
export function isWorkerEnvVar(name: string): boolean {
  return (
    (JUDGELOOP_WORKER_ENV as readonly string[]).includes(name) ||
    (TEMPORAL_WORKER_ENV as readonly string[]).includes(name) ||
    (TOOL_WORKER_ENV as readonly string[]).includes(name) ||
    LIBRARY_ENV_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length)
  );
}
