/**
 * A promoted judge as a SageMaker Model Registry version (docs/model-registry.md): the CreateModelPackage request
 * built from the judge registry's entry. Pure: the same entry gives the same request, so a retried step finds
 * the version its earlier attempt created (by its metadata) or creates this one.
 *
 * What a deployment reads: the group's latest version with status Approved; its container's ModelDataSource is
 * the judge's model folder in S3 (uncompressed), its CustomerMetadataProperties the lineage and headline
 * metrics, its ModelMetrics the evaluation's report.json.
 *
 * Node only (node:crypto, for the idempotency token): the registry step imports it, never workflow code.
 */
import { createHash } from 'node:crypto';
import type { SageMakerModelRegistryConfig } from './gate-config';
import type { RegistryEntry } from './registry';
import type { SuiteMetrics } from '../run/run-types';

/** SageMaker's limits on CustomerMetadataProperties: 50 entries, keys of 128 and values of 256 characters. */
export const METADATA_LIMITS = { entries: 50, key: 128, value: 256 } as const;

/** The metadata keys that identify the judge version a package is (searched for on a retry). */
export const PACKAGE_KEYS = { runId: 'judgeloop:run-id', iteration: 'judgeloop:iteration', judge: 'judgeloop:judge' } as const;

export function modelPackageGroupName(settings: Pick<SageMakerModelRegistryConfig, 'modelPackageGroup'>, judgeName: string): string {
  return settings.modelPackageGroup ?? judgeName;
}

/** The request's shape (a subset of @aws-sdk/client-sagemaker's CreateModelPackageInput, which it is passed as). */
export interface ModelPackageRequest {
  ModelPackageGroupName: string;
  ModelPackageDescription: string;
  ModelApprovalStatus: 'Approved';
  ClientToken: string;
  InferenceSpecification: {
    Containers: Array<{
      Image: string;
      ModelDataSource: { S3DataSource: { S3Uri: string; S3DataType: 'S3Prefix'; CompressionType: 'None' } };
    }>;
    SupportedContentTypes: string[];
    SupportedResponseMIMETypes: string[];
  };
  MetadataProperties: { GeneratedBy: string; ProjectId: string; CommitId?: string };
  ModelMetrics?: { ModelQuality: { Statistics: { ContentType: 'application/json'; S3Uri: string } } };
  CustomerMetadataProperties: Record<string, string>;
}

function clip(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

/** The primary figure of a suite, as the gate reads it: Pearson of a pointwise suite, accuracy of a pairwise one. */
function headline(metrics: SuiteMetrics): Array<[string, number | null]> {
  return metrics.kind === 'pointwise'
    ? [
        ['pearson', metrics.pearson],
        ['exact-agreement', metrics.exactAgreement],
      ]
    : [['accuracy', metrics.accuracy]];
}

/** The lineage and the decision first, then each suite's headline figures while the 50 entries last. */
export function packageMetadata(entry: RegistryEntry): Record<string, string> {
  const out: Record<string, string> = {
    [PACKAGE_KEYS.judge]: entry.judgeName,
    [PACKAGE_KEYS.runId]: entry.runId,
    [PACKAGE_KEYS.iteration]: String(entry.iteration),
    'judgeloop:model-uri': entry.modelUri,
    'judgeloop:parent-model-uri': entry.parentModelUri ?? 'none (a seed judge)',
    'judgeloop:seed-model-uri': entry.seedModelUri,
    'judgeloop:config-hash': entry.data.configHash,
    'judgeloop:train-uri': entry.data.trainUri,
    ...(entry.data.trainSha256 ? { 'judgeloop:train-sha256': entry.data.trainSha256 } : {}),
    ...(entry.data.pairsUri ? { 'judgeloop:pairs-uri': entry.data.pairsUri } : {}),
    'judgeloop:decided-by': entry.decision.decidedBy,
    'judgeloop:decision': entry.decision.reasons.join('; ') || 'promoted',
  };
  for (const [suite, metrics] of Object.entries(entry.metrics).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [name, value] of headline(metrics)) {
      if (Object.keys(out).length >= METADATA_LIMITS.entries) break;
      if (value !== null && Number.isFinite(value)) out[`metric:${suite}:${name}`] = String(Math.round(value * 1e4) / 1e4);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [clip(k, METADATA_LIMITS.key), clip(v, METADATA_LIMITS.value)]));
}

/** SageMaker's idempotency token (at most 36 of [a-zA-Z0-9-]): one per judge version. */
export function packageClientToken(group: string, entry: Pick<RegistryEntry, 'runId' | 'iteration'>): string {
  return createHash('sha256').update(`${group}\0${entry.runId}\0${entry.iteration}`).digest('hex').slice(0, 36);
}

/** The judge's model folder as SageMaker mounts it: an S3 prefix, ending in `/`. */
export function modelFolderUri(modelUri: string): string {
  return modelUri.replace(/\/*$/, '/');
}

export function modelPackageRequest(entry: RegistryEntry, settings: SageMakerModelRegistryConfig, codeVersion?: string): ModelPackageRequest {
  const group = modelPackageGroupName(settings, entry.judgeName);
  const reportUri = Object.values(entry.metrics).find((m) => m.reportUri)?.reportUri;
  return {
    ModelPackageGroupName: group,
    ModelPackageDescription: clip(`Judge ${entry.judgeName}, iteration ${entry.iteration} of Judgeloop run ${entry.runId}; promoted by ${entry.decision.decidedBy}`, 1024),
    ModelApprovalStatus: 'Approved',
    ClientToken: packageClientToken(group, entry),
    InferenceSpecification: {
      Containers: [
        {
          Image: settings.inferenceImage,
          ModelDataSource: { S3DataSource: { S3Uri: modelFolderUri(entry.modelUri), S3DataType: 'S3Prefix', CompressionType: 'None' } },
        },
      ],
      SupportedContentTypes: [...settings.contentTypes],
      SupportedResponseMIMETypes: [...settings.responseTypes],
    },
    MetadataProperties: {
      GeneratedBy: clip(`judgeloop run ${entry.runId} iteration ${entry.iteration}`, 1024),
      ProjectId: clip(entry.judgeName, 1024),
      ...(codeVersion && codeVersion !== 'dev' ? { CommitId: clip(codeVersion, 1024) } : {}),
    },
    ...(reportUri ? { ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json' as const, S3Uri: reportUri } } } } : {}),
    CustomerMetadataProperties: packageMetadata(entry),
  };
}

/** Whether a described package is this entry's version. */
export function isPackageOf(metadata: Record<string, string> | undefined, entry: Pick<RegistryEntry, 'runId' | 'iteration'>): boolean {
  return metadata?.[PACKAGE_KEYS.runId] === entry.runId && metadata?.[PACKAGE_KEYS.iteration] === String(entry.iteration);
}
