/**
 * The run configuration: one zod schema is the source of truth for a self-rationalization run.
 *
 * Pure and deterministic: imported by workflows (validation happens inside the workflow too, so a run
 * started from the Temporal CLI with a bad config fails fast instead of retrying a workflow task forever).
 */
import { z } from 'zod';
import { DATE_PLACEHOLDERS, ScheduleConfig, unknownPlaceholders } from './schedule';
import { ADAPTER_NAMES, JOIN_ADAPTERS, adapterJoinNeed } from '../data/adapters';
import { GateConfig, RegistryConfig, checkGateAgainstSuites } from '../promotion/gate-config';
import { checkScheduleLengths, perIteration } from './per-iteration';
import { controlCharacterProblem, s3UriKeyProblem, storagePrefixProblem } from './safe-names';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** Where a dataset or model comes from: `s3://bucket/key`, or a path relative to the project root. */
export const SourceUri = z
  .string()
  .min(1)
  .refine((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('s3://') || s.startsWith('file://'), {
    message: 'must be an s3:// URI, a file:// URI, or a path relative to the project root',
  })
  .superRefine((s, ctx) => {
    // Local paths are the operator's own files (absolute paths and parent folders are fine); an S3 key must
    // not climb out of its prefix, and no name holds a control character.
    if (s.startsWith('s3://')) {
      const problem = s3UriKeyProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; use an s3:// URI whose key names its folders (s3://bucket/datasets/train.jsonl)` });
    } else {
      const problem = controlCharacterProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
  });

export const AdapterName = z.enum(ADAPTER_NAMES);

export const JudgeConfig = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63')
      .describe('Registry name of the judge being improved; also a search attribute in the Temporal UI.'),
    seedModel: SourceUri.describe('The seed judge M0: a Hugging Face model folder, as a local path or an `s3://` prefix.'),
    promptTemplate: z
      .string()
      .min(1)
      .default('prompts/pointwise-v1.txt')
      .describe('Versioned prompt template for pointwise judging (`prompts/README.md`); its hash is recorded on every judgment.'),
    pairwiseTemplate: z
      .string()
      .min(1)
      .default('prompts/pairwise-v1.txt')
      .describe('Versioned prompt template for relative (A/B) judging of pairwise suites in `relative` or `both` mode.'),
    systemPromptPlacement: z
      .enum(['system', 'user'])
      .default('system')
      .describe("Where the template's system text goes: a `system` turn, or prepended to the `user` turn (as Prometheus was trained)."),
    scale: z
      .object({
        min: z.number().int().min(0).default(1).describe('The lowest score.'),
        max: z.number().int().max(9).default(5).describe('The highest score.'),
      })
      .prefault({})
      .refine((s) => s.min < s.max, { message: 'scale.min must be below scale.max' })
      .describe('The Likert scale of the scores: single digits, `min` below `max`.'),
    marker: z.string().min(1).default('[RESULT]').describe('The text between the rationale and the score.'),
    decoding: z
      .object({
        // `forced` suits a judge that cannot yet write the format (e.g. the tiny random judge). Every judgment
        // records whether its marker was the model's own.
        mode: z
          .enum(['free', 'forced'])
          .default('free')
          .describe(
            '`free`: the judge writes its own marker and score (without a valid score the judgment is unparseable); `forced`: the judgment grammar is enforced and the marker and a valid score are forced after `maxRationaleTokens`.',
          ),
        maxRationaleTokens: positiveInt
          .default(256)
          .describe("`forced` mode: the rationale's token budget, after which the marker and the score are forced."),
        maxNewTokens: positiveInt
          .optional()
          .describe('`free` mode: new tokens per judgment, end of turn included (default: `maxRationaleTokens` + 16).'),
        backend: z
          .enum(['auto', 'transformers', 'vllm'])
          .default('auto')
          .describe(
            'Generation backend: `auto` is vLLM when importable, else transformers; A/B verdicts and consistency re-scores need transformers (`auto` uses it for them).',
          ),
        batchSize: positiveInt.default(16).describe('Sequences (request × sample) decoded together by the transformers backend.'),
        // With the judgment's budget it must fit in training.maxLength (core/config/token-budgets.ts): 3072 + 256 + 16 ≤ 4096.
        maxPromptTokens: positiveInt
          .default(3072)
          .describe("Prompts longer than this many tokens are truncated from the left; with the judgment's budget it must fit in `training.maxLength`."),
      })
      .prefault({})
      .describe('How the judge generates its judgments.'),
  })
  .strict();

export const DatasetSource = z
  .object({
    uri: SourceUri.describe('The dataset file (`.jsonl`, or a `.json` array): an `s3://` URI or a path relative to the project root.'),
    adapter: AdapterName.default('canonical').describe('The adapter that reads the published format (docs/configuration.md, "Data").'),
    limit: positiveInt.optional().describe('Read at most this many valid rows, in file order (default: all).'),
    // biggen: `uri` = the BiGGen instances, `join` = the results rows {id, response, score}; each results row
    // becomes one example.
    join: SourceUri.optional().describe('A second file joined by id to `uri`: required by adapters that need one (`biggen`), refused by the others.'),
  })
  .strict();

/**
 * How a pairwise suite is judged: `pointwise` scores both responses with the pointwise template and compares
 * the scores; `relative` asks for a verdict A or B with `judge.pairwiseTemplate`, each pair in both orders;
 * `both` does the two.
 */
export const PAIRWISE_MODES = ['pointwise', 'relative', 'both'] as const;

