/**
 * The judge registry: one S3 folder per judge name holding its champion and every promotion decision.
 *
 *   s3://<storage.bucket>/<storage.prefix>/registry/<judge.name>/registry.json      {judgeName, champion, updatedAt}
 *   s3://<storage.bucket>/<storage.prefix>/registry/<judge.name>/history/<runId>-iter-<K>.json   one entry per decision
 *
 * Pure (types, locations, lineage), so the run workflow and the CLI share it; activities/steps/registry.ts does
 * the reads and writes.
 */
import { joinUri, storageUri } from '../run/artifacts';
import type { SuiteMetrics } from '../run/run-types';
import type { RunConfig } from '../config/config';

/** Who made a decision: the gate alone, a person (their name, from `judgeloop approve --by`), or the approval timeout. */
export type DecidedBy = 'gate' | 'approval-timeout' | string;

export interface RegistryDecision {
  promoted: boolean;
  /** The gate's reasons, then the approver's or the timeout's, one line each. */
  reasons: string[];
  decidedBy: DecidedBy;
  /** When the decision was recorded (ISO 8601, the activity's clock). */
  at: string;
}

/** What produced a model: enough to find the data again and tell whether it changed. */
export interface RegistryData {
  trainUri: string;
  /** sha256 of the run's canonical training rows (its prepare manifest), when found. */
  trainSha256?: string;
  /** The iteration's preference pairs (absent for iteration 0). */
  pairsUri?: string;
  configHash: string;
}

export interface RegistryEntry {
  judgeName: string;
  modelUri: string;
  runId: string;
  iteration: number;
  /** The judge this one was trained from; null for a seed judge (iteration 0). */
  parentModelUri: string | null;
  /** The root of the lineage: the seed judge the chain of trainings started from. */
  seedModelUri: string;
  data: RegistryData;
  /** This judge's evaluation in its run (iteration `iteration`). */
  metrics: Record<string, SuiteMetrics>;
  decision: RegistryDecision;
  /**
   * Whether registry.json's champion was replaced by this entry. False for rejections, and for a promotion
   * when the registry's champion was not the judge this run's gate compared against (another run promoted
   * meanwhile, or the run started from the seed with `registry.startFrom: seed`): see `note`.
   */
  championReplaced: boolean;
  note?: string;
}

export interface RegistryDocument {
  judgeName: string;
  champion: RegistryEntry;
  updatedAt: string;
}

/** What the registry steps read of a run's config: where the bucket is and which judge's registry. */
export interface RegistryConfig {
  storage: RunConfig['storage'];
  judge: Pick<RunConfig['judge'], 'name'>;
}

export function registryConfig(config: RunConfig): RegistryConfig {
  return { storage: config.storage, judge: { name: config.judge.name } };
}

/** `s3://bucket/prefix/registry/<judgeName>` */
export function registryPrefixUri(storage: { bucket: string; prefix: string }, judgeName: string): string {
  return storageUri(storage, 'registry', judgeName);
}

export function registryDocumentUri(prefixUri: string): string {
  return joinUri(prefixUri, 'registry.json');
}

export function historyEntryUri(prefixUri: string, runId: string, iteration: number): string {
  return joinUri(prefixUri, 'history', `${runId}-iter-${iteration}.json`);
}

/** A judge the run started from or promoted: what the summary, the progress and the next iteration need. */
export interface ChampionRef {
  modelUri: string;
  runId: string;
  iteration: number;
}

/** Where a run started: the registry's champion, or `judge.seedModel`. */
export interface StartedFrom extends ChampionRef {
  kind: 'champion' | 'seed';
}

/** The update a person sends to sign off (or not) on a promotion the gate allowed (`judgeloop approve`). */
export interface ApprovalRequest {
  iteration: number;
  approve: boolean;
  by?: string;
  reason?: string;
}

/** The update's answer once the decision is recorded. */
export interface ApprovalOutcome {
  iteration: number;
  promoted: boolean;
  decidedBy: string;
  reasons: string[];
  /** The run's champion after the decision. */
  champion: ChampionRef;
}

/** The progress query's view of a promotion that waits for a sign-off. */
export interface AwaitingApproval {
  iteration: number;
  /** The gate's reasons (it allowed the promotion). */
  reasons: string[];
  /** When the wait ends in a rejection, if `evaluation.gate.approvalTimeoutHours` is set (ISO 8601). */
  deadline?: string;
}

export const APPROVE_PROMOTION_UPDATE = 'approvePromotion';

/**
 * The champion's ancestry, newest first: the champion, the entry of its parent model, and so on, through
 * every decision in `history` (rejected entries never appear: no promoted judge was trained from one).
 * `root` is the seed the chain started from; `complete` is false when a parent has no entry (its run started
 * from `judge.seedModel` while the registry had another champion, or the history was pruned).
 */
export function lineage(champion: RegistryEntry, history: RegistryEntry[]): { chain: RegistryEntry[]; root: string; complete: boolean } {
  // Promoted entries first, so that a model recorded twice (it cannot be, but history is data) resolves to its promotion.
  const byModel = new Map<string, RegistryEntry>();
  for (const e of [...history].sort((a, b) => Number(b.decision.promoted) - Number(a.decision.promoted))) {
    if (!byModel.has(e.modelUri)) byModel.set(e.modelUri, e);
  }
  const chain: RegistryEntry[] = [champion];
  const seen = new Set<string>([champion.modelUri]);
  let cur = champion;
  while (cur.parentModelUri !== null) {
    const parent = byModel.get(cur.parentModelUri);
    if (!parent || seen.has(parent.modelUri)) {
      return { chain, root: cur.seedModelUri, complete: false };
    }
    chain.push(parent);
    seen.add(parent.modelUri);
    cur = parent;
  }
  return { chain, root: cur.modelUri, complete: true };
}

/** History entries in decision order: by time, then run and iteration (ties are possible within a second). */
export function sortHistory(entries: RegistryEntry[]): RegistryEntry[] {
  return [...entries].sort(
    (a, b) => a.decision.at.localeCompare(b.decision.at) || a.runId.localeCompare(b.runId) || a.iteration - b.iteration,
  );
}
