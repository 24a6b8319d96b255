/**
 * Sampling and training must see the same sequences (docs/method.md, "Decoding"): a judgment is sampled
 * after a prompt of at most `judge.decoding.maxPromptTokens` tokens, and DPO trains on prompt + judgment
 * within `training.maxLength`. When the training budget is the smaller one, the trainer cuts the start of
 * long prompts, so the judge would be trained on a context it never saw. Rejected before a run starts (the
 * CLI and the prepare step), not in the workflow's own config validation, so that histories of runs
 * started before the check still replay.
 */
import type { ConfigProblem, RunConfig } from './config';

/**
 * Tokens a judgment may take besides its rationale: the marker (a few tokens for any tokenizer we know),
 * the score and the end-of-turn token. The same slack generate.py adds for free decoding's default budget
 * (FREE_BUDGET_SLACK in jobs/judgeloop_jobs/decoding.py).
 */
export const JUDGMENT_TOKEN_SLACK = 16;

/** The most tokens one sampled judgment can take, end-of-turn included. */
export function judgmentTokenBudget(decoding: RunConfig['judge']['decoding']): number {
  if (decoding.mode === 'free') return decoding.maxNewTokens ?? decoding.maxRationaleTokens + JUDGMENT_TOKEN_SLACK;
  return decoding.maxRationaleTokens + JUDGMENT_TOKEN_SLACK;
}

/** The budget problems of a valid config: none when training can hold every sequence sampling can produce. */
export function tokenBudgetProblems(config: RunConfig): ConfigProblem[] {
  if (config.loop.iterations === 0) return []; // evaluate-only: nothing is trained
  const { decoding } = config.judge;
  const judgment = judgmentTokenBudget(decoding);
  const needed = decoding.maxPromptTokens + judgment;
  const problems: ConfigProblem[] = [];
  if (config.training.maxLength < needed) {
    const budget = decoding.mode === 'free' && decoding.maxNewTokens !== undefined
      ? `judge.decoding.maxNewTokens ${decoding.maxNewTokens}`
      : `judge.decoding.maxRationaleTokens ${decoding.maxRationaleTokens} + ${JUDGMENT_TOKEN_SLACK} for marker, score and end of turn`;
    problems.push({
      path: 'training.maxLength',
      message:
        `${config.training.maxLength} is shorter than what sampling can produce: judge.decoding.maxPromptTokens ` +
        `${decoding.maxPromptTokens} + ${budget} = ${needed} tokens. Training would cut the start of long ` +
        `prompts and train the judge on contexts it never saw: raise training.maxLength to at least ${needed}, ` +
        `or lower judge.decoding.maxPromptTokens to at most ${Math.max(config.training.maxLength - judgment, 0)}`,
    });
  }
  return problems;
}
