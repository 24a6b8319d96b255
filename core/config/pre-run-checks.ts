/**
 * Every check a config meets before a run starts, beyond its schema: the CLI (`validate`, `run`, `seeds`,
 * schedules) and the prepare step run the same list, so a run started elsewhere (the Temporal CLI, a client
 * of its own) is held to it too.
 */
import type { ConfigProblem, RunConfig } from './config';
import { jobLimitProblems } from './job-limits';
import { tokenBudgetProblems } from './token-budgets';

export function preRunProblems(config: RunConfig): ConfigProblem[] {
  return [...tokenBudgetProblems(config), ...jobLimitProblems(config)];
}
