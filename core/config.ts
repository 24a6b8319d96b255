/**
 * The run configuration: one zod schema is the source of truth for a self-rationalization run.
 *
 * Pure and deterministic: imported by workflows (validation happens inside the workflow too, so a run
 * started from the Temporal CLI with a bad config fails fast instead of retrying a workflow task forever).
 */
import { z } from 'zod';
import { DATE_PLACEHOLDERS, ScheduleConfig, unknownPlaceholders } from './schedule';
import { ADAPTER_NAMES, JOIN_ADAPTERS, adapterJoinNeed } from './adapters';
import { GateConfig, RegistryConfig, checkGateAgainstSuites } from './gate-config';
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
    /** Registry name of the judge being improved; also a search attribute in the Temporal UI. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63'),
    /** The seed judge M0: a Hugging Face model directory (local path or s3:// prefix). */
    seedModel: SourceUri,
    /** Versioned prompt template file for pointwise judging. */
    promptTemplate: z.string().min(1).default('prompts/pointwise-v1.txt'),
    /** Versioned prompt template file for relative (A/B) judging of pairwise suites in `relative`/`both` mode. */
    pairwiseTemplate: z.string().min(1).default('prompts/pairwise-v1.txt'),
    /** Where the template's system text goes: a system turn, or prepended to the user turn (Prometheus style). */
    systemPromptPlacement: z.enum(['system', 'user']).default('system'),
    scale: z
      .object({ min: z.number().int().min(0).default(1), max: z.number().int().max(9).default(5) })
      .prefault({})
      .refine((s) => s.min < s.max, { message: 'scale.min must be below scale.max' }),
    /** Text between the rationale and the score. */
    marker: z.string().min(1).default('[RESULT]'),
    decoding: z
      .object({
        /**
         * `free`: the judge writes what it writes, its own marker and score included; a judgment without a
         * valid score is unparseable. `forced`: the judgment grammar is enforced, and after
         * `maxRationaleTokens` the marker and a valid score are forced (a judge that cannot yet write the
         * format, e.g. the tiny random judge). Every judgment records whether its marker was the model's own.
         */
        mode: z.enum(['free', 'forced']).default('free'),
        /** The rationale's token budget in `forced` mode; the marker and score are forced after it. */
        maxRationaleTokens: positiveInt.default(256),
        /** `free` mode: new tokens per judgment, end-of-turn included (default maxRationaleTokens + 16). */
        maxNewTokens: positiveInt.optional(),
        backend: z.enum(['auto', 'transformers', 'vllm']).default('auto'),
        batchSize: positiveInt.default(16),
        /**
         * Prompts longer than this many tokens are truncated from the left by the generation job. With the
         * judgment's budget it must fit in training.maxLength (core/token-budgets.ts): 3072 + 256 + 16 ≤ 4096.
         */
        maxPromptTokens: positiveInt.default(3072),
      })
      .prefault({}),
  })
  .strict();

export const DatasetSource = z
  .object({
    uri: SourceUri,
    adapter: AdapterName.default('canonical'),
    /** Read at most this many valid rows (in file order). */
    limit: positiveInt.optional(),
    /**
     * A second file joined by id to `uri`, for adapters that need one (biggen: `uri` = the BiGGen instances,
     * `join` = the results rows {id, response, score}; each results row becomes one example).
     */
    join: SourceUri.optional(),
  })
  .strict();

/**
 * How a pairwise suite is judged: `pointwise` scores both responses with the pointwise template and compares
 * the scores; `relative` asks for a verdict A or B with `judge.pairwiseTemplate`, each pair in both orders;
 * `both` does the two.
 */
export const PAIRWISE_MODES = ['pointwise', 'relative', 'both'] as const;

