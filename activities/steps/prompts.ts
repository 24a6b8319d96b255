/** Loads prompt template files (validated for their kind) and renders canonical examples with them. */
import { readFile } from 'node:fs/promises';
import type { RunConfig } from '../../core/config/config';
import { parseTemplate, renderPointwise, type Template, type TemplateKind } from '../../core/judging/prompt';
import type { ChatMessage, PointwiseExample } from '../../core/data/records';
import { badInput, localPath } from '../context';
import { canonicalJson, sha256Hex } from '../storage/hashing';

export interface LoadedTemplate {
  template: Template;
  /** `template_hash` on every request and judgment: sha256 of the template file's text, 16 hex digits. */
  hash: string;
  path: string;
}

/** The default meta-judge template (loop.pairing.strategies[name=meta_judge].template overrides it). */
export const DEFAULT_META_TEMPLATE = 'prompts/meta-judge-v1.txt';

/** sha256 of a template file's text, 16 hex digits: the `template_hash` recorded on requests and judgments. */
export function templateHash(text: string): string {
  return sha256Hex(text).slice(0, 16);
}

/** sha256 of the rendered chat messages, 16 hex digits: the `prompt_hash` of one request. */
export function promptHash(messages: ReadonlyArray<{ role: string; content: string }>): string {
  return sha256Hex(canonicalJson(messages)).slice(0, 16);
}

/**
 * Reads and validates a template file of the given kind: a project file such as prompts/pointwise-v1.txt or
 * any user-supplied path (relative to the project root, or absolute). `configKey` names the setting in
 * errors, which are non-retryable ConfigErrors listing every problem with the file's name.
 */
export async function loadTemplateFile(projectRoot: string, file: string, kind: TemplateKind, configKey: string): Promise<LoadedTemplate> {
  const resolved = localPath(projectRoot, file);
  const text = await readFile(resolved, 'utf8').catch(() => {
    throw badInput(`${configKey}: cannot read ${file} (looked for ${resolved})`, 'ConfigError');
  });
  const parsed = parseTemplate(text, { kind, source: file });
  if (!parsed.ok) {
    throw badInput(`${configKey}: ${file} is not a valid ${kind} template: ${parsed.problems.join('; ')}`, 'ConfigError');
  }
  return { template: parsed.template, hash: templateHash(text), path: resolved };
}

/** The judge's pointwise template (`judge.promptTemplate`). */
export async function loadTemplate(projectRoot: string, config: Pick<RunConfig, 'judge'>): Promise<LoadedTemplate> {
  return loadTemplateFile(projectRoot, config.judge.promptTemplate, 'pointwise', 'judge.promptTemplate');
}

export function renderForJudge(
  loaded: LoadedTemplate,
  config: Pick<RunConfig, 'judge'>,
  example: Pick<PointwiseExample, 'instruction' | 'response' | 'rubric' | 'reference_answer'>,
): ChatMessage[] {
  return renderPointwise(loaded.template, example, {
    scale: config.judge.scale,
    marker: config.judge.marker,
    systemPlacement: config.judge.systemPromptPlacement,
  });
}

/** Hyperparameters of the generation job shared by sampling and evaluation. */
export function generationHyperparameters(config: Pick<RunConfig, 'judge'>) {
  return {
    decoding: config.judge.decoding.mode,
    ...(config.judge.decoding.maxNewTokens !== undefined ? { max_new_tokens: config.judge.decoding.maxNewTokens } : {}),
    max_rationale_tokens: config.judge.decoding.maxRationaleTokens,
    score_min: config.judge.scale.min,
    score_max: config.judge.scale.max,
    marker: config.judge.marker,
    backend: config.judge.decoding.backend,
    batch_size: config.judge.decoding.batchSize,
    max_prompt_tokens: config.judge.decoding.maxPromptTokens,
  };
}