export const EvalSuite = DatasetSource.extend({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and "-", at most 41')
    .describe("The suite's name, unique among the suites; it names the suite's metrics and artifacts."),
  kind: z.enum(['pointwise', 'pairwise']).describe('`pointwise`: examples with a gold score; `pairwise`: a chosen and a rejected response.'),
  /** Absent means `pointwise` (see `pairwiseMode`). */
  mode: z
    .enum(PAIRWISE_MODES)
    .optional()
    .describe(
      'Pairwise suites only (default `pointwise`): `pointwise` scores both responses and compares the scores, `relative` asks for a verdict A or B with `judge.pairwiseTemplate` in both orders, `both` does the two.',
    ),
  // Default `meta.capability` for pointwise suites: BiGGen's capability.
  groupBy: z
    .string()
    .regex(/^(subset|meta\.[A-Za-z0-9_-]+)$/, '"subset" or "meta.<key>", e.g. "meta.capability"')
    .optional()
    .describe(
      "The field whose value groups the suite's metrics, `subset` or `meta.<key>` (default: `subset` for pairwise suites, `meta.capability` for pointwise ones); rows without it count only overall.",
    ),
  // On the suite itself, so a config that replaces the suites (`extends`) never names a gated suite it no
  // longer has; e.g. for a suite too small to tell a drop from chance.
  gate: z
    .boolean()
    .optional()
    .describe("`false`: reported, but not checked by the promotion gate's no-drop and parse-floor rules (default `true`)."),
  // Once any suite is `validation`, only validation suites are gated, so the figures reported on test suites
  // are not the ones that picked the model; a config without any validation suite gates on every suite
  // without `gate: false` (selection and reporting then share data).
  role: z
    .enum(['validation', 'test'])
    .optional()
    .describe('`validation`: the promotion gate decides on it; `test` (the default): reported for every iteration, never gated on once any suite is `validation`.'),
}).strict();

export const DataConfig = z
  .object({
    train: DatasetSource.describe('The training set, whose inputs the loop samples judgments for (a pointwise adapter).'),
    evalSuites: z
      .array(EvalSuite.describe('One evaluation suite: a dataset the judge is evaluated on at every iteration.'))
      .min(1)
      .describe('The evaluation suites (at least one; names unique).'),
    maxInvalidFraction: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("Fail the run when more than this fraction of a dataset's rows is invalid (they are quarantined either way)."),
    contamination: z
      .object({
        check: z
          .boolean()
          .default(true)
          .describe('Compare every training row with every evaluation item after ingest and write `data/contamination.json`.'),
        exclude: z
          .boolean()
          .default(false)
          .describe('Drop the flagged training rows (counted in the report and the prepare summary); needs `check`.'),
        nearDuplicateThreshold: z
          .number()
          .gt(0)
          .max(1)
          .default(0.8)
          .describe('Word 5-gram Jaccard similarity of instruction + response at or above which a pair is a near-duplicate.'),
      })
      .strict()
      .prefault({})
      .refine((c) => c.check || !c.exclude, { message: 'exclude needs check: true', path: ['exclude'] })
      .describe('Training inputs that also appear in an evaluation suite (docs/method.md, "Contamination check").'),
  })
  .strict()
  .superRefine((d, ctx) => {
    const sources: Array<[Array<string | number>, { adapter: string; join?: string }]> = [
      [['train'], d.train],
      ...d.evalSuites.map((s, i): [Array<string | number>, { adapter: string; join?: string }] => [['evalSuites', i], s]),
    ];
    for (const [path, source] of sources) {
      const need = adapterJoinNeed(source.adapter);
      if (need && source.join === undefined) {
        ctx.addIssue({ code: 'custom', path: [...path, 'join'], message: `required by adapter "${source.adapter}": ${need}` });
      }
      if (!need && source.join !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'join'],
          message: `adapter "${source.adapter}" reads uri alone; join is only used by ${Object.keys(JOIN_ADAPTERS).join(', ')}`,
        });
      }
    }
    const seen = new Set<string>();
    d.evalSuites.forEach((s, i) => {
      if (s.mode !== undefined && s.kind !== 'pairwise') {
        ctx.addIssue({
          code: 'custom',
          path: ['evalSuites', i, 'mode'],
          message: `only pairwise suites have a mode (pointwise, relative or both); suite "${s.name}" is ${s.kind}: remove mode`,
        });
      }
      if (seen.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['evalSuites', i, 'name'], message: `duplicate suite name "${s.name}"` });
      }
      seen.add(s.name);
    });
  });

/** One pair-curation strategy (docs/method.md, "Pair curation"); a run may list several (their pairs are pooled). */
export const GoldMarginStrategy = z
  .object({
    name: z.literal('gold_margin').describe('Chosen judgments score the gold; rejected ones miss it by at least `margin`.'),
    /** The paper: 2 beats 1. */
    margin: perIteration(positiveInt, '[2, 1]')
      .default(2)
      .describe('Rejected judgments must differ from the gold score by at least this much; or one margin per iteration.'),
    maxPairsPerInput: positiveInt.default(4).describe('At most this many pairs per input (seeded choice).'),
  })
  .strict()
  .describe('Pairs against the gold score.');

export const MajorityVoteStrategy = z
  .object({
    name: z
      .literal('majority_vote')
      .describe("No gold needed: chosen judgments have the samples' majority (modal) score; no pair on a tie between modes."),
    margin: perIteration(positiveInt, '[2, 1]')
      .default(2)
      .describe("Rejected judgments must differ from the samples' majority score by at least this much; or one margin per iteration."),
    maxPairsPerInput: positiveInt.default(4).describe('At most this many pairs per input (seeded choice).'),
    minMajorityShare: z
      .number()
      .gt(0)
      .max(1)
      .default(0.5)
      .describe("The majority must hold at least this share of an input's parsed samples, else the input gets no pair."),
  })
  .strict()
  .describe("Pairs against the majority of the judge's own samples.");

