/**
 * Step 1, Sample: choose this iteration's training inputs (seeded), render each into the judge's prompt,
 * and have the current judge M(i-1) write N judgments per input at temperature T (a generation job). The
 * count, N and T are this iteration's (core/config/per-iteration.ts).
 */
import type { RunConfig } from '../../core/config/config';
import { jobName, joinUri, stepPrefix } from '../../core/run/artifacts';
import { deriveSeed } from '../../core/common/rng';
import { selectIterationInputs } from '../../core/pairing/selection';
import { iterationParameters } from '../../core/config/per-iteration';
import type { PointwiseExample } from '../../core/data/records';
import type { GenerationRequest } from '../../core/run/formats';
import { runStepOnce } from '../storage/manifest';
import { acrossRunsFor } from '../storage/step-reuse';
import { type ActivityDeps, badInput, currentJobContext, storageSettings, throttledHeartbeat } from '../context';
import { loadTemplate, renderForJudge, generationHyperparameters, promptHash } from './prompts';
import type { JobResult } from '../jobs/types';

export interface SampleInput {
  config: RunConfig;
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

export function createSampleActivities(deps: ActivityDeps) {
  return {
    async sampleJudgments(input: SampleInput): Promise<SampleResult> {
      const { config, iteration } = input;
      const store = deps.storeFor(storageSettings(config));
      const template = await loadTemplate(deps.projectRoot, config);
      const prefix = stepPrefix(input.runPrefixUri, iteration, 'sample');
      const requestsPrefix = joinUri(prefix, 'requests');
      const heartbeat = throttledHeartbeat();

      const rendered = await runStepOnce(
        store,
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
          codeVersion: deps.codeVersion,
          acrossRuns: await acrossRunsFor(input.config, input.runPrefixUri),
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

      // N and T of this iteration (loop.samplesPerInput / loop.temperature may be per-iteration lists).
      const { samplesPerInput, temperature } = iterationParameters(config.loop, iteration);
      const job = await deps.runnerFor(config, store).run(
        {
          jobName: jobName(input.runId, iteration, 'sample'),
          entryPoint: 'generate.py',
          channels: { model: input.modelUri, requests: joinUri(requestsPrefix, 'data') },
          hyperparameters: {
            ...generationHyperparameters(config),
            num_samples: samplesPerInput,
            temperature,
            seed: deriveSeed(config.loop.seed, 'sample', iteration),
          },
          outputUri: joinUri(prefix, 'job'),
        },
        currentJobContext(),
      );
      return {
        inputs: rendered.summary.inputs,
        requestsUri: rendered.summary.requestsUri,
        rawJudgmentsUri: joinUri(job.modelUri, 'judgments.jsonl'),
        promptHash: template.hash,
        job,
        requestsReused: rendered.reused,
      };
    },
  };
}
