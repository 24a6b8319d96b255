/**
 * Dataset adapters: pure functions from published formats to canonical records (core/data/records.ts).
 *
 *   const adapter = getAdapter('llmbar', { subset: 'llmbar-natural' });
 *   const r = adapter.adaptRow(row, i);   // { ok: true, record } | { ok: false, reason }
 *
 * Nothing here reads files: the ingest activity streams rows from S3 or local files into `adaptRow`,
 * quarantines the failures with their reasons and counts them. Each adapter reads its source row through a
 * zod schema of the published format (source-schema.ts has the building blocks; the quarantine reason is the
 * schema's first problem, in the words the bad-input corpus pins).
 */
import { BIGGEN_JOIN_NEEDED, createBiggenAdapter } from './biggen';
import { canonicalAdapter, canonicalPairwiseAdapter } from './canonical';
import { createFeedbackCollectionAdapter } from './feedback-collection';
import { createLlmbarAdapter } from './llmbar';
import { createPandalmAdapter } from './pandalm';
import { createPrometheusAbsoluteAdapter } from './prometheus';
import { createPrometheusHhhAdapter } from './prometheus-hhh';
import { createRewardbenchAdapter } from './rewardbench';
import type { Adapter, AdapterKind, AdapterOptions, PairwiseAdapter, PointwiseAdapter } from './types';

export * from './types';
export { canonicalAdapter, canonicalPairwiseAdapter } from './canonical';
export { createLlmbarAdapter } from './llmbar';
export { createFeedbackCollectionAdapter } from './feedback-collection';
export { createPrometheusHhhAdapter } from './prometheus-hhh';
export { createRewardbenchAdapter } from './rewardbench';
export { createPandalmAdapter, majorityLabel, type PandalmLabel } from './pandalm';
export {
  createBiggenAdapter,
  instanceTable,
  readScoreColumns,
  goldColumnOf,
  BIGGEN_JOIN_NEEDED,
  BIGGEN_PLACEHOLDER_RESPONSE,
} from './biggen';
export {
  collectReferenceJudgments,
  gpt4ReferenceJudgments,
  origReferenceJudgments,
  referenceJudgmentOf,
  stripTrailingResult,
  REFERENCE_SCORE_MAX,
  REFERENCE_SCORE_MIN,
  type FeedbackCandidate,
} from './reference-judgments';
export {
  createPrometheusAbsoluteAdapter,
  parseAbsolutePrompt,
  parseRubricSection,
  roundHalfUp,
  PROMETHEUS_HEADERS,
  type ParsedAbsolutePrompt,
} from './prometheus';

/** Every adapter name (the same list as `ADAPTERS` in core/config/config.ts; a test keeps them equal). */
export const ADAPTER_NAMES = [
  'canonical',
  'canonical-pairwise',
  'prometheus-absolute',
  'llmbar',
  'feedback-collection',
  'prometheus-hhh',
  'biggen',
  'rewardbench',
  'pandalm',
] as const;
export type AdapterName = (typeof ADAPTER_NAMES)[number];

/** The kind of record each adapter produces. */
export const ADAPTER_KINDS = {
  canonical: 'pointwise',
  'canonical-pairwise': 'pairwise',
  'prometheus-absolute': 'pointwise',
  llmbar: 'pairwise',
  'feedback-collection': 'pointwise',
  'prometheus-hhh': 'pairwise',
  biggen: 'pointwise',
  rewardbench: 'pairwise',
  pandalm: 'pairwise',
} as const satisfies Readonly<Record<AdapterName, AdapterKind>>;

/**
 * Adapters whose rows come from the dataset's `join` file, looked up by id in a table read from its `uri`
 * (passed to the factory as `options.instances`), with the reason the join is needed. Every other adapter
 * reads `uri` alone and refuses a `join`.
 */
export const JOIN_ADAPTERS: Readonly<Partial<Record<AdapterName, string>>> = {
  biggen: BIGGEN_JOIN_NEEDED,
};

/** Why `name` needs a join file, or undefined when it reads its `uri` alone. */
export function adapterJoinNeed(name: string): string | undefined {
  return isAdapterName(name) ? JOIN_ADAPTERS[name] : undefined;
}

