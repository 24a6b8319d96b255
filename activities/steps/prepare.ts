/**
 * Step 0 of a run: bring everything it needs into the run's S3 prefix. Datasets are converted to canonical
 * JSONL by their adapter (invalid rows quarantined with their reason and counted); the seed judge is
 * uploaded when it is a local folder. Each part is skipped when its manifest shows it was done already.
 */
import { readFile, stat } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import { preRunProblems } from '../../core/config/pre-run-checks';
import type { RunConfig } from '../../core/config/config';
import { MANIFEST, datasetPrefix, joinUri, runConfigUri, runPrefixUri } from '../../core/run/artifacts';
import { adapterJoinNeed, adapterMismatchMessage, detectAdapters, getAdapter, instanceTable, type AdapterOptions } from '../../core/data/adapters';
import { ContaminationChecker, evalItemsOf, exactKey, type ContaminationMatch } from '../../core/data/contamination';
import { loneSurrogateReason, offScaleReason, type PointwiseExample } from '../../core/data/records';
import { decodeSourceText } from '../../core/data/source-lines';
import { runIdProblem } from '../../core/config/safe-names';
import type { QuarantinedRow } from '../../core/run/formats';
import type { ContaminationSummary, DatasetSummary } from '../../core/run/run-types';
import { canonicalJson, sha256Hex } from '../storage/hashing';
import { runStepOnce, type StepManifest } from '../storage/reuse';
import { trainEntryPoint } from './train';
import type { ObjectStore, WrittenObject } from '../storage/object-store';
import { listFilesRecursive } from '../storage/object-store';
import {
  type ActivityDeps,
  badInput,
  isS3,
  localPath,
  readSourceRows,
  sourceFingerprint,
  storageSettings,
  throttledHeartbeat,
} from '../context';

export interface PreparedDataset extends DatasetSummary {
  kind: 'pointwise' | 'pairwise';
}

export interface PreparedRun {
  runPrefixUri: string;
  configHash: string;
  seedModelUri: string;
  train: PreparedDataset;
  evalSuites: PreparedDataset[];
  /** The contamination check (absent when data.contamination.check is false). */
  contamination?: ContaminationSummary;
  /** The warm start's reference-judgment rows (config `warmStart`), validated like the training set. */
  warmStart?: PreparedDataset;
}

export interface PrepareInput {
  config: RunConfig;
  runId: string;
}

/** When the adapter refuses this many rows before accepting one, the file is taken to be in another format. */
const MISMATCH_WINDOW = 20;

/**
 * The table a join adapter looks rows up in (biggen: the instances, keyed by id): a `.json` file holding an
 * object keyed by id or a list, or a `.jsonl` file of rows with an id.
 */
async function readInstanceTable(
  deps: ActivityDeps,
  store: ObjectStore,
  dataset: string,
  uri: string,
): Promise<ReadonlyMap<string, unknown>> {
  let parsed: unknown;
  if (/\.json$/i.test(uri)) {
    const bytes = isS3(uri)
      ? ((await store.getBytes(uri)) ?? undefined)
      : await readFile(localPath(deps.projectRoot, uri)).catch(() => undefined);
    if (bytes === undefined) throw badInput(`dataset "${dataset}": instances file not found: ${uri}`);
    // Strict UTF-8 without a byte-order mark, as the rows files are read (core/data/source-lines.ts).
    const decoded = decodeSourceText(bytes, uri);
    if (!decoded.ok) throw badInput(`dataset "${dataset}": ${decoded.reason}`, 'InvalidData');
    try {
      parsed = JSON.parse(decoded.text);
    } catch (err) {
      throw badInput(`dataset "${dataset}": ${uri} is not valid JSON: ${(err as Error).message}`, 'InvalidData');
    }
  } else {
    const rows: unknown[] = [];
    for await (const row of readSourceRows(store, deps.projectRoot, uri)) {
      if (row.error !== undefined) throw badInput(`dataset "${dataset}": ${uri}: ${row.error}`, 'InvalidData');
      rows.push(row.value);
    }
    parsed = rows;
  }
  const table = instanceTable(parsed);
  if (!table.ok) throw badInput(`dataset "${dataset}": ${uri}: ${table.reason}`, 'InvalidData');
  return table.record;
}