export const MetaJudgeStrategy = z
  .object({
    name: z.literal('meta_judge').describe('The judge rates each of its own sampled judgments; chosen ones are rated above rejected ones.'),
    template: z
      .string()
      .min(1)
      .default('prompts/meta-judge-v1.txt')
      .describe('The template with which the judge rates its own sampled judgments (1–5).'),
    // 1 at temperature 0 is one greedy rating (a weak judge then tends to give every judgment the same one).
    ratingSamples: positiveInt
      .max(16)
      .default(4)
      .describe("Ratings per judgment, sampled at `ratingTemperature`; a judgment's rating is their mean."),
    ratingTemperature: z
      .number()
      .min(0)
      .max(2)
      .default(1.0)
      .describe('The temperature of the ratings; above 0 when `ratingSamples` is above 1.'),
    margin: perIteration(z.number().positive().max(4), '[1, 0.5]')
      .default(1)
      .describe("Chosen's mean rating must exceed rejected's by at least this much (on the 1–5 scale); or one margin per iteration."),
    maxPairsPerInput: positiveInt.default(4).describe('At most this many pairs per input (seeded choice).'),
  })
  .strict()
  .refine((s) => s.ratingSamples === 1 || s.ratingTemperature > 0, {
    message: 'ratingSamples > 1 needs ratingTemperature > 0 (greedy ratings are all the same)',
    path: ['ratingTemperature'],
  })
  .describe("Pairs by the judge's own ratings of its judgments (no gold needed).");

export const PairingStrategy = z.discriminatedUnion('name', [GoldMarginStrategy, MajorityVoteStrategy, MetaJudgeStrategy]);
export type PairingStrategy = z.output<typeof PairingStrategy>;
export const PAIRING_STRATEGY_NAMES = ['gold_margin', 'majority_vote', 'meta_judge'] as const;

export const PairingConfig = z
  .object({
    strategies: z
      .array(PairingStrategy)
      .min(1)
      .default([{ name: 'gold_margin', margin: 2, maxPairsPerInput: 4 }])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((s, i) => {
          if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `strategy "${s.name}" is listed twice` });
          seen.add(s.name);
        });
      })
      .describe('The pair-curation strategies, each at most once; their pairs are pooled and each pair records its strategy.'),
    hygiene: z
      .object({
        dropIdenticalAfterTruncation: z
          .boolean()
          .default(true)
          .describe('Drop pairs whose chosen and rejected are the same text after whitespace normalisation or truncation to `training.maxLength`.'),
        balanceGoldLevels: z
          .boolean()
          .default(false)
          .describe('Subsample (seeded) so that every gold score level contributes as many pairs as the smallest one.'),
        // DPO learns length bias.
        maxLengthDifference: positiveInt
          .optional()
          .describe('Drop pairs whose chosen and rejected lengths differ by more than this many characters.'),
      })
      .strict()
      .prefault({})
      .describe('Pair hygiene (docs/method.md, "Pair hygiene"): each switch applies after the strategies and its drops are reported.'),
    // The judge reads its own rationale and writes only the score.
    consistencyFilter: z
      .boolean()
      .default(false)
      .describe('Re-score each sampled rationale greedily and drop samples whose re-score disagrees with their own score.'),
    // A random or weak seed judge re-scores nearly every rationale alike, so the filter keeps only samples with
    // that one score and no pair survives.
    consistencyFromIteration: positiveInt
      .default(1)
      .describe('The first iteration the consistency filter applies to; start it once the judge has learned something (e.g. 2).'),
  })
  .strict();

/** Whether iteration `iteration` re-scores its samples and filters them (loop.pairing.consistencyFilter). */
export function consistencyFilterActive(config: { loop: { pairing: { consistencyFilter: boolean; consistencyFromIteration: number } } }, iteration: number): boolean {
  return config.loop.pairing.consistencyFilter && iteration >= config.loop.pairing.consistencyFromIteration;
}

export const LoopConfig = z
  .object({
    // 0 is how baselines and larger judges are compared.
    iterations: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(2)
      .describe('K: training iterations after iteration 0; `0` is an evaluate-only run (the starting judge on every suite, then the summary).'),
    // Per-iteration lists: core/config/per-iteration.ts.
    inputsPerIteration: perIteration(positiveInt, '[5000, 500]')
      .default(5000)
      .describe('Training inputs drawn per iteration (seeded; capped by the training set), or one count per iteration, e.g. `[5000, 500]` (the last repeats).'),
    inputsSchedule: z
      .array(positiveInt)
      .min(1)
      .optional()
      .describe('The older spelling of a per-iteration `inputsPerIteration` list, e.g. `[5000, 500]`; overrides a plain `inputsPerIteration`.'),
    reuseInputs: z
      .boolean()
      .default(true)
      .describe('Whether an iteration may draw inputs that an earlier iteration of the run already used.'),
    samplesPerInput: perIteration(positiveInt.max(64), '[8, 16]')
      .default(8)
      .describe('N: judgments sampled per input, or one N per iteration, e.g. `[8, 16]`.'),
    temperature: perIteration(z.number().positive().max(2), '[1.0, 1.2]')
      .default(1.0)
      .describe('T: the sampling temperature, or one per iteration, e.g. `[1.0, 1.2]`.'),
    seed: nonNegativeInt.default(0).describe("Seed of the loop's random choices: input selection, sampling, pair selection and the bootstrap."),
    pairing: PairingConfig.prefault({}).describe('How preference pairs are curated from the sampled judgments (docs/method.md, "Pair curation").'),
  })
  .strict()
  .superRefine(checkScheduleLengths);

