/**
 * Writes datasets/real-small/: the short rows of the in-repository Prometheus-2 sets, for a loop on a small
 * real judge on a CPU (configs/real-small.json).
 *
 *   npx tsx scripts/cut-real-small.ts [--out datasets/real-small]
 *
 * - train.jsonl / validation.jsonl: MT-Bench rows whose prompt (prompts/pointwise-short-v1.txt) is at most
 *   TRAIN_MAX_PROMPT_CHARS characters, split by instruction (core/data/short-rows.ts);
 * - test-vicuna.jsonl: Vicuna rows at most TEST_MAX_PROMPT_CHARS characters.
 * Rows are copied unmodified, one JSON object per line, in source order. The same sources always give
 * byte-identical files (test/unit/short-rows.test.ts checks the committed ones).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseTemplate } from '../core/judging/prompt';
import { shortPrometheusRows, splitByInstruction, type ShortRow } from '../core/data/short-rows';

export const REAL_SMALL = {
  template: 'prompts/pointwise-short-v1.txt',
  trainSource: 'datasets/benchmarks/prometheus-eval-benchmarks/mt_bench_eval.jsonl',
  testSource: 'datasets/benchmarks/prometheus-eval-benchmarks/vicuna_eval.jsonl',
  trainMaxPromptChars: 2500,
  testMaxPromptChars: 2200,
  validationRows: 20,
  scale: { min: 1, max: 5 },
  marker: '[RESULT]',
} as const;

const ROOT = path.resolve(__dirname, '..');

function readLines(rel: string): string[] {
  return readFileSync(path.join(ROOT, rel), 'utf8').split('\n').filter((l) => l.trim() !== '');
}

const jsonl = (rows: readonly ShortRow[]): string => rows.map((r) => `${JSON.stringify(r.raw)}\n`).join('');

/** The files of datasets/real-small/ by name, and what the cut left out (for the log). */
export function cutRealSmall(): { files: Record<string, string>; notes: string[] } {
  const parsed = parseTemplate(readFileSync(path.join(ROOT, REAL_SMALL.template), 'utf8'), { source: REAL_SMALL.template });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const common = { scale: REAL_SMALL.scale, marker: REAL_SMALL.marker };
  const train = shortPrometheusRows(readLines(REAL_SMALL.trainSource), parsed.template, { ...common, maxPromptChars: REAL_SMALL.trainMaxPromptChars });
  const test = shortPrometheusRows(readLines(REAL_SMALL.testSource), parsed.template, { ...common, maxPromptChars: REAL_SMALL.testMaxPromptChars });
  const split = splitByInstruction(train.rows, REAL_SMALL.validationRows);
  const notes = [
    `${REAL_SMALL.trainSource}: ${train.rows.length} rows kept (${split.train.length} train, ${split.validation.length} validation), ${train.tooLong} longer, ${train.refused.length} refused`,
    `${REAL_SMALL.testSource}: ${test.rows.length} rows kept, ${test.tooLong} longer, ${test.refused.length} refused`,
  ];
  for (const r of [...train.refused, ...test.refused]) notes.push(`refused row ${r.index}: ${r.reason}`);
  return {
    files: {
      'train.jsonl': jsonl(split.train),
      'validation.jsonl': jsonl(split.validation),
      'test-vicuna.jsonl': jsonl(test.rows),
    },
    notes,
  };
}

function main(argv: string[]): void {
  let out = 'datasets/real-small';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = argv[++i]!;
    else throw new Error(`unknown argument ${argv[i]}\nusage: npx tsx scripts/cut-real-small.ts [--out DIR]`);
  }
  const { files, notes } = cutRealSmall();
  mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(out, name), text);
  for (const n of notes) console.log(n);
}

if (require.main === module) main(process.argv.slice(2));
