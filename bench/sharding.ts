/**
 * Sharded generation on the local stack (docs/benchmarks.md, "Sharded generation"):
 *
 *   node --import tsx bench/sharding.ts [--inputs 100000] [--shards 1,4,16] [--concurrency 2] [--json FILE]
 *
 * An evaluate-only run (loop.iterations 0) of the tiny judge over one suite of `--inputs` synthetic examples,
 * once per shard count, on the test services with a worker of the real activities: the evaluation's greedy
 * generation runs as that many jobs, `--concurrency` at a time (each job gets the machine's cores divided
 * among the jobs that run at once). For each count it prints the evaluation step's wall time (render → split
 * → the shard jobs → merge → metrics), the jobs' own time summed, and the events in the run's and the
 * iteration's histories: they grow with the shards, not with the inputs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { selfRationalizationRun } from '../workflows';
import { startTestServices } from '../test/support/services';
import { createTestWorker, testConfig, useLocalS3Credentials } from '../test/support/judgeloop';
import { activitySpans, wallSeconds } from './orchestration-figures';

const TASK_QUEUE = 'bench-sharding';

/** `count` examples cycling through the synthetic training rows, each with an id of its own. */
function writeSuite(file: string, count: number): void {
  const rows = readFileSync(path.resolve(__dirname, '../datasets/synthetic/train.jsonl'), 'utf8').split('\n').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const row = JSON.parse(rows[i % rows.length]) as Record<string, unknown>;
    out.push(JSON.stringify({ ...row, id: `bench-${i}` }));
  }
  writeFileSync(file, out.join('\n') + '\n');
}

interface Measured {
  shards: number;
  evaluateSeconds: number;
  jobSeconds: number;
  runEvents: number;
  iterationEvents: number;
  runSeconds: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      inputs: { type: 'string', default: '100000' },
      shards: { type: 'string', default: '1,4,16' },
      concurrency: { type: 'string', default: '2' },
      json: { type: 'string' },
    },
  });
  const inputs = Number(values.inputs);
  const counts = values.shards!.split(',').map(Number);
  const concurrency = Number(values.concurrency);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-bench-sharding-'));
  const suite = path.join(dir, 'suite.jsonl');
  writeSuite(suite, inputs);
  const services = await startTestServices();
  useLocalS3Credentials(services);
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: services.temporalAddress });
  const worker = await createTestWorker(env.nativeConnection, TASK_QUEUE);
  const results: Measured[] = [];
  try {
    await worker.runUntil(async () => {
      for (const shards of counts) {
        const runId = `bench-sharding-${shards}-${Date.now().toString(36)}`;
        const atOnce = Math.min(shards, concurrency);
        const config = testConfig(services, {
          loop: { iterations: 0 },
          data: { evalSuites: [{ name: 'bench', kind: 'pointwise', uri: suite, adapter: 'canonical' }], contamination: { check: false } },
          evaluation: { bootstrap: { resamples: 0 }, baselines: { samples: 0 } },
          registry: { enabled: false },
          reuse: { acrossRuns: false },
          backend: { cpuThreads: Math.max(1, Math.floor(os.cpus().length / atOnce)), sharding: { shards, concurrency } },
        } as never);
        console.log(`${inputs} inputs, ${shards} shard(s), ${atOnce} at a time (${runId})...`);
        await env.client.workflow.execute(selfRationalizationRun, { taskQueue: TASK_QUEUE, workflowId: runId, args: [config] });
        const run = await env.client.workflow.getHandle(runId).fetchHistory();
        const iteration = await env.client.workflow.getHandle(`${runId}-iter-0`).fetchHistory();
        const spans = activitySpans(iteration);
        const evaluation = spans.filter((s) => s.type !== 'summarizeUsage');
        const jobs = spans.filter((s) => s.type === 'generateEvaluationJudgments');
        results.push({
          shards,
          evaluateSeconds: Math.max(...evaluation.map((s) => s.completed)) - Math.min(...evaluation.map((s) => s.scheduled)),
          jobSeconds: jobs.reduce((sum, s) => sum + (s.completed - s.started), 0),
          runEvents: run.events?.length ?? 0,
          iterationEvents: iteration.events?.length ?? 0,
          runSeconds: wallSeconds(run),
        });
      }
    });
  } finally {
    await env.teardown();
    await services.stop();
  }
  console.log(`\n== sharded generation: ${inputs} inputs, greedy, the tiny judge, ${os.cpus().length} cores`);
  console.log('| shards | at once | evaluation step | shard activities, summed | events: run | events: iteration | whole run |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(
      `| ${r.shards} | ${Math.min(r.shards, concurrency)} | ${r.evaluateSeconds.toFixed(1)} s | ${r.jobSeconds.toFixed(1)} s | ${r.runEvents} | ${r.iterationEvents} | ${r.runSeconds.toFixed(1)} s |`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ inputs, concurrency, results }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
