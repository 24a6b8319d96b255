/**
 * The self-rationalization run: validate the config, bring data and the seed judge into S3, evaluate the
 * seed judge (iteration 0), then run K iterations, each a child workflow that starts from the previous
 * iteration's judge. Returns a summary; every artifact is in S3 under the run's prefix.
 */
import {
  ApplicationFailure,
  ParentClosePolicy,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { formatConfigProblems, validateConfig } from '../core/config';
import {
  PROGRESS_QUERY,
  iterationWorkflowId,
  type IterationSummary,
  type RunProgress,
  type RunSummary,
} from '../core/run-types';
import type { Activities } from '../activities';
import { dataActivityOptions } from './options';
import { iterationWorkflow } from './iteration';

export const runProgressQuery = defineQuery<RunProgress>(PROGRESS_QUERY);

export async function selfRationalizationRun(rawConfig: unknown): Promise<RunSummary> {
  const validated = validateConfig(rawConfig);
  if (!validated.ok) {
    // Thrown as a non-retryable failure: a plain exception would fail the workflow task and retry forever.
    throw ApplicationFailure.nonRetryable(formatConfigProblems(validated.problems, 'the run config'), 'ConfigError', {
      problems: validated.problems,
    });
  }
  const config = validated.config;
  const runId = workflowInfo().workflowId;
  const progress: RunProgress = {
    runId,
    iterations: config.loop.iterations,
    iteration: 0,
    step: 'prepare',
    childWorkflowId: null,
    completed: [],
  };
  setHandler(runProgressQuery, () => progress);

  const { prepareRun } = proxyActivities<Activities>(dataActivityOptions(config));
  const prepared = await prepareRun({ config, runId });

  const iterations: IterationSummary[] = [];
  let modelUri = prepared.seedModelUri;
  for (let iteration = 0; iteration <= config.loop.iterations; iteration++) {
    const childId = iterationWorkflowId(runId, iteration);
    progress.iteration = iteration;
    progress.step = iteration === 0 ? 'evaluate' : 'sample';
    progress.childWorkflowId = childId;
    const summary = await executeChild(iterationWorkflow, {
      workflowId: childId,
      args: [
        {
          config,
          runId,
          runPrefixUri: prepared.runPrefixUri,
          iteration,
          modelUri,
          trainUri: prepared.train.uri,
          evalSuites: prepared.evalSuites,
        },
      ],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
    iterations.push(summary);
    progress.completed = iterations;
    modelUri = summary.modelUri;
  }
  progress.step = 'done';
  progress.childWorkflowId = null;

  return {
    runId,
    runName: config.name,
    judgeName: config.judge.name,
    configHash: prepared.configHash,
    runPrefixUri: prepared.runPrefixUri,
    datasets: [prepared.train, ...prepared.evalSuites].map(({ kind: _kind, ...d }) => d),
    iterations,
    finalModelUri: modelUri,
  };
}
