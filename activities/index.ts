/**
 * The activity factory: every side effect of a run, built from injected clients so tests pass real local
 * ones (a local S3-compatible server, the local job runner).
 */
import path from 'node:path';
import type { RunConfig } from '../core/config/config';
import type { ActivityDeps } from './context';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { LocalJobRunner } from './jobs/local-runner';
import { defaultCheckpointUri, defaultCodeUri, jobKind } from './jobs/sagemaker-request';
import { SageMakerJobRunner } from './jobs/sagemaker-runner';
import { budgetAdmission } from './jobs/usage-record';
import { reusingRunner } from './storage/reuse';
import { createConfigActivities } from './steps/config';
import { createPrepareActivities } from './steps/prepare';
import { createSampleActivities } from './steps/sample';
import { createScoreActivities } from './steps/score';
import { createPairActivities } from './steps/pair';
import { createTrainActivities } from './steps/train';
import { createWarmStartActivities } from './steps/warm-start';
import { createEvaluateActivities } from './steps/evaluate';
import { createMetaJudgeActivities } from './steps/meta-judge';
import { createConsistencyActivities } from './steps/consistency';
import { createRegistryActivities } from './steps/registry';
import { createUsageActivities } from './steps/usage';
import { createReportActivities } from './steps/report';
import { createShardActivities } from './steps/shards';
import { createModelRegistryActivities } from './steps/model-registry';
import { createTrackActivities } from './steps/track';
import { ObjectStore, createS3Client, type StorageSettings } from './storage/object-store';
import { cacheIndexUri } from '../core/run/artifacts';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createConfigActivities(),
    ...createPrepareActivities(deps),
    ...createSampleActivities(deps),
    ...createScoreActivities(deps),
    ...createPairActivities(deps),
    ...createTrainActivities(deps),
    ...createWarmStartActivities(deps),
    ...createEvaluateActivities(deps),
    ...createMetaJudgeActivities(deps),
    ...createConsistencyActivities(deps),
    ...createRegistryActivities(deps),
    ...createUsageActivities(deps),
    ...createReportActivities(deps),
    ...createShardActivities(deps),
    ...createTrackActivities(deps),
    ...createModelRegistryActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;

export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The default wiring: one S3 client per storage endpoint; the local or SageMaker job runner per config.backend. */
export function defaultActivityDeps(overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const stores = new Map<string, ObjectStore>();
  const sagemakerClients = new Map<string, SageMakerClient>();
  return {
    projectRoot: PROJECT_ROOT,
    codeVersion: process.env.JUDGELOOP_CODE_VERSION ?? 'dev',
    storeFor(settings: StorageSettings) {
      const key = JSON.stringify(settings);
      let store = stores.get(key);
      if (!store) {
        store = new ObjectStore(createS3Client(settings));
        stores.set(key, store);
      }
      return store;
    },
    sagemakerFor(region: string) {
      return sagemakerClient(region);
    },
    runnerFor(config: Pick<RunConfig, 'backend' | 'budget' | 'reuse' | 'storage'>, store: ObjectStore) {
      const root = overrides.projectRoot ?? PROJECT_ROOT;
      const runner = backendRunner(config, store, root);
      if (!config.reuse.acrossRuns) return runner;
      const backend = config.backend;
      return reusingRunner(runner, store, {
        indexUri: cacheIndexUri(config.storage, 'jobs'),
        jobsDir: path.join(root, 'jobs'),
        runtimeOf: (spec) =>
          backend.kind === 'sagemaker' ? { backend: 'sagemaker', image: backend.images[jobKind(spec.entryPoint)] } : { backend: 'local' },
      });
    },
    ...overrides,
  };

  function sagemakerClient(region: string): SageMakerClient {
    let client = sagemakerClients.get(region);
    if (!client) {
      // Credentials come from the worker's environment (role, profile or env vars), as for S3.
      client = new SageMakerClient({ region });
      sagemakerClients.set(region, client);
    }
    return client;
  }

  function backendRunner(config: Pick<RunConfig, 'backend' | 'budget' | 'reuse' | 'storage'>, store: ObjectStore, root: string) {
    const backend = config.backend;
    if (backend.kind === 'sagemaker') {
      return new SageMakerJobRunner({
        client: sagemakerClient(backend.region),
        store,
        backend,
        codeUri: backend.codeUri ?? defaultCodeUri(config.storage),
        checkpointUri: backend.spot.checkpointUri ?? defaultCheckpointUri(config.storage),
        jobsDir: path.join(root, 'jobs'),
        admit: budgetAdmission(store, config.budget),
      });
    }
    return new LocalJobRunner({
      store,
      projectRoot: root,
      python: backend.python,
      workDir: backend.workDir,
      cpuThreads: backend.cpuThreads,
      warmPython: backend.warmPython,
      pricePerHour: backend.pricePerHour,
      admit: budgetAdmission(store, config.budget),
    });
  }
}

