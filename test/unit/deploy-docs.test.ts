/**
 * The deployment examples (docs/deploy/ecs-task-definition.json, docs/deploy/k8s-deployment.yaml) and pages
 * (docs/deploy.md, images/worker/README.md) against the worker: every environment variable they name is one
 * the worker reads (workers/environment.ts), that list names only variables some code reads, secrets come
 * from a secret store, the platform waits longer than the grace period, and the probes and ports are the
 * health endpoint's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { JUDGELOOP_WORKER_ENV, TEMPORAL_WORKER_ENV, TOOL_WORKER_ENV, isWorkerEnvVar } from '../../workers/environment';
import { parseHealthAddress } from '../../workers/health';
import { HEALTHCHECK_ENTRY, PROJECT_ROOT } from '../../scripts/build-worker';
import { tsFiles } from '../support/source-files';

const read = (rel: string) => fs.readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');
const ENV_TOKEN = /\b(?:JUDGELOOP|TEMPORAL|AWS|OTEL)_[A-Z0-9_]*[A-Z0-9]\b/g;
/** Build-time variables the pages name beside the worker's (the image's build argument). */
const BUILD_TIME = ['JUDGELOOP_BUILD_COMMIT'];
/** Kept secret: never a plain value in an example. */
const SECRETS = ['TEMPORAL_API_KEY', 'JUDGELOOP_CODEC_KEYS'];
/** Seconds the platform should wait beyond the grace period before SIGKILL (the process's own exit, the last heartbeats). */
const MARGIN = 15;

describe('every variable a deployment page or example names is one the worker reads', () => {
  for (const file of ['docs/deploy.md', 'docs/deploy/ecs-task-definition.json', 'docs/deploy/k8s-deployment.yaml', 'images/worker/README.md', 'images/worker/Dockerfile']) {
    test(file, () => {
      const names = [...new Set(read(file).match(ENV_TOKEN) ?? [])].filter((n) => !BUILD_TIME.includes(n));
      assert.ok(names.length > 0);
      assert.deepEqual(names.filter((n) => !isWorkerEnvVar(n)), [], `${file} names variables the worker does not read`);
    });
  }
});

