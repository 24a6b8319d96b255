/**
 * Step 1, Sample: choose this iteration's training inputs (seeded), render each into the judge's prompt,
 * and have the current judge M(i-1) write N judgments per input at temperature T (a generation job). The
 * count, N and T are this iteration's (core/config/per-iteration.ts).
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { deriveSeed } from '../../core/common/rng';
import { selectIterationInputs } from '../../core/pairing/selection';
import { iterationParameters } from '../../core/config/per-iteration';
import type { PointwiseExample } from '../../core/data/records';
import type { GenerationRequest } from '../../core/run/formats';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, badInput, currentJobContext, storageSettings, throttledHeartbeat } from '../context';
import { loadTemplate, renderForJudge, generationHyperparameters, promptHash } from './prompts';
import type { JobResult, JobSpec } from '../jobs/types';
import { type GeneratedJudgments, type GenerationInput, type RequestSet, generated, shardedJob } from './generation';

export interface SampleInput {
  config: ConfigFor<'sampleRequests'>;
  runId: string;
  runPrefixUri: string;
  iteration: number;
  modelUri: string;
  trainUri: string;
}

export interface SampleResult {
  inputs: number;
  requestsUri: string;
  rawJudgmentsUri: string;
  /** The template's hash (every request's `template_hash`); the name predates per-prompt hashes. */
  promptHash: string;
  job: JobResult;
  requestsReused: boolean;
}

export { selectInputIds } from '../../core/pairing/selection';

/** What renderSampleRequests wrote: the requests the judge samples from, one per chosen training input. */
export interface SampleRequests {
  inputs: number;
  /** The requests JSONL (the judge-side and pair steps read it). */
  requestsUri: string;
  /** Its folder, for the generation job. */
  requests: RequestSet;
  /** The template's hash (every request's `template_hash`). */
  promptHash: string;
  requestsReused: boolean;
}

export function createSampleActivities(deps: ActivityDeps) {
  /** Chooses this iteration's training inputs (seeded) and renders each into the judge's prompt. */
  async function renderSampleRequests(input: SampleInput): Promise<SampleRequests> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    const once = await stepsOfRun(store, config, input.runPrefixUri, deps.codeVersion);
    const template = await loadTemplate(deps.projectRoot, config);
    const requestsPrefix = joinUri(stepPrefix(input.runPrefixUri, iteration, 'sample'), 'requests');
    const heartbeat = throttledHeartbeat();

    const rendered = await once(
      {
        prefixUri: requestsPrefix,
        step: 'sample:requests',
        inputs: {
          trainUri: input.trainUri,
          iteration,
          seed: config.loop.seed,
          inputsPerIteration: config.loop.inputsPerIteration,
          inputsSchedule: config.loop.inputsSchedule ?? null,
          reuseInputs: config.loop.reuseInputs,
          template: template.hash,
          judge: config.judge,
        },
      },
      async () => {
        const ids: string[] = [];
        for await (const row of store.readJsonl<PointwiseExample>(input.trainUri)) {
          ids.push(row.id);
          heartbeat({ phase: 'selecting', seen: ids.length });
        }
        const selection = selectIterationInputs(ids, config.loop, iteration);
        const chosen = selection.ids;
        if (chosen.size === 0) {
          throw badInput(
            `iteration ${iteration} has no training input to sample: ${selection.excludedAsUsed} of ${new Set(ids).size} were used by earlier iterations (loop.reuseInputs is false)`,
            'NoInputs',
          );
        }
        async function* requests(): AsyncGenerator<GenerationRequest> {
          for await (const ex of store.readJsonl<PointwiseExample>(input.trainUri)) {
            if (!chosen.has(ex.id)) continue;
            heartbeat({ phase: 'rendering' });
            const messages = renderForJudge(template, config, ex);
            yield {
              request_id: ex.id,
              example_id: ex.id,
              messages,
              prompt_hash: promptHash(messages),
              template_hash: template.hash,
              ...(ex.gold_score !== undefined ? { gold_score: ex.gold_score } : {}),
            };
          }
        }
        const written = await store.writeJsonl(joinUri(requestsPrefix, 'data', 'requests.jsonl'), requests());
        return {
          objects: [written],
          summary: { requestsUri: written.uri, inputs: written.rows ?? 0, wanted: selection.wanted, excludedAsUsed: selection.excludedAsUsed },
        };
      },
    );
    return {
      inputs: rendered.summary.inputs,
      requestsUri: rendered.summary.requestsUri,
      requests: { dataUri: joinUri(requestsPrefix, 'data'), requests: rendered.summary.inputs },
      promptHash: template.hash,
      requestsReused: rendered.reused,
    };
  }

  /** The judge M(i-1) writes N judgments per request at temperature T: this iteration's N and T (a job). */
  async function sample(input: GenerationInput): Promise<JobResult> {
    const { config, iteration } = input;
    const store = deps.storeFor(storageSettings(config));
    // N and T of this iteration (loop.samplesPerInput / loop.temperature may be per-iteration lists).
    const { samplesPerInput, temperature } = iterationParameters(config.loop, iteration);
    const spec: JobSpec = {
      jobName: jobName(input.runId, iteration, 'sample'),
      entryPoint: 'generate.py',
      channels: { model: input.modelUri, requests: input.requests.dataUri },
      hyperparameters: {
        ...generationHyperparameters(config),
        num_samples: samplesPerInput,
        temperature,
        seed: deriveSeed(config.loop.seed, 'sample', iteration),
      },
      outputUri: joinUri(stepPrefix(input.runPrefixUri, iteration, 'sample'), 'job'),
    };
    return deps.runnerFor(config, store).run(shardedJob(spec, input, 'sample'), currentJobContext());
  }

  return {
    renderSampleRequests,
    async generateSampledJudgments(input: GenerationInput): Promise<GeneratedJudgments> {
      return generated(await sample(input));
    },
    /**
     * Render and sample in one activity, as runs started before the sample job became an activity of its own
     * schedule it (workflows/options.ts JOB_ACTIVITIES_PATCH).
     */
    async sampleJudgments(input: SampleInput & { config: ConfigFor<'generation'> }): Promise<SampleResult> {
      const rendered = await renderSampleRequests(input);
      const job = await sample({ ...input, requests: rendered.requests });
      return {
        inputs: rendered.inputs,
        requestsUri: rendered.requestsUri,
        rawJudgmentsUri: joinUri(job.modelUri, 'judgments.jsonl'),
        promptHash: rendered.promptHash,
        job,
        requestsReused: rendered.requestsReused,
      };
    },
  };
}
