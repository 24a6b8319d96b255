/**
 * The run's config as the workflow uses it, resolved outside workflow code: validated against the schema
 * (defaults filled in) and its dated data locations filled from the run's data time in the schedule's time
 * zone. Run as an activity, so the result is recorded in the history: a replay reads what the run used, and
 * a later change of a schema default or of the time-zone database cannot change what it computes.
 */
import { formatConfigProblems, validateConfig, type ConfigProblem, type RunConfig } from '../../core/config/config';
import { withDatedData } from '../../core/config/schedule';

export interface ResolveRunConfigInput {
  rawConfig: unknown;
  /** ISO time whose date fills `{date}`-style placeholders: the scheduled time, else the run's start. */
  dataTime: string;
}

export type ResolvedRunConfig = { ok: true; config: RunConfig } | { ok: false; message: string; problems: ConfigProblem[] };

export function resolveRunConfig(input: ResolveRunConfigInput): ResolvedRunConfig {
  const validated = validateConfig(input.rawConfig);
  if (!validated.ok) {
    return { ok: false, message: formatConfigProblems(validated.problems, 'the run config'), problems: validated.problems };
  }
  const config = withDatedData(validated.config, new Date(input.dataTime), validated.config.schedule?.timezone ?? 'UTC');
  return { ok: true, config };
}

export function createConfigActivities() {
  return {
    async resolveRunConfig(input: ResolveRunConfigInput): Promise<ResolvedRunConfig> {
      return resolveRunConfig(input);
    },
  };
}