export async function ingestDataset(
  deps: ActivityDeps,
  store: ObjectStore,
  opts: {
    name: string;
    source: { uri: string; adapter: string; limit?: number; join?: string };
    expectKind: 'pointwise' | 'pairwise';
    destPrefix: string;
    maxInvalidFraction: number;
    /** Where the source sits in the config, for messages, e.g. `data.train` or `data.evalSuites[0]`. */
    configPath?: string;
    /** judge.scale: pointwise rows whose gold or reference scores fall outside it are quarantined. */
    scale?: { min: number; max: number };
  },
): Promise<PreparedDataset> {
  const joinField = opts.configPath ? `${opts.configPath}.join` : 'join';
  const joinNeed = adapterJoinNeed(opts.source.adapter);
  if (joinNeed && opts.source.join === undefined) {
    throw badInput(`dataset "${opts.name}": adapter "${opts.source.adapter}" needs ${joinField}: ${joinNeed}`, 'ConfigError');
  }
  if (!joinNeed && opts.source.join !== undefined) {
    throw badInput(`dataset "${opts.name}": adapter "${opts.source.adapter}" reads uri alone; remove ${joinField}`, 'ConfigError');
  }
  const adapterOptions: AdapterOptions = { idPrefix: opts.name, subset: opts.name };
  if (joinNeed) adapterOptions.instances = await readInstanceTable(deps, store, opts.name, opts.source.uri);
  const adapter = getAdapter(opts.source.adapter, adapterOptions);
  /** The file whose rows become records: the join file for join adapters, else uri. */
  const rowsUri = joinNeed && opts.source.join !== undefined ? opts.source.join : opts.source.uri;
  if (adapter.kind !== opts.expectKind) {
    throw badInput(
      `dataset "${opts.name}": adapter "${opts.source.adapter}" yields ${adapter.kind} rows but a ${opts.expectKind} dataset is needed`,
      'ConfigError',
    );
  }
  const heartbeat = throttledHeartbeat();
  const fingerprint = await sourceFingerprint(store, deps.projectRoot, opts.source.uri);
  const joinFingerprint =
    opts.source.join !== undefined ? await sourceFingerprint(store, deps.projectRoot, opts.source.join) : undefined;
  const outcome = await runStepOnce(
    store,
    {
      prefixUri: opts.destPrefix,
      step: `ingest:${opts.name}`,
      inputs: {
        source: opts.source,
        fingerprint,
        kind: opts.expectKind,
        ...(joinFingerprint ? { joinFingerprint } : {}),
        ...(opts.scale ? { scale: opts.scale } : {}),
      },
      codeVersion: deps.codeVersion,
    },
    async () => {
      const quarantined: QuarantinedRow[] = [];
      let seen = 0;
      let valid = 0;
      let refused = 0;
      let firstRefused: { index: number; reason: string; row: unknown } | undefined;
      const mismatch = () =>
        badInput(
          adapterMismatchMessage({
            dataset: opts.name,
            adapter: opts.source.adapter,
            uri: rowsUri,
            tried: refused,
            first: firstRefused!,
            accepting: detectAdapters(firstRefused!.row, adapterOptions),
            ...(opts.configPath ? { configPath: `${opts.configPath}.adapter` } : {}),
          }),
          'InvalidData',
        );
      /** Each accepted id and where it was, for the message of a duplicate. */
      const ids = new Map<string, string>();
      async function* validRows() {
        for await (const row of readSourceRows(store, deps.projectRoot, rowsUri)) {
          if (opts.source.limit !== undefined && valid >= opts.source.limit) break;
          seen++;
          heartbeat({ dataset: opts.name, rows: seen });
          const at = row.line !== undefined ? { line: row.line } : {};
          if (row.error !== undefined) {
            quarantined.push({ index: row.index, ...at, reason: row.error });
            continue;
          }
          const result = adapter.adaptRow(row.value, row.index);
          if (!result.ok) {
            quarantined.push({ index: row.index, ...at, reason: result.reason, row: row.value });
            if (valid === 0) {
              refused++;
              firstRefused ??= { index: row.index, reason: result.reason, row: row.value };
              // The first rows all refused: the file is most likely in another format; say which.
              if (refused >= MISMATCH_WINDOW) throw mismatch();
            }
            continue;
          }
          const unusable =
            loneSurrogateReason(result.record) ??
            (opts.scale && adapter.kind === 'pointwise' ? offScaleReason(result.record as PointwiseExample, opts.scale) : undefined);
          if (unusable !== undefined) {
            quarantined.push({ index: row.index, ...at, reason: unusable, row: row.value });
            continue;
          }
          const id = (result.record as { id: string }).id;
          const first = ids.get(id);
          if (first !== undefined) {
            quarantined.push({ index: row.index, ...at, reason: `duplicate id "${id}" (first at ${first}); ids must be unique within a dataset`, row: row.value });
            continue;
          }
          ids.set(id, row.line !== undefined ? `line ${row.line}` : `row ${row.index}`);
          valid++;
          yield result.record;
        }
      }
      const data = await store.writeJsonl(joinUri(opts.destPrefix, 'data', 'rows.jsonl'), validRows());
      const quarantine = await store.writeJsonl(joinUri(opts.destPrefix, 'quarantine.jsonl'), quarantined);
      if (valid === 0 && firstRefused) throw mismatch();
      const summary: PreparedDataset = {
        name: opts.name,
        kind: opts.expectKind,
        uri: data.uri,
        rows: valid,
        quarantined: quarantined.length,
        quarantineUri: quarantine.uri,
      };
      return { objects: [data, quarantine], summary };
    },
  );
  const s = outcome.summary;
  const total = s.rows + s.quarantined;
  if (s.rows === 0) {
    throw badInput(
      `dataset "${opts.name}" (${opts.source.uri}) has no valid rows (${s.quarantined} quarantined; see ${s.quarantineUri})`,
      'InvalidData',
    );
  }
  if (total > 0 && s.quarantined / total > opts.maxInvalidFraction) {
    throw badInput(
      `dataset "${opts.name}": ${s.quarantined} of ${total} rows are invalid, above data.maxInvalidFraction=` +
        `${opts.maxInvalidFraction}; the reasons are in ${s.quarantineUri}`,
      'InvalidData',
    );
  }
  return s;
}

