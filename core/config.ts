/**
 * The run configuration: one zod schema is the source of truth for a self-rationalization run.
 *
 * Pure and deterministic: imported by workflows (validation happens inside the workflow too, so a run
 * started from the Temporal CLI with a bad config fails fast instead of retrying a workflow task forever).
 */
import { z } from 'zod';
import { ADAPTER_NAMES } from './adapters';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** Where a dataset or model comes from: `s3://bucket/key`, or a path relative to the project root. */
export const SourceUri = z
  .string()
  .min(1)
  .refine((s) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('s3://') || s.startsWith('file://'), {
    message: 'must be an s3:// URI, a file:// URI, or a path relative to the project root',
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
        /** Cap on the rationale's length in tokens; the marker and score are forced after it. */
        maxRationaleTokens: positiveInt.default(256),
        backend: z.enum(['auto', 'transformers', 'vllm']).default('auto'),
        batchSize: positiveInt.default(16),
        /** Prompts longer than this many tokens are truncated from the left by the generation job. */
        maxPromptTokens: positiveInt.default(4096),
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
  })
  .strict();

export const EvalSuite = DatasetSource.extend({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and "-", at most 41'),
  kind: z.enum(['pointwise', 'pairwise']),
}).strict();

export const DataConfig = z
  .object({
    train: DatasetSource,
    evalSuites: z.array(EvalSuite).min(1),
    /** Fail the run when more than this fraction of a dataset's rows is invalid (they are quarantined either way). */
    maxInvalidFraction: z.number().min(0).max(1).default(0.1),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.evalSuites.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({ code: 'custom', path: ['evalSuites', i, 'name'], message: `duplicate suite name "${s.name}"` });
      }
      seen.add(s.name);
    });
  });

export const PairingConfig = z
  .object({
    strategy: z.enum(['gold_margin']).default('gold_margin'),
    /** Rejected judgments must differ from the gold score by at least this much (the paper: 2 beats 1). */
    margin: positiveInt.default(2),
    maxPairsPerInput: positiveInt.default(4),
  })
  .strict();

export const LoopConfig = z
  .object({
    iterations: z.number().int().min(1).max(20).default(2),
    /** Training inputs sampled per iteration (the paper: about 5,000 then 500). Capped by the training set. */
    inputsPerIteration: positiveInt.default(5000),
    /** N: judgments sampled per input. */
    samplesPerInput: positiveInt.max(64).default(8),
    temperature: z.number().positive().max(2).default(1.0),
    seed: nonNegativeInt.default(0),
    pairing: PairingConfig.prefault({}),
  })
  .strict();

export const TrainingConfig = z
  .object({
    method: z.enum(['dpo']).default('dpo'),
    beta: z.number().positive().default(0.1),
    /**
     * Weight of a negative log-likelihood term on the chosen judgment added to the DPO loss (RPO: Pang et
     * al. 2024). 0, the default, is the paper's pure DPO.
     */
    rpoAlpha: z.number().min(0).max(100).default(0),
    epochs: z.number().positive().default(1),
    learningRate: z.number().positive().default(5e-7),
    batchSize: positiveInt.default(8),
    gradientAccumulationSteps: positiveInt.default(1),
    /** Prompt plus completion, in tokens; longer pairs are truncated (prompt from the left). */
    maxLength: positiveInt.default(2048),
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
  })
  .strict();

export const BackendConfig = z.discriminatedUnion('kind', [LocalBackend]);

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
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._\/-]*$/, 'letters, digits, ".", "_", "-" and "/"')
      .default('runs')
      .transform((p) => p.replace(/^\/+|\/+$/g, '')),
    /** S3-compatible endpoint (the local stack's); omit for AWS S3. */
    endpoint: z.string().url().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(true),
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
    backend: BackendConfig.prefault({ kind: 'local' }),
    timeouts: ActivityTimeouts.prefault({}),
    storage: StorageConfig,
  })
  .strict();

export type RunConfigInput = z.input<typeof RunConfig>;
export type RunConfig = z.output<typeof RunConfig>;
export type EvalSuite = z.output<typeof EvalSuite>;
export type DatasetSource = z.output<typeof DatasetSource>;

export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: RunConfig } | { ok: false; problems: ConfigProblem[] };

/** Validates a raw config and lists every problem by its path (e.g. `loop.samplesPerInput`). */
export function validateConfig(raw: unknown): ConfigResult {
  const parsed = RunConfig.safeParse(raw);
  if (parsed.success) return { ok: true, config: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => ({
      path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    })),
  };
}

export function formatConfigProblems(problems: ConfigProblem[], source = 'config'): string {
  return [`${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):`]
    .concat(problems.map((p) => `  - ${p.path}: ${p.message}`))
    .join('\n');
}
