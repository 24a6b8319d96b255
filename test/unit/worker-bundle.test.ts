/**
 * The compiled worker's prebuilt workflow bundles (workers/workflow-bundle.ts, scripts/build-worker.ts) and
 * its project folder (workers/project-root.ts): which bundle serves which settings, and every way a build
 * can fail to serve them, each with a message that says what to do.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ALL_VARIANTS,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  WorkflowBundleError,
  bundleFileName,
  chooseBundle,
  installedWorkflowSdkVersion,
  prebuiltBundlesDir,
  readManifest,
  sha256,
  variantName,
  type BundleManifest,
} from '../../workers/workflow-bundle';
import { findProjectRoot } from '../../workers/project-root';
import { prebuiltWorkflowBundle } from '../../workers/main';
import { OTEL_WORKFLOW_INTERCEPTORS_MODULE } from '../../workers/otel';
import { BUILD_OUT_DIR, PROJECT_ROOT, defaultVariants, parseBuildArgs } from '../../scripts/build-worker';

const CODE = 'the bundle';

function manifest(variants = ALL_VARIANTS, sdkVersion = '1.24.0'): BundleManifest {
  return {
    format: MANIFEST_FORMAT,
    sdkVersion,
    builtAt: '2026-12-03T00:00:00.000Z',
    commit: 'abc',
    bundles: variants.map((f) => ({ variant: variantName(f), ...f, file: bundleFileName(f), sha256: sha256(CODE), bytes: CODE.length })),
  };
}

test('variant names and files', () => {
  assert.deepEqual(ALL_VARIANTS.map(variantName), ['plain', 'tracing', 'failure-converter', 'tracing-failure-converter']);
  assert.equal(bundleFileName({ tracing: true, failureConverter: true }), 'workflows.tracing-failure-converter.js');
});

test('the default build: both tracing settings, with the failure converter (the worker always has a payload codec)', () => {
  assert.deepEqual(defaultVariants().map(variantName), ['failure-converter', 'tracing-failure-converter']);
});

describe('chooseBundle', () => {
  const read = (file: string) => (file.endsWith('.js') ? Buffer.from(CODE) : undefined);
  const cases: { name: string; m: BundleManifest; needs: { tracing: boolean; failureConverter: boolean }; readFile?: (f: string) => Buffer | undefined; ok?: string; error?: RegExp }[] = [
    { name: 'the matching variant', m: manifest(), needs: { tracing: true, failureConverter: true }, ok: 'workflows.tracing-failure-converter.js' },
    { name: 'no tracing', m: manifest(defaultVariants()), needs: { tracing: false, failureConverter: true }, ok: 'workflows.failure-converter.js' },
    {
      name: 'a variant the build lacks',
      m: manifest(defaultVariants().slice(0, 1)),
      needs: { tracing: true, failureConverter: true },
      error: /settings \(tracing on, failure converter on\) need the workflow bundle "tracing-failure-converter", which the build in \/b does not have \(it has: failure-converter\)\. Rebuild with npm run build:worker/,
    },
    { name: 'another SDK version', m: manifest(ALL_VARIANTS, '1.23.0'), needs: { tracing: false, failureConverter: true }, error: /built with @temporalio\/workflow 1\.23\.0, but this worker has 1\.24\.0: rebuild/ },
    { name: 'a missing file', m: manifest(), needs: { tracing: false, failureConverter: false }, readFile: () => undefined, error: /workflows\.plain\.js listed in manifest\.json is missing/ },
    { name: 'an altered file', m: manifest(), needs: { tracing: false, failureConverter: false }, readFile: () => Buffer.from('edited'), error: /is not the one manifest\.json lists \(its sha256 differs\)/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const run = () => chooseBundle('/b', c.m, c.needs, '1.24.0', c.readFile ?? read);
      if (c.ok) assert.equal(run().codePath, path.join('/b', c.ok));
      else assert.throws(run, (err: Error) => err instanceof WorkflowBundleError && c.error!.test(err.message));
    });
  }
});

describe('a build folder on disk', () => {
  function buildDir(m: BundleManifest | string | null): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-bundles-'));
    fs.mkdirSync(path.join(root, 'workers'));
    fs.mkdirSync(path.join(root, 'workflow-bundles'));
    if (m !== null) fs.writeFileSync(path.join(root, 'workflow-bundles', MANIFEST_FILE), typeof m === 'string' ? m : JSON.stringify(m));
    for (const f of ALL_VARIANTS) fs.writeFileSync(path.join(root, 'workflow-bundles', bundleFileName(f)), CODE);
    return root;
  }

  test('compiled code with a manifest beside it takes the bundle its telemetry needs', () => {
    const root = buildDir(manifest(defaultVariants(), installedWorkflowSdkVersion()));
    try {
      const compiled = path.join(root, 'workers');
      assert.equal(prebuiltBundlesDir(compiled), path.join(root, 'workflow-bundles'));
      const plain = prebuiltWorkflowBundle({}, true, compiled);
      assert.equal(plain?.codePath, path.join(root, 'workflow-bundles', 'workflows.failure-converter.js'));
      assert.equal(plain?.source, 'prebuilt workflows.failure-converter.js (tracing off, failure converter on)');
      const traced = prebuiltWorkflowBundle({ workflowInterceptorModules: [OTEL_WORKFLOW_INTERCEPTORS_MODULE] }, true, compiled);
      assert.equal(traced?.codePath, path.join(root, 'workflow-bundles', 'workflows.tracing-failure-converter.js'));
      assert.throws(() => prebuiltWorkflowBundle({}, false, compiled), /need the workflow bundle "plain"/);
      assert.throws(() => prebuiltWorkflowBundle({ workflowInterceptorModules: ['/x/my-interceptors.js'] }, true, compiled), /only OpenTelemetry's workflow interceptors, not \/x\/my-interceptors\.js/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('no manifest (source, or a plain tsc build): undefined, the worker bundles at start-up', () => {
    const root = buildDir(null);
    try {
      assert.equal(prebuiltBundlesDir(path.join(root, 'workers')), undefined);
      assert.equal(prebuiltWorkflowBundle({}, true, path.join(root, 'workers')), undefined);
      // The source tree itself has none beside workers/.
      assert.equal(prebuiltBundlesDir(path.join(PROJECT_ROOT, 'workers')), undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a manifest that is not one: rebuild', () => {
    for (const text of ['{', JSON.stringify({ format: 99, bundles: [], sdkVersion: '1' }), 'null']) {
      const root = buildDir(text);
      try {
        assert.throws(() => readManifest(path.join(root, 'workflow-bundles')), (err: Error) => err instanceof WorkflowBundleError && /rebuild with npm run build:worker/.test(err.message));
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    }
  });
});

describe('findProjectRoot', () => {
  const files: Record<string, string> = {
    '/app/package.json': JSON.stringify({ name: 'judgeloop' }),
    '/app/node_modules/x/package.json': JSON.stringify({ name: 'x' }),
    '/broken/package.json': '{',
  };
  const read = (f: string) => files[f];
  const cases: [string, string | RegExp][] = [
    ['/app/dist/worker/workers', '/app'],
    ['/app/workers', '/app'],
    ['/app', '/app'],
    ['/app/node_modules/x/lib', '/app'],
    ['/broken/dist', /no Judgeloop project folder \(a package\.json named "judgeloop"\) at or above \/broken\/dist/],
    ['/elsewhere', /no Judgeloop project folder/],
  ];
  for (const [from, want] of cases) {
    test(`${from} → ${String(want)}`, () => {
      if (typeof want === 'string') assert.equal(findProjectRoot(from, read), want);
      else assert.throws(() => findProjectRoot(from, read), want);
    });
  }
  test('this checkout, from workers/ and from a compiled worker\'s folder', () => {
    assert.equal(findProjectRoot(path.join(PROJECT_ROOT, 'workers')), PROJECT_ROOT);
    assert.equal(findProjectRoot(path.join(PROJECT_ROOT, BUILD_OUT_DIR, 'workers')), PROJECT_ROOT);
  });
});

describe('build-worker arguments', () => {
  const out = path.join(PROJECT_ROOT, BUILD_OUT_DIR);
  const cases: [string[], { variants: string[]; outDir: string } | RegExp][] = [
    [[], { variants: ['failure-converter', 'tracing-failure-converter'], outDir: out }],
    [['--variants', 'plain,tracing'], { variants: ['plain', 'tracing'], outDir: out }],
    [['--out', 'dist/x', '--variants', ' failure-converter '], { variants: ['failure-converter'], outDir: path.join(PROJECT_ROOT, 'dist/x') }],
    [['--variants', 'encrypted'], /unknown variant "encrypted": use plain, tracing, failure-converter, tracing-failure-converter/],
    [['--variants', ','], /at least one variant/],
    [['--out'], /--out needs a value/],
    [['--fast'], /unknown argument --fast/],
  ];
  for (const [argv, want] of cases) {
    test(argv.join(' ') || '(none)', () => {
      if (want instanceof RegExp) assert.throws(() => parseBuildArgs(argv), want);
      else {
        const got = parseBuildArgs(argv);
        assert.deepEqual({ variants: got.variants.map(variantName), outDir: got.outDir }, want);
      }
    });
  }
});
