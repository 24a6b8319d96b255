/**
 * Step 3, Pair: build preference pairs (prompt, chosen judgment, rejected judgment) from the judge's own
 * samples with every listed strategy, pool them, apply the hygiene switches, and write the curation report
 * (docs/evaluation.md, "Pair curation"; core/pairing/pairing.ts and core/pairing/curation.ts hold the logic). Inputs without a valid pair
 * are counted, not forced.
 *
 * Streams: the generation job writes each request's samples together and in request order, so the
 * requests and the scored judgments are merge-joined one input at a time, and the report is accumulated as
 * counts. The side tables (meta-judge ratings, consistency verdicts) are small (a number or a flag per
 * sample) and are read into maps keyed by (request_id, sample_index), so their row order does not matter.
 * Balancing across gold levels is the one global step: the pooled pairs are first written to
 * `data/candidates.jsonl` while two numbers per pair (level, seeded key) are kept, then the selected ones
 * are copied to `data/pairs.jsonl`.
 */
import type { ConfigFor } from '../../core/config/sections';
import { consistencyFilterActive, type RunConfig } from '../../core/config/config';
import { strategiesForIteration } from '../../core/config/per-iteration';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import { CurationAccumulator, curationDigest } from '../../core/pairing/curation';
import {
  type BalanceEntry,
  type CuratedPair,
  DROPPED_BY_BALANCE,
  type PairableJudgment,
  curateInputPairs,
  parseConsistencyRow,
  parseMetaRatingRow,
  selectBalanced,
  truncationChars,
} from '../../core/pairing/pairing';
import type { PreferencePair } from '../../core/data/records';
import type { PairSummary } from '../../core/run/run-types';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, badInput, storageSettings, throttledHeartbeat } from '../context';
import type { PairedRequest, ScoredJudgment } from '../../core/run/formats';
import { readRows } from './rows';
import type { ObjectStore, WrittenObject } from '../storage/object-store';

export interface PairInput {
  config: ConfigFor<'pair'>;
  runPrefixUri: string;
  iteration: number;
  requestsUri: string;
  judgmentsUri: string;
  /**
   * The judge's ratings of its own samples (JSONL `{request_id, sample_index, meta_score, meta_status,
   * reason?}`, docs/CONTRACTS.md). Required when `loop.pairing.strategies` lists `meta_judge`.
   */
  metaRatingsUri?: string;
  /**
   * Greedy re-scores of the sampled rationales (JSONL `{request_id, sample_index, rescore, consistent}`).
   * Required when `loop.pairing.consistencyFilter` is on.
   */
  consistencyUri?: string;
}

/** The storage calls the pair step makes (an `ObjectStore`; tests pass an in-memory one). */
export type PairStore = Pick<ObjectStore, 'readJsonl' | 'readJsonlLines' | 'writeJsonl' | 'putJson'>;

/** Groups consecutive judgments of the same request; a request seen again after its group ended is an error. */
export async function* groupByRequest(
  judgments: AsyncIterable<ScoredJudgment>,
): AsyncGenerator<{ requestId: string; judgments: ScoredJudgment[] }> {
  const closed = new Set<string>();
  let current: { requestId: string; judgments: ScoredJudgment[] } | null = null;
  for await (const j of judgments) {
    if (current && current.requestId === j.request_id) {
      current.judgments.push(j);
      continue;
    }
    if (current) {
      closed.add(current.requestId);
      yield current;
    }
    if (closed.has(j.request_id)) {
      throw new Error(`judgments of request "${j.request_id}" are not contiguous; the generation job must write each request's samples together`);
    }
    current = { requestId: j.request_id, judgments: [j] };
  }
  if (current) yield current;
}

