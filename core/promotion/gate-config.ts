/**
 * Config of the promotion gate (`evaluation.gate`) and of the judge registry (`registry`); core/config/config.ts
 * mounts them. Kept apart so core/config/config.ts stays about the run itself. Pure (imported by workflows).
 */
import { z } from 'zod';
import { PAIRWISE_GATE_METRICS, POINTWISE_GATE_METRICS, type GateMetric } from './gate';

const fraction = z.number().min(0).max(1);

export const GateConfig = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("`false`: no gate; every iteration is promoted and the next one continues from it (the paper's loop)."),
    maxDrop: z.number().min(0).default(0.02).describe("No gated suite's primary metric may be more than this worse than the champion's."),
    metrics: z
      .object({
        pointwise: z.enum(POINTWISE_GATE_METRICS).default('pearson').describe('The primary metric of pointwise suites.'),
        pairwise: z.enum(PAIRWISE_GATE_METRICS).default('accuracy').describe('The primary metric of pairwise suites.'),
      })
      .strict()
      .prefault({})
      .describe('The primary metric per suite kind; `mae` is lower-is-better, the others higher-is-better.'),
    parseRateFloor: fraction
      .default(0.9)
      .describe("The challenger must parse at least this share of each gated suite's judgments on its own (markers forced by decoding do not count)."),
    requireGain: z
      .object({
        suite: z.string().min(1).describe('The suite, by name (a validation suite when the config has any).'),
        metric: z
          .enum([...POINTWISE_GATE_METRICS, ...PAIRWISE_GATE_METRICS])
          .optional()
          .describe("The metric (default: the suite kind's metric in `metrics`)."),
        min: z.number().positive().describe('The least gain, in metric units.'),
      })
      .strict()
      .optional()
      .describe('The challenger must also beat the champion on one suite by at least `min` (default: no such rule).'),
    requireApproval: z.boolean().default(false).describe("A promotion the gate allows waits for a person's sign-off (`judgeloop approve`)."),
    approvalTimeoutHours: z
      .number()
      .positive()
      .optional()
      .describe('Without a sign-off for this long, the promotion is rejected ("approval timed out"); needs `requireApproval` (default: wait forever).'),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.approvalTimeoutHours !== undefined && !g.requireApproval) {
      ctx.addIssue({ code: 'custom', path: ['approvalTimeoutHours'], message: 'only applies with requireApproval: true (set it, or remove approvalTimeoutHours)' });
    }
  });

/**
 * The SageMaker Model Registry (docs/model-registry.md): each promoted judge is also a model package version in
 * a model package group named after the judge, approved, with its metrics and lineage, where a deployment reads
 * the latest approved version. Optional; the S3 registry above stays the source of truth.
 */
export const SageMakerModelRegistryConfig = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1').describe('The region of the model package group.'),
    modelPackageGroup: z
      .string()
      .regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/, 'a model package group name: letters, digits and inner "-", at most 63')
      .optional()
      .describe('The model package group (created when missing); default: `judge.name`.'),
    inferenceImage: z
      .string()
      .regex(/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[^\s:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/, 'an ECR image URI such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/judge-serving:1.0')
      .describe("The serving container of the registered judge (e.g. a vLLM or TGI image in ECR); the model folder is mounted uncompressed."),
    contentTypes: z.array(z.string().min(1)).min(1).default(['application/json']).describe('The request content types the serving container accepts.'),
    responseTypes: z.array(z.string().min(1)).min(1).default(['application/json']).describe('The response MIME types it answers with.'),
  })
  .strict();

export type SageMakerModelRegistryConfig = z.output<typeof SageMakerModelRegistryConfig>;

export const RegistryConfig = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Keep a registry for `judge.name` under `s3://<storage.bucket>/<storage.prefix>/registry/<judge.name>/`.'),
    // `seed` suits comparisons between configs that must share a start.
    startFrom: z
      .enum(['champion', 'seed'])
      .default('champion')
      .describe("`champion`: a run whose judge already has a champion starts from it; `seed`: always start from `judge.seedModel`."),
    sagemaker: SageMakerModelRegistryConfig.optional().describe(
      'Also register each promoted judge in the SageMaker Model Registry (an approved model package version); default: off.',
    ),
  })
  .strict()
  .superRefine((r, ctx) => {
    // Promotions come from the registry's decisions: without them there is nothing to register.
    if (r.sagemaker && !r.enabled) ctx.addIssue({ code: 'custom', path: ['sagemaker'], message: 'needs registry.enabled: true (promotions are what gets registered)' });
  });