/** Matches kept per dropped row in excluded.jsonl (the report's list and counts are complete regardless). */
const MATCHES_PER_EXCLUDED_ROW = 10;

/** The content hash of an ingested dataset, from its manifest, so the check reruns when the data changes. */
async function datasetFingerprint(store: ObjectStore, ds: PreparedDataset, prefix: string) {
  const manifest = await store.getJson<StepManifest<unknown>>(joinUri(prefix, MANIFEST));
  return { name: ds.name, uri: ds.uri, rows: ds.rows, sha256: manifest?.objects.find((o) => o.uri === ds.uri)?.sha256 ?? null };
}

/**
 * The contamination check: every training row against every evaluation suite (core/data/contamination.ts). The
 * report goes to `data/contamination.json`; with `exclude`, the flagged rows are dropped: the training rows
 * that are left go to `data/contamination/train-rows.jsonl` (the run trains from it) and the ids of the
 * dropped ones, with their matches, to `data/contamination/excluded.jsonl`. The ingested training set
 * stays as it was. Skipped when its manifest shows the same data and settings were checked already.
 */
export async function checkContamination(
  deps: ActivityDeps,
  store: ObjectStore,
  opts: {
    runPrefix: string;
    train: PreparedDataset;
    evalSuites: PreparedDataset[];
    settings: RunConfig['data']['contamination'];
  },
): Promise<{ summary: ContaminationSummary; trainUri: string }> {
  const prefix = joinUri(opts.runPrefix, 'data', 'contamination');
  const reportUri = joinUri(opts.runPrefix, 'data', 'contamination.json');
  const keptUri = joinUri(prefix, 'train-rows.jsonl');
  const heartbeat = throttledHeartbeat();
  const inputs = {
    settings: opts.settings,
    train: await datasetFingerprint(store, opts.train, datasetPrefix(opts.runPrefix, 'train')),
    suites: await Promise.all(
      opts.evalSuites.map((s) => datasetFingerprint(store, s, datasetPrefix(opts.runPrefix, `eval-${s.name}`))),
    ),
  };
  const outcome = await runStepOnce(
    store,
    { prefixUri: prefix, step: 'contamination', inputs, codeVersion: deps.codeVersion },
    async () => {
      const checker = new ContaminationChecker({ nearDuplicateThreshold: opts.settings.nearDuplicateThreshold });
      for (const suite of opts.evalSuites) {
        let n = 0;
        for await (const rec of store.readJsonl<{ id: string; instruction: string; response?: string; chosen?: string; rejected?: string }>(suite.uri)) {
          checker.addSuite(suite.name, evalItemsOf(rec));
          heartbeat({ contamination: suite.name, rows: ++n });
        }
      }
      const excluded: Array<{ index: number; id: string; matches: ContaminationMatch[] }> = [];
      let index = 0;
      async function* keptRows() {
        for await (const row of store.readJsonl<PointwiseExample>(opts.train.uri)) {
          const matches = checker.check(row);
          heartbeat({ contamination: 'train', rows: index + 1 });
          if (matches.length && opts.settings.exclude) {
            excluded.push({ index, id: row.id, matches: matches.slice(0, MATCHES_PER_EXCLUDED_ROW) });
          } else {
            yield row;
          }
          index++;
        }
      }
      const objects: WrittenObject[] = [];
      let excludedUri: string | undefined;
      if (opts.settings.exclude) {
        objects.push(await store.writeJsonl(keptUri, keptRows()));
        const written = await store.writeJsonl(joinUri(prefix, 'excluded.jsonl'), excluded);
        objects.push(written);
        excludedUri = written.uri;
      } else {
        for await (const _row of keptRows()) {
          // Counting only: nothing is dropped.
        }
      }
      const report = checker.report({ excludedTrainRows: excluded.length });
      objects.push(
        await store.putJson(reportUri, {
          ...report,
          exclude: opts.settings.exclude,
          trainUri: opts.train.uri,
          ...(excludedUri ? { keptTrainUri: keptUri, excludedUri } : {}),
        }),
      );
      const summary: ContaminationSummary = {
        reportUri,
        trainRows: report.trainRows,
        flaggedTrainRows: report.flaggedTrainRows,
        excludedTrainRows: report.excludedTrainRows,
        ...(excludedUri ? { excludedUri } : {}),
        matchesTotal: report.matchesTotal,
        suites: Object.fromEntries(
          Object.entries(report.suites).map(([name, s]) => [
            name,
            { exactMatches: s.exactMatches, nearDuplicates: s.nearDuplicates, trainRowsFlagged: s.trainRowsFlagged },
          ]),
        ),
      };
      return { objects, summary };
    },
  );
  const s = outcome.summary;
  if (s.excludedTrainRows > 0 && s.excludedTrainRows >= s.trainRows) {
    throw badInput(
      `data.contamination.exclude: all ${s.trainRows} training rows match an evaluation suite; nothing is left to train on (see ${s.reportUri})`,
      'InvalidData',
    );
  }
  return { summary: s, trainUri: s.excludedTrainRows > 0 ? keptUri : opts.train.uri };
}

