/**
 * Step 0 of a run: bring everything it needs into the run's S3 prefix. Datasets are converted to canonical
 * JSONL by their adapter (invalid rows quarantined with their reason and counted); the seed judge is
 * uploaded when it is a local folder. Each part is skipped when its manifest shows it was done already.
 */
import { stat } from 'node:fs/promises';
import type { RunConfig } from '../core/config';
import { datasetPrefix, joinUri, runPrefixUri } from '../core/artifacts';
import { getAdapter } from '../core/adapters';
import type { DatasetSummary } from '../core/run-types';
import { runStepOnce, canonicalJson, sha256Hex } from './manifest';
import type { ObjectStore, WrittenObject } from './storage';
import { listFilesRecursive } from './storage';
import {
  type ActivityDeps,
  badInput,
  isS3,
  localPath,
  readSourceRows,
  sourceFingerprint,
  storageSettings,
  throttledHeartbeat,
} from './context';

export interface PreparedDataset extends DatasetSummary {
  kind: 'pointwise' | 'pairwise';
}

export interface PreparedRun {
  runPrefixUri: string;
  configHash: string;
  seedModelUri: string;
  train: PreparedDataset;
  evalSuites: PreparedDataset[];
}

export interface PrepareInput {
  config: RunConfig;
  runId: string;
}

interface QuarantinedRow {
  index: number;
  reason: string;
  row?: unknown;
}

export async function ingestDataset(
  deps: ActivityDeps,
  store: ObjectStore,
  opts: {
    name: string;
    source: { uri: string; adapter: string; limit?: number };
    expectKind: 'pointwise' | 'pairwise';
    destPrefix: string;
    maxInvalidFraction: number;
  },
): Promise<PreparedDataset> {
  const adapter = getAdapter(opts.source.adapter, { idPrefix: opts.name, subset: opts.name });
  if (adapter.kind !== opts.expectKind) {
    throw badInput(
      `dataset "${opts.name}": adapter "${opts.source.adapter}" yields ${adapter.kind} rows but a ${opts.expectKind} dataset is needed`,
      'ConfigError',
    );
  }
  const heartbeat = throttledHeartbeat();
  const fingerprint = await sourceFingerprint(store, deps.projectRoot, opts.source.uri);
  const outcome = await runStepOnce(
    store,
    {
      prefixUri: opts.destPrefix,
      step: `ingest:${opts.name}`,
      inputs: { source: opts.source, fingerprint, kind: opts.expectKind },
      codeVersion: deps.codeVersion,
    },
    async () => {
      const quarantined: QuarantinedRow[] = [];
      let seen = 0;
      let valid = 0;
      const ids = new Set<string>();
      async function* validRows() {
        for await (const row of readSourceRows(store, deps.projectRoot, opts.source.uri)) {
          if (opts.source.limit !== undefined && valid >= opts.source.limit) break;
          seen++;
          heartbeat({ dataset: opts.name, rows: seen });
          if (row.error !== undefined) {
            quarantined.push({ index: row.index, reason: row.error });
            continue;
          }
          const result = adapter.adaptRow(row.value, row.index);
          if (!result.ok) {
            quarantined.push({ index: row.index, reason: result.reason, row: row.value });
            continue;
          }
          const id = (result.record as { id: string }).id;
          if (ids.has(id)) {
            quarantined.push({ index: row.index, reason: `duplicate id "${id}"`, row: row.value });
            continue;
          }
          ids.add(id);
          valid++;
          yield result.record;
        }
      }
      const data = await store.writeJsonl(joinUri(opts.destPrefix, 'data', 'rows.jsonl'), validRows());
      const quarantine = await store.writeJsonl(joinUri(opts.destPrefix, 'quarantine.jsonl'), quarantined);
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

export function createPrepareActivities(deps: ActivityDeps) {
  return {
    async prepareRun({ config, runId }: PrepareInput): Promise<PreparedRun> {
      const store = deps.storeFor(storageSettings(config));
      await store.ensureBucket(config.storage.bucket);
      const runPrefix = runPrefixUri(config.storage, runId);
      const configHash = sha256Hex(canonicalJson(config));
      await store.putJson(joinUri(runPrefix, 'config.json'), { runId, configHash, config });

      const train = await ingestDataset(deps, store, {
        name: 'train',
        source: config.data.train,
        expectKind: 'pointwise',
        destPrefix: datasetPrefix(runPrefix, 'train'),
        maxInvalidFraction: config.data.maxInvalidFraction,
      });
      const evalSuites: PreparedDataset[] = [];
      for (const suite of config.data.evalSuites) {
        evalSuites.push(
          await ingestDataset(deps, store, {
            name: suite.name,
            source: suite,
            expectKind: suite.kind,
            destPrefix: datasetPrefix(runPrefix, `eval-${suite.name}`),
            maxInvalidFraction: config.data.maxInvalidFraction,
          }),
        );
      }
      const seedModelUri = await stageSeedModel(deps, store, config, runPrefix);
      return { runPrefixUri: runPrefix, configHash, seedModelUri, train, evalSuites };
    },
  };
}