export type GateConfig = z.output<typeof GateConfig>;
export type RegistryConfig = z.output<typeof RegistryConfig>;

const POINTWISE_SET: ReadonlySet<string> = new Set(POINTWISE_GATE_METRICS);

type SuiteRoles = { data: { evalSuites: Array<{ name: string; gate?: boolean; role?: 'validation' | 'test' }> } };

/** Whether the config keeps selection apart from reporting: at least one suite has `role: 'validation'`. */
export function hasValidationSuites(c: SuiteRoles): boolean {
  return c.data.evalSuites.some((s) => s.role === 'validation');
}

/**
 * The suites the no-drop and parse-floor rules check: the validation suites when the config has any (test
 * suites are reported, never gated), else every suite; in both cases without those marked `gate: false`.
 */
export function gatedSuiteNames(c: SuiteRoles): string[] {
  const validationOnly = hasValidationSuites(c);
  return c.data.evalSuites.filter((s) => s.gate !== false && (!validationOnly || s.role === 'validation')).map((s) => s.name);
}

/** Checks `evaluation.gate.requireGain`'s suite and metric against `data.evalSuites` (a RunConfig superRefine). */
export function checkGateAgainstSuites(
  c: {
    data: { evalSuites: Array<{ name: string; kind: 'pointwise' | 'pairwise'; uri: string; role?: 'validation' | 'test'; gate?: boolean }> };
    evaluation: { gate: GateConfig };
  },
  ctx: z.RefinementCtx,
): void {
  const kinds = new Map(c.data.evalSuites.map((s) => [s.name, s.kind]));
  const known = [...kinds.keys()].join(', ');
  checkValidationApartFromTest(c.data.evalSuites, c.evaluation.gate.enabled, ctx);
  const need = c.evaluation.gate.requireGain;
  if (!need) return;
  const kind = kinds.get(need.suite);
  if (kind === undefined) {
    ctx.addIssue({ code: 'custom', path: ['evaluation', 'gate', 'requireGain', 'suite'], message: `no evaluation suite is named "${need.suite}" (data.evalSuites: ${known})` });
    return;
  }
  const suite = c.data.evalSuites.find((s) => s.name === need.suite);
  if (hasValidationSuites(c) && suite?.role !== 'validation') {
    const validation = c.data.evalSuites.filter((s) => s.role === 'validation').map((s) => s.name).join(', ');
    ctx.addIssue({
      code: 'custom',
      path: ['evaluation', 'gate', 'requireGain', 'suite'],
      message: `"${need.suite}" is a test suite: the gate decides on validation suites only (${validation})`,
    });
    return;
  }
  const metric: GateMetric | undefined = need.metric;
  if (metric !== undefined && (kind === 'pointwise') !== POINTWISE_SET.has(metric)) {
    const allowed = kind === 'pointwise' ? POINTWISE_GATE_METRICS : PAIRWISE_GATE_METRICS;
    ctx.addIssue({
      code: 'custom',
      path: ['evaluation', 'gate', 'requireGain', 'metric'],
      message: `"${metric}" is not a metric of ${kind} suite "${need.suite}" (use one of ${allowed.join(', ')})`,
    });
  }
}

/**
 * Validation suites select the model, test suites report it: they must not read the same file, and a gate
 * with validation suites must have at least one it can check (not all `gate: false`). Item-level overlap
 * between files is checked when the run prepares its data (activities/steps/prepare.ts).
 */
function checkValidationApartFromTest(
  suites: ReadonlyArray<{ name: string; uri: string; role?: 'validation' | 'test'; gate?: boolean }>,
  gateEnabled: boolean,
  ctx: z.RefinementCtx,
): void {
  const testUris = new Map(suites.filter((s) => s.role !== 'validation').map((s) => [s.uri, s.name]));
  suites.forEach((s, i) => {
    if (s.role !== 'validation') return;
    const twin = testUris.get(s.uri);
    if (twin !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['data', 'evalSuites', i, 'uri'], message: `validation suite "${s.name}" reads the same file as test suite "${twin}": selection and reporting need disjoint data` });
    }
  });
  const validation = suites.filter((s) => s.role === 'validation');
  if (gateEnabled && validation.length > 0 && validation.every((s) => s.gate === false)) {
    ctx.addIssue({
      code: 'custom',
      path: ['data', 'evalSuites'],
      message: `every validation suite (${validation.map((s) => s.name).join(', ')}) has gate: false, so the gate would check nothing: gate one, or set evaluation.gate.enabled: false`,
    });
  }
}