export const EvalSuite = DatasetSource.extend({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and "-", at most 41'),
  kind: z.enum(['pointwise', 'pairwise']),
  /** Pairwise suites only; absent means `pointwise` (see `pairwiseMode`). */
  mode: z.enum(PAIRWISE_MODES).optional(),
  /**
   * The field whose value groups the suite's metrics: `subset`, or `meta.<key>` (e.g. `meta.capability`,
   * `meta.task`). Default: `subset` for pairwise suites, `meta.capability` for pointwise ones (BiGGen's
   * capability); rows without the field count only in the suite's overall figures.
   */
  groupBy: z
    .string()
    .regex(/^(subset|meta\.[A-Za-z0-9_-]+)$/, '"subset" or "meta.<key>", e.g. "meta.capability"')
    .optional(),
  /**
   * false: reported, but not checked by the promotion gate's no-drop and parse-floor rules (e.g. a suite too
   * small to tell a drop from chance). Absent means true. On the suite itself, so a config that replaces the
   * suites (`extends`) never names a gated suite it no longer has.
   */
  gate: z.boolean().optional(),
  /**
   * `validation`: the promotion gate decides on it (selection); `test`: reported for every iteration, never
   * gated on. Once any suite is `validation`, only validation suites are gated, so the figures reported on
   * test suites are not the ones that picked the model. Absent means `test`; a config without any validation
   * suite gates on every suite without `gate: false` (selection and reporting then share data).
   */
  role: z.enum(['validation', 'test']).optional(),
}).strict();

export const DataConfig = z
  .object({
    train: DatasetSource,
    evalSuites: z.array(EvalSuite).min(1),
    /** Fail the run when more than this fraction of a dataset's rows is invalid (they are quarantined either way). */
    maxInvalidFraction: z.number().min(0).max(1).default(0.1),
    /** Training inputs that also appear in an evaluation suite (docs/method.md, "Contamination check"). */
    contamination: z
      .object({
        /** Compute the check after ingest and write data/contamination.json. */
        check: z.boolean().default(true),
        /** Drop the flagged training rows (counted in the report and the prepare summary). Needs check. */
        exclude: z.boolean().default(false),
        /** Word 5-gram Jaccard similarity of instruction+response at or above which a pair is a near-duplicate. */
        nearDuplicateThreshold: z.number().gt(0).max(1).default(0.8),
      })
      .strict()
      .prefault({})
      .refine((c) => c.check || !c.exclude, { message: 'exclude needs check: true', path: ['exclude'] }),
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
    name: z.literal('gold_margin'),
    /** Rejected judgments must differ from the gold score by at least this much (the paper: 2 beats 1); or one per iteration. */
    margin: perIteration(positiveInt, '[2, 1]').default(2),
    maxPairsPerInput: positiveInt.default(4),
  })
  .strict();

export const MajorityVoteStrategy = z
  .object({
    name: z.literal('majority_vote'),
    /** Rejected judgments must differ from the samples' majority score by at least this much; or one per iteration. */
    margin: perIteration(positiveInt, '[2, 1]').default(2),
    maxPairsPerInput: positiveInt.default(4),
    /** The majority must hold at least this share of an input's parsed samples, else the input gets no pair. */
    minMajorityShare: z.number().gt(0).max(1).default(0.5),
  })
  .strict();

export const MetaJudgeStrategy = z
  .object({
    name: z.literal('meta_judge'),
    /** Template with which the judge rates its own sampled rationales (prompts/meta-judge-v1.txt). */
    template: z.string().min(1).default('prompts/meta-judge-v1.txt'),
    /**
     * Ratings per judgment, sampled at `ratingTemperature`; a judgment's rating is their mean. 1 at
     * temperature 0 is one greedy rating (a weak judge then tends to give every judgment the same one).
     */
    ratingSamples: positiveInt.max(16).default(4),
    ratingTemperature: z.number().min(0).max(2).default(1.0),
    /** Chosen's mean rating must exceed rejected's by at least this much (the meta-judge's 1–5 scale); or one per iteration. */
    margin: perIteration(z.number().positive().max(4), '[1, 0.5]').default(1),
    maxPairsPerInput: positiveInt.default(4),
  })
  .strict()
  .refine((s) => s.ratingSamples === 1 || s.ratingTemperature > 0, {
    message: 'ratingSamples > 1 needs ratingTemperature > 0 (greedy ratings are all the same)',
    path: ['ratingTemperature'],
  });

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
      }),
    /** Pair hygiene (docs/method.md, "Pair hygiene"): each switch is applied after the strategies and its drops are reported. */
    hygiene: z
      .object({
        /** Drop pairs whose chosen and rejected are the same text after truncation to training.maxLength. */
        dropIdenticalAfterTruncation: z.boolean().default(true),
        /** Subsample so that every gold score level contributes the same number of pairs. */
        balanceGoldLevels: z.boolean().default(false),
        /** Drop pairs whose |chosen - rejected| length in characters exceeds this (DPO learns length bias). */
        maxLengthDifference: positiveInt.optional(),
      })
      .strict()
      .prefault({}),
    /**
     * Rationale–score consistency: re-score each sampled rationale greedily (the judge reads its own
     * rationale and writes only the score) and drop samples whose re-score disagrees with their own score.
     */
    consistencyFilter: z.boolean().default(false),
    /**
     * The first iteration the filter applies to. A random or weak seed judge re-scores nearly every rationale
     * alike, so the filter keeps only samples with that one score and no pair survives; start it once the
     * judge has learned something (e.g. 2).
     */
    consistencyFromIteration: positiveInt.default(1),
  })
  .strict();

