/** Loads the configured prompt template once per file content and renders canonical examples with it. */
import { readFile } from 'node:fs/promises';
import type { RunConfig } from '../core/config';
import { parseTemplate, renderPointwise, type Template } from '../core/prompt';
import type { ChatMessage, PointwiseExample } from '../core/records';
import { badInput, localPath } from './context';
import { sha256Hex } from './manifest';

export interface LoadedTemplate {
  template: Template;
  /** Recorded with every judgment: which template produced its prompt. */
  hash: string;
  path: string;
}

export async function loadTemplate(projectRoot: string, config: RunConfig): Promise<LoadedTemplate> {
  const file = localPath(projectRoot, config.judge.promptTemplate);
  const text = await readFile(file, 'utf8').catch(() => {
    throw badInput(`judge.promptTemplate: cannot read ${config.judge.promptTemplate} (looked for ${file})`, 'ConfigError');
  });
  const parsed = parseTemplate(text);
  if (!parsed.ok) {
    throw badInput(`judge.promptTemplate ${config.judge.promptTemplate} is invalid: ${parsed.problems.join('; ')}`, 'ConfigError');
  }
  return { template: parsed.template, hash: sha256Hex(text).slice(0, 16), path: file };
}

export function renderForJudge(
  loaded: LoadedTemplate,
  config: RunConfig,
  example: Pick<PointwiseExample, 'instruction' | 'response' | 'rubric' | 'reference_answer'>,
): ChatMessage[] {
  return renderPointwise(loaded.template, example, {
    scale: config.judge.scale,
    marker: config.judge.marker,
    systemPlacement: config.judge.systemPromptPlacement,
  });
}

/** Hyperparameters of the generation job shared by sampling and evaluation. */
export function generationHyperparameters(config: RunConfig) {
  return {
    max_rationale_tokens: config.judge.decoding.maxRationaleTokens,
    score_min: config.judge.scale.min,
    score_max: config.judge.scale.max,
    marker: config.judge.marker,
    backend: config.judge.decoding.backend,
    batch_size: config.judge.decoding.batchSize,
    max_prompt_tokens: config.judge.decoding.maxPromptTokens,
  };
}
