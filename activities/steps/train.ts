/**
 * Step 4, Train: DPO on the pairs, starting from M(i-1) with M(i-1) frozen as the reference model
 * (a training job), or with training.method "sft" the control: fine-tuning on the pairs' chosen judgments
 * only. The result is M(i), a model folder in S3.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { deriveSeed } from '../../core/common/rng';
import type { TrainingMetricsRow } from '../../core/run/formats';
import type { TrainSummary } from '../../core/run/run-types';
import { type ActivityDeps, currentJobContext, storageSettings } from '../context';
import type { ObjectStore } from '../storage/object-store';
import { experimentName, iterationRunName } from '../../core/tracking/records';
import { TrackerError } from '../tracking/mlflow-client';
import { NO_TRACKING_URI, clientFor, ensureIterationRecord, readRunConfigFile, runFactsOf } from '../tracking/send-records';
import { readRows } from './rows';

export interface TrainInput {
  config: ConfigFor<'train'>;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  modelUri: string;
  pairsUri: string;
}

/** What train_dpo.py / train_sft.py read (docs/CONTRACTS.md); the DPO-only keys are absent for SFT. */
export type TrainHyperparameters = {
  epochs: number;
  learning_rate: number;
  batch_size: number;
  gradient_accumulation_steps: number;
  max_length: number;
  lora: boolean;
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  seed: number;
  checkpoint_steps: number;
  beta?: number;
  rpo_alpha?: number;
  mask_forced_tokens?: boolean;
  max_prompt_tokens?: number;
  token_ids?: 'sampled' | 'text';
  marker?: string;
  score_min?: number;
  score_max?: number;
};

export function trainHyperparameters(config: Pick<RunConfig, 'judge' | 'training'>, iteration: number): TrainHyperparameters {
  const t = config.training;
  const common: TrainHyperparameters = {
    epochs: t.epochs,
    learning_rate: t.learningRate,
    batch_size: t.batchSize,
    gradient_accumulation_steps: t.gradientAccumulationSteps,
    max_length: t.maxLength,
    lora: t.lora.enabled,
    lora_r: t.lora.r,
    lora_alpha: t.lora.alpha,
    lora_dropout: t.lora.dropout,
    seed: deriveSeed(t.seed, 'train', iteration),
    checkpoint_steps: t.checkpointSteps,
  };
  if (t.method === 'sft') return common;
  return {
    ...common,
    beta: t.beta,
    rpo_alpha: t.rpoAlpha,
    // Under forced decoding the grammar wrote the marker and the final EOS: those tokens carry no choice of
    // the judge and are left out of the loss. Under free decoding the judge wrote them and learns them too.
    mask_forced_tokens: config.judge.decoding.mode === 'forced',
    // Pairs carry the sampled token ids; the job rebuilds each prompt's ids as the sampler did, with its budget.
    max_prompt_tokens: config.judge.decoding.maxPromptTokens,
    token_ids: t.tokenIds,
    marker: config.judge.marker,
    score_min: config.judge.scale.min,
    score_max: config.judge.scale.max,
  };
}

/**
 * A training job's `metrics.jsonl`: its optimizer steps (rows with a loss, `null` when it was not finite) and
 * the last of them. Each row is checked against the training metrics format (core/run/formats.ts).
 */
export async function readTrainingMetrics(
  store: Pick<ObjectStore, 'exists' | 'readJsonl'>,
  outputDataUri: string,
): Promise<{ metricsUri: string; steps: number; last: TrainingMetricsRow }> {
  const metricsUri = joinUri(outputDataUri, 'metrics.jsonl');
  let steps = 0;
  let last: TrainingMetricsRow = {};
  if (await store.exists(metricsUri)) {
    for await (const row of readRows(store, metricsUri, 'training metrics row', { job: 'training' })) {
      if (row.loss === undefined) continue;
      steps++;
      last = row;
    }
  }
  return { metricsUri, steps, last };
}

