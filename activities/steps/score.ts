/**
 * Step 2, Score: parse every sampled judgment into (rationale, score) and compare it with the gold score.
 * A judgment that does not parse is kept, marked `unparseable` with its reason, and counted — never
 * dropped or scored 0.
 */
import type { ConfigFor } from '../../core/config/sections';
import type { RunConfig } from '../../core/config/config';
import { joinUri, stepPrefix } from '../../core/run/artifacts';
import { ApplicationFailure } from '@temporalio/common';
import { parseJudgment } from '../../core/judging/judgment';
import { jsonlSourceLines, type SourceLine } from '../../core/data/source-lines';
import { OwnParseTally } from '../../core/data/records';
import { checkRow, type RawJudgment, type ScoredJudgment } from '../../core/run/formats';
import type { SampleSummary } from '../../core/run/run-types';
import { stepsOfRun } from '../storage/reuse';
import { type ActivityDeps, storageSettings, throttledHeartbeat } from '../context';

export function scoreRawJudgment(raw: RawJudgment, config: Pick<RunConfig, 'judge'>, modelId: string, opts: { notUtf8?: boolean } = {}): ScoredJudgment {
  const { scale, marker } = config.judge;
  const parsed = opts.notUtf8
    ? // The job's bytes were not UTF-8: what U+FFFD replaced is unknown, so the text is not the judge's.
      ({ status: 'unparseable', reason: 'invalid_text' } as const)
    : parseJudgment(raw.text, { min: scale.min, max: scale.max, marker });
  // Built field by field in the row's column order: spreading the optional fields into one object, then that
  // object into the result, made temporary objects per row and was most of the score step's time
  // (bench/data-steps.ts: 160k judgments in 1.1 s that way).
  const row: Record<string, unknown> = {
    request_id: raw.request_id,
    example_id: raw.example_id,
    sample_index: raw.sample_index,
    model_id: modelId,
    prompt_hash: raw.prompt_hash,
  };
  if (raw.template_hash !== undefined) row.template_hash = raw.template_hash;
  // Judgment.text is a string; a job that wrote something else gets an empty one and reason invalid_text.
  row.text = typeof raw.text === 'string' ? raw.text : '';
  row.seed = raw.seed;
  if (raw.gold_score !== undefined) row.gold_score = raw.gold_score;
  if (raw.logprob !== undefined) row.logprob = raw.logprob;
  if (raw.marker_source !== undefined) row.marker_source = raw.marker_source;
  if (raw.completion_ids !== undefined && raw.prompt_ids_sha256 !== undefined) {
    row.completion_ids = raw.completion_ids;
    row.prompt_ids_sha256 = raw.prompt_ids_sha256;
  }
  if (parsed.status === 'ok') {
    row.status = 'ok';
    row.rationale = parsed.rationale;
    row.score = parsed.score;
  } else {
    row.status = 'unparseable';
    row.reason = parsed.reason;
  }
  return row as ScoredJudgment;
}

/**
 * One line of a generation job's output as a raw judgment. A line that is not a JSON object naming its
 * request, or does not fit the raw judgment's format (core/run/formats.ts: a missing `sample_index`, a `seed`
 * that is not a number...), is a broken output file, not a judgment: an error that names the line and what is
 * wrong (retrying cannot fix it). What the model wrote (`text`) is never checked here: the parser scores it.
 */
export function rawJudgmentOf(row: SourceLine, uri: string): { raw: RawJudgment; notUtf8: boolean } {
  if (row.error !== undefined) throw brokenOutput(uri, row.error);
  const v = row.value as Partial<RawJudgment> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw brokenOutput(uri, `line ${row.line} is not a JSON object`);
  // The two ids first, with the messages they had before the format's check (the bad-input corpus pins them).
  if (typeof v.request_id !== 'string' || v.request_id === '') throw brokenOutput(uri, `line ${row.line} has no request_id`);
  if (typeof v.example_id !== 'string' || v.example_id === '') throw brokenOutput(uri, `line ${row.line} has no example_id`);
  const checked = checkRow('raw judgment', v);
  if (!checked.ok) throw brokenOutput(uri, `line ${row.line} is not a valid raw judgment: ${checked.reason}`);
  return { raw: checked.record, notUtf8: row.notUtf8 === true };
}

// Built only for a broken line: the scoring loop creates no closure per row.
function brokenOutput(uri: string, why: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'InvalidJobOutput',
    message: `${uri}: ${why}. The generation job wrote a broken line, so its outputs cannot be scored; rerun the job (delete its outputs, then reset the run to this iteration)`,
    nonRetryable: true,
  });
}

export interface ScoreInput {
  config: ConfigFor<'score'>;
  runPrefixUri: string;
  iteration: number;
  modelUri: string;
  rawJudgmentsUri: string;
}

export function createScoreActivities(deps: ActivityDeps) {
  return {
    async scoreJudgments(input: ScoreInput): Promise<SampleSummary> {
      const store = deps.storeFor(storageSettings(input.config));
      const once = await stepsOfRun(store, input.config, input.runPrefixUri, deps.codeVersion);
      const prefix = stepPrefix(input.runPrefixUri, input.iteration, 'score');
      const heartbeat = throttledHeartbeat();
      const outcome = await once(
        {
          prefixUri: prefix,
          step: 'score',
          inputs: { raw: input.rawJudgmentsUri, judge: input.config.judge, model: input.modelUri },
        },
        async () => {
          const examples = new Set<string>();
          let judgments = 0;
          let parsed = 0;
          const own = new OwnParseTally();
          let withGold = 0;
          let agree = 0;
          async function* scored(): AsyncGenerator<ScoredJudgment> {
            // Read as bytes (core/data/source-lines.ts): a line that is not UTF-8 is kept and marked invalid_text,
            // a broken line stops the step with its line number instead of a TypeError on `undefined`.
            const body = await store.openRead(input.rawJudgmentsUri);
            for await (const row of jsonlSourceLines(body, { invalidUtf8: 'replace' })) {
              const { raw, notUtf8 } = rawJudgmentOf(row, input.rawJudgmentsUri);
              const j = scoreRawJudgment(raw, input.config, input.modelUri, { notUtf8 });
              judgments++;
              examples.add(j.example_id);
              own.add(j);
              if (j.status === 'ok') {
                parsed++;
                if (j.gold_score !== undefined) {
                  withGold++;
                  if (j.score === j.gold_score) agree++;
                }
              }
              heartbeat({ judgments });
              yield j;
            }
          }
          const written = await store.writeJsonl(joinUri(prefix, 'data', 'judgments.jsonl'), scored());
          const summary: SampleSummary = {
            inputs: examples.size,
            judgments,
            parsed,
            parseRate: judgments ? parsed / judgments : 0,
            ...own.figures(),
            agreementWithGold: withGold ? agree / withGold : null,
            uri: written.uri,
          };
          return { objects: [written], summary };
        },
      );
      return outcome.summary;
    },
  };
}
