/**
 * Inputs for benchmarking the jobs on their own (bench/jobs.sh): generation requests rendered from the
 * synthetic training set with the default template, and DPO pairs built from the gold scores.
 *
 *   npx tsx bench/make-job-inputs.ts --out DIR [--count 200]
 * Writes DIR/requests/requests.jsonl and DIR/pairs/pairs.jsonl.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseTemplate, renderPointwise } from '../core/judging/prompt';
import type { PointwiseExample, PreferencePair } from '../core/data/records';

const { values } = parseArgs({ options: { out: { type: 'string' }, count: { type: 'string', default: '200' } } });
if (!values.out) throw new Error('--out DIR is required');
const root = path.resolve(__dirname, '..');
const parsed = parseTemplate(readFileSync(path.join(root, 'prompts/pointwise-v1.txt'), 'utf8'));
if (!parsed.ok) throw new Error(parsed.problems.join('; '));
const examples = readFileSync(path.join(root, 'datasets/synthetic/train.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, Number(values.count))
  .map((l) => JSON.parse(l) as PointwiseExample);

const requests: string[] = [];
const pairs: string[] = [];
for (const ex of examples) {
  const messages = renderPointwise(parsed.template, ex, { scale: { min: 1, max: 5 }, marker: '[RESULT]', systemPlacement: 'system' });
  requests.push(JSON.stringify({ request_id: ex.id, example_id: ex.id, messages, prompt_hash: 'bench', gold_score: ex.gold_score }));
  const gold = ex.gold_score!;
  const wrong = gold <= 2 ? 5 : 1;
  const pair: PreferencePair = {
    example_id: ex.id,
    prompt: messages,
    chosen: `The verdict word decides the score. [RESULT] ${gold}`,
    rejected: `The review sounds different to me. [RESULT] ${wrong}`,
    chosen_score: gold,
    rejected_score: wrong,
    strategy: 'gold_margin',
  };
  pairs.push(JSON.stringify(pair));
}
for (const [dir, file, rows] of [['requests', 'requests.jsonl', requests], ['pairs', 'pairs.jsonl', pairs]] as const) {
  mkdirSync(path.join(values.out, dir), { recursive: true });
  writeFileSync(path.join(values.out, dir, file), rows.join('\n') + '\n');
}
console.log(`wrote ${requests.length} requests and ${pairs.length} pairs under ${values.out}`);