type EvalRow = { id: string; instruction: string; response?: string; chosen?: string; rejected?: string };

/**
 * The items of `sets` (instruction and response, normalised as the contamination check does) that also
 * appear in `others`, as `set/id = other/id`.
 */
async function sharedItems(store: ObjectStore, sets: PreparedDataset[], others: PreparedDataset[]): Promise<string[]> {
  const heartbeat = throttledHeartbeat();
  const seen = new Map<string, string>();
  for (const other of others) {
    for await (const rec of store.readJsonl<EvalRow>(other.uri)) {
      for (const item of evalItemsOf(rec)) seen.set(exactKey(item), `${other.name}/${item.id}`);
      heartbeat({ disjoint: other.name });
    }
  }
  const shared: string[] = [];
  for (const set of sets) {
    for await (const rec of store.readJsonl<EvalRow>(set.uri)) {
      for (const item of evalItemsOf(rec)) {
        const twin = seen.get(exactKey(item));
        if (twin !== undefined) shared.push(`${set.name}/${item.id} = ${twin}`);
      }
      heartbeat({ disjoint: set.name });
    }
  }
  return shared;
}

function listed(shared: string[]): string {
  return `${shared.slice(0, 5).join('; ')}${shared.length > 5 ? '; …' : ''}`;
}