export const TrainingConfig = z
  .object({
    method: z
      .enum(['dpo', 'sft'])
      .default('dpo')
      .describe('`dpo`, or `sft`: the control that fine-tunes on the chosen judgments of the same pairs only (rejection-sampling fine-tuning).'),
    beta: z.number().positive().default(0.1).describe('The DPO beta (`dpo` only).'),
    rpoAlpha: z
      .number()
      .min(0)
      .max(100)
      .default(0)
      .describe("Weight of a negative log-likelihood term on the chosen judgment added to the DPO loss (RPO, Pang et al. 2024); `0` is the paper's pure DPO."),
    // `text` is the behaviour before ids were recorded, kept for the tiny judge whose learning settings were
    // tuned on it (docs/results.md).
    tokenIds: z
      .enum(['sampled', 'text'])
      .default('sampled')
      .describe("What DPO trains on: `sampled`, the token ids the judge sampled (pairs carry them), or `text`, the trainer's own tokenization of the judgment text."),
    epochs: z.number().positive().default(1).describe('Epochs over the pairs.'),
    learningRate: z.number().positive().default(5e-7).describe('The learning rate (docs/method.md, "Train": 5e-7 full, 5e-6 LoRA).'),
    batchSize: positiveInt.default(8).describe('Per-device batch size.'),
    gradientAccumulationSteps: positiveInt.default(1).describe('Batches accumulated per optimizer step.'),
    maxLength: positiveInt
      .default(4096)
      .describe("Prompt plus completion, in tokens (longer pairs are truncated, the prompt from the left); at least `judge.decoding.maxPromptTokens` plus the judgment's budget."),
    lora: z
      .object({
        enabled: z.boolean().default(false).describe('Train LoRA adapters instead of the full model (merged into the saved model).'),
        r: positiveInt.default(16).describe('The LoRA rank.'),
        alpha: positiveInt.default(32).describe('The LoRA scaling alpha.'),
        dropout: z.number().min(0).max(1).default(0.05).describe('The LoRA dropout.'),
      })
      .strict()
      .prefault({})
      .describe('LoRA instead of full fine-tuning.'),
    seed: nonNegativeInt.default(0).describe("Seed of the training jobs (each iteration's is derived from it)."),
    // Local jobs always have a checkpoint folder; SageMaker jobs with managed spot.
    checkpointSteps: positiveInt
      .default(50)
      .describe('Optimizer steps between checkpoints of a training job that has a checkpoint folder; a killed or interrupted job resumes from the latest one.'),
  })
  .strict();

export const EvaluationConfig = z
  .object({
    bootstrap: z
      .object({
        resamples: nonNegativeInt.max(100_000).default(1000).describe('Resamples per interval; `0` turns the intervals off.'),
        confidence: z.number().gt(0).lt(1).default(0.95).describe("The intervals' coverage."),
      })
      .strict()
      .prefault({})
      .describe("Percentile-bootstrap confidence intervals of every reported metric."),
    // Scored as one sample, self-consistency (mode of N), mean of N and best-of-N (highest sequence
    // log-probability), beside the greedy score.
    baselines: z
      .object({
        samples: nonNegativeInt.max(64).default(0).describe('N extra samples per evaluation request; `0` turns the baselines off.'),
        temperature: z.number().gt(0).max(10).default(1.0).describe('The sampling temperature of the extra samples.'),
      })
      .strict()
      .prefault({})
      .describe('Inference-time baselines (docs/method.md, "Evaluation protocol"): one sample, self-consistency, mean of N and best-of-N.'),
    // core/promotion/gate.ts, core/promotion/gate-config.ts
    gate: GateConfig.prefault({}).describe("The promotion gate: whether an iteration's judge replaces the champion."),
  })
  .strict();

/**
 * How a generation (the sample, each evaluation generation, the judge-side re-scores) is split into jobs:
 * each shard a job of its own over a contiguous part of the requests, run concurrently up to `concurrency`,
 * merged by a data step. Defaults per backend: a local machine gains little from more than one shard per
 * core, SageMaker runs each shard on its own instance.
 */
function shardingConfig(defaults: { requestsPerShard: number; concurrency: number }) {
  return z
    .object({
      shards: z
        .union([z.literal('auto'), positiveInt.max(256)])
        .default('auto')
        .describe("Shards per generation: a number, or `auto`: one per `requestsPerShard` requests, at most `maxShards`. Never more shards than requests."),
      requestsPerShard: positiveInt
        .default(defaults.requestsPerShard)
        .describe(`With \`shards: auto\`, requests per shard (default ${defaults.requestsPerShard} on this backend).`),
      maxShards: positiveInt.max(256).default(16).describe('With `shards: auto`, at most this many shards.'),
      concurrency: positiveInt
        .max(256)
        .default(defaults.concurrency)
        .describe(`Shards of one generation running at once (default ${defaults.concurrency} on this backend); the worker's job slots bound it too.`),
    })
    .strict()
    .prefault({});
}

/** Where a backend's prices come from and when they were read: every cost shown is an estimate made with them. */
const PriceSource = z
  .object({
    source: z.string().trim().min(1, 'must say where the prices come from').describe('Where the prices come from, e.g. "AWS SageMaker on-demand pricing, us-east-1".'),
    asOf: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
      .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'must be a real date, YYYY-MM-DD')
      .describe('The day the prices were read (YYYY-MM-DD).'),
  })
  .strict();

