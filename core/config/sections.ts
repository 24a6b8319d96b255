/**
 * The config sections each activity reads. A workflow sends an activity only these (`sectionsFor`), not the
 * whole config: the run's history then holds each section where it is used (the data section alone is a
 * third to a half of a config), and an activity's input type says what its work depends on — reading a
 * section it was not sent is a type error, not a silent `undefined`.
 *
 * Pure: imported by the workflows and, for the types, by the activities.
 */
import type { RunConfig } from './config';

/** What running a model job reads (activities/index.ts runnerFor): where it runs, what it may spend, where it stores, whether it reuses. */
const JOB = ['backend', 'budget', 'reuse', 'storage'] as const;

/** The sections of each activity input, by the input's name. */
export const ACTIVITY_SECTIONS = {
  /** Rendering a sample's requests (activities/steps/sample.ts). */
  sampleRequests: ['judge', 'loop', 'reuse', 'storage'],
  /** Every generation job (sample, meta-judge, re-score, the evaluation's generations): the judge's sampling settings per iteration. */
  generation: [...JOB, 'judge', 'loop', 'evaluation'],
  /** Parsing and scoring the sampled judgments. */
  score: ['judge', 'reuse', 'storage'],
  /** The judge-side steps before pairing: rendering and collecting meta-judge ratings and consistency re-scores. */
  judgeSide: ['judge', 'loop', 'reuse', 'storage'],
  /** Curating preference pairs. */
  pair: ['judge', 'loop', 'training', 'reuse', 'storage'],
  /** The training job; `tracking`: where it logs its loss curve (the iteration's MLflow run). */
  train: [...JOB, 'judge', 'training', 'tracking'],
  /** The warm start: writing its examples and its training job. */
  warmStart: [...JOB, 'judge', 'training', 'warmStart'],
  /** Rendering the evaluation's requests and computing its metrics (the eval suites' settings live in `data`). */
  evaluation: ['judge', 'loop', 'data', 'evaluation', 'reuse', 'storage'],
  /** Summing an iteration's usage records: where they are, and what the backend's prices were (the cost estimate's basis). */
  usage: ['storage', 'backend'],
  /** Registering a promoted judge in the SageMaker Model Registry (activities/steps/model-registry.ts). */
  modelRegistry: ['registry', 'storage'],
  /** Sending the run's records to the experiment tracker (activities/steps/track.ts); the rest it reads from S3. */
  tracking: ['storage', 'tracking'],
  /** Steps that only read and write S3 (the iteration summary, the run report). */
  storage: ['storage'],
} as const satisfies Record<string, ReadonlyArray<keyof RunConfig>>;

export type ActivitySections = keyof typeof ACTIVITY_SECTIONS;

/** The part of the config an activity input of kind `K` carries. */
export type ConfigFor<K extends ActivitySections> = Pick<RunConfig, (typeof ACTIVITY_SECTIONS)[K][number]>;

/** The sections of `config` that an activity input of kind `kind` carries; optional sections that are unset stay out. */
export function sectionsFor<K extends ActivitySections>(config: RunConfig, kind: K): ConfigFor<K> {
  const out: Partial<Record<keyof RunConfig, unknown>> = {};
  for (const section of ACTIVITY_SECTIONS[kind] as ReadonlyArray<keyof RunConfig>) {
    if (config[section] !== undefined) out[section] = config[section];
  }
  // Every required section of ConfigFor<K> was copied above; the optional ones (budget, warmStart) may be absent.
  return out as ConfigFor<K>;
}