/** Whether iteration `iteration` re-scores its samples and filters them (loop.pairing.consistencyFilter). */
export function consistencyFilterActive(config: { loop: { pairing: { consistencyFilter: boolean; consistencyFromIteration: number } } }, iteration: number): boolean {
  return config.loop.pairing.consistencyFilter && iteration >= config.loop.pairing.consistencyFromIteration;
}

export const LoopConfig = z
  .object({
    /**
     * Training iterations after iteration 0. 0: an evaluate-only run, which evaluates the starting judge on
     * every suite (iteration 0) and ends (baselines, larger judges).
     */
    iterations: z.number().int().min(0).max(20).default(2),
    /**
     * Training inputs sampled per iteration, or one count per iteration (the paper: [5000, 500]; the last one
     * repeats; core/per-iteration.ts). Capped by the training set.
     */
    inputsPerIteration: perIteration(positiveInt, '[5000, 500]').default(5000),
    /** The older spelling of a per-iteration inputsPerIteration, e.g. [5000, 500]; overrides it; the last one repeats. */
    inputsSchedule: z.array(positiveInt).min(1).optional(),
    /** Whether an iteration may draw inputs that an earlier iteration of the run already used. */
    reuseInputs: z.boolean().default(true),
    /** N: judgments sampled per input, or one N per iteration (e.g. [8, 16]). */
    samplesPerInput: perIteration(positiveInt.max(64), '[8, 16]').default(8),
    /** T: the sampling temperature, or one per iteration (e.g. [1.0, 1.2]). */
    temperature: perIteration(z.number().positive().max(2), '[1.0, 1.2]').default(1.0),
    seed: nonNegativeInt.default(0),
    pairing: PairingConfig.prefault({}),
  })
  .strict()
  .superRefine(checkScheduleLengths);

export const TrainingConfig = z
  .object({
    /** `dpo`, or `sft`: the control that fine-tunes on the chosen judgments only (rejection sampling). */
    method: z.enum(['dpo', 'sft']).default('dpo'),
    beta: z.number().positive().default(0.1),
    /**
     * Weight of a negative log-likelihood term on the chosen judgment added to the DPO loss (RPO: Pang et
     * al. 2024). 0, the default, is the paper's pure DPO.
     */
    rpoAlpha: z.number().min(0).max(100).default(0),
    /**
     * What DPO trains on: `sampled`, the token ids the judge sampled (pairs carry them; docs/method.md,
     * "Train"), or `text`, the trainer's own tokenization of the judgment text (the behaviour before ids
     * were recorded, kept for the tiny judge whose learning settings were tuned on it: docs/results.md).
     */
    tokenIds: z.enum(['sampled', 'text']).default('sampled'),
    epochs: z.number().positive().default(1),
    learningRate: z.number().positive().default(5e-7),
    batchSize: positiveInt.default(8),
    gradientAccumulationSteps: positiveInt.default(1),
    /** Prompt plus completion, in tokens; longer pairs are truncated (prompt from the left). */
    maxLength: positiveInt.default(4096),
    lora: z
      .object({
        enabled: z.boolean().default(false),
        r: positiveInt.default(16),
        alpha: positiveInt.default(32),
        dropout: z.number().min(0).max(1).default(0.05),
      })
      .strict()
      .prefault({}),
    seed: nonNegativeInt.default(0),
    /**
     * Optimizer steps between checkpoints, when the job has a checkpoint folder (local jobs always; SageMaker
     * with managed spot). A spot interruption or a killed local job costs at most this many steps.
     */
    checkpointSteps: positiveInt.default(50),
  })
  .strict();

