/**
 * Step 1, Sample: choose this iteration's training inputs (seeded), render each into the judge's prompt,
 * and have the current judge M(i-1) write N judgments per input at temperature T (a generation job).
 */
import type { RunConfig } from '../core/config';
import { jobName, joinUri, stepPrefix } from '../core/artifacts';
import { deriveSeed } from '../core/rng';
import type { PointwiseExample } from '../core/records';
import { runStepOnce } from './manifest';
import { type ActivityDeps, currentJobContext, storageSettings, throttledHeartbeat } from './context';
import { loadTemplate, renderForJudge, generationHyperparameters } from './prompts';
import type { JobResult } from './jobs/types';

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
  promptHash: string;
  job: JobResult;
  requestsReused: boolean;
}

/** A generation request: one rendered prompt; fields other than `messages` come back on every judgment. */
export interface GenerationRequest {
  request_id: string;
  example_id: string;
  messages: { role: string; content: string }[];
  prompt_hash: string;
  gold_score?: number;
  [extra: string]: unknown;
}

/**
 * Picks `count` example ids with the smallest seeded hash: a uniform, seeded sample that needs only the ids
 * in memory and gives each iteration its own draw.
 */
export function selectInputIds(ids: string[], count: number, seed: number, iteration: number): Set<string> {
  const keyed = ids.map((id) => ({ id, key: deriveSeed(seed, 'inputs', iteration, id) }));
  keyed.sort((a, b) => a.key - b.key || (a.id < b.id ? -1 : 1));
  return new Set(keyed.slice(0, count).map((k) => k.id));
}

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
            template: template.hash,
            judge: config.judge,
          },
          codeVersion: deps.codeVersion,
        },
        async () => {
          const ids: string[] = [];
          for await (const row of store.readJsonl<PointwiseExample>(input.trainUri)) {
            ids.push(row.id);
            heartbeat({ phase: 'selecting', seen: ids.length });
          }
          const chosen = selectInputIds(ids, config.loop.inputsPerIteration, config.loop.seed, iteration);
          async function* requests(): AsyncGenerator<GenerationRequest> {
            for await (const ex of store.readJsonl<PointwiseExample>(input.trainUri)) {
              if (!chosen.has(ex.id)) continue;
              heartbeat({ phase: 'rendering' });
              yield {
                request_id: ex.id,
                example_id: ex.id,
                messages: renderForJudge(template, config, ex),
                prompt_hash: template.hash,
                ...(ex.gold_score !== undefined ? { gold_score: ex.gold_score } : {}),
              };
            }
          }
          const written = await store.writeJsonl(joinUri(requestsPrefix, 'data', 'requests.jsonl'), requests());
          return { objects: [written], summary: { requestsUri: written.uri, inputs: written.rows ?? 0 } };
        },
      );

      const job = await deps.runnerFor(config, store).run(
        {
          jobName: jobName(input.runId, iteration, 'sample'),
          entryPoint: 'generate.py',
          channels: { model: input.modelUri, requests: joinUri(requestsPrefix, 'data') },
          hyperparameters: {
            ...generationHyperparameters(config),
            num_samples: config.loop.samplesPerInput,
            temperature: config.loop.temperature,
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
