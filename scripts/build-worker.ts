/**
 * Builds the deployable worker: `npm run build:worker` (node --import tsx scripts/build-worker.ts).
 *
 *   1. compiles workers/main.ts, workers/healthcheck.ts and what they import with tsc
 *      (workers/tsconfig.build.json: the project's own compiler options) into dist/worker/, in the source
 *      layout, so `node dist/worker/workers/main.js` runs without tsx;
 *   2. bundles the workflows once per variant the worker can ask for (tracing on and off, each with the
 *      failure converter as long as the worker always installs its payload codec: see workers/workflow-bundle.ts)
 *      with the very function the worker bundles with at start-up (workers/main.ts bundleWorkflows), into
 *      dist/worker/workflow-bundles/, with a manifest the compiled worker checks at start-up.
 *
 * Options: --variants LIST of plain, tracing, failure-converter, tracing-failure-converter (default:
 * defaultVariants()), --out DIR (default dist/worker; relative to the project). The commit recorded in the manifest is `git rev-parse HEAD`, or
 * JUDGELOOP_BUILD_COMMIT where there is no .git (the image build passes it as a build argument).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflows } from '../workers/main';
import { FAILURE_CONVERTER_PATH } from '../workers/failure-converter';
import { OTEL_WORKFLOW_INTERCEPTORS_MODULE } from '../workers/otel';
import { payloadCodecsFromEnv } from '../workers/codec';
import {
  ALL_VARIANTS,
  BUNDLES_DIR_NAME,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  bundleFileName,
  installedWorkflowSdkVersion,
  sha256,
  variantName,
  type BundleFeatures,
  type BundleManifest,
  type ManifestBundle,
} from '../workers/workflow-bundle';

export const PROJECT_ROOT = path.resolve(__dirname, '..');
/** Where the compiled worker goes, relative to the project (workers/tsconfig.build.json's outDir). */
export const BUILD_OUT_DIR = 'dist/worker';
/** The compiled entry points, relative to the project: what the image's CMD and HEALTHCHECK run. */
export const WORKER_ENTRY = `${BUILD_OUT_DIR}/workers/main.js`;
export const HEALTHCHECK_ENTRY = `${BUILD_OUT_DIR}/workers/healthcheck.js`;
export const TSCONFIG = 'workers/tsconfig.build.json';
/** What the compiled worker reads from the project folder at run time (prompt templates, the jobs' code). */
export const RUNTIME_FOLDERS = ['prompts', 'jobs'] as const;

export interface BuildOptions {
  variants: BundleFeatures[];
  /** Absolute. */
  outDir: string;
}

/**
 * The variants a worker can ask for: tracing on and off, with the failure converter exactly when the worker
 * has a payload codec (createJudgeloopWorker). Asked of the codec itself, with no keys, so that if a worker
 * without JUDGELOOP_CODEC_KEYS ever stops installing one, the build makes both kinds without anyone noticing.
 */
export function defaultVariants(): BundleFeatures[] {
  const withoutKeys = payloadCodecsFromEnv({}).length > 0;
  const failureConverter = withoutKeys ? [true] : [false, true];
  return ALL_VARIANTS.filter((v) => failureConverter.includes(v.failureConverter));
}

export function parseBuildArgs(argv: string[]): BuildOptions {
  let variants: BundleFeatures[] = defaultVariants();
  let outDir = path.join(PROJECT_ROOT, BUILD_OUT_DIR);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--variants') {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      variants = names.map((name) => {
        const v = ALL_VARIANTS.find((f) => variantName(f) === name);
        if (!v) throw new Error(`unknown variant "${name}": use ${ALL_VARIANTS.map(variantName).join(', ')}`);
        return v;
      });
      if (!variants.length) throw new Error('--variants needs at least one variant');
    } else if (arg === '--out') {
      outDir = path.resolve(PROJECT_ROOT, value());
    } else {
      throw new Error(`unknown argument ${arg}: build-worker takes --variants LIST and --out DIR`);
    }
  }
  return { variants, outDir };
}

function gitCommit(): string {
  if (process.env.JUDGELOOP_BUILD_COMMIT?.trim()) return process.env.JUDGELOOP_BUILD_COMMIT.trim();
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function compile(outDir: string): void {
  const tsc = require.resolve('typescript/bin/tsc');
  // --outDir on the command line wins over the tsconfig's, so --out moves the whole build.
  execFileSync(process.execPath, [tsc, '-p', path.join(PROJECT_ROOT, TSCONFIG), '--outDir', outDir], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}

async function bundle(dir: string, features: BundleFeatures): Promise<ManifestBundle> {
  const made = await bundleWorkflows({
    workflowInterceptorModules: features.tracing ? [OTEL_WORKFLOW_INTERCEPTORS_MODULE] : [],
    ...(features.failureConverter ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
  });
  const file = bundleFileName(features);
  fs.writeFileSync(path.join(dir, file), made.code);
  return { variant: variantName(features), ...features, file, sha256: sha256(made.code), bytes: Buffer.byteLength(made.code) };
}

export async function buildWorker(opts: BuildOptions, log: (line: string) => void = console.log): Promise<BundleManifest> {
  for (const folder of RUNTIME_FOLDERS) {
    if (!fs.existsSync(path.join(PROJECT_ROOT, folder))) throw new Error(`${folder}/ is missing from ${PROJECT_ROOT}: the worker reads it at run time`);
  }
  const started = Date.now();
  fs.rmSync(opts.outDir, { recursive: true, force: true });
  compile(opts.outDir);
  log(`build-worker: compiled ${path.relative(PROJECT_ROOT, opts.outDir)}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const dir = path.join(opts.outDir, BUNDLES_DIR_NAME);
  fs.mkdirSync(dir, { recursive: true });
  const bundles: ManifestBundle[] = [];
  for (const features of opts.variants) {
    const t = Date.now();
    bundles.push(await bundle(dir, features));
    log(`build-worker: workflow bundle ${variantName(features)} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const manifest: BundleManifest = {
    format: MANIFEST_FORMAT,
    sdkVersion: installedWorkflowSdkVersion(),
    builtAt: new Date().toISOString(),
    commit: gitCommit(),
    bundles,
  };
  // Written last: a build interrupted half-way leaves no manifest, and the worker would not take its bundles.
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  const entry = path.join(opts.outDir, 'workers', 'main.js');
  if (!fs.existsSync(entry)) throw new Error(`the build wrote no ${entry}`);
  log(`build-worker: done in ${((Date.now() - started) / 1000).toFixed(1)} s; start it with: node ${path.relative(PROJECT_ROOT, entry)}`);
  return manifest;
}

if (require.main === module) {
  (async () => {
    await buildWorker(parseBuildArgs(process.argv.slice(2)));
  })().catch((err: unknown) => {
    console.error(`build-worker failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
