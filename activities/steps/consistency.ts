/**
 * Judge-side step for the rationale–score consistency filter (docs/method.md, "Rationale–score consistency"): at T = 1.0 a
 * sampled score may contradict its own rationale. The judge reads each parsed sampled judgment's rationale
 * again — the original prompt, the assistant turn prefilled with `<rationale> <marker> ` — and writes only
 * the score, greedily (generate.py's `assistant_prefix`). A sample whose re-score differs from its own score
 * is inconsistent; the pair step reads `iter-N/consistency/data/rescores.jsonl` and drops those.
 */
import type { ConfigFor } from '../../core/config/sections';
import { joinUri } from '../../core/run/artifacts';
import { parseJudgment } from '../../core/judging/judgment';
import type { ConsistencySummary } from '../../core/run/run-types';
import type { GenerationRequest, JudgedRef, ParsedSample, Rescore, RescoreRequest } from '../../core/run/formats';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, badInput, storageSettings, throttledHeartbeat } from '../context';
import { type JudgeSideInput, judgedRequestId, parsedSamples, runGreedyGeneration, runIdOf, stepRoot } from './judge-side';
import { type GeneratedJudgments, type GenerationInput, type RequestSet, generated, requestSet } from './generation';
import type { JobResult } from '../jobs/types';
import { readRows } from './rows';

/** The assistant prefix of a re-score: `<rationale> <marker> ` (formatJudgment's form, before the score). */
export function rescorePrefix(rationale: string, marker: string): string {
  return `${rationale.trim()} ${marker} `;
}

export function buildRescoreRequest(original: Pick<GenerationRequest, 'messages' | 'prompt_hash' | 'template_hash'>, sample: ParsedSample, marker: string): RescoreRequest {
  return {
    request_id: judgedRequestId(sample.request_id, sample.sample_index),
    example_id: sample.example_id,
    messages: original.messages,
    prompt_hash: original.prompt_hash,
    template_hash: original.template_hash,
    assistant_prefix: rescorePrefix(sample.rationale, marker),
    judged_request_id: sample.request_id,
    judged_sample_index: sample.sample_index,
    judged_score: sample.score,
  };
}

export function rescoreRow(raw: JudgedRef & { example_id: string; text: string }, scale: { min: number; max: number }, marker: string): Rescore {
  const parsed = parseJudgment(raw.text, { ...scale, marker });
  const rescore = parsed.status === 'ok' ? parsed.score : null;
  return {
    request_id: raw.judged_request_id,
    example_id: raw.example_id,
    sample_index: raw.judged_sample_index,
    score: raw.judged_score,
    rescore,
    consistent: rescore === raw.judged_score,
  };
}

export function createConsistencyActivities(deps: ActivityDeps) {
  /** What the requests are made of: the manifest inputs of the rendering, and part of the collecting's. */
  const requestInputs = (input: JudgeSideInput) => ({ requestsUri: input.requestsUri, judgmentsUri: input.judgmentsUri, judge: input.config.judge });

  /** Renders one re-score request per parsed sampled judgment; null when none parsed (nothing to re-score). */
  async function renderConsistencyRequests(input: JudgeSideInput): Promise<RequestSet | null> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const requestsPrefix = joinUri(stepRoot(input.runPrefixUri, iteration, 'consistency'), 'requests');
    const heartbeat = throttledHeartbeat();
    const rendered = await once(
      { prefixUri: requestsPrefix, step: 'consistency:requests', inputs: requestInputs(input) },
      async () => {
        // The original prompts, by request id (one per sampled input: N judgments share each).
        const originals = new Map<string, Pick<GenerationRequest, 'messages' | 'prompt_hash' | 'template_hash'>>();
        for await (const r of readRows(store, input.requestsUri, 'generation request', { step: 'sample' })) {
          originals.set(r.request_id, { messages: r.messages, prompt_hash: r.prompt_hash, template_hash: r.template_hash });
          heartbeat({ phase: 'reading requests', requests: originals.size });
        }
        async function* requests(): AsyncGenerator<RescoreRequest> {
          for await (const sample of parsedSamples(store, input.judgmentsUri, config)) {
            const original = originals.get(sample.request_id);
            if (!original) {
              throw badInput(`consistency: judgment ${sample.request_id}#${sample.sample_index} has no request in ${input.requestsUri}`);
            }
            heartbeat({ phase: 'rendering' });
            yield buildRescoreRequest(original, sample, config.judge.marker);
          }
        }
        const written = await store.writeJsonl(joinUri(requestsPrefix, 'data', 'requests.jsonl'), requests());
        return { objects: [written], summary: { requests: written.rows ?? 0 } };
      },
    );
    return requestSet(joinUri(requestsPrefix, 'data'), rendered.summary.requests);
  }

  /** The judge re-scores each rationale greedily (one job). */
  async function rescore(input: GenerationInput): Promise<JobResult> {
    return runGreedyGeneration(deps, deps.storeFor(storageSettings(input.config)), input, 'consistency', input.requests.dataUri);
  }

  /**
   * Reads the job's re-scores into `iter-N/consistency/data/rescores.jsonl` rows `{request_id, example_id,
   * sample_index, score, rescore, consistent}`. Returns `{uri, rescored, consistent, inconsistent}` (rescored
   * = consistent + inconsistent = rows written; an unparseable re-score counts as inconsistent). `outputUri`
   * null: there was nothing to re-score.
   */
  async function collectRescores(input: JudgeSideInput & { outputUri: string | null }): Promise<ConsistencySummary> {
    const { config, iteration, outputUri } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const prefix = stepRoot(input.runPrefixUri, iteration, 'consistency');
    const heartbeat = throttledHeartbeat();
    const outcome = await once(
      {
        prefixUri: prefix,
        step: 'consistency',
        inputs: { requests: requestInputs(input), job: outputUri },
      },
      async () => {
        let rescored = 0;
        let consistent = 0;
        async function* rescores(): AsyncGenerator<Rescore> {
          if (!outputUri) return;
          for await (const raw of readRows(store, joinUri(outputUri, 'judgments.jsonl'), 'judge-side output row', { job: 'consistency' })) {
            const row = rescoreRow(raw, config.judge.scale, config.judge.marker);
            rescored++;
            if (row.consistent) consistent++;
            heartbeat({ rescored });
            yield row;
          }
        }
        const written = await store.writeJsonl(joinUri(prefix, 'data', 'rescores.jsonl'), rescores());
        const summary: ConsistencySummary = { uri: written.uri, rescored, consistent, inconsistent: rescored - consistent };
        return { objects: [written], summary };
      },
    );
    return outcome.summary;
  }

  return {
    renderConsistencyRequests,
    /** The judge's greedy re-score of each request (job `consistency`). */
    async generateRescores(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await rescore(input));
    },
    collectRescores,
    /**
     * Render, re-score and collect in one activity, as runs started before the consistency job became an
     * activity of its own schedule it (workflows/options.ts JOB_ACTIVITIES_PATCH).
     */
    async rescoreJudgments(input: JudgeSideInput & { config: ConfigFor<'generation'> }): Promise<ConsistencySummary> {
      const requests = await renderConsistencyRequests(input);
      const job = requests ? await rescore({ ...input, runId: runIdOf(input), requests }) : null;
      return collectRescores({ ...input, outputUri: job?.modelUri ?? null });
    },
  };
}