test('workers/environment.ts names only variables the code reads', () => {
  const sources = ['workers', 'activities', 'core']
    .flatMap((dir) => tsFiles(path.join(PROJECT_ROOT, dir)))
    .filter((f) => !f.endsWith(path.join('workers', 'environment.ts')))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
  for (const name of [...JUDGELOOP_WORKER_ENV, ...TOOL_WORKER_ENV]) assert.ok(sources.includes(name), `${name} appears in workers/, activities/ or core/`);
  const envconfig = fs.readdirSync(path.join(PROJECT_ROOT, 'node_modules/@temporalio/envconfig/lib'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules/@temporalio/envconfig/lib', f), 'utf8'))
    .join('\n');
  for (const name of TEMPORAL_WORKER_ENV) assert.ok(envconfig.includes(`'${name}'`) || envconfig.includes(`"${name}"`) || sources.includes(`'${name}'`), `${name} is read by @temporalio/envconfig`);
});

interface EcsContainer {
  environment: { name: string; value: string }[];
  secrets: { name: string; valueFrom: string }[];
  portMappings: { containerPort: number }[];
  stopTimeout: number;
  healthCheck: { command: string[] };
}

describe('the ECS task definition', () => {
  const def = JSON.parse(read('docs/deploy/ecs-task-definition.json')) as { containerDefinitions: EcsContainer[]; taskRoleArn: string };
  const [c] = def.containerDefinitions;
  const env = new Map(c.environment.map((e) => [e.name, e.value]));

  test('secrets from Secrets Manager, never in plain environment', () => {
    for (const name of SECRETS) {
      assert.ok(!env.has(name), `${name} is not a plain value`);
      assert.match(c.secrets.find((s) => s.name === name)?.valueFrom ?? '', /^arn:aws:secretsmanager:/, `${name} from a secret`);
    }
    assert.ok(def.taskRoleArn, 'S3 and SageMaker credentials come from the task role');
    assert.ok(![...env.keys()].some((n) => n.startsWith('AWS_ACCESS_KEY') || n.startsWith('AWS_SECRET')), 'no AWS keys');
  });

  test('the stop timeout outlasts the grace period; ports and health check are the worker\'s', () => {
    const grace = Number(env.get('JUDGELOOP_SHUTDOWN_GRACE_SECONDS'));
    assert.ok(grace > 0 && c.stopTimeout >= grace + MARGIN && c.stopTimeout <= 120, `stopTimeout ${c.stopTimeout} for a ${grace} s grace (Fargate allows 120)`);
    const health = parseHealthAddress(env.get('JUDGELOOP_HEALTH_ADDRESS'));
    const metricsPort = Number(/:(\d+)$/.exec(env.get('JUDGELOOP_METRICS_ADDRESS') ?? '')?.[1]);
    assert.deepEqual(c.portMappings.map((p) => p.containerPort).sort(), [health!.port, metricsPort].sort());
    assert.deepEqual(c.healthCheck.command.slice(0, 3), ['CMD', 'node', HEALTHCHECK_ENTRY]);
  });
});

describe('the Kubernetes Deployment', () => {
  const yaml = read('docs/deploy/k8s-deployment.yaml');
  const lines = yaml.split('\n');
  /** The container's env list: name → the lines of its entry (value or valueFrom), from the YAML as written. */
  const env = new Map<string, string>();
  lines.forEach((line, i) => {
    const m = /^(\s*)- name: ([A-Z][A-Z0-9_]*)\s*$/.exec(line);
    if (!m) return;
    const body: string[] = [];
    for (let j = i + 1; j < lines.length && /^\s*$|^\s+/.test(lines[j]) && (lines[j].match(/^\s*/)![0].length > m[1].length + 1); j++) body.push(lines[j].trim());
    env.set(m[2], body.join(' '));
  });
  const valueOf = (name: string) => /^value: "?([^"]*)"?$/.exec(env.get(name) ?? '')?.[1];
  const scalar = (key: string) => new RegExp(`^\\s*${key}: "?([^"\\s]+)"?\\s*$`, 'm').exec(yaml)?.[1];

  test('secrets from a Secret, never a plain value', () => {
    assert.ok(env.size >= 8, `found the env list: ${[...env.keys()].join(', ')}`);
    for (const name of SECRETS) assert.match(env.get(name) ?? '', /^valueFrom: secretKeyRef: name: \S+ key: \S+$/, `${name} from a secretKeyRef`);
    assert.ok(![...env.keys()].some((n) => n.startsWith('AWS_ACCESS_KEY') || n.startsWith('AWS_SECRET')), 'no AWS keys');
    assert.match(yaml, /eks\.amazonaws\.com\/role-arn: arn:aws:iam::/);
  });

  test('terminationGracePeriodSeconds outlasts the grace period; probes and ports are the worker\'s', () => {
    const grace = Number(valueOf('JUDGELOOP_SHUTDOWN_GRACE_SECONDS'));
    const termination = Number(scalar('terminationGracePeriodSeconds'));
    assert.ok(grace > 0 && termination >= grace + MARGIN, `terminationGracePeriodSeconds ${termination} for a ${grace} s grace`);
    const health = parseHealthAddress(valueOf('JUDGELOOP_HEALTH_ADDRESS'));
    assert.ok(health);
    assert.match(yaml, new RegExp(`- name: health\\s+containerPort: ${health.port}\\b`));
    const metricsPort = /:(\d+)$/.exec(valueOf('JUDGELOOP_METRICS_ADDRESS') ?? '')?.[1];
    assert.match(yaml, new RegExp(`- name: metrics\\s+containerPort: ${metricsPort}\\b`));
    assert.equal(scalar('prometheus.io/port'), metricsPort);
    assert.match(yaml, /livenessProbe:\s+httpGet:\s+path: \/healthz\s+port: health/);
    assert.match(yaml, /readinessProbe:\s+httpGet:\s+path: \/readyz\s+port: health/);
    assert.match(yaml, /startupProbe:\s+httpGet:\s+path: \/healthz\s+port: health/);
    assert.equal(scalar('runAsNonRoot'), 'true');
  });
});
