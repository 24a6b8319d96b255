/**
 * The seed step (config `warmStart`; docs/method.md, "Warm start"): before iteration 0, the base model is
 * fine-tuned on reference judgments, as the paper's seed judge M0 is an instruct model fine-tuned on judge
 * data. Each row's `meta.reference_judgments` (a strong judge's rationale and score, e.g. GPT-4's feedback
 * on the Prometheus rows) becomes one SFT example: the judge's own prompt for the row, then
 * `<rationale> [RESULT] <score>`. The examples are a data step (skipped when done, reused across runs by
 * content); the training is a `train_sft.py` job, addressed by its inputs like every job, so a rerun reuses it.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { formatJudgment } from '../../core/judging/judgment';
import { referenceJudgmentsOf, type PointwiseExample, type ReferenceJudgment } from '../../core/data/records';
import type { SftExample } from '../../core/run/formats';
import type { WarmStartSummary } from '../../core/run/run-types';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, badInput, currentJobContext, storageSettings, throttledHeartbeat } from '../context';
import { loadTemplate, renderForJudge } from './prompts';
import { readTrainingMetrics, trainHyperparameters } from './train';

export interface WarmStartInput {
  config: ConfigFor<'warmStart'>;
  runId: string;
  runPrefixUri: string;
  /** The base model (judge.seedModel as staged). */
  modelUri: string;
  /** The prepared warm-start rows (PreparedRun.warmStart). */
  dataUri: string;
}

/** A row's reference judgments (`meta.reference_judgments`) whose score lies on the judge's scale. */
export function referenceJudgments(row: Pick<PointwiseExample, 'meta'>, scale: { min: number; max: number }): ReferenceJudgment[] {
  return referenceJudgmentsOf(row).filter((j) => j.rationale.trim() !== '' && Number.isInteger(j.score) && j.score >= scale.min && j.score <= scale.max);
}

/** The job's hyperparameters: train_sft.py's, with the warm start's epochs, learning rate and lengths. */
export function warmStartHyperparameters(config: Pick<RunConfig, 'judge' | 'training' | 'warmStart'>) {
  const ws = config.warmStart!;
  const training = {
    ...config.training,
    method: 'sft' as const,
    epochs: ws.epochs,
    learningRate: ws.learningRate,
    batchSize: ws.batchSize ?? config.training.batchSize,
    maxLength: ws.maxLength ?? config.training.maxLength,
  };
  return trainHyperparameters({ ...config, training }, 0);
}

/** What writeWarmStartExamples wrote: the SFT examples (one per reference judgment) and the rows they came from. */
export interface WarmStartExamples {
  /** The examples JSONL, and its folder (the job's `pairs` channel). */
  examplesUri: string;
  examplesFolder: string;
  examples: number;
  rows: number;
  rowsWithoutReference: number;
}

export function createWarmStartActivities(deps: ActivityDeps) {
  /**
   * One SFT example per reference judgment of each warm-start row: the judge's own prompt for the row, then
   * `<rationale> [RESULT] <score>`. Fails (InvalidData) when no row carries one.
   */
  async function writeWarmStartExamples(input: WarmStartInput): Promise<WarmStartExamples> {
    const { config } = input;
    const ws = config.warmStart;
    if (!ws) throw badInput('the warm start needs a config with warmStart');
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const template = await loadTemplate(deps.projectRoot, config);
    const examplesPrefix = joinUri(stepPrefix(input.runPrefixUri, 0, 'warm-start'), 'examples');
    const heartbeat = throttledHeartbeat();

    const rendered = await once(
      {
        prefixUri: examplesPrefix,
        step: 'warm-start:examples',
        inputs: { dataUri: input.dataUri, template: template.hash, judge: config.judge, judgmentsPerRow: ws.judgmentsPerRow ?? null },
      },
      async () => {
        let rows = 0;
        let withoutReference = 0;
        async function* examples(): AsyncGenerator<SftExample> {
          for await (const row of store.readJsonl<PointwiseExample>(input.dataUri)) {
            rows++;
            heartbeat({ phase: 'rendering', rows });
            const references = referenceJudgments(row, config.judge.scale).slice(0, ws!.judgmentsPerRow);
            if (references.length === 0) withoutReference++;
            const prompt = renderForJudge(template, config, row);
            for (const ref of references) {
              yield { example_id: row.id, prompt, completion: formatJudgment(ref.rationale, ref.score, config.judge.marker) };
            }
          }
        }
        const written = await store.writeJsonl(joinUri(examplesPrefix, 'data', 'examples.jsonl'), examples());
        const count = written.rows ?? 0;
        if (count === 0) {
          throw badInput(
            `warmStart.data: none of its ${rows} rows carries a reference judgment (meta.reference_judgments: a rationale and a score on the scale ${config.judge.scale.min}..${config.judge.scale.max}); use rows with a strong judge's feedback, e.g. the prometheus-absolute or feedback-collection adapters`,
            'InvalidData',
          );
        }
        return { objects: [written], summary: { examplesUri: written.uri, examples: count, rows, rowsWithoutReference: withoutReference } };
      },
    );
    return { ...rendered.summary, examplesFolder: joinUri(examplesPrefix, 'data') };
  }

  /** The `train_sft.py` job on the examples, from the base model; its metrics read back. */
  async function trainWarmStartJudge(input: Omit<WarmStartInput, 'dataUri'> & { examples: WarmStartExamples }): Promise<WarmStartSummary> {
    const { config, examples } = input;
    if (!config.warmStart) throw badInput('the warm start needs a config with warmStart');
    const store = deps.storeFor(storageSettings(config));
    const job = await deps.runnerFor(config, store).run(
      {
        jobName: jobName(input.runId, 0, 'warm-start'),
        entryPoint: 'train_sft.py',
        channels: { model: input.modelUri, pairs: examples.examplesFolder },
        hyperparameters: warmStartHyperparameters(config),
        outputUri: joinUri(stepPrefix(input.runPrefixUri, 0, 'warm-start'), 'job'),
      },
      currentJobContext(),
    );
    const { metricsUri, steps, last } = await readTrainingMetrics(store, job.outputDataUri);
    return {
      baseModelUri: input.modelUri,
      modelUri: job.modelUri,
      rows: examples.rows,
      rowsWithoutReference: examples.rowsWithoutReference,
      examples: examples.examples,
      examplesUri: examples.examplesUri,
      steps,
      finalLoss: last.loss ?? null,
      metricsUri,
      adopted: job.how !== 'ran',
    };
  }

  return {
    writeWarmStartExamples,
    trainWarmStartJudge,
    /**
     * The examples and the job in one activity, as runs started before the warm-start job became an activity
     * of its own schedule it (workflows/options.ts JOB_ACTIVITIES_PATCH).
     */
    async warmStartJudge(input: WarmStartInput): Promise<WarmStartSummary> {
      const examples = await writeWarmStartExamples(input);
      return trainWarmStartJudge({ ...input, examples });
    },
  };
}