/**
 * Selection apart from reporting, item by item: no item of a validation suite may also be in a test suite.
 * The config already refuses a validation suite that reads a test suite's file; this catches copies of the
 * same items in other files.
 */
export async function checkValidationDisjoint(store: ObjectStore, config: RunConfig, prepared: PreparedDataset[]): Promise<void> {
  const roleOf = new Map(config.data.evalSuites.map((s) => [s.name, s.role ?? 'test']));
  const validation = prepared.filter((s) => roleOf.get(s.name) === 'validation');
  if (validation.length === 0) return;
  const shared = await sharedItems(store, validation, prepared.filter((s) => roleOf.get(s.name) !== 'validation'));
  if (shared.length > 0) {
    throw badInput(
      `${shared.length} validation item(s) also appear in a test suite, so the gate would select on reported data: ${listed(shared)}. Remove them from one of the suites.`,
      'InvalidData',
    );
  }
}

/** The warm start trains on reference judgments of its rows: none of them may be an evaluation item. */
export async function checkWarmStartApart(store: ObjectStore, warmStart: PreparedDataset, evalSuites: PreparedDataset[]): Promise<void> {
  const shared = await sharedItems(store, [warmStart], evalSuites);
  if (shared.length > 0) {
    throw badInput(
      `${shared.length} warm-start row(s) (warmStart.data) are also evaluation items, so the judge would be fine-tuned on what the run evaluates: ${listed(shared)}. Remove them from the warm-start data.`,
      'InvalidData',
    );
  }
}

/** Uploads a local seed model folder once; an s3:// seed model is used where it is. */
async function stageSeedModel(deps: ActivityDeps, store: ObjectStore, config: RunConfig, runPrefix: string): Promise<string> {
  const source = config.judge.seedModel;
  if (isS3(source)) return source.replace(/\/+$/, '');
  const dir = localPath(deps.projectRoot, source);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw badInput(
      `judge.seedModel: ${source} is not a folder (looked for ${dir}). For the embedded default run \`npm run setup\`, which builds the tiny judge.`,
      'ConfigError',
    );
  }
  const files = await listFilesRecursive(dir);
  const fileStats = await Promise.all(
    files.map(async (f) => {
      const s = await stat(`${dir}/${f}`);
      return [f, s.size, s.mtimeMs];
    }),
  );
  const prefix = joinUri(runPrefix, 'models', 'seed');
  await runStepOnce(
    store,
    { prefixUri: joinUri(runPrefix, 'models', 'seed-manifest'), step: 'seed-model', inputs: { source, fileStats }, codeVersion: deps.codeVersion },
    async () => {
      const objects: WrittenObject[] = await store.uploadDir(dir, prefix);
      return { objects, summary: { uri: prefix, files: objects.length } };
    },
  );
  return prefix;
}

function missingBucket(config: RunConfig): ApplicationFailure {
  const { bucket, endpoint, region } = config.storage;
  return ApplicationFailure.create({
    type: 'NoSuchBucket',
    message: endpoint
      ? `storage.bucket "${bucket}" does not exist at ${endpoint}: create it (the local stack, \`npm run stack\`, creates "judgeloop"), or point storage.bucket at one that exists`
      : `storage.bucket "${bucket}" does not exist in AWS S3: create it with \`aws s3 mb s3://${bucket} --region ${region}\` (in the SageMaker jobs' region), or point storage.bucket at one that exists`,
    nonRetryable: true,
  });
}