const FACTORIES: { [N in AdapterName]: (options: AdapterOptions) => Adapter & { name: N } } = {
  canonical: () => canonicalAdapter,
  'canonical-pairwise': () => canonicalPairwiseAdapter,
  'prometheus-absolute': (options) => createPrometheusAbsoluteAdapter(options),
  llmbar: (options) => createLlmbarAdapter(options),
  'feedback-collection': (options) => createFeedbackCollectionAdapter(options),
  'prometheus-hhh': (options) => createPrometheusHhhAdapter(options),
  biggen: (options) => createBiggenAdapter(options),
  rewardbench: (options) => createRewardbenchAdapter(options),
  pandalm: (options) => createPandalmAdapter(options),
};

type AdapterFor<N extends AdapterName> = (typeof ADAPTER_KINDS)[N] extends 'pointwise'
  ? PointwiseAdapter<N>
  : PairwiseAdapter<N>;

export function isAdapterName(name: unknown): name is AdapterName {
  return typeof name === 'string' && (ADAPTER_NAMES as readonly string[]).includes(name);
}

/** One line per adapter: `name (kind): description`. */
export function describeAdapters(): string[] {
  return ADAPTER_NAMES.map((n) => {
    const a = FACTORIES[n]({});
    return `${n} (${a.kind}): ${a.description}`;
  });
}

export function unknownAdapterMessage(name: unknown): string {
  return `unknown adapter ${typeof name === 'string' ? `"${name}"` : String(name)}; known: ${ADAPTER_NAMES.join(', ')}`;
}

function checkOptions(options: AdapterOptions): string | undefined {
  for (const key of ['idPrefix', 'subset'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'string' || v === '')) return `adapter option ${key} must be a non-empty string`;
  }
  if (options.instances !== undefined && !(options.instances instanceof Map)) return 'adapter option instances must be a Map';
  return undefined;
}

/** The adapter, or a reason (unknown name, bad options). Never throws. */
export function tryGetAdapter(
  name: string,
  options: AdapterOptions = {},
): { ok: true; adapter: Adapter } | { ok: false; reason: string } {
  if (!isAdapterName(name)) return { ok: false, reason: unknownAdapterMessage(name) };
  const bad = checkOptions(options);
  if (bad) return { ok: false, reason: bad };
  return { ok: true, adapter: FACTORIES[name](options) };
}

/** The adapter for a name; throws `unknown adapter X; known: ...` for other names. */
export function getAdapter<N extends AdapterName>(name: N, options?: AdapterOptions): AdapterFor<N>;
export function getAdapter(name: string, options?: AdapterOptions): Adapter;
export function getAdapter(name: string, options: AdapterOptions = {}): Adapter {
  const r = tryGetAdapter(name, options);
  if (!r.ok) throw new Error(r.reason);
  return r.adapter;
}

/**
 * The registered adapters that accept `row` (its `adaptRow` succeeds), in registry order. Used to say which
 * adapter a file was probably meant for when the chosen one accepts none of its rows. `options` reach every
 * adapter (biggen only accepts rows when `options.instances` holds their instance).
 */
export function detectAdapters(row: unknown, options: AdapterOptions = {}): AdapterName[] {
  return ADAPTER_NAMES.filter((name) => FACTORIES[name](options).adaptRow(row, 0).ok);
}

/**
 * The error for a file that the chosen adapter cannot read: which adapter was tried, why it refused the
 * first row (the reason names the field), and which registered adapters accept that row instead.
 */
export function adapterMismatchMessage(opts: {
  dataset: string;
  adapter: string;
  uri: string;
  /** How many rows were tried, all refused. */
  tried: number;
  /** The first refused row: its index, the adapter's reason, and the row itself. */
  first: { index: number; reason: string; row: unknown };
  /** Adapters that accept the first row (detectAdapters). */
  accepting: readonly string[];
  /** Where the adapter is set in the config, e.g. `data.train.adapter`. */
  configPath?: string;
}): string {
  const where = opts.configPath ?? 'the dataset\'s adapter';
  const others = opts.accepting.filter((a) => a !== opts.adapter);
  const suggestion = others.length
    ? `Registered adapters that accept row ${opts.first.index}: ${others.join(', ')} (set ${where} to one of them).`
    : `No registered adapter accepts row ${opts.first.index}; known adapters: ${ADAPTER_NAMES.join(', ')}.`;
  return (
    `dataset "${opts.dataset}": adapter "${opts.adapter}" accepted none of the first ${opts.tried} row${opts.tried === 1 ? '' : 's'} of ${opts.uri}. ` +
    `Row ${opts.first.index}: ${opts.first.reason}. ${suggestion}`
  );
}
