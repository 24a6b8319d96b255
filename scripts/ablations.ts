/**
 * `bash scripts/ablations.sh`: runs every config in configs/ablations/ (or the ones named) at full size on
 * the local stack, then prints one table comparing them: held-out agreement per iteration, pairs kept and
 * dropped, sample agreement, and the training method. Summaries and the table are written to
 * .judgeloop/ablations/.
 *
 *   npx tsx scripts/ablations.ts [--parallel 2] [--only majority-vote,meta-judge] [--temporal-port 7233] [--s3-port 9000]
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { LocalStack } from '../stack/stack';
import { describeError } from '../stack/errors';
import { main as cli } from '../cli/judgeloop';
import { loadConfigFile } from '../cli/config-file';
import type { PointwiseMetrics, RunSummary } from '../core/run/run-types';

const OUT_DIR = '.judgeloop/ablations';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface Outcome {
  name: string;
  /** DPO (with its NLL weight) or the SFT control, from the config. */
  training: string;
  code: number;
  seconds: number;
  summary?: RunSummary;
}

async function runOne(name: string, address: string, uiUrl: string, s3Endpoint: string): Promise<Outcome> {
  const { config } = await loadConfigFile(`configs/ablations/${name}.json`);
  const t = config.training;
  const training = t.method === 'sft' ? 'SFT' : `DPO${t.rpoAlpha > 0 ? ` + NLL ${t.rpoAlpha}` : ''}`;
  const out = new Collect();
  const started = Date.now();
  const prefix = `[${name}] `;
  const err = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(prefix + line + '\n');
      done();
    },
  });
  const id = `${name}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
  const code = await cli(['run', '--json', '--config', `configs/ablations/${name}.json`, '--id', id, '--address', address, '--ui', uiUrl], {
    out,
    err,
    env: { ...process.env, JUDGELOOP_S3_ENDPOINT: s3Endpoint },
  });
  const seconds = (Date.now() - started) / 1000;
  let summary: RunSummary | undefined;
  try {
    summary = JSON.parse(out.text) as RunSummary;
  } catch {
    summary = undefined;
  }
  await writeFile(path.join(OUT_DIR, `${name}.json`), out.text);
  return { name, training, code, seconds, summary };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(0)}%`);
const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? '–' : x.toFixed(digits));

/** One markdown row per ablation. */
function ablationTable(outcomes: Outcome[]): string {
  const header = [
    '| config | held-out exact agreement (it 0 → 1 → 2) | Spearman (final) | pairs kept per iteration | pairs dropped | sample agreement with gold (it 1) | training | minutes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = outcomes.map(({ name, training, code, seconds, summary }) => {
    if (!summary) return `| ${name} | failed (exit ${code}) | | | | | | ${(seconds / 60).toFixed(1)} |`;
    const heldout = summary.iterations.map((it) => it.eval['synthetic-heldout'] as PointwiseMetrics | undefined);
    const last = heldout[heldout.length - 1];
    const later = summary.iterations.slice(1);
    const dropped = later.map((it) =>
      Object.entries(it.pairs?.curation?.droppedByReason ?? {})
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ') || '0',
    );
    return [
      name,
      heldout.map((m) => pct(m?.exactAgreement)).join(' → '),
      num(last?.spearman),
      later.map((it) => it.pairs?.pairs ?? 0).join(' / '),
      dropped.join(' / '),
      pct(later[0]?.sample?.agreementWithGold),
      training,
      (seconds / 60).toFixed(1),
    ]
      .join(' | ')
      .replace(/^/, '| ')
      .concat(' |');
  });
  return [...header, ...rows].join('\n');
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      parallel: { type: 'string', default: '2' },
      only: { type: 'string' },
      'temporal-port': { type: 'string', default: '7233' },
      's3-port': { type: 'string', default: '9000' },
    },
    strict: true,
  });
  const all = (await readdir('configs/ablations')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
  const names = values.only ? values.only.split(',').map((s) => s.trim()) : all;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) {
    console.error(`ablations: no config configs/ablations/${unknown[0]}.json (have: ${all.join(', ')})`);
    return 2;
  }
  const parallel = Math.max(1, Number(values.parallel) || 1);
  await mkdir(OUT_DIR, { recursive: true });
  const stack = new LocalStack({
    temporalPort: Number(values['temporal-port']),
    s3Port: Number(values['s3-port']),
    // Measurement runs: their configs do not track, and the tracking server's memory is better left to the jobs.
    mlflow: false,
    workerOutput: { file: path.resolve('.judgeloop/stack/logs/ablations-worker.log') },
    log: (line) => console.error(`stack: ${line}`),
  });
  try {
    const info = await stack.start();
    const queue = [...names];
    const outcomes: Outcome[] = [];
    await Promise.all(
      Array.from({ length: Math.min(parallel, queue.length) }, async () => {
        for (let name = queue.shift(); name; name = queue.shift()) {
          console.error(`ablations: starting ${name}`);
          const outcome = await runOne(name, info.temporal.address, info.temporal.uiUrl, info.s3.endpoint);
          console.error(`ablations: ${name} finished in ${(outcome.seconds / 60).toFixed(1)} min (exit ${outcome.code})`);
          outcomes.push(outcome);
        }
      }),
    );
    outcomes.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
    const table = ablationTable(outcomes);
    await writeFile(path.join(OUT_DIR, 'table.md'), table + '\n');
    console.log(table);
    return outcomes.every((o) => o.code === 0) ? 0 : 1;
  } catch (err) {
    console.error(`ablations: ${describeError(err)}`);
    return 1;
  } finally {
    await stack.stop();
  }
}

main().then((code) => process.exit(code));