export const LocalBackend = z
  .object({
    kind: z.literal('local').describe("Jobs run as child processes of the worker."),
    python: z
      .string()
      .default('.venv/bin/python')
      .describe('The Python interpreter that runs the `jobs/` entry points (relative to the project root).'),
    workDir: z.string().default('.judgeloop/jobs').describe('Where the local runner keeps job folders (channels, outputs, logs).'),
    // On a small machine that runs the worker and the services too, 1 avoids oversubscription, which slows
    // small models several-fold.
    cpuThreads: positiveInt.optional().describe("CPU threads per job (`OMP_NUM_THREADS`); unset lets torch use every core."),
    warmPython: z
      .boolean()
      .default(true)
      .describe(
        "Fork each job from a Python that has already imported its entry point's libraries (one per entry point and worker), instead of starting a fresh interpreter that imports torch, transformers and TRL each time (3.5 to 8 s of CPU per job); false starts every job fresh.",
      ),
    pricePerHour: z
      .number()
      .nonnegative()
      .optional()
      .describe("USD per hour of the machine running the jobs (e.g. the worker's EC2 instance), to price their wall time; unset: timed, not priced."),
    priceSource: PriceSource.optional().describe('Where `pricePerHour` comes from and its date, shown beside every cost (costs are estimates).'),
    sharding: shardingConfig({ requestsPerShard: 50_000, concurrency: 2 }).describe(
      'Generation split into shards, each a job of its own (docs/operations.md, "Sharded generation").',
    ),
  })
  .strict()
  .describe("Runs jobs as child processes on the worker's machine.");

/** An S3 URI (`s3://bucket/prefix`); SageMaker reads and writes only S3. */
const S3Uri = z
  .string()
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/, 'an s3:// URI (s3://bucket/prefix)')
  .superRefine((s, ctx) => {
    // Jobs write under these: a ".." segment would put their objects outside the prefix named.
    const problem = s3UriKeyProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; use an s3:// URI whose key names its folders (s3://bucket/prefix)` });
  });
/** SageMaker instance types (`ml.g5.2xlarge`). */
const InstanceType = z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, 'a SageMaker instance type such as ml.g5.2xlarge');
/** An ECR image URI with a tag or digest; SageMaker pulls training images from ECR only. */
const EcrImageUri = z
  .string()
  .regex(
    /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._\/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/,
    'an ECR image URI such as 763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:<tag>',
  );

/**
 * Runs jobs as SageMaker training jobs (activities/jobs/sagemaker-runner.ts): the same jobs/ entry points,
 * packaged as a script-mode source directory, on the images and instances below.
 */
export const SageMakerBackend = z
  .object({
    kind: z.literal('sagemaker').describe('Jobs run as SageMaker training jobs.'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'an AWS region such as us-east-1')
      .describe('The AWS region of the SageMaker jobs (`storage.region` must match it on AWS S3).'),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_\/-]{1,512}$/, 'an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>')
      .describe('The execution role SageMaker assumes inside the job (reads channels, writes outputs and checkpoints).'),
    images: z
      .object({
        generation: EcrImageUri.describe('The image of `generate.py`: one with vLLM (or transformers).'),
        training: EcrImageUri.describe('The image of `train_dpo.py` and `train_sft.py`: a Hugging Face PyTorch training image.'),
      })
      .strict()
      .describe('ECR image URIs, with a tag or digest.'),
    // The jobs run as one process on one GPU: multi-GPU training is not wired yet.
    instanceTypes: z
      .object({
        generation: InstanceType.describe('The instance type of generation jobs, e.g. `ml.g5.2xlarge`.'),
        training: InstanceType.describe('The instance type of training jobs, e.g. `ml.g5.2xlarge`.'),
      })
      .strict()
      .describe('SageMaker instance types per kind of job.'),
    instanceCount: positiveInt.max(64).default(1).describe('Instances per job.'),
    volumeSizeGB: positiveInt.max(16384).default(100).describe('The ML storage volume per instance, in GB.'),
    maxRuntimeHours: z
      .number()
      .positive()
      .max(28 * 24)
      .default(24)
      .describe('`MaxRuntimeInSeconds`: SageMaker stops a job that runs longer, and the job fails without retry.'),
    // train_dpo resumes from the checkpoint folder.
    spot: z
      .object({
        enabled: z.boolean().default(false).describe('Use managed spot training: cheaper, interruptible.'),
        maxWaitHours: z
          .number()
          .positive()
          .max(28 * 24)
          .optional()
          .describe('`MaxWaitTimeInSeconds`: running plus waiting for spot capacity; required with spot, at least `maxRuntimeHours`.'),
        checkpointUri: S3Uri.optional().describe(
          'Where `/opt/ml/checkpoints` is synced, one folder per job (default `s3://<storage.bucket>/<storage.prefix>/checkpoints/`).',
        ),
      })
      .strict()
      .prefault({})
      .describe('Managed spot training.'),
    vpc: z
      .object({
        subnets: z
          .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id (subnet-...)'))
          .min(1)
          .max(16)
          .describe('The subnets of the jobs.'),
        securityGroupIds: z
          .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id (sg-...)'))
          .min(1)
          .max(5)
          .describe('The security groups of the jobs.'),
      })
      .strict()
      .optional()
      .describe('Run the jobs in your VPC (default: no VPC).'),
    kmsKeyId: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .describe("KMS key (id, ARN or alias) for the job's output objects and its ML storage volume (default: S3's default key)."),
    tags: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .superRefine((t, ctx) => {
        for (const key of Object.keys(t)) {
          if (key.startsWith('aws:')) ctx.addIssue({ code: 'custom', path: [key], message: 'tag keys starting with "aws:" are reserved' });
        }
        if (Object.keys(t).length > 49) ctx.addIssue({ code: 'custom', message: 'at most 49 tags (SageMaker allows 50; judgeloop adds judgeloop:job)' });
      })
      .optional()
      .describe('Tags on every job, besides `judgeloop:job` (at most 49; keys starting with `aws:` are reserved).'),
    codeUri: S3Uri.optional().describe(
      'Where `jobs/` is uploaded as `<content hash>/sourcedir.tar.gz` (default `s3://<storage.bucket>/<storage.prefix>/code/`).',
    ),
    pricesPerHour: z
      .record(z.string(), z.number().nonnegative())
      .superRefine((prices, ctx) => {
        // Checked here rather than as the record's key schema, whose error would not say what a key should be.
        for (const key of Object.keys(prices)) {
          if (!InstanceType.safeParse(key).success) ctx.addIssue({ code: 'custom', path: [key], message: 'a SageMaker instance type such as ml.g5.2xlarge' });
        }
      })
      .optional()
      .describe('USD per instance-hour by instance type, for the cost recorded per job; a type without a price gets no cost.'),
    priceSource: PriceSource.optional().describe('Where `pricesPerHour` comes from and its date, shown beside every cost (costs are estimates).'),
    sharding: shardingConfig({ requestsPerShard: 10_000, concurrency: 4 }).describe(
      'Generation split into shards, each a SageMaker job of its own (docs/aws.md, "Several shards, several jobs").',
    ),
    pollSeconds: positiveInt
      .max(300)
      .default(15)
      .describe('Seconds between `DescribeTrainingJob` polls (each poll heartbeats); below `timeouts.heartbeatTimeoutSeconds`.'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (!b.spot.enabled) return;
    if (b.spot.maxWaitHours === undefined) {
      ctx.addIssue({ code: 'custom', path: ['spot', 'maxWaitHours'], message: `required when spot.enabled is true (at least maxRuntimeHours, ${b.maxRuntimeHours})` });
    } else if (b.spot.maxWaitHours < b.maxRuntimeHours) {
      ctx.addIssue({
        code: 'custom',
        path: ['spot', 'maxWaitHours'],
        message: `must be at least maxRuntimeHours (${b.maxRuntimeHours}): SageMaker's MaxWaitTimeInSeconds counts the run time too`,
      });
    }
  })
  .describe('Runs jobs as SageMaker training jobs (docs/aws.md).');