/**
 * Where the training job logs its loss curve: the iteration's MLflow run (created now when the run's sends have
 * not made it yet), through the environment transformers' MLflow callback reads (jobs/judgeloop_jobs/tracking.py).
 * Undefined when tracking or training curves are off, or the tracker cannot be reached: the job then trains
 * without it, and the warning says why.
 */
export async function trainingTrackingEnvironment(
  config: Pick<RunConfig, 'judge' | 'tracking'>,
  store: Pick<ObjectStore, 'getJson'>,
  at: { runPrefixUri: string; iteration: number; jobName: string },
  warn: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string> | undefined> {
  const mlflow = config.tracking?.mlflow;
  if (!mlflow?.trainingCurves) return undefined;
  const client = clientFor(config, env);
  if (!client) {
    warn(`job ${at.jobName}: its loss curve is not tracked: ${NO_TRACKING_URI}`);
    return undefined;
  }
  try {
    const file = await readRunConfigFile(store, at.runPrefixUri);
    const experimentId = await client.ensureExperiment(experimentName(config));
    const { child } = await ensureIterationRecord(client, experimentId, runFactsOf(file, at.runPrefixUri), at.iteration, Date.now());
    return {
      // A managed MLflow's ARN as it is: the job's sagemaker-mlflow plugin (the training image) signs for it.
      MLFLOW_TRACKING_URI: client.uri,
      MLFLOW_RUN_ID: child.info.runId,
      JUDGELOOP_TRACKING_RUN_NAME: iterationRunName(at.iteration),
      // One try per request: a tracker that goes away must not hold the training up (the callback then stops).
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0',
      MLFLOW_HTTP_REQUEST_TIMEOUT: String(mlflow.requestTimeoutSeconds),
    };
  } catch (err) {
    // Tracking never fails a job: a tracker or a config.json that cannot be read only costs the curve.
    warn(`job ${at.jobName}: its loss curve is not tracked: ${err instanceof TrackerError ? err.message : String(err)}`);
    return undefined;
  }
}

/** The job that trains M(i): DPO, or the SFT control on the chosen judgments of the same pairs. */
export function trainEntryPoint(config: Pick<RunConfig, 'training'>): 'train_dpo.py' | 'train_sft.py' {
  return config.training.method === 'sft' ? 'train_sft.py' : 'train_dpo.py';
}

export function createTrainActivities(deps: ActivityDeps) {
  return {
    async trainJudge(input: TrainInput): Promise<TrainSummary> {
      const { config, iteration } = input;
      const store = deps.storeFor(storageSettings(config));
      const prefix = stepPrefix(input.runPrefixUri, iteration, 'train');
      const pairsFolder = input.pairsUri.replace(/\/[^/]+$/, '');
      const ctx = currentJobContext();
      const name = jobName(input.runId, iteration, 'train');
      const environment = await trainingTrackingEnvironment(config, store, { runPrefixUri: input.runPrefixUri, iteration, jobName: name }, ctx.log);
      const job = await deps.runnerFor(config, store).run(
        {
          jobName: name,
          entryPoint: trainEntryPoint(config),
          channels: { model: input.modelUri, pairs: pairsFolder },
          hyperparameters: trainHyperparameters(config, iteration),
          outputUri: joinUri(prefix, 'job'),
          ...(environment ? { environment } : {}),
        },
        ctx,
      );
      const { metricsUri, steps, last } = await readTrainingMetrics(store, job.outputDataUri);
      return {
        modelUri: job.modelUri,
        steps,
        finalLoss: last.loss ?? null,
        finalRewardAccuracy: last['rewards/accuracies'] ?? null,
        finalRewardMargin: last['rewards/margins'] ?? null,
        metricsUri,
        adopted: job.how !== 'ran',
        ...(job.cost ? { cost: job.cost } : {}),
      };
    },
  };
}
