/**
 * A real MLflow tracking server for a test file (the venv scripts/setup.sh --only mlflow builds): SQLite in
 * the services' folder, artifacts on their S3 server, a free port. And the few REST reads the tests make of it,
 * with plain fetch, so what they check is what MLflow itself answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StackError } from '../../stack/errors';
import { startMlflowServer, type MlflowServer } from '../../stack/mlflow';
import { mlflowVenv } from '../../stack/stack';
import { PROJECT_ROOT } from '../../stack/worker';
import { freePort, type TestServices } from './services';

export async function startTestMlflow(services: TestServices, name = 'mlflow'): Promise<MlflowServer> {
  const venv = mlflowVenv(PROJECT_ROOT);
  if (!fs.existsSync(path.join(venv, 'bin', 'mlflow'))) {
    throw new StackError(`the MLflow server is not installed at ${venv}; the tracking tests start a real one`, 'Run: bash scripts/setup.sh --only mlflow');
  }
  return startMlflowServer({
    venv,
    port: await freePort(),
    dataDir: path.join(services.dir, name),
    artifacts: { ...services.s3, prefix: name },
    logFile: path.join(services.dir, 'logs', `${name}.log`),
  });
}

export interface RestRun {
  info: { run_id: string; run_name: string; status: string; experiment_id: string };
  data: { params?: Array<{ key: string; value: string }>; tags?: Array<{ key: string; value: string }>; metrics?: Array<{ key: string; value: number; step: number }> };
}

async function call<T>(base: string, method: 'GET' | 'POST', endpoint: string, body: Record<string, unknown>): Promise<T> {
  const url = `${base}/api/2.0/mlflow/${endpoint}`;
  const res =
    method === 'GET'
      ? await fetch(`${url}?${new URLSearchParams(body as Record<string, string>)}`)
      : await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`MLflow ${endpoint}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Every run of the experiment (null when the experiment does not exist). */
export async function experimentRuns(base: string, experiment: string): Promise<RestRun[] | null> {
  let id: string;
  try {
    id = (await call<{ experiment: { experiment_id: string } }>(base, 'GET', 'experiments/get-by-name', { experiment_name: experiment })).experiment.experiment_id;
  } catch {
    return null;
  }
  return (await call<{ runs?: RestRun[] }>(base, 'POST', 'runs/search', { experiment_ids: [id], max_results: 1000 })).runs ?? [];
}

export async function metricHistory(base: string, runId: string, key: string): Promise<Array<{ value: number; step: number }>> {
  const got = await call<{ metrics?: Array<{ value: number; step: string | number }> }>(base, 'GET', 'metrics/get-history', { run_id: runId, metric_key: key });
  return (got.metrics ?? []).map((m) => ({ value: m.value, step: Number(m.step) })).sort((a, b) => a.step - b.step);
}

export const tagOf = (run: RestRun, key: string) => run.data.tags?.find((t) => t.key === key)?.value;
export const paramOf = (run: RestRun, key: string) => run.data.params?.find((p) => p.key === key)?.value;