export const EvaluationConfig = z
  .object({
    bootstrap: z
      .object({
        /** Resamples per interval; 0 turns the intervals off. */
        resamples: nonNegativeInt.max(100_000).default(1000),
        confidence: z.number().gt(0).lt(1).default(0.95),
      })
      .strict()
      .prefault({}),
    /**
     * Inference-time baselines (docs/method.md, "Evaluation protocol"): N extra samples per evaluation request at
     * `temperature`, scored as one sample, self-consistency (mode of N), mean of N and best-of-N (highest
     * sequence log-probability), beside the greedy score. 0 turns them off.
     */
    baselines: z
      .object({
        samples: nonNegativeInt.max(64).default(0),
        temperature: z.number().gt(0).max(10).default(1.0),
      })
      .strict()
      .prefault({}),
    /** The promotion gate: does an iteration's judge replace the champion? (core/gate.ts, core/gate-config.ts) */
    gate: GateConfig.prefault({}),
  })
  .strict();

export const LocalBackend = z
  .object({
    kind: z.literal('local'),
    /** Python interpreter that runs jobs/ entry points (relative to the project root). */
    python: z.string().default('.venv/bin/python'),
    /** Where the local runner keeps job folders (channels, outputs, logs). */
    workDir: z.string().default('.judgeloop/jobs'),
    /**
     * CPU threads per job (OMP_NUM_THREADS). Unset lets torch use every core; on a small machine that runs
     * the worker and the services too, 1 avoids oversubscription, which slows small models several-fold.
     */
    cpuThreads: positiveInt.optional(),
    /**
     * What an hour of this machine costs in USD (e.g. the EC2 instance the worker runs on), to price local
     * jobs' wall time in the usage records and the run's cost; unset: local jobs are timed, not priced.
     */
    pricePerHour: z.number().nonnegative().optional(),
  })
  .strict();

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
    kind: z.literal('sagemaker'),
    region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, 'an AWS region such as us-east-1'),
    /** The execution role SageMaker assumes inside the job (reads channels, writes outputs and checkpoints). */
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_\/-]{1,512}$/, 'an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>'),
    /** Generation needs an image with vLLM (or transformers); training a Hugging Face PyTorch training image. */
    images: z.object({ generation: EcrImageUri, training: EcrImageUri }).strict(),
    instanceTypes: z.object({ generation: InstanceType, training: InstanceType }).strict(),
    instanceCount: positiveInt.max(64).default(1),
    volumeSizeGB: positiveInt.max(16384).default(100),
    /** MaxRuntimeInSeconds: SageMaker stops a job that runs longer (28 days at most). */
    maxRuntimeHours: z.number().positive().max(28 * 24).default(24),
    /** Managed spot training: cheaper, interruptible; train_dpo resumes from the checkpoint folder. */
    spot: z
      .object({
        enabled: z.boolean().default(false),
        /** MaxWaitTimeInSeconds: running plus waiting for spot capacity; at least maxRuntimeHours. */
        maxWaitHours: z.number().positive().max(28 * 24).optional(),
        /** Where /opt/ml/checkpoints is synced (one sub-folder per job); default `s3://<bucket>/<prefix>/checkpoints/`. */
        checkpointUri: S3Uri.optional(),
      })
      .strict()
      .prefault({}),
    vpc: z
      .object({
        subnets: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id (subnet-...)')).min(1).max(16),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id (sg-...)')).min(1).max(5),
      })
      .strict()
      .optional(),
    /** KMS key (id, ARN or alias) for the job's output objects and its ML storage volume. */
    kmsKeyId: z.string().min(1).max(2048).optional(),
    tags: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .superRefine((t, ctx) => {
        for (const key of Object.keys(t)) {
          if (key.startsWith('aws:')) ctx.addIssue({ code: 'custom', path: [key], message: 'tag keys starting with "aws:" are reserved' });
        }
        if (Object.keys(t).length > 49) ctx.addIssue({ code: 'custom', message: 'at most 49 tags (SageMaker allows 50; judgeloop adds judgeloop:job)' });
      })
      .optional(),
    /** Prefix receiving `<content hash>/sourcedir.tar.gz`; default `s3://<storage.bucket>/<storage.prefix>/code/`. */
    codeUri: S3Uri.optional(),
    /** USD per instance-hour by instance type, for the cost recorded per job; a type without a price gets cost null. */
    pricesPerHour: z
      .record(z.string(), z.number().nonnegative())
      .superRefine((prices, ctx) => {
        // Checked here rather than as the record's key schema, whose error would not say what a key should be.
        for (const key of Object.keys(prices)) {
          if (!InstanceType.safeParse(key).success) ctx.addIssue({ code: 'custom', path: [key], message: 'a SageMaker instance type such as ml.g5.2xlarge' });
        }
      })
      .optional(),
    /** Seconds between DescribeTrainingJob polls (each poll heartbeats); below timeouts.heartbeatTimeoutSeconds. */
    pollSeconds: positiveInt.max(300).default(15),
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
  });

