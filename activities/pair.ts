/**
 * Step 3, Pair: build preference pairs (prompt, chosen judgment, rejected judgment) from the judge's own
 * samples with the configured strategy. Inputs without a valid pair are counted, not forced.
 *
 * Streams: the generation job writes each request's samples together and in request order, so the
 * requests and the scored judgments are merge-joined one input at a time.
 */
import type { RunConfig } from '../core/config';
import { joinUri, stepPrefix } from '../core/artifacts';
import { buildGoldMarginPairs } from '../core/pairing';
import type { PreferencePair } from '../core/records';
import type { PairSummary } from '../core/run-types';
import { runStepOnce } from './manifest';
import { type ActivityDeps, storageSettings, throttledHeartbeat } from './context';
import type { GenerationRequest } from './sample';
import type { ScoredJudgment } from './score';
import type { ObjectStore } from './storage';

export interface PairInput {
  config: RunConfig;
  runPrefixUri: string;
  iteration: number;
  requestsUri: string;
  judgmentsUri: string;
}

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

async function* joinRequests(store: ObjectStore, requestsUri: string, judgmentsUri: string) {
  const requests = store.readJsonl<GenerationRequest>(requestsUri)[Symbol.asyncIterator]();
  for await (const group of groupByRequest(store.readJsonl<ScoredJudgment>(judgmentsUri))) {
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

export function createPairActivities(deps: ActivityDeps) {
  return {
    async buildPairs(input: PairInput): Promise<PairSummary> {
      const { config } = input;
      const store = deps.storeFor(storageSettings(config));
      const prefix = stepPrefix(input.runPrefixUri, input.iteration, 'pair');
      const heartbeat = throttledHeartbeat();
      const outcome = await runStepOnce(
        store,
        {
          prefixUri: prefix,
          step: 'pair',
          inputs: { requests: input.requestsUri, judgments: input.judgmentsUri, pairing: config.loop.pairing, seed: config.loop.seed, iteration: input.iteration },
          codeVersion: deps.codeVersion,
        },
        async () => {
          let inputsWithPair = 0;
          let inputsWithoutPair = 0;
          const reasons: Record<string, number> = {};
          async function* pairs(): AsyncGenerator<PreferencePair> {
            for await (const { request, judgments } of joinRequests(store, input.requestsUri, input.judgmentsUri)) {
              heartbeat({ inputs: inputsWithPair + inputsWithoutPair });
              const built = buildGoldMarginPairs(
                {
                  exampleId: request.example_id,
                  goldScore: request.gold_score ?? null,
                  judgments: judgments.map((j) => ({
                    sampleIndex: j.sample_index,
                    text: j.text,
                    score: j.status === 'ok' ? (j.score ?? null) : null,
                    status: j.status,
                  })),
                },
                {
                  margin: config.loop.pairing.margin,
                  maxPairsPerInput: config.loop.pairing.maxPairsPerInput,
                  seed: config.loop.seed + input.iteration,
                },
              );
              if (built.pairs.length === 0) {
                inputsWithoutPair++;
                const reason = built.reason ?? 'none';
                reasons[reason] = (reasons[reason] ?? 0) + 1;
                continue;
              }
              inputsWithPair++;
              for (const p of built.pairs) {
                yield {
                  example_id: request.example_id,
                  prompt: request.messages as PreferencePair['prompt'],
                  chosen: p.chosen.text,
                  rejected: p.rejected.text,
                  chosen_score: p.chosen.score!,
                  rejected_score: p.rejected.score!,
                  strategy: config.loop.pairing.strategy,
                };
              }
            }
          }
          const written = await store.writeJsonl(joinUri(prefix, 'data', 'pairs.jsonl'), pairs());
          const summary: PairSummary & { withoutPairReasons: Record<string, number> } = {
            pairs: written.rows ?? 0,
            inputsWithPair,
            inputsWithoutPair,
            withoutPairReasons: reasons,
            uri: written.uri,
          };
          return { objects: [written], summary };
        },
      );
      return outcome.summary;
    },
  };
}