export const BackendConfig = z.discriminatedUnion('kind', [LocalBackend, SageMakerBackend]);
export type LocalBackend = z.output<typeof LocalBackend>;
export type SageMakerBackend = z.output<typeof SageMakerBackend>;

export const ActivityTimeouts = z
  .object({
    heartbeatTimeoutSeconds: positiveInt
      .default(30)
      .describe('A job activity that stops heartbeating for this long is retried (on another worker if this one died).'),
    jobTimeoutMinutes: positiveInt
      .default(24 * 60)
      .describe('Upper bound for one job activity (generation or training), including waiting for an adopted job.'),
  })
  .strict();

export const StorageConfig = z
  .object({
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3 to 63 lowercase letters, digits, "." and "-"')
      .describe("The S3 bucket of the runs, the jobs' files and the judge registry."),
    // core/run/artifacts.ts; checked so that no key lands outside it.
    prefix: z
      .string()
      .superRefine((p, ctx) => {
        const problem = storagePrefixProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('runs')
      .transform((p) => p.replace(/^\/+|\/+$/g, ''))
      .describe('Every key of every run starts with it (leading and trailing `/` are dropped).'),
    endpoint: z
      .string()
      .url('an http(s) URL such as http://127.0.0.1:9000 (omit it for AWS S3)')
      .optional()
      .describe("An S3-compatible endpoint such as the local stack's; unset: the worker's `JUDGELOOP_S3_ENDPOINT`, else AWS S3."),
    region: z.string().default('us-east-1').describe('The S3 region.'),
    forcePathStyle: z.boolean().default(true).describe('Path-style addressing (needed by local S3 servers).'),
  })
  .strict();

/**
 * A ceiling on what the run's jobs may use (core/run/usage.ts). Checked before each job starts: once the jobs
 * already finished (failed SageMaker jobs included) reach a limit, no further job starts and the run fails
 * with BudgetExceeded. A job that has started runs to its end, so the total can pass a limit by one job;
 * backend.maxRuntimeHours bounds that one job.
 */
export const BudgetConfig = z
  .object({
    maxUsd: z
      .number()
      .positive()
      .optional()
      .describe("Stop starting jobs once the run's jobs have cost this many USD; needs a price for every job (`backend.pricesPerHour`, or the local `backend.pricePerHour`)."),
    maxJobHours: z
      .number()
      .positive()
      .optional()
      .describe("Stop starting jobs once the run's jobs have used this many billed instance-hours (SageMaker billable time × instances; local wall time)."),
  })
  .strict();

/**
 * The optional seed step (docs/method.md, "Warm start"): before iteration 0, the seed model is fine-tuned
 * (SFT) on reference judgments — rows whose `meta.reference_judgments` hold a strong judge's rationales and
 * scores (Prometheus' GPT-4 feedback) — as the paper's M0 is an instruct model fine-tuned on judge data. The
 * job is addressed by its inputs like every job, so a rerun or another config with the same warm start reuses it.
 */
export const WarmStartConfig = z
  .object({
    data: DatasetSource.describe(
      "Rows with reference judgments (`meta.reference_judgments`) to fine-tune the seed model on; not an evaluation suite's file.",
    ),
    judgmentsPerRow: positiveInt.optional().describe('Reference judgments used per row (default: all).'),
    epochs: z.number().positive().default(1).describe("The SFT job's epochs."),
    learningRate: z.number().positive().default(1e-5).describe("The SFT job's learning rate."),
    batchSize: positiveInt.optional().describe("The SFT job's batch size (default: `training.batchSize`)."),
    maxLength: positiveInt.optional().describe("The SFT job's maximum length in tokens (default: `training.maxLength`)."),
  })
  .strict();

/**
 * Experiment tracking (docs/tracking.md): each run becomes an MLflow run with a child run per iteration. A
 * tracker that cannot be reached never fails a run: the iteration logs a warning, the run report says what was
 * not tracked, and `judgeloop track <run id>` sends the records again.
 */
export const MlflowTrackingConfig = z
  .object({
    trackingUri: z
      .string()
      .refine(
        (u) => /^https?:\/\/[^\s/]+/.test(u) || /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(mlflow-tracking-server|mlflow-app)\/[A-Za-z0-9-]+$/.test(u),
        'an http(s) URL of an MLflow tracking server (http://127.0.0.1:5000), or the ARN of a SageMaker managed MLflow (arn:aws:sagemaker:REGION:ACCOUNT:mlflow-tracking-server/NAME)',
      )
      .optional()
      .describe(
        "The MLflow tracking server: its URL, or a SageMaker managed MLflow's ARN (requests signed with the worker's AWS credentials); unset: the worker's `MLFLOW_TRACKING_URI` (the local stack sets it).",
      ),
    experiment: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .describe('The MLflow experiment of the runs (created when missing); default `judgeloop/<judge.name>`.'),
    trainingCurves: z
      .boolean()
      .default(true)
      .describe("Training jobs log their loss curves into the iteration's MLflow run (transformers' MLflow callback, as TRL's `report_to`)."),
    requestTimeoutSeconds: positiveInt
      .max(120)
      .default(10)
      .describe('One request to the tracking server may take this long before the tracker counts as unreachable.'),
  })
  .strict();

export const TrackingConfig = z
  .object({
    mlflow: MlflowTrackingConfig.optional().describe('Track runs in MLflow; default: not tracked.'),
  })
  .strict();

export const RunConfig = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lowercase letters, digits and "-", at most 31')
      .describe('Human name of this pipeline: part of the default run id and of workflow ids, and a search attribute.'),
    judge: JudgeConfig.describe('The judge being improved: its seed model, prompt templates, score format and decoding.'),
    data: DataConfig.describe('The training set, the evaluation suites and the checks on them.'),
    loop: LoopConfig.prefault({}).describe('The self-rationalization loop: iterations, inputs, sampling and pair curation.'),
    training: TrainingConfig.prefault({}).describe('How each iteration fine-tunes the judge on its pairs (DPO, or SFT as a control).'),
    evaluation: EvaluationConfig.prefault({}).describe('Confidence intervals, inference-time baselines and the promotion gate.'),
    backend: BackendConfig.prefault({ kind: 'local' }).describe('Where jobs run: `local` child processes or `sagemaker` training jobs (docs/aws.md).'),
    timeouts: ActivityTimeouts.prefault({}).describe('Time limits of the job activities.'),
    storage: StorageConfig.describe("The S3 bucket (or S3-compatible server) that holds the runs' artifacts."),
    // core/promotion/gate-config.ts, activities/steps/registry.ts
    registry: RegistryConfig.prefault({}).describe('The judge registry in S3: champion, history and lineage of each judge.'),
    budget: BudgetConfig.optional().describe("A ceiling on what the run's jobs may use, checked before each job starts (default: no limit)."),
    // A job's inputs: entry point, parameters, jobs/ code, channel contents.
    reuse: z
      .object({
        acrossRuns: z
          .boolean()
          .default(true)
          .describe('Take the outputs of a job (and copy those of a data step) whose inputs match one that finished in an earlier run under `storage.prefix`, instead of running it.'),
      })
      .strict()
      .prefault({})
      .describe('Reuse of finished jobs across runs.'),
    // core/config/schedule.ts
    schedule: ScheduleConfig.optional().describe('When a Temporal Schedule starts this config (`judgeloop schedule create`); default: not scheduled.'),
    warmStart: WarmStartConfig.optional().describe('SFT of the seed model on reference judgments before iteration 0 (docs/method.md, "Warm start"); default: none.'),
    // activities/steps/track.ts, docs/tracking.md
    tracking: TrackingConfig.optional().describe('Experiment tracking (MLflow): a run per run, a child run per iteration; default: off.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Data URIs may be dated templates ({date}, {yyyy}…), filled from the run's scheduled time.
    const sources: Array<[(string | number)[], string | undefined]> = [
      [['data', 'train', 'uri'], c.data.train.uri],
      [['data', 'train', 'join'], c.data.train.join],
      ...c.data.evalSuites.flatMap((s, i): Array<[(string | number)[], string | undefined]> => [
        [['data', 'evalSuites', i, 'uri'], s.uri],
        [['data', 'evalSuites', i, 'join'], s.join],
      ]),
      [['warmStart', 'data', 'uri'], c.warmStart?.data.uri],
      [['warmStart', 'data', 'join'], c.warmStart?.data.join],
    ];
    for (const [path, uri] of sources) {
      const unknown = uri === undefined ? [] : unknownPlaceholders(uri);
      if (unknown.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{${u}}`).join(', ')}: a dated location may use ${DATE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        });
      }
    }
  })
  .superRefine(checkGateAgainstSuites)
  .superRefine((c, ctx) => {
    // The warm start trains the judge on reference judgments: never on a suite that reports or selects it.
    const source = c.warmStart?.data.uri;
    const suite = c.data.evalSuites.find((s) => s.uri === source);
    if (suite) {
      ctx.addIssue({ code: 'custom', path: ['warmStart', 'data', 'uri'], message: `is evaluation suite "${suite.name}"'s file: the warm start would train on what the run evaluates` });
    }
  })
  .superRefine((c, ctx) => {
    // A dollar ceiling over jobs that have no price would never stop anything.
    if (c.budget?.maxUsd === undefined) return;
    const unpriced =
      c.backend.kind === 'local'
        ? c.backend.pricePerHour === undefined
          ? ['backend.pricePerHour']
          : []
        : [...new Set([c.backend.instanceTypes.generation, c.backend.instanceTypes.training])]
            .filter((t) => c.backend.kind === 'sagemaker' && c.backend.pricesPerHour?.[t] === undefined)
            .map((t) => `backend.pricesPerHour["${t}"]`);
    if (unpriced.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'maxUsd'],
        message: `needs a price for every job: set ${unpriced.join(' and ')}, or cap time with budget.maxJobHours instead`,
      });
    }
  })
  .superRefine((c, ctx) => {
    // A training job reads and writes S3 only in its own region (AWS S3; a custom endpoint is the user's call).
    if (c.backend.kind === 'sagemaker' && c.storage.endpoint === undefined && c.storage.region !== c.backend.region) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 'region'],
        message: `is ${c.storage.region}, but SageMaker jobs read and write S3 in their own region, backend.region ${c.backend.region}: use a bucket there and set storage.region to match`,
      });
    }
  })
  .superRefine((c, ctx) => {
    // Every poll heartbeats: a poll interval at or above the heartbeat timeout would time out healthy jobs.
    if (c.backend.kind === 'sagemaker' && c.backend.pollSeconds >= c.timeouts.heartbeatTimeoutSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['backend', 'pollSeconds'],
        message: `must be below timeouts.heartbeatTimeoutSeconds (${c.timeouts.heartbeatTimeoutSeconds}); lower it or raise the timeout`,
      });
    }
  })
  .superRefine((c, ctx) => {
    // The A/B verdict is decoded with generate.py's `choices`, which only the transformers backend supports.
    if (c.judge.decoding.backend !== 'vllm') return;
    c.data.evalSuites.forEach((s, i) => {
      if (s.kind === 'pairwise' && pairwiseMode(s) !== 'pointwise') {
        ctx.addIssue({
          code: 'custom',
          path: ['data', 'evalSuites', i, 'mode'],
          message: `mode "${pairwiseMode(s)}" decodes an A/B verdict, which needs the transformers backend; judge.decoding.backend is "vllm" (use "auto" or "transformers")`,
        });
      }
    });
    // The re-score continues an assistant prefix (generate.py's `assistant_prefix`): transformers only, too.
    if (c.loop.pairing.consistencyFilter) {
      ctx.addIssue({
        code: 'custom',
        path: ['loop', 'pairing', 'consistencyFilter'],
        message: 'the re-score continues the judge\'s own rationale, which needs the transformers backend; judge.decoding.backend is "vllm" (use "auto" or "transformers")',
      });
    }
  });

