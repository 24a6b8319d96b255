/**
 * The model registry step: a promoted judge becomes an approved model package version in the SageMaker Model
 * Registry group of its judge (core/promotion/model-registry.ts builds the request; docs/model-registry.md).
 * It runs after the judge registry in S3 recorded the promotion, and reads the entry from there.
 *
 * Idempotent: the group is created only when missing (another run creating it at the same time is fine), and
 * a version is looked for by its metadata (run id and iteration) before one is created, with a ClientToken
 * on top, so a retried attempt adopts the version its earlier attempt created.
 */
import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageCommand,
  DescribeModelPackageGroupCommand,
  ListModelPackagesCommand,
  type CreateModelPackageCommandInput,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { ApplicationFailure } from '@temporalio/common';
import type { RegistryEntry } from '../../core/promotion/registry';
import type { SageMakerModelRegistryConfig } from '../../core/promotion/gate-config';
import { isPackageOf, modelPackageGroupName, modelPackageRequest } from '../../core/promotion/model-registry';
import type { RunConfig } from '../../core/config/config';
import { apiFailure, isNotFound } from '../jobs/sagemaker-request';
import { badInput, storageSettings, type ActivityDeps } from '../context';

export interface RegisterModelPackageInput {
  config: Pick<RunConfig, 'registry' | 'storage'>;
  /** The judge registry's entry of the promotion (RecordedDecision.historyUri). */
  historyUri: string;
}

/** Small: it lands in the run's history. */
export interface RegisteredModelPackage {
  registered: boolean;
  modelPackageArn?: string;
  version?: number;
  group?: string;
  /** `created` by this step, or `adopted`: an earlier attempt (or run) had created it. */
  how?: 'created' | 'adopted';
  /** Why nothing was registered (a rejected judge). */
  reason?: string;
}

/** Versions looked at for an earlier attempt's package, newest first: a retry comes soon after its attempt. */
export const ADOPT_LOOKBACK = 20;

type Api = Pick<SageMakerClient, 'send'>;

const REGISTRY_PERMISSIONS =
  "The worker's role needs sagemaker:DescribeModelPackageGroup, CreateModelPackageGroup, ListModelPackages, DescribeModelPackage and CreateModelPackage (docs/aws/worker-policy.json).";

function failure(err: unknown, what: string): ApplicationFailure {
  return apiFailure(err, what, { typePrefix: 'ModelRegistry', permissionHint: REGISTRY_PERMISSIONS });
}

async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    throw failure(err, what);
  }
}

/** The group, created when it does not exist yet. */
export async function ensureModelPackageGroup(api: Api, group: string, judgeName: string): Promise<void> {
  try {
    await api.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: group }));
    return;
  } catch (err) {
    if (!isNotFound(err)) throw failure(err, `describing model package group ${group}`);
  }
  try {
    await api.send(
      new CreateModelPackageGroupCommand({
        ModelPackageGroupName: group,
        ModelPackageGroupDescription: `Judgeloop: the promoted versions of judge ${judgeName}`,
        Tags: [{ Key: 'judgeloop:judge', Value: judgeName }],
      }),
    );
  } catch (err) {
    // Another run of the same judge created it meanwhile.
    if ((err as { name?: string }).name === 'ResourceInUse' || /already exists/i.test((err as Error).message ?? '')) return;
    throw failure(err, `creating model package group ${group}`);
  }
}

/** An earlier attempt's version of this entry, among the group's newest ADOPT_LOOKBACK. */
export async function findPackageOf(api: Api, group: string, entry: Pick<RegistryEntry, 'runId' | 'iteration'>): Promise<{ arn: string; version?: number } | null> {
  const listed = await call(`listing model package group ${group}`, () =>
    api.send(new ListModelPackagesCommand({ ModelPackageGroupName: group, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: ADOPT_LOOKBACK })),
  );
  for (const summary of listed.ModelPackageSummaryList ?? []) {
    const arn = summary.ModelPackageArn!;
    const described = await call(`describing model package ${arn}`, () => api.send(new DescribeModelPackageCommand({ ModelPackageName: arn })));
    if (isPackageOf(described.CustomerMetadataProperties, entry)) return { arn, ...(summary.ModelPackageVersion ? { version: summary.ModelPackageVersion } : {}) };
  }
  return null;
}

export async function registerEntry(api: Api, entry: RegistryEntry, settings: SageMakerModelRegistryConfig, codeVersion?: string): Promise<RegisteredModelPackage> {
  if (!entry.decision.promoted) return { registered: false, reason: 'not promoted: only promoted judges are registered' };
  const group = modelPackageGroupName(settings, entry.judgeName);
  await ensureModelPackageGroup(api, group, entry.judgeName);
  const found = await findPackageOf(api, group, entry);
  if (found) return { registered: true, modelPackageArn: found.arn, ...(found.version ? { version: found.version } : {}), group, how: 'adopted' };
  const request = modelPackageRequest(entry, settings, codeVersion);
  const created = await call(`registering judge ${entry.judgeName} (run ${entry.runId}, iteration ${entry.iteration}) in model package group ${group}`, () =>
    // ModelPackageRequest is written to be this input's subset; the SDK's type is the wider one.
    api.send(new CreateModelPackageCommand(request as CreateModelPackageCommandInput)),
  );
  const arn = created.ModelPackageArn!;
  const version = Number(/\/(\d+)$/.exec(arn)?.[1]);
  return { registered: true, modelPackageArn: arn, ...(Number.isFinite(version) ? { version } : {}), group, how: 'created' };
}

export function createModelRegistryActivities(deps: ActivityDeps) {
  return {
    async registerModelPackage(input: RegisterModelPackageInput): Promise<RegisteredModelPackage> {
      const settings = input.config.registry.sagemaker;
      if (!settings) throw badInput('registerModelPackage: registry.sagemaker is not configured');
      const entry = await deps.storeFor(storageSettings(input.config)).getJson<RegistryEntry>(input.historyUri);
      if (!entry) throw badInput(`registerModelPackage: the registry entry ${input.historyUri} does not exist`);
      if (!deps.sagemakerFor) throw badInput('registerModelPackage: this worker was built without SageMaker clients (ActivityDeps.sagemakerFor)');
      return registerEntry(deps.sagemakerFor(settings.region), entry, settings, deps.codeVersion);
    },
  };
}
