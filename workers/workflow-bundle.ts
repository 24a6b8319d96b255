/**
 * Prebuilt workflow bundles for the compiled worker (`npm run build:worker`, scripts/build-worker.ts).
 *
 * What goes into a workflow bundle depends on the worker's settings: tracing adds OpenTelemetry's workflow
 * interceptor module (workers/otel.ts); the payload codec adds the failure converter that puts failure
 * messages into (encrypted) payloads (workers/failure-converter.ts). A bundle without them would run, silently
 * untraced or with failure messages in clear; one with them where they are off would change the histories it
 * writes. The worker installs its codec whether or not JUDGELOOP_CODEC_KEYS is set (without keys it sends
 * payloads in clear and names what to set when it meets an encrypted one), so today every bundle has the failure
 * converter and only tracing varies: the build writes the variants the worker can ask for (scripts/
 * build-worker.ts defaultVariants), the compiled worker picks the one its environment asks for at start-up
 * and refuses to start when that one is missing or was built for another SDK version.
 *
 * Layout (beside the compiled code, dist/worker/):
 *   workflow-bundles/manifest.json                  what each file holds, the SDK version, the commit
 *   workflow-bundles/workflows.<variant>.js         failure-converter | tracing-failure-converter (| plain | tracing)
 *
 * A worker run from source (tsx) has no such folder beside it and bundles at start-up, as it always did.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const BUNDLES_DIR_NAME = 'workflow-bundles';
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

/** What a bundle must contain besides the workflows. */
export interface BundleFeatures {
  /** OpenTelemetry's workflow interceptors (JUDGELOOP_OTEL / JUDGELOOP_OTEL_FILE). */
  tracing: boolean;
  /** workers/failure-converter.ts (with the payload codec, which the worker always installs). */
  failureConverter: boolean;
}

export const ALL_VARIANTS: readonly BundleFeatures[] = [
  { tracing: false, failureConverter: false },
  { tracing: true, failureConverter: false },
  { tracing: false, failureConverter: true },
  { tracing: true, failureConverter: true },
];

export function variantName(f: BundleFeatures): string {
  if (f.tracing && f.failureConverter) return 'tracing-failure-converter';
  if (f.tracing) return 'tracing';
  if (f.failureConverter) return 'failure-converter';
  return 'plain';
}

export function bundleFileName(f: BundleFeatures): string {
  return `workflows.${variantName(f)}.js`;
}

export interface ManifestBundle extends BundleFeatures {
  variant: string;
  /** Relative to the manifest's folder. */
  file: string;
  sha256: string;
  bytes: number;
}

export interface BundleManifest {
  format: number;
  /** @temporalio/workflow's version the bundles were built with: the worker's must be the same. */
  sdkVersion: string;
  builtAt: string;
  /** The git commit of the source, or "unknown" (a build without .git, e.g. in the image). */
  commit: string;
  bundles: ManifestBundle[];
}

/** The prebuilt bundle cannot serve this worker; the message says what to rebuild or change. */
export class WorkflowBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowBundleError';
  }
}

export function describeFeatures(f: BundleFeatures): string {
  return `tracing ${f.tracing ? 'on' : 'off'}, failure converter ${f.failureConverter ? 'on' : 'off'}`;
}

export function sha256(bytes: Buffer | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** The installed workflow SDK's version (the one the worker runs bundles with). */
export function installedWorkflowSdkVersion(): string {
  const pkg: unknown = JSON.parse(fs.readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8'));
  if (!pkg || typeof pkg !== 'object' || !('version' in pkg) || typeof pkg.version !== 'string') {
    throw new WorkflowBundleError('cannot read the version of @temporalio/workflow');
  }
  return pkg.version;
}

/** The prebuilt bundles' folder of compiled code in `compiledDir` (dist/worker/workers), if the build wrote one. */
export function prebuiltBundlesDir(compiledDir: string = __dirname): string | undefined {
  const dir = path.resolve(compiledDir, '..', BUNDLES_DIR_NAME);
  return fs.existsSync(path.join(dir, MANIFEST_FILE)) ? dir : undefined;
}

export function readManifest(dir: string): BundleManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WorkflowBundleError(`cannot read the workflow bundle manifest ${file} (${(err as Error).message}): rebuild with npm run build:worker`);
  }
  const m = parsed as Partial<BundleManifest> | null;
  if (!m || m.format !== MANIFEST_FORMAT || !Array.isArray(m.bundles) || typeof m.sdkVersion !== 'string') {
    throw new WorkflowBundleError(`${file} is not a workflow bundle manifest of format ${MANIFEST_FORMAT}: rebuild with npm run build:worker`);
  }
  return m as BundleManifest;
}

/**
 * The bundle of `manifest` for `needs` (pure apart from the checks of the file the caller passes in), or a
 * WorkflowBundleError that names what the environment asked for, what the build has and how to fix it.
 */
export function chooseBundle(
  dir: string,
  manifest: BundleManifest,
  needs: BundleFeatures,
  sdkVersion: string,
  readFile: (file: string) => Buffer | undefined = readIfExists,
): { codePath: string; bundle: ManifestBundle } {
  if (manifest.sdkVersion !== sdkVersion) {
    throw new WorkflowBundleError(
      `the workflow bundles in ${dir} were built with @temporalio/workflow ${manifest.sdkVersion}, but this worker has ${sdkVersion}: rebuild with npm run build:worker`,
    );
  }
  const bundle = manifest.bundles.find((b) => b.tracing === needs.tracing && b.failureConverter === needs.failureConverter);
  if (!bundle) {
    const have = manifest.bundles.map((b) => b.variant).join(', ') || 'none';
    throw new WorkflowBundleError(
      `this worker's settings (${describeFeatures(needs)}) need the workflow bundle "${variantName(needs)}", which the build in ${dir} does not have (it has: ${have}). ` +
        `Rebuild with npm run build:worker (it builds every variant the worker can ask for), or turn tracing (JUDGELOOP_OTEL, JUDGELOOP_OTEL_FILE) on or off to match a built one.`,
    );
  }
  const codePath = path.join(dir, bundle.file);
  const code = readFile(codePath);
  if (code === undefined) throw new WorkflowBundleError(`the workflow bundle ${codePath} listed in ${MANIFEST_FILE} is missing: rebuild with npm run build:worker`);
  if (sha256(code) !== bundle.sha256) {
    throw new WorkflowBundleError(`the workflow bundle ${codePath} is not the one ${MANIFEST_FILE} lists (its sha256 differs): rebuild with npm run build:worker`);
  }
  return { codePath, bundle };
}

function readIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}