async function* joinRequests(store: PairStore, requestsUri: string, judgmentsUri: string) {
  // Both files are checked row by row against their formats (core/run/formats.ts) as they stream by.
  const requests = readRows(store, requestsUri, 'generation request (as the pair step reads it)', { step: 'sample' })[Symbol.asyncIterator]();
  for await (const group of groupByRequest(readRows(store, judgmentsUri, 'scored judgment', { step: 'score' }))) {
    for (;;) {
      const next = await requests.next();
      if (next.done) throw new Error(`judgments for request "${group.requestId}" have no matching request in ${requestsUri}`);
      // A request with no judgments at all (not expected from the job) is simply skipped.
      if (next.value.request_id === group.requestId) {
        yield { request: next.value, judgments: group.judgments };
        break;
      }
    }
  }
}

/**
 * Reads a side table into request_id -> sample_index -> value. A malformed row or a repeated
 * (request_id, sample_index) fails the step (non-retryable), naming the line.
 */
async function loadSideTable<T extends { request_id: string; sample_index: number }, V>(
  store: PairStore,
  uri: string,
  what: string,
  parse: (raw: unknown) => { ok: true; row: T } | { ok: false; reason: string },
  value: (row: T) => V,
): Promise<Map<string, Map<number, V>>> {
  const table = new Map<string, Map<number, V>>();
  for await (const { line, value: raw, error } of store.readJsonlLines(uri)) {
    if (error) throw badInput(`${what}: ${error}`);
    const parsed = parse(raw);
    if (!parsed.ok) throw badInput(`${what}: line ${line} of ${uri}: ${parsed.reason}`);
    const { request_id, sample_index } = parsed.row;
    let samples = table.get(request_id);
    if (!samples) {
      samples = new Map();
      table.set(request_id, samples);
    }
    if (samples.has(sample_index)) {
      throw badInput(`${what}: line ${line} of ${uri}: a second row for request "${request_id}" sample ${sample_index}`);
    }
    samples.set(sample_index, value(parsed.row));
  }
  return table;
}

/** The pairing seed of an iteration. */
export function pairingSeed(config: Pick<RunConfig, 'loop'>, iteration: number): number {
  return config.loop.seed + iteration;
}

/**
 * What the step's idempotency hash covers: everything that changes pairs.jsonl or curation.json. The
 * strategies enter with this iteration's margins (a plain-number margin is unchanged, so are the hashes).
 */
export function pairStepInputs(input: PairInput): Record<string, unknown> {
  const { config } = input;
  const { pairing } = config.loop;
  return {
    requests: input.requestsUri,
    judgments: input.judgmentsUri,
    metaRatings: input.metaRatingsUri ?? null,
    consistency: input.consistencyUri ?? null,
    pairing: { ...pairing, strategies: strategiesForIteration(pairing.strategies, input.iteration) },
    truncateChars: pairing.hygiene.dropIdenticalAfterTruncation ? truncationChars(config.training.maxLength) : null,
    scale: config.judge.scale,
    seed: config.loop.seed,
    iteration: input.iteration,
  };
}

function toRow(request: PairedRequest, p: CuratedPair<PairableJudgment>, bySample: ReadonlyMap<number, ScoredJudgment>): PreferencePair {
  return {
    example_id: request.example_id,
    prompt: request.messages as PreferencePair['prompt'],
    chosen: p.chosen.text,
    rejected: p.rejected.text,
    chosen_score: p.chosen.score,
    rejected_score: p.rejected.score,
    strategy: p.strategy,
    ...sampledTokenIds(bySample.get(p.chosen.sampleIndex), bySample.get(p.rejected.sampleIndex)),
  };
}

/**
 * The sampled token ids of a pair's two judgments, when both carry them from the same prompt: DPO then
 * trains on exactly what the judge produced (train_dpo.py). Otherwise nothing, and the job tokenizes the text.
 */
export function sampledTokenIds(
  chosen: Pick<ScoredJudgment, 'completion_ids' | 'prompt_ids_sha256'> | undefined,
  rejected: Pick<ScoredJudgment, 'completion_ids' | 'prompt_ids_sha256'> | undefined,
): Pick<PreferencePair, 'chosen_ids' | 'rejected_ids' | 'prompt_ids_sha256'> {
  if (!chosen?.completion_ids || !rejected?.completion_ids || !chosen.prompt_ids_sha256) return {};
  if (chosen.prompt_ids_sha256 !== rejected.prompt_ids_sha256) return {};
  return { chosen_ids: chosen.completion_ids, rejected_ids: rejected.completion_ids, prompt_ids_sha256: chosen.prompt_ids_sha256 };
}

