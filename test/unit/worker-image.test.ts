/**
 * images/worker/Dockerfile against the build it packages (scripts/build-worker.ts). No Docker daemon runs
 * where these tests run, so instead of building the image this checks what a build would need: every path the
 * build stage copies exists and passes the Dockerfile's .dockerignore, every source folder the compiled worker
 * is made of (tsc's own view of workers/tsconfig.build.json) and the workflows it bundles are copied, the
 * runtime stage takes the build's output and the folders the worker reads at run time, and its CMD and
 * HEALTHCHECK run the entry points the build writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { BUILD_OUT_DIR, HEALTHCHECK_ENTRY, PROJECT_ROOT, RUNTIME_FOLDERS, TSCONFIG, WORKER_ENTRY } from '../../scripts/build-worker';
import { isWorkerEnvVar } from '../../workers/environment';
import { parseHealthAddress } from '../../workers/health';

const DOCKERFILE = path.join(PROJECT_ROOT, 'images/worker/Dockerfile');
const DOCKERIGNORE = path.join(PROJECT_ROOT, 'images/worker/Dockerfile.dockerignore');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages and instructions (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, op, args] = m;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: f[1], name: f[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length) stages[stages.length - 1].instructions.push({ op, args: args.trim() });
  }
  return stages;
}

const stages = parseDockerfile(fs.readFileSync(DOCKERFILE, 'utf8'));
const stage = (name: string) => {
  const s = stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name}`);
  return s;
};
/** COPY instructions: [from stage or undefined, sources, destination]. */
function copies(s: Stage): { from?: string; sources: string[]; dest: string }[] {
  return s.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
    });
}
const json = (args: string): string[] => JSON.parse(args) as string[];
/** A stage's instructions, through the stages it is FROM. */
function effective(s: Stage, op: string): Instruction | undefined {
  const own = [...s.instructions].reverse().find((i) => i.op === op);
  if (own) return own;
  const parent = stages.find((x) => x.name === s.from);
  return parent ? effective(parent, op) : undefined;
}

/** The top-level source folders of the compiled worker, as tsc sees the build's program. */
function programFolders(): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(PROJECT_ROOT, TSCONFIG), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  });
  assert.ok(parsed);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const folders = new Set<string>();
  for (const sf of program.getSourceFiles()) {
    const rel = path.relative(PROJECT_ROOT, sf.fileName);
    if (rel.startsWith('..') || rel.startsWith('node_modules')) continue;
    folders.add(rel.split(path.sep)[0]);
  }
  return [...folders].sort();
}

test('stages: build, runtime, worker-local and the default target worker last', () => {
  assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime', 'worker-local', 'worker']);
  assert.equal(stage('worker').from, 'runtime');
  assert.equal(stage('worker-local').from, 'runtime');
  for (const s of ['build', 'runtime']) assert.equal(stage(s).from, '${NODE_IMAGE}');
  assert.match(fs.readFileSync(DOCKERFILE, 'utf8'), /^ARG NODE_IMAGE=node:20-/m);
});

test('the build stage copies what exists, the .dockerignore lets it through, and it runs the build', () => {
  const allowed = fs
    .readFileSync(DOCKERIGNORE, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/$/, ''));
  assert.ok(fs.readFileSync(DOCKERIGNORE, 'utf8').split('\n').includes('*'), 'an allow-list: everything ignored first');
  const sources = copies(stage('build')).flatMap((c) => {
    assert.equal(c.from, undefined);
    return c.sources;
  });
  for (const src of sources) {
    assert.ok(fs.existsSync(path.join(PROJECT_ROOT, src)), `${src} exists`);
    assert.ok(allowed.includes(src.replace(/\/$/, '')), `${src} is allowed by ${path.basename(DOCKERIGNORE)}`);
  }
  for (const folder of [...programFolders(), 'workflows', ...RUNTIME_FOLDERS]) {
    assert.ok(sources.includes(folder), `the build stage copies ${folder}/ (the compiled worker is made of it, bundles it or reads it)`);
  }
  const runs = stage('build').instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  assert.match(runs, /npm ci/);
  assert.match(runs, /npm run build:worker/);
  assert.match(runs, /npm prune --omit=dev/);
  assert.match(runs, new RegExp(`test -f ${BUILD_OUT_DIR}/workflow-bundles/manifest.json`));
  const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['build:worker'], /scripts\/build-worker\.ts/);
  assert.equal(pkg.scripts['start:worker'], `node ${WORKER_ENTRY}`);
});

test('the runtime stage: the build\'s output, the run-time folders, package.json (the project folder marker)', () => {
  const fromBuild = copies(stage('runtime')).filter((c) => c.from === 'build');
  const taken = fromBuild.flatMap((c) => c.sources.map((s) => path.relative('/app', s)));
  for (const want of ['package.json', 'node_modules', BUILD_OUT_DIR, ...RUNTIME_FOLDERS]) assert.ok(taken.includes(want), `runtime copies ${want}`);
  const workdir = effective(stage('runtime'), 'WORKDIR');
  assert.equal(workdir?.args, '/app');
});

test('both targets: non-root, CMD runs the compiled entry, HEALTHCHECK runs the compiled probe on the health port', () => {
  for (const name of ['worker', 'worker-local']) {
    const s = stage(name);
    const user = effective(s, 'USER')?.args;
    assert.ok(user && user !== 'root' && user !== '0', `${name} runs as ${user}`);
    assert.deepEqual(json(effective(s, 'CMD')!.args), ['node', WORKER_ENTRY]);
    const hc = effective(s, 'HEALTHCHECK')!.args;
    const cmd = /CMD\s+(\[.*\])$/.exec(hc);
    assert.ok(cmd, hc);
    assert.deepEqual(json(cmd[1]).slice(0, 2), ['node', HEALTHCHECK_ENTRY]);
  }
  assert.deepEqual(json(stage('worker-local').instructions.find((i) => i.op === 'ENTRYPOINT')!.args), ['/usr/bin/tini', '--']);
});

test('the image\'s environment: variables the worker reads, ports it exposes', () => {
  const env = new Map<string, string>();
  for (const i of stage('runtime').instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env.set(m[1], m[2]);
  }
  for (const name of env.keys()) if (name !== 'NODE_ENV') assert.ok(isWorkerEnvVar(name), `${name} is read by the worker`);
  const health = parseHealthAddress(env.get('JUDGELOOP_HEALTH_ADDRESS'));
  const metrics = /:(\d+)$/.exec(env.get('JUDGELOOP_METRICS_ADDRESS') ?? '');
  assert.ok(health && metrics);
  const exposed = stage('runtime').instructions.find((i) => i.op === 'EXPOSE')!.args.split(/\s+/).map(Number);
  assert.deepEqual(exposed.sort(), [health.port, Number(metrics[1])].sort());
  assert.equal(stage('runtime').instructions.find((i) => i.op === 'STOPSIGNAL')?.args, 'SIGTERM');
});
