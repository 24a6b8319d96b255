/**
 * Dataset adapters: pure functions from published formats to canonical records (core/records.ts).
 *
 *   const adapter = getAdapter('llmbar', { subset: 'llmbar-natural' });
 *   const r = adapter.adaptRow(row, i);   // { ok: true, record } | { ok: false, reason }
 *
 * Nothing here reads files: the ingest activity streams rows from S3 or local files into `adaptRow`,
 * quarantines the failures with their reasons and counts them.
 */
import { canonicalAdapter, canonicalPairwiseAdapter } from './canonical';
import { createLlmbarAdapter } from './llmbar';
import { createPrometheusAbsoluteAdapter } from './prometheus';
import type { Adapter, AdapterKind, AdapterOptions, PairwiseAdapter, PointwiseAdapter } from './types';

export * from './types';
export { canonicalAdapter, canonicalPairwiseAdapter } from './canonical';
export { createLlmbarAdapter } from './llmbar';
export {
  createPrometheusAbsoluteAdapter,
  parseAbsolutePrompt,
  parseRubricSection,
  roundHalfUp,
  PROMETHEUS_HEADERS,
  type ParsedAbsolutePrompt,
} from './prometheus';

/** Every adapter name (the same list as `ADAPTERS` in core/config.ts; a test keeps them equal). */
export const ADAPTER_NAMES = ['canonical', 'canonical-pairwise', 'prometheus-absolute', 'llmbar'] as const;
export type AdapterName = (typeof ADAPTER_NAMES)[number];

/** The kind of record each adapter produces. */
export const ADAPTER_KINDS = {
  canonical: 'pointwise',
  'canonical-pairwise': 'pairwise',
  'prometheus-absolute': 'pointwise',
  llmbar: 'pairwise',
} as const satisfies Readonly<Record<AdapterName, AdapterKind>>;

const FACTORIES: { [N in AdapterName]: (options: AdapterOptions) => Adapter & { name: N } } = {
  canonical: () => canonicalAdapter,
  'canonical-pairwise': () => canonicalPairwiseAdapter,
  'prometheus-absolute': (options) => createPrometheusAbsoluteAdapter(options),
  llmbar: (options) => createLlmbarAdapter(options),
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