export function createPrepareActivities(deps: ActivityDeps) {
  return {
    async prepareRun({ config, runId }: PrepareInput): Promise<PreparedRun> {
      // The CLI checks the ids it starts runs under; a run started another way (the Temporal CLI, a client
      // of its own) is checked here, before its id becomes a folder of S3 keys.
      const idProblem = runIdProblem(runId);
      if (idProblem) throw badInput(`run id ${JSON.stringify(runId)} ${idProblem}; start the run again under such a workflow id`, 'ConfigError');
      const store = deps.storeFor(storageSettings(config));
      const runPrefix = runPrefixUri(config.storage, runId);
      const configHash = sha256Hex(canonicalJson(config));
      const budgets = preRunProblems(config);
      // The run's first jobs follow this step: their Pythons import their libraries meanwhile (docs/benchmarks.md).
      // Best effort: a runner that cannot be built here fails the first job, which says why.
      if (budgets.length === 0) {
        try {
          deps.runnerFor(config, store).prewarm?.(entryPointsOfRun(config));
        } catch {
          // reported by the first job
        }
      }
      if (budgets.length > 0) {
        // A run started without the CLI (the Temporal CLI, a schedule, a client of its own) meets the same check.
        throw ApplicationFailure.create({
          type: 'ConfigError',
          message: budgets.map((p) => `${p.path}: ${p.message}`).join('\n'),
          nonRetryable: true,
        });
      }
      // The bucket is made beforehand (the local stack creates its own): a worker with a least-privilege
      // policy may neither create buckets nor head them (docs/aws/README.md).
      await store.putJson(runConfigUri(runPrefix), { runId, configHash, config }).catch((err: unknown) => {
        throw (err as { name?: string }).name === 'NoSuchBucket' ? missingBucket(config) : err;
      });

      let train = await ingestDataset(deps, store, {
        name: 'train',
        source: config.data.train,
        expectKind: 'pointwise',
        destPrefix: datasetPrefix(runPrefix, 'train'),
        maxInvalidFraction: config.data.maxInvalidFraction,
        configPath: 'data.train',
        scale: config.judge.scale,
      });
      const evalSuites: PreparedDataset[] = [];
      for (const [i, suite] of config.data.evalSuites.entries()) {
        evalSuites.push(
          await ingestDataset(deps, store, {
            name: suite.name,
            source: suite,
            expectKind: suite.kind,
            destPrefix: datasetPrefix(runPrefix, `eval-${suite.name}`),
            maxInvalidFraction: config.data.maxInvalidFraction,
            configPath: `data.evalSuites[${i}]`,
            scale: config.judge.scale,
          }),
        );
      }
      await checkValidationDisjoint(store, config, evalSuites);
      const warmStart = config.warmStart
        ? await ingestDataset(deps, store, {
            name: 'warm-start',
            source: config.warmStart.data,
            expectKind: 'pointwise',
            destPrefix: datasetPrefix(runPrefix, 'warm-start'),
            maxInvalidFraction: config.data.maxInvalidFraction,
            configPath: 'warmStart.data',
            scale: config.judge.scale,
          })
        : undefined;
      if (warmStart) await checkWarmStartApart(store, warmStart, evalSuites);
      let contamination: ContaminationSummary | undefined;
      if (config.data.contamination.check) {
        const checked = await checkContamination(deps, store, { runPrefix, train, evalSuites, settings: config.data.contamination });
        contamination = checked.summary;
        if (checked.summary.excludedTrainRows > 0) {
          train = { ...train, uri: checked.trainUri, rows: checked.summary.trainRows - checked.summary.excludedTrainRows, contaminationExcluded: checked.summary.excludedTrainRows };
        }
      }
      const seedModelUri = await stageSeedModel(deps, store, config, runPrefix);
      return {
        runPrefixUri: runPrefix,
        configHash,
        seedModelUri,
        train,
        evalSuites,
        ...(contamination ? { contamination } : {}),
        ...(warmStart ? { warmStart } : {}),
      };
    },
  };
}

/** The job entry points a run uses: generation always, the warm start's SFT and the loop's training when configured. */
export function entryPointsOfRun(config: Pick<RunConfig, 'warmStart' | 'loop' | 'training'>): string[] {
  return ['generate.py', ...(config.warmStart ? ['train_sft.py'] : []), ...(config.loop.iterations > 0 ? [trainEntryPoint(config)] : [])];
}