/**
 * The pair step's work, on any `PairStore`: writes `data/pairs.jsonl` (and `data/candidates.jsonl` when
 * balancing) and `curation.json` under the step prefix, and returns the written objects and the summary.
 */
export async function curatePairs(
  store: PairStore,
  input: PairInput,
  heartbeat: (details?: unknown) => void = () => undefined,
): Promise<{ objects: WrittenObject[]; summary: PairSummary }> {
  const { config } = input;
  const { pairing } = config.loop;
  const prefix = stepPrefix(input.runPrefixUri, input.iteration, 'pair');
  const usesMetaJudge = pairing.strategies.some((s) => s.name === 'meta_judge');
  if (usesMetaJudge && !input.metaRatingsUri) {
    throw badInput('loop.pairing.strategies lists meta_judge, but the pair step got no metaRatingsUri (the meta-judge ratings)');
  }
  const filterActive = consistencyFilterActive(config, input.iteration);
  if (filterActive && !input.consistencyUri) {
    throw badInput('loop.pairing.consistencyFilter is on, but the pair step got no consistencyUri (the re-scores)');
  }
  const metaScores =
    usesMetaJudge && input.metaRatingsUri
      ? await loadSideTable(store, input.metaRatingsUri, 'meta-judge ratings', parseMetaRatingRow, (r) => r.meta_score)
      : undefined;
  const consistency =
    filterActive && input.consistencyUri
      ? await loadSideTable(store, input.consistencyUri, 'consistency re-scores', parseConsistencyRow, (r) => r.consistent)
      : undefined;

  const seed = pairingSeed(config, input.iteration);
  const truncateChars = truncationChars(config.training.maxLength);
  // Each strategy with this iteration's margin (loop.pairing.strategies[].margin may be a per-iteration list).
  const strategies = strategiesForIteration(pairing.strategies, input.iteration);
  const options = {
    strategies,
    seed,
    consistencyFilter: filterActive,
    hygiene: {
      dropIdenticalAfterTruncation: pairing.hygiene.dropIdenticalAfterTruncation,
      truncateChars,
      ...(pairing.hygiene.maxLengthDifference !== undefined ? { maxLengthDifference: pairing.hygiene.maxLengthDifference } : {}),
    },
  };
  const report = new CurationAccumulator({ scale: config.judge.scale, strategies: pairing.strategies.map((s) => s.name) });
  const balance = pairing.hygiene.balanceGoldLevels;
  const pairsUri = joinUri(prefix, 'data', 'pairs.jsonl');
  const candidatesUri = joinUri(prefix, 'data', 'candidates.jsonl');
  /** Balancing only: (level, key) per candidate pair, and the candidate count of each input that has some. */
  const entries: BalanceEntry[] = [];
  const candidatesPerInput: number[] = [];
  let inputs = 0;

  async function* pooled(): AsyncGenerator<PreferencePair> {
    for await (const { request, judgments } of joinRequests(store, input.requestsUri, input.judgmentsUri)) {
      heartbeat({ inputs });
      inputs++;
      report.addInput({ goldScore: request.gold_score ?? null, judgments });
      const curated = curateInputPairs(
        {
          exampleId: request.example_id,
          goldScore: request.gold_score ?? null,
          judgments: judgments.map(
            (j): PairableJudgment => ({
              sampleIndex: j.sample_index,
              text: j.text,
              score: j.status === 'ok' ? (j.score ?? null) : null,
              status: j.status,
            }),
          ),
          ...(metaScores ? { metaScores: metaScores.get(request.request_id) ?? new Map<number, number | null>() } : {}),
          ...(consistency ? { consistency: consistency.get(request.request_id) ?? new Map<number, boolean>() } : {}),
        },
        options,
      );
      for (const s of curated.strategies) report.addStrategyOutcome(s.strategy, s.produced, s.reason);
      for (const [reason, n] of Object.entries(curated.sampleDrops)) report.addSampleDrops(reason, n);
      for (const [reason, n] of Object.entries(curated.pairDrops)) report.addPairDrops(reason, n);
      if (curated.pairs.length === 0) {
        report.addInputOutcome(curated.reason);
        continue;
      }
      if (balance) {
        candidatesPerInput.push(curated.pairs.length);
      } else {
        report.addInputOutcome();
      }
      const bySample = new Map(judgments.map((j) => [j.sample_index, j] as const));
      for (const p of curated.pairs) {
        const row = toRow(request, p, bySample);
        if (balance) entries.push({ level: p.level, key: p.balanceKey });
        else report.addPair({ strategy: p.strategy, chosen: row.chosen, rejected: row.rejected, chosenScore: row.chosen_score, rejectedScore: row.rejected_score, level: p.level });
        yield row;
      }
    }
  }

  const objects: WrittenObject[] = [];
  let pairsWritten: WrittenObject;
  if (!balance) {
    pairsWritten = await store.writeJsonl(pairsUri, pooled());
  } else {
    objects.push(await store.writeJsonl(candidatesUri, pooled()));
    const selection = selectBalanced(entries);
    report.addPairDrops('balance', selection.dropped);
    async function* balanced(): AsyncGenerator<PreferencePair> {
      let index = 0;
      let group = 0;
      let leftInGroup = candidatesPerInput[0] ?? 0;
      let keptInGroup = 0;
      for await (const row of store.readJsonl<PreferencePair>(candidatesUri)) {
        if (index >= entries.length) throw new Error(`${candidatesUri} has more rows than were written`);
        heartbeat({ phase: 'balance', pairs: index });
        if (selection.keep[index]) {
          keptInGroup++;
          report.addPair({ strategy: row.strategy, chosen: row.chosen, rejected: row.rejected, chosenScore: row.chosen_score, rejectedScore: row.rejected_score, level: entries[index].level });
          yield row;
        }
        index++;
        if (--leftInGroup === 0) {
          report.addInputOutcome(keptInGroup > 0 ? undefined : DROPPED_BY_BALANCE);
          group++;
          leftInGroup = candidatesPerInput[group] ?? 0;
          keptInGroup = 0;
        }
      }
      if (index !== entries.length) throw new Error(`${candidatesUri} has ${index} rows, ${entries.length} were written`);
    }
    pairsWritten = await store.writeJsonl(pairsUri, balanced());
  }
  objects.unshift(pairsWritten);

  const full = report.report();
  const curationUri = joinUri(prefix, 'curation.json');
  const curationWritten = await store.putJson(curationUri, {
    iteration: input.iteration,
    pairsUri: pairsWritten.uri,
    settings: {
      strategies,
      hygiene: pairing.hygiene,
      consistencyFilter: filterActive,
      truncateChars,
      seed,
      metaRatingsUri: input.metaRatingsUri ?? null,
      consistencyUri: input.consistencyUri ?? null,
    },
    ...full,
  });
  objects.push(curationWritten);
  const summary: PairSummary = {
    pairs: pairsWritten.rows ?? 0,
    inputsWithPair: full.inputs.withPair,
    inputsWithoutPair: full.inputs.withoutPair,
    uri: pairsWritten.uri,
    curation: { uri: curationUri, ...curationDigest(full) },
  };
  return { objects, summary };
}

export function createPairActivities(deps: ActivityDeps) {
  return {
    async buildPairs(input: PairInput): Promise<PairSummary> {
      const store = deps.storeFor(storageSettings(input.config));
      const once = await stepsOfRun(store, input.config, input.runPrefixUri, deps.codeVersion);
      const outcome = await once(
        {
          prefixUri: stepPrefix(input.runPrefixUri, input.iteration, 'pair'),
          step: 'pair',
          inputs: pairStepInputs(input),
        },
        () => curatePairs(store, input, throttledHeartbeat()),
      );
      return outcome.summary;
    },
  };
}
