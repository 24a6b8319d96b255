/** core/promotion/model-registry.ts: a promoted judge as a SageMaker model package version, and its settings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SageMakerModelRegistryConfig } from '../../core/promotion/gate-config';
import { METADATA_LIMITS, isPackageOf, modelPackageRequest, packageClientToken, packageMetadata } from '../../core/promotion/model-registry';
import type { RegistryEntry } from '../../core/promotion/registry';
import type { PairwiseMetrics, PointwiseMetrics } from '../../core/run/run-types';
import { validateConfig } from '../../core/config/config';
import { mergeConfig } from '../../cli/config-file';
import localConfig from '../../configs/local.json';

const IMAGE = '123456789012.dkr.ecr.us-east-1.amazonaws.com/judge-serving:1.0';
const settings = SageMakerModelRegistryConfig.parse({ region: 'us-east-1', inferenceImage: IMAGE });

const pointwise = { kind: 'pointwise', n: 20, parsed: 20, parseRate: 1, exactAgreement: 0.45, mae: 0.8, pearson: 0.612345, spearman: null, kendall: 0.4, reportUri: 's3://b/runs/r/iter-1/evaluate/metrics/report.json' } as PointwiseMetrics;
const pairwise = { kind: 'pairwise', n: 24, accuracy: 0.625, ties: 0, unparseable: 0 } as PairwiseMetrics;

function entry(over: Partial<RegistryEntry> = {}): RegistryEntry {
  return {
    judgeName: 'tiny-judge',
    modelUri: 's3://b/runs/r/iter-1/train/job/model',
    runId: 'r',
    iteration: 1,
    parentModelUri: 's3://b/runs/r/seed',
    seedModelUri: 's3://b/runs/r/seed',
    data: { trainUri: 's3://b/runs/r/data/train', trainSha256: 'ab'.repeat(32), pairsUri: 's3://b/runs/r/iter-1/pair/data/pairs.jsonl', configHash: 'cafe' },
    metrics: { heldout: pointwise, llmbar: pairwise },
    decision: { promoted: true, reasons: ['heldout pearson +0.10 over the champion'], decidedBy: 'gate', at: '2026-12-03T08:00:00Z' },
    championReplaced: true,
    ...over,
  };
}

test('the request: an approved version in the judge\'s group, serving its model folder, with its report as model quality', () => {
  const r = modelPackageRequest(entry(), settings, 'abc1234');
  assert.equal(r.ModelPackageGroupName, 'tiny-judge');
  assert.equal(r.ModelApprovalStatus, 'Approved');
  assert.deepEqual(r.InferenceSpecification.Containers, [
    { Image: IMAGE, ModelDataSource: { S3DataSource: { S3Uri: 's3://b/runs/r/iter-1/train/job/model/', S3DataType: 'S3Prefix', CompressionType: 'None' } } },
  ]);
  assert.deepEqual([r.InferenceSpecification.SupportedContentTypes, r.InferenceSpecification.SupportedResponseMIMETypes], [['application/json'], ['application/json']]);
  assert.deepEqual(r.ModelMetrics, { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: pointwise.reportUri } } });
  assert.deepEqual(r.MetadataProperties, { GeneratedBy: 'judgeloop run r iteration 1', ProjectId: 'tiny-judge', CommitId: 'abc1234' });
  assert.match(r.ModelPackageDescription, /^Judge tiny-judge, iteration 1 of Judgeloop run r; promoted by gate$/);
  assert.equal(modelPackageRequest(entry(), { ...settings, modelPackageGroup: 'team-judges' }).ModelPackageGroupName, 'team-judges');
  assert.equal(modelPackageRequest(entry(), settings, 'dev').MetadataProperties.CommitId, undefined, 'no commit for a development build');
  assert.equal(modelPackageRequest(entry({ metrics: { llmbar: pairwise } }), settings).ModelMetrics, undefined, 'no report, no model quality');
});

test('the metadata: lineage, data and decision first, then each suite\'s headline figures, within SageMaker\'s limits', () => {
  const m = packageMetadata(entry({ decision: { promoted: true, reasons: [], decidedBy: 'alice', at: '' } }));
  const expected: Record<string, string> = {
    'judgeloop:judge': 'tiny-judge',
    'judgeloop:run-id': 'r',
    'judgeloop:iteration': '1',
    'judgeloop:parent-model-uri': 's3://b/runs/r/seed',
    'judgeloop:train-sha256': 'ab'.repeat(32),
    'judgeloop:pairs-uri': 's3://b/runs/r/iter-1/pair/data/pairs.jsonl',
    'judgeloop:decided-by': 'alice',
    'judgeloop:decision': 'promoted',
    'metric:heldout:pearson': '0.6123',
    'metric:heldout:exact-agreement': '0.45',
    'metric:llmbar:accuracy': '0.625',
  };
  for (const [k, v] of Object.entries(expected)) assert.equal(m[k], v, k);
  assert.equal(m['metric:heldout:spearman'], undefined);
  assert.equal(packageMetadata(entry({ parentModelUri: null, iteration: 0 }))['judgeloop:parent-model-uri'], 'none (a seed judge)');

  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`suite-${String(i).padStart(2, '0')}`, pointwise]));
  const long = packageMetadata(entry({ metrics: many, decision: { promoted: true, reasons: ['x'.repeat(400)], decidedBy: 'gate', at: '' } }));
  assert.equal(Object.keys(long).length, METADATA_LIMITS.entries);
  assert.ok(Object.values(long).every((v) => v.length <= METADATA_LIMITS.value));
  assert.ok(long['judgeloop:decision'].endsWith('…'));
});

test('the client token and the adoption check: one per judge version', () => {
  const a = packageClientToken('g', { runId: 'r', iteration: 1 });
  assert.match(a, /^[0-9a-f]{36}$/);
  assert.equal(a, packageClientToken('g', { runId: 'r', iteration: 1 }));
  assert.notEqual(a, packageClientToken('g', { runId: 'r', iteration: 2 }));
  assert.notEqual(a, packageClientToken('h', { runId: 'r', iteration: 1 }));
  const meta = packageMetadata(entry());
  const cases: Array<[Record<string, string> | undefined, boolean]> = [
    [meta, true],
    [{ ...meta, 'judgeloop:iteration': '2' }, false],
    [{ ...meta, 'judgeloop:run-id': 'other' }, false],
    [undefined, false],
  ];
  for (const [m, want] of cases) assert.equal(isPackageOf(m, entry()), want);
});

test('registry.sagemaker settings: a region, a group name SageMaker accepts, an ECR image', () => {
  const cases: Array<[Record<string, unknown>, string | null]> = [
    [{ region: 'us-east-1', inferenceImage: IMAGE }, null],
    [{ region: 'eu-central-1', inferenceImage: '123456789012.dkr.ecr.eu-central-1.amazonaws.com/vllm@sha256:' + 'a'.repeat(64), modelPackageGroup: 'Judge-1' }, null],
    [{ region: 'us-east', inferenceImage: IMAGE }, 'an AWS region'],
    [{ region: 'us-east-1', inferenceImage: 'vllm/vllm-openai:latest' }, 'an ECR image URI'],
    [{ region: 'us-east-1', inferenceImage: IMAGE, modelPackageGroup: 'ends-with-' }, 'a model package group name'],
    [{ region: 'us-east-1', inferenceImage: IMAGE, unknown: 1 }, 'Unrecognized key'],
  ];
  for (const [input, problem] of cases) {
    const parsed = SageMakerModelRegistryConfig.safeParse(input);
    if (problem === null) assert.ok(parsed.success, JSON.stringify(input));
    else assert.ok(!parsed.success && parsed.error.issues.some((i) => i.message.includes(problem)), `${JSON.stringify(input)}: ${parsed.success ? 'accepted' : parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
});

test('registry.sagemaker in a run config: off by default, and only with the registry on', () => {
  const local = localConfig;
  const plain = validateConfig(local);
  assert.ok(plain.ok && plain.config.registry.sagemaker === undefined, 'the embedded default registers nothing in SageMaker');
  const on = validateConfig(mergeConfig(local, { registry: { sagemaker: { region: 'us-east-1', inferenceImage: IMAGE } } }));
  assert.ok(on.ok && on.config.registry.sagemaker?.contentTypes[0] === 'application/json');
  const off = validateConfig(mergeConfig(local, { registry: { enabled: false, sagemaker: { region: 'us-east-1', inferenceImage: IMAGE } } }));
  assert.ok(!off.ok && off.problems.some((p) => p.path === 'registry.sagemaker' && /needs registry\.enabled: true/.test(p.message)), JSON.stringify(!off.ok && off.problems));
});
