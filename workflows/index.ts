// The workflow bundle's entry: only deterministic code may be reachable from here.
export { selfRationalizationRun, runProgressQuery } from './run';
export { iterationWorkflow, iterationProgressQuery } from './iteration';