export const BackendConfig = z.discriminatedUnion('kind', [LocalBackend, SageMakerBackend]);
export type LocalBackend = z.output<typeof LocalBackend>;
export type SageMakerBackend = z.output<typeof SageMakerBackend>;

export const ActivityTimeouts = z
  .object({
    /** A job activity that stops heartbeating for this long is retried (on another worker if this one died). */
    heartbeatTimeoutSeconds: positiveInt.default(30),
    /** Upper bound for one job (generation or training), including waiting for an adopted job. */
    jobTimeoutMinutes: positiveInt.default(24 * 60),
  })
  .strict();

export const StorageConfig = z
  .object({
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3 to 63 lowercase letters, digits, "." and "-"'),
    /** Every key of every run starts with it (core/artifacts.ts); checked so that none lands outside it. */
    prefix: z
      .string()
      .superRefine((p, ctx) => {
        const problem = storagePrefixProblem(p);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default('runs')
      .transform((p) => p.replace(/^\/+|\/+$/g, '')),
    /** S3-compatible endpoint (the local stack's); omit for AWS S3. */
    endpoint: z.string().url('an http(s) URL such as http://127.0.0.1:9000 (omit it for AWS S3)').optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(true),
  })
  .strict();

/**
 * A ceiling on what the run's jobs may use (core/usage.ts). Checked before each job starts: once the jobs
 * already finished (failed SageMaker jobs included) reach a limit, no further job starts and the run fails
 * with BudgetExceeded. A job that has started runs to its end, so the total can pass a limit by one job;
 * backend.maxRuntimeHours bounds that one job.
 */
export const BudgetConfig = z
  .object({
    /** USD of priced jobs (backend.pricesPerHour; local: backend.pricePerHour). */
    maxUsd: z.number().positive().optional(),
    /** Billed instance-hours: SageMaker billable time × instances; local jobs' wall time. */
    maxJobHours: z.number().positive().optional(),
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
    data: DatasetSource,
    /** Reference judgments used per row (all by default). */
    judgmentsPerRow: positiveInt.optional(),
    epochs: z.number().positive().default(1),
    learningRate: z.number().positive().default(1e-5),
    /** Default: training.batchSize and training.maxLength. */
    batchSize: positiveInt.optional(),
    maxLength: positiveInt.optional(),
  })
  .strict();

export const RunConfig = z
  .object({
    /** Human name of this pipeline; part of workflow ids and a search attribute. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'lowercase letters, digits and "-", at most 31'),
    judge: JudgeConfig,
    data: DataConfig,
    loop: LoopConfig.prefault({}),
    training: TrainingConfig.prefault({}),
    evaluation: EvaluationConfig.prefault({}),
    backend: BackendConfig.prefault({ kind: 'local' }),
    timeouts: ActivityTimeouts.prefault({}),
    storage: StorageConfig,
    /** The judge registry in S3: champion, history, lineage (core/gate-config.ts, activities/registry.ts). */
    registry: RegistryConfig.prefault({}),
    budget: BudgetConfig.optional(),
    /**
     * Reuse of finished jobs across runs: a job whose inputs (entry point, parameters, jobs/ code, channel
     * contents) match one that finished under storage.prefix takes its outputs instead of running.
     */
    reuse: z.object({ acrossRuns: z.boolean().default(true) }).strict().prefault({}),
    /** When a Temporal Schedule starts this config (`judgeloop schedule create`; core/schedule.ts). */
    schedule: ScheduleConfig.optional(),
    /** SFT of the seed model on reference judgments before iteration 0 (see WarmStartConfig). */
    warmStart: WarmStartConfig.optional(),
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