export type RunConfigInput = z.input<typeof RunConfig>;
export type RunConfig = z.output<typeof RunConfig>;
export type WarmStartConfig = z.output<typeof WarmStartConfig>;
export type EvalSuite = z.output<typeof EvalSuite>;
export type BudgetConfig = z.output<typeof BudgetConfig>;
export type DatasetSource = z.output<typeof DatasetSource>;
export type PairwiseMode = (typeof PAIRWISE_MODES)[number];

/** A suite's pairwise mode (`pointwise` when unset, and for pointwise suites). */
export function pairwiseMode(suite: { kind: string; mode?: PairwiseMode }): PairwiseMode {
  return suite.kind === 'pairwise' ? (suite.mode ?? 'pointwise') : 'pointwise';
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: RunConfig } | { ok: false; problems: ConfigProblem[] };

/**
 * One issue's message, completed so that it says what to do: zod's bounds and types get the value that
 * was given (short primitives only), an unknown key gets the usual cause, a missing section says so.
 */
function explainIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${issue.message}: check its spelling (keys are case-sensitive) or remove it`;
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type' && input === undefined) return `required (expected ${issue.expected})`;
  const shown = typeof input === 'number' || typeof input === 'boolean' || (typeof input === 'string' && input.length <= 60);
  if (shown && ['too_small', 'too_big', 'invalid_type', 'invalid_value', 'invalid_format', 'not_multiple_of'].includes(issue.code)) {
    return `${issue.message} (got ${JSON.stringify(input)})`;
  }
  return issue.message;
}

/** Validates a raw config and lists every problem by its path (e.g. `loop.samplesPerInput`). */
export function validateConfig(raw: unknown): ConfigResult {
  // reportInput: the issues carry the value given, which explainIssue quotes.
  const parsed = RunConfig.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => ({
      path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
      message: explainIssue(issue),
    })),
  };
}

export function formatConfigProblems(problems: ConfigProblem[], source = 'config'): string {
  return [`${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):`]
    .concat(problems.map((p) => `  - ${p.path}: ${p.message}`))
    .join('\n');
}
