/**
 * The IAM documents in docs/aws/ against the code that needs them, so the two cannot drift apart unnoticed:
 * every AWS call the worker's code makes (activities/, workers/) must be allowed by docs/aws/worker-policy.json,
 * the job names the SageMaker runner creates must fall under the policy's training-job pattern, everything a
 * training job reads and writes (per createTrainingJobRequest) must be allowed by the execution role's
 * policy, and the CLI's S3 reads by cli-policy.json. The policies are evaluated by a small IAM evaluator
 * below (Allow/Deny, action and resource globs, the condition operators the documents use), after the
 * placeholders are filled in the way docs/aws/README.md tells users to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tsFiles } from '../support/source-files';
import path from 'node:path';
import * as s3Sdk from '@aws-sdk/client-s3';
import * as sageMakerSdk from '@aws-sdk/client-sagemaker';
import { jobName, joinUri, parseS3Uri, runPrefixUri, stepPrefix } from '../../core/run/artifacts';
import { SageMakerBackend } from '../../core/config/config';
import { USAGE_FOLDER } from '../../core/run/usage';
import { defaultWorkflowId } from '../../cli/start';
import {
  createTrainingJobRequest,
  defaultCheckpointUri,
  defaultCodeUri,
  sagemakerJobName,
} from '../../activities/jobs/sagemaker-request';
import { ObjectStore } from '../../activities/storage/object-store';
import type { JobSpec } from '../../activities/jobs/types';
import { SAGEMAKER_BACKEND_INPUT } from '../support/sagemaker';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = path.join(ROOT, 'docs', 'aws');

// ---------------------------------------------------------------------------------------------------------
// Placeholders, filled as docs/aws/README.md says (whole words only: DATA_BUCKET is not BUCKET).

const STORAGE = { bucket: 'judgeloop-test-bucket', prefix: 'runs' };
const BACKEND = SageMakerBackend.parse({ ...SAGEMAKER_BACKEND_INPUT, spot: { enabled: true, maxWaitHours: 48 } });
const ROLE_ARN = BACKEND.roleArn;
const ACCOUNT = /^arn:aws:iam::(\d{12}):role\//.exec(ROLE_ARN)![1];
const ROLE_NAME = ROLE_ARN.slice(ROLE_ARN.indexOf(':role/') + ':role/'.length);
const ECR_REPOSITORY = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/([^:@]+)/.exec(BACKEND.images.training)![1];

const PLACEHOLDERS: Record<string, string> = {
  ACCOUNT_ID: ACCOUNT,
  REGION: BACKEND.region,
  BUCKET: STORAGE.bucket,
  PREFIX: STORAGE.prefix,
  EXECUTION_ROLE_NAME: ROLE_NAME,
  ECR_REPOSITORY,
  KMS_KEY_ID: '1234abcd-12ab-34cd-56ef-1234567890ab',
  DATA_BUCKET: 'shared-models',
  DATA_PREFIX: 'judges',
};

function fill(text: string): string {
  let out = text;
  for (const [name, value] of Object.entries(PLACEHOLDERS)) out = out.replace(new RegExp(`\\b${name}\\b`, 'g'), value);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// A small IAM policy evaluator: enough for identity policies made of Allow/Deny statements with Action,
// Resource and the condition operators used in docs/aws (plus their ...IfExists forms).

type Strings = string | string[];
interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: Strings;
  NotAction?: Strings;
  Resource?: Strings;
  NotResource?: Strings;
  Principal?: unknown;
  Condition?: Record<string, Record<string, Strings>>;
}
interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}
type Context = Record<string, string>;

const list = (v: Strings | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function globToRegExp(glob: string, flags = ''): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

function conditionHolds(op: string, key: string, wanted: string[], ctx: Context): boolean {
  const ifExists = op.endsWith('IfExists');
  const base = ifExists ? op.slice(0, -'IfExists'.length) : op;
  const have = ctx[key];
  if (have === undefined) return base === 'Null' ? wanted.includes('true') : ifExists;
  switch (base) {
    case 'StringEquals':
    case 'ArnEquals':
      return wanted.includes(have);
    case 'StringLike':
    case 'ArnLike':
      return wanted.some((w) => globToRegExp(w).test(have));
    case 'Bool':
      return wanted.map((w) => w.toLowerCase()).includes(have.toLowerCase());
    case 'Null':
      return wanted.includes('false');
    default:
      throw new Error(`the test's evaluator does not know the condition operator ${op}; teach it before using it in docs/aws`);
  }
}

function statementMatches(s: Statement, action: string, resource: string, ctx: Context): boolean {
  const actionMatches = (patterns: string[]) => patterns.some((p) => globToRegExp(p, 'i').test(action));
  if (s.Action !== undefined && !actionMatches(list(s.Action))) return false;
  if (s.NotAction !== undefined && actionMatches(list(s.NotAction))) return false;
  const resourceMatches = (patterns: string[]) => patterns.some((p) => globToRegExp(p).test(resource));
  if (s.Resource !== undefined && !resourceMatches(list(s.Resource))) return false;
  if (s.NotResource !== undefined && resourceMatches(list(s.NotResource))) return false;
  for (const [op, keys] of Object.entries(s.Condition ?? {})) {
    for (const [key, wanted] of Object.entries(keys)) {
      if (!conditionHolds(op, key, list(wanted), ctx)) return false;
    }
  }
  return true;
}

function allows(policies: PolicyDocument[], action: string, resource: string, ctx: Context = {}): boolean {
  const statements = policies.flatMap((p) => p.Statement);
  if (statements.some((s) => s.Effect === 'Deny' && statementMatches(s, action, resource, ctx))) return false;
  return statements.some((s) => s.Effect === 'Allow' && statementMatches(s, action, resource, ctx));
}

test('the evaluator: globs, prefix conditions, missing condition keys and Deny', () => {
  const p: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::b', Condition: { StringLike: { 's3:prefix': ['runs/*'] } } },
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::b/runs/*' },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/runs/secret/*' },
    ],
  };
  assert.ok(allows([p], 's3:ListBucket', 'arn:aws:s3:::b', { 's3:prefix': 'runs/x/' }));
  assert.ok(allows([p], 'S3:listbucket', 'arn:aws:s3:::b', { 's3:prefix': 'runs/' }), 'actions are case-insensitive');
  assert.ok(!allows([p], 's3:ListBucket', 'arn:aws:s3:::b', { 's3:prefix': 'other/' }));
  assert.ok(!allows([p], 's3:ListBucket', 'arn:aws:s3:::b'), 'a StringLike key absent from the request does not match');
  assert.ok(allows([p], 's3:GetObject', 'arn:aws:s3:::b/runs/a/b.json'));
  assert.ok(!allows([p], 's3:GetObject', 'arn:aws:s3:::b/RUNS/a'), 'resources are case-sensitive');
  assert.ok(!allows([p], 's3:GetObject', 'arn:aws:s3:::b/runs/secret/k'));
  assert.ok(!allows([p], 's3:PutObject', 'arn:aws:s3:::b/runs/a'));
});

// ---------------------------------------------------------------------------------------------------------
// The documents themselves.

function policyFiles(): string[] {
  return readdirSync(DOCS).filter((f) => f.endsWith('.json')).sort();
}

function loadRaw(file: string): string {
  return readFileSync(path.join(DOCS, file), 'utf8');
}

function load(file: string): PolicyDocument {
  return JSON.parse(fill(loadRaw(file))) as PolicyDocument;
}

const TRUST_POLICIES = new Set(['execution-role-trust.json']);

/** Actions that have no resource-level permissions, so `"Resource": "*"` is the only form IAM accepts. */
const RESOURCE_STAR_ONLY = new Set([
  'sagemaker:ListModelPackages',
  'ecr:GetAuthorizationToken',
  'cloudwatch:PutMetricData',
  'ec2:CreateNetworkInterface',
  'ec2:CreateNetworkInterfacePermission',
  'ec2:DeleteNetworkInterface',
  'ec2:DeleteNetworkInterfacePermission',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeVpcs',
  'ec2:DescribeDhcpOptions',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
]);

test('docs/aws: every document parses and is well formed, with no wildcard actions', () => {
  const files = policyFiles();
  for (const required of ['worker-policy.json', 'cli-policy.json', 'execution-role-policy.json', 'execution-role-trust.json']) {
    assert.ok(files.includes(required), `docs/aws/${required} is missing`);
  }
  for (const file of files) {
    const raw = loadRaw(file);
    let doc: PolicyDocument;
    try {
      doc = JSON.parse(raw) as PolicyDocument;
    } catch (err) {
      assert.fail(`docs/aws/${file} is not valid JSON: ${(err as Error).message}`);
    }
    assert.equal(doc.Version, '2012-10-17', `${file}: Version`);
    assert.ok(Array.isArray(doc.Statement) && doc.Statement.length > 0, `${file}: Statement must be a non-empty array`);
    const sids = new Set<string>();
    for (const [i, s] of doc.Statement.entries()) {
      const where = `${file} statement ${s.Sid ?? i}`;
      assert.ok(s.Sid && /^[A-Za-z0-9]+$/.test(s.Sid), `${where}: every statement has an alphanumeric Sid (docs/aws/README.md explains each by it)`);
      assert.ok(!sids.has(s.Sid), `${where}: duplicate Sid`);
      sids.add(s.Sid);
      assert.ok(s.Effect === 'Allow' || s.Effect === 'Deny', `${where}: Effect`);
      assert.ok(s.NotAction === undefined && s.NotResource === undefined, `${where}: NotAction/NotResource grant more than they seem; list actions and resources`);
      const actions = list(s.Action);
      assert.ok(actions.length > 0, `${where}: Action`);
      for (const a of actions) {
        assert.match(a, /^[a-z0-9-]+:[A-Za-z0-9]+$/, `${where}: action "${a}" must be one exact service:Action (no "*", "s3:*", "sagemaker:*" or "s3:Get*")`);
      }
      if (TRUST_POLICIES.has(file)) {
        assert.ok(s.Principal !== undefined, `${where}: a trust policy statement names its Principal`);
        assert.equal(s.Resource, undefined, `${where}: a trust policy has no Resource`);
      } else {
        assert.equal(s.Principal, undefined, `${where}: an identity policy has no Principal`);
        const resources = list(s.Resource);
        assert.ok(resources.length > 0, `${where}: Resource`);
        if (resources.includes('*')) {
          for (const a of actions) {
            assert.ok(RESOURCE_STAR_ONLY.has(a), `${where}: "Resource": "*" for ${a}, which supports resource-level permissions; scope it`);
          }
        }
      }
    }
  }
});

test('docs/aws: only the documented placeholders are used, and the README explains each', () => {
  const readme = readFileSync(path.join(DOCS, 'README.md'), 'utf8');
  const used = new Set<string>();
  for (const file of policyFiles()) {
    for (const m of loadRaw(file).matchAll(/(?<![A-Za-z0-9_])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?![A-Za-z0-9_])/g)) {
      if (m[0].length < 4) continue; // AWS, EC2...
      assert.ok(m[0] in PLACEHOLDERS, `docs/aws/${file}: unknown placeholder ${m[0]} (known: ${Object.keys(PLACEHOLDERS).join(', ')})`);
      used.add(m[0]);
    }
    assert.doesNotMatch(fill(loadRaw(file)), /(?<![A-Za-z0-9_])(ACCOUNT_ID|REGION|BUCKET|PREFIX|EXECUTION_ROLE_NAME|ECR_REPOSITORY)(?![A-Za-z0-9_])/, `${file}: a placeholder survived filling`);
  }
  for (const name of used) assert.ok(readme.includes(`\`${name}\``), `docs/aws/README.md does not explain the placeholder ${name}`);
});

test('execution-role-trust.json: only SageMaker assumes the execution role', () => {
  const trust = load('execution-role-trust.json');
  assert.equal(trust.Statement.length, 1);
  const [s] = trust.Statement;
  assert.equal(s.Effect, 'Allow');
  assert.deepEqual(s.Principal, { Service: 'sagemaker.amazonaws.com' });
  assert.deepEqual(list(s.Action), ['sts:AssumeRole']);
});

test('worker-policy.json: iam:PassRole only for the execution role, only to SageMaker', () => {
  const worker = load('worker-policy.json');
  assert.ok(allows([worker], 'iam:PassRole', ROLE_ARN, { 'iam:PassedToService': 'sagemaker.amazonaws.com' }));
  assert.ok(!allows([worker], 'iam:PassRole', ROLE_ARN, { 'iam:PassedToService': 'ec2.amazonaws.com' }), 'the role must not be passable to other services');
  assert.ok(!allows([worker], 'iam:PassRole', ROLE_ARN), 'PassRole must carry the iam:PassedToService condition');
  assert.ok(!allows([worker], 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/SomeOtherRole`, { 'iam:PassedToService': 'sagemaker.amazonaws.com' }));
  for (const s of worker.Statement.filter((st) => list(st.Action).some((a) => a.toLowerCase() === 'iam:passrole'))) {
    assert.deepEqual(s.Condition, { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } }, `statement ${s.Sid}`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// What the worker's code sends.

const WORKER_SOURCES = ['activities', 'workers'].flatMap((d) => tsFiles(path.join(ROOT, d))).sort();

/** The AWS SDK packages the worker may use; a new one needs its own rows below and policy statements. */
const KNOWN_SDK_PACKAGES = new Set(['@aws-sdk/client-s3', '@aws-sdk/client-sagemaker', '@aws-sdk/lib-storage']);

interface Use {
  name: string;
  where: string;
}

/** `new XxxCommand(` of the S3 and SageMaker clients, and `new Upload(` of lib-storage, in the worker's sources. */
function sdkCallsInWorker(): Use[] {
  const uses: Use[] = [];
  for (const file of WORKER_SOURCES) {
    const text = readFileSync(file, 'utf8');
    const rel = path.relative(ROOT, file);
    for (const m of text.matchAll(/from\s+'(@aws-sdk\/[^']+)'/g)) {
      assert.ok(KNOWN_SDK_PACKAGES.has(m[1]), `${rel} imports ${m[1]}: add its calls to this test's table and the IAM actions to docs/aws/worker-policy.json`);
    }
    for (const m of text.matchAll(/new\s+([A-Za-z0-9_]+)\s*\(/g)) {
      const name = m[1];
      const line = text.slice(0, m.index).split('\n').length;
      const isSdkCommand = name.endsWith('Command') && (name in s3Sdk || name in sageMakerSdk);
      const isUpload = name === 'Upload' && text.includes("from '@aws-sdk/lib-storage'");
      if (isSdkCommand || isUpload) uses.push({ name, where: `${rel}:${line}` });
    }
  }
  return uses;
}

interface Grant {
  action: string;
  resource: string;
  context?: Context;
}

const OBJECT_ARN = `arn:aws:s3:::${STORAGE.bucket}/${STORAGE.prefix}/judgeloop-demo-20261129-000000/iter-1/sample/data/judgments.jsonl`;
const BUCKET_ARN = `arn:aws:s3:::${STORAGE.bucket}`;
const LIST_PREFIX = { 's3:prefix': `${STORAGE.prefix}/judgeloop-demo-20261129-000000/iter-1/sample/job/` };
const EXAMPLE_JOB = sagemakerJobName(jobName(defaultWorkflowId('demo', new Date(Date.UTC(2026, 10, 29))), 1, 'sample'));
const MODEL_PACKAGE_GROUP_ARN = `arn:aws:sagemaker:${BACKEND.region}:${ACCOUNT}:model-package-group/tiny-judge`;
const MODEL_PACKAGE_ARN = `arn:aws:sagemaker:${BACKEND.region}:${ACCOUNT}:model-package/tiny-judge`;
const trainingJobArn = (name: string) => `arn:aws:sagemaker:${BACKEND.region}:${ACCOUNT}:training-job/${name.toLowerCase()}`;

/**
 * Every AWS request the worker's code can send → the IAM authorisations it needs. A command missing here
 * fails the test below: add it, and the action to docs/aws/worker-policy.json.
 */
const WORKER_GRANTS: Record<string, Grant[] | { notGranted: string }> = {
  GetObjectCommand: [{ action: 's3:GetObject', resource: OBJECT_ARN }],
  HeadObjectCommand: [{ action: 's3:GetObject', resource: OBJECT_ARN }],
  PutObjectCommand: [{ action: 's3:PutObject', resource: OBJECT_ARN }],
  ListObjectsV2Command: [{ action: 's3:ListBucket', resource: BUCKET_ARN, context: LIST_PREFIX }],
  // HeadBucket is authorised as s3:ListBucket without an s3:prefix, which would open listing of the whole
  // bucket; the worker does not head or create buckets (prepareRun reports a missing bucket instead).
  HeadBucketCommand: { notGranted: 'the worker must not head buckets: that needs s3:ListBucket on the whole bucket' },
  CreateBucketCommand: { notGranted: 'the worker never creates buckets: on AWS the bucket is created beforehand (docs/aws/README.md)' },
  // lib-storage's Upload: CreateMultipartUpload, UploadPart, CompleteMultipartUpload and a small body's
  // PutObject are all s3:PutObject; an upload that fails (or ObjectStore.writeJsonl's abort) sends
  // AbortMultipartUpload.
  Upload: [
    { action: 's3:PutObject', resource: OBJECT_ARN },
    { action: 's3:AbortMultipartUpload', resource: OBJECT_ARN },
  ],
  // ObjectStore.copy (a data step reused from another run): CopyObject, or for a multipart object the same
  // parts with UploadPartCopy. Both read the source (s3:GetObject) and write the copy (s3:PutObject).
  CopyObjectCommand: [
    { action: 's3:GetObject', resource: OBJECT_ARN },
    { action: 's3:PutObject', resource: OBJECT_ARN },
  ],
  UploadPartCopyCommand: [
    { action: 's3:GetObject', resource: OBJECT_ARN },
    { action: 's3:PutObject', resource: OBJECT_ARN },
  ],
  CreateMultipartUploadCommand: [{ action: 's3:PutObject', resource: OBJECT_ARN }],
  CompleteMultipartUploadCommand: [{ action: 's3:PutObject', resource: OBJECT_ARN }],
  AbortMultipartUploadCommand: [{ action: 's3:AbortMultipartUpload', resource: OBJECT_ARN }],
  CreateTrainingJobCommand: [
    { action: 'sagemaker:CreateTrainingJob', resource: trainingJobArn(EXAMPLE_JOB) },
    // The request always carries Tags (judgeloop:job), and tag-on-create is authorised as AddTags.
    { action: 'sagemaker:AddTags', resource: trainingJobArn(EXAMPLE_JOB) },
    { action: 'iam:PassRole', resource: ROLE_ARN, context: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
  ],
  DescribeTrainingJobCommand: [{ action: 'sagemaker:DescribeTrainingJob', resource: trainingJobArn(EXAMPLE_JOB) }],
  StopTrainingJobCommand: [{ action: 'sagemaker:StopTrainingJob', resource: trainingJobArn(EXAMPLE_JOB) }],
  // The model registry step (registry.sagemaker): the judge's group, its versions, and the listing that finds an earlier attempt's.
  DescribeModelPackageGroupCommand: [{ action: 'sagemaker:DescribeModelPackageGroup', resource: MODEL_PACKAGE_GROUP_ARN }],
  CreateModelPackageGroupCommand: [
    { action: 'sagemaker:CreateModelPackageGroup', resource: MODEL_PACKAGE_GROUP_ARN },
    // Created with a tag (judgeloop:judge): tagging on create is authorised as AddTags.
    { action: 'sagemaker:AddTags', resource: MODEL_PACKAGE_GROUP_ARN },
  ],
  ListModelPackagesCommand: [{ action: 'sagemaker:ListModelPackages', resource: '*' }],
  DescribeModelPackageCommand: [{ action: 'sagemaker:DescribeModelPackage', resource: `${MODEL_PACKAGE_ARN}/1` }],
  CreateModelPackageCommand: [{ action: 'sagemaker:CreateModelPackage', resource: `${MODEL_PACKAGE_ARN}/2` }],
};

test('worker-policy.json allows every AWS call in activities/ and workers/', () => {
  const worker = load('worker-policy.json');
  const uses = sdkCallsInWorker();
  const names = new Set(uses.map((u) => u.name));
  for (const expected of ['GetObjectCommand', 'PutObjectCommand', 'CreateTrainingJobCommand', 'Upload']) {
    assert.ok(names.has(expected), `the scan found no ${expected}: is it still finding the worker's calls?`);
  }
  for (const use of uses) {
    const grants = WORKER_GRANTS[use.name];
    assert.ok(
      grants !== undefined,
      `${use.where} sends ${use.name}, which test/unit/aws-policies.test.ts does not know: add it to WORKER_GRANTS with the IAM action(s) it needs, and grant them in docs/aws/worker-policy.json`,
    );
    if (!Array.isArray(grants)) continue;
    for (const g of grants) {
      assert.ok(allows([worker], g.action, g.resource, g.context), `${use.where} sends ${use.name}: docs/aws/worker-policy.json does not allow ${g.action} on ${g.resource}${g.context ? ` with ${JSON.stringify(g.context)}` : ''}`);
    }
  }
});

test('worker-policy.json: S3 only under the run prefix, listing included', () => {
  const worker = load('worker-policy.json');
  assert.ok(!allows([worker], 's3:GetObject', `arn:aws:s3:::${STORAGE.bucket}/elsewhere/x`));
  assert.ok(!allows([worker], 's3:PutObject', `arn:aws:s3:::another-bucket/${STORAGE.prefix}/x`));
  assert.ok(!allows([worker], 's3:DeleteObject', OBJECT_ARN), 'the worker deletes nothing');
  assert.ok(!allows([worker], 's3:CreateBucket', BUCKET_ARN));
  assert.ok(!allows([worker], 's3:ListBucket', BUCKET_ARN), 'no listing without the run prefix (HeadBucket needs it: the worker does not call it)');
  assert.ok(!sdkCallsInWorker().some((u) => u.name === 'HeadBucketCommand' || u.name === 'CreateBucketCommand'));
});

test('lib-storage sends only the commands the Upload row accounts for', () => {
  const dist = path.dirname(require.resolve('@aws-sdk/lib-storage'));
  const sent = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.js')) for (const m of readFileSync(full, 'utf8').matchAll(/new\s+(?:[\w$]+\.)?([A-Za-z]+Command)\s*\(/g)) sent.add(m[1]);
    }
  };
  walk(dist);
  const asPutObject = new Set(['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
  const accounted = new Set([...asPutObject, 'AbortMultipartUploadCommand', 'PutObjectTaggingCommand']);
  assert.ok(sent.has('UploadPartCommand'), `found no UploadPartCommand in ${dist}: the scan is broken`);
  for (const command of sent) {
    assert.ok(accounted.has(command), `@aws-sdk/lib-storage now sends ${command}: add its IAM action to the Upload row of WORKER_GRANTS and to docs/aws/worker-policy.json`);
  }
  // PutObjectTagging is sent only for an Upload given `tags`; ObjectStore passes none.
  assert.doesNotMatch(readFileSync(path.join(ROOT, 'activities', 'storage', 'object-store.ts'), 'utf8'), /new Upload\(\{[^}]*\btags\s*:/s);
});

// ---------------------------------------------------------------------------------------------------------
// SageMaker job names against the policy's training-job pattern.

/** Every step that runs a job (activities: sample, train, evaluate, meta-judge, consistency). */
const JOB_STEPS = ['sample', 'train', 'evaluate', 'evaluate-baselines', 'evaluate-relative', 'meta-judge', 'consistency'];

test('worker-policy.json: the training-job pattern matches the names the runner creates for default run ids', () => {
  const worker = load('worker-policy.json');
  const when = new Date(Date.UTC(2026, 10, 29, 23, 59, 58));
  const configNames = ['demo', 'sagemaker-demo', 'a', 'x'.repeat(31), 'judge-with-a-long-name-30chars'];
  let checked = 0;
  for (const configName of configNames) {
    const runId = defaultWorkflowId(configName, when);
    for (const step of JOB_STEPS) {
      for (const iteration of [0, 1, 12, 999]) {
        for (const attempt of [1, 2, 10]) {
          const name = sagemakerJobName(jobName(runId, iteration, step), attempt);
          assert.ok(name.length <= 63, name);
          for (const action of ['sagemaker:CreateTrainingJob', 'sagemaker:AddTags', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob']) {
            assert.ok(
              allows([worker], action, trainingJobArn(name)),
              `the runner names a job ${name} (run ${runId}, step ${step}, attempt ${attempt}), but docs/aws/worker-policy.json does not allow ${action} on ${trainingJobArn(name)}`,
            );
          }
          checked++;
        }
      }
    }
  }
  assert.ok(checked > 100);
  // A run started with its own --id gets the prefix too, so the scope holds for every run.
  const custom = sagemakerJobName(jobName('nightly-run', 1, 'sample'));
  assert.equal(custom, 'judgeloop-nightly-run-i1-sample');
  assert.ok(allows([worker], 'sagemaker:CreateTrainingJob', trainingJobArn(custom)));
  assert.ok(!allows([worker], 'sagemaker:CreateTrainingJob', `arn:aws:sagemaker:${BACKEND.region}:${ACCOUNT}:training-job/nightly-run-i1-sample`), 'the policy is scoped to judgeloop-* jobs');
  assert.ok(!allows([worker], 'sagemaker:CreateTrainingJob', `arn:aws:sagemaker:${BACKEND.region}:${ACCOUNT}:training-job/judgeloop`), 'the pattern ends in "-*"');
});

// ---------------------------------------------------------------------------------------------------------
// What a training job reads and writes, from the exact CreateTrainingJob request.

test('execution-role-policy.json allows what the CreateTrainingJob request makes the job read and write', () => {
  const role = load('execution-role-policy.json');
  const runId = defaultWorkflowId('demo', new Date(Date.UTC(2026, 10, 29)));
  const runPrefix = runPrefixUri(STORAGE, runId);
  const objectArn = (uri: string) => {
    const { bucket, key } = parseS3Uri(uri);
    return `arn:aws:s3:::${bucket}/${key}`;
  };
  const listPrefix = (uri: string) => ({ 's3:prefix': parseS3Uri(uri).key });
  const sourceDirUri = joinUri(defaultCodeUri(STORAGE), '0123456789abcdef', 'sourcedir.tar.gz');

  const specs: JobSpec[] = [
    {
      jobName: jobName(runId, 1, 'sample'),
      entryPoint: 'generate.py',
      channels: { model: joinUri(runPrefix, 'models', 'seed'), requests: joinUri(stepPrefix(runPrefix, 1, 'sample'), 'requests', 'data') },
      hyperparameters: { num_samples: 8 },
      outputUri: joinUri(stepPrefix(runPrefix, 1, 'sample'), 'job'),
    },
    {
      jobName: jobName(runId, 2, 'train'),
      entryPoint: 'train_dpo.py',
      channels: {
        model: joinUri(stepPrefix(runPrefix, 1, 'train'), 'job', sagemakerJobName(jobName(runId, 1, 'train')), 'output', 'model'),
        pairs: joinUri(stepPrefix(runPrefix, 2, 'pair'), 'data'),
      },
      hyperparameters: { beta: 0.1 },
      outputUri: joinUri(stepPrefix(runPrefix, 2, 'train'), 'job'),
    },
    {
      jobName: jobName(runId, 2, 'evaluate-baselines'),
      entryPoint: 'generate.py',
      channels: { model: joinUri(runPrefix, 'models', 'seed'), requests: joinUri(stepPrefix(runPrefix, 2, 'evaluate'), 'requests', 'data') },
      hyperparameters: {},
      outputUri: joinUri(stepPrefix(runPrefix, 2, 'evaluate'), 'baselines', 'job'),
    },
  ];
  for (const spec of specs) {
    const kind = spec.entryPoint === 'generate.py' ? 'generation' : 'training';
    for (const attempt of [1, 3]) {
      const req = createTrainingJobRequest(spec, BACKEND, { sourceDirUri, kind, attempt, checkpointUri: defaultCheckpointUri(STORAGE) });
      const name = req.TrainingJobName!;
      const reads: Grant[] = [{ action: 's3:GetObject', resource: objectArn(JSON.parse(req.HyperParameters!.sagemaker_submit_directory)) }];
      for (const channel of req.InputDataConfig!) {
        const uri = channel.DataSource!.S3DataSource!.S3Uri!;
        reads.push({ action: 's3:ListBucket', resource: `arn:aws:s3:::${parseS3Uri(uri).bucket}`, context: listPrefix(uri) });
        reads.push({ action: 's3:GetObject', resource: objectArn(joinUri(uri, 'model.safetensors')) });
      }
      const outputBase = joinUri(req.OutputDataConfig!.S3OutputPath!, name, 'output');
      const writes: Grant[] = [
        { action: 's3:PutObject', resource: objectArn(joinUri(outputBase, 'model', 'judgments.jsonl')) },
        { action: 's3:PutObject', resource: objectArn(joinUri(outputBase, 'model', 'model.safetensors')) },
        { action: 's3:PutObject', resource: objectArn(joinUri(outputBase, 'data', 'metrics.jsonl')) },
      ];
      const checkpoints = req.CheckpointConfig!.S3Uri!;
      const checkpointFile = objectArn(joinUri(checkpoints, 'checkpoint-50', 'optimizer.pt'));
      writes.push({ action: 's3:PutObject', resource: checkpointFile });
      reads.push({ action: 's3:GetObject', resource: checkpointFile });
      reads.push({ action: 's3:ListBucket', resource: `arn:aws:s3:::${parseS3Uri(checkpoints).bucket}`, context: listPrefix(checkpoints) });
      const image = req.AlgorithmSpecification!.TrainingImage!;
      const [, imageRegion, repository] = /^(?:\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:@]+)/.exec(image)!;
      const pulls: Grant[] = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'].map((action) => ({
        action,
        resource: `arn:aws:ecr:${imageRegion}:${ACCOUNT}:repository/${repository}`,
      }));
      pulls.push({ action: 'ecr:GetAuthorizationToken', resource: '*' });
      for (const g of [...reads, ...writes, ...pulls]) {
        assert.ok(allows([role], g.action, g.resource, g.context), `job ${name} (${spec.entryPoint}): docs/aws/execution-role-policy.json does not allow ${g.action} on ${g.resource}${g.context ? ` with ${JSON.stringify(g.context)}` : ''}`);
      }
    }
  }
  const logGroup = `arn:aws:logs:${BACKEND.region}:${ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs`;
  assert.ok(allows([role], 'logs:CreateLogStream', logGroup));
  assert.ok(allows([role], 'logs:PutLogEvents', `${logGroup}:log-stream:${EXAMPLE_JOB}/algo-1-1764460800`));
  assert.ok(allows([role], 'cloudwatch:PutMetricData', '*', { 'cloudwatch:namespace': '/aws/sagemaker/TrainingJobs' }));
  assert.ok(!allows([role], 'cloudwatch:PutMetricData', '*', { 'cloudwatch:namespace': 'Custom/Anything' }));
  // A job writes its outputs and checkpoints, nothing else: not the code it runs, the registry or manifests.
  for (const uri of [sourceDirUri, joinUri(runPrefix, 'iter-1', 'sample', 'manifest.json'), `s3://${STORAGE.bucket}/${STORAGE.prefix}/registry/tiny-judge/registry.json`]) {
    assert.ok(!allows([role], 's3:PutObject', objectArn(uri)), `the execution role must not write ${uri}`);
  }
  // ... nor, in a step's job/ folder, anything but the job's own <job name>/ subfolder (the worker keeps its
  // own records there).
  assert.ok(!allows([role], 's3:PutObject', objectArn(joinUri(specs[0].outputUri, USAGE_FOLDER, 'attempt.json'))));
  assert.ok(!allows([role], 's3:DeleteObject', objectArn(joinUri(specs[0].outputUri, EXAMPLE_JOB, 'output', 'model', 'x'))));
});

// ---------------------------------------------------------------------------------------------------------
// The CLI reads runs (review, registry) and writes nothing.

/** ObjectStore's methods → the S3 actions they need. A new method must be added here. */
const STORE_METHOD_ACTIONS: Record<string, Array<'s3:GetObject' | 's3:PutObject' | 's3:ListBucket' | 's3:AbortMultipartUpload'>> = {
  exists: ['s3:GetObject'],
  stat: ['s3:GetObject'],
  copy: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
  putBytes: ['s3:PutObject'],
  putJson: ['s3:PutObject'],
  getBytes: ['s3:GetObject'],
  bodyChunks: ['s3:GetObject'],
  getJson: ['s3:GetObject'],
  openRead: ['s3:GetObject'],
  readJsonl: ['s3:GetObject'],
  readJsonlLines: ['s3:GetObject'],
  writeJsonl: ['s3:PutObject', 's3:AbortMultipartUpload'],
  list: ['s3:ListBucket'],
  uploadFile: ['s3:PutObject', 's3:AbortMultipartUpload'],
  uploadDir: ['s3:PutObject', 's3:AbortMultipartUpload'],
  downloadPrefix: ['s3:ListBucket', 's3:GetObject'],
};

/** Functions from activities/ that the CLI calls with its store → the ObjectStore methods they use. */
const CLI_HELPERS: Record<string, string[]> = {
  readRegistry: ['getJson', 'list'],
  readEvaluationDetail: ['getJson'],
  readRunSummary: ['getJson'],
};

test('cli-policy.json allows what the CLI reads, and the CLI writes nothing to S3', () => {
  const methods = Object.getOwnPropertyNames(ObjectStore.prototype).filter((m) => m !== 'constructor');
  for (const m of methods) assert.ok(m in STORE_METHOD_ACTIONS, `ObjectStore.${m} is new: add the S3 actions it needs to STORE_METHOD_ACTIONS`);

  const cli = load('cli-policy.json');
  const used = new Map<string, string>();
  for (const file of tsFiles(path.join(ROOT, 'cli'))) {
    const text = readFileSync(file, 'utf8');
    const rel = path.relative(ROOT, file);
    for (const m of text.matchAll(/\bstore\.(\w+)\s*\(/g)) used.set(m[1], rel);
    const fromActivities = [...text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'\.\.\/activities\/[^']+'/g)]
      .flatMap((m) => m[1].split(','))
      .map((s) => s.replace(/^\s*type\s+/, '').split(/\s+as\s+/)[0].trim())
      .filter(Boolean);
    for (const fn of fromActivities) {
      if (!new RegExp(`\\b${fn}\\s*\\(\\s*store\\b`).test(text)) continue;
      assert.ok(fn in CLI_HELPERS, `${rel} calls ${fn}(store, ...) from activities/: add the ObjectStore methods it uses to CLI_HELPERS`);
      for (const m of CLI_HELPERS[fn]) used.set(m, `${rel} (via ${fn})`);
    }
  }
  assert.ok(used.size > 0, 'the scan found no S3 reads in cli/');
  for (const [method, where] of used) {
    const actions = STORE_METHOD_ACTIONS[method];
    assert.ok(actions, `${where} calls store.${method}, which is not an ObjectStore method this test knows`);
    for (const action of actions) {
      const ok =
        action === 's3:ListBucket'
          ? allows([cli], action, BUCKET_ARN, LIST_PREFIX)
          : allows([cli], action, OBJECT_ARN);
      assert.ok(ok, `${where} calls store.${method}, which needs ${action}: docs/aws/cli-policy.json does not allow it (the CLI is meant to be read-only)`);
    }
  }
  assert.ok(!allows([cli], 's3:PutObject', OBJECT_ARN), 'the CLI policy is read-only');
});

test('optional documents: KMS through S3 only, VPC interfaces, external read-only data', () => {
  const kmsKey = `arn:aws:kms:${BACKEND.region}:${ACCOUNT}:key/${PLACEHOLDERS.KMS_KEY_ID}`;
  const workerKms = load('worker-kms-policy.json');
  assert.ok(allows([workerKms], 'kms:Decrypt', kmsKey, { 'kms:ViaService': `s3.${BACKEND.region}.amazonaws.com` }));
  assert.ok(!allows([workerKms], 'kms:Decrypt', kmsKey), 'the worker uses the key only through S3');
  const roleKms = load('execution-role-kms-policy.json');
  assert.ok(allows([roleKms], 'kms:GenerateDataKey', kmsKey));
  assert.ok(allows([roleKms], 'kms:CreateGrant', kmsKey, { 'kms:GrantIsForAWSResource': 'true' }));
  assert.ok(!allows([roleKms], 'kms:CreateGrant', kmsKey));
  const vpc = load('execution-role-vpc-policy.json');
  assert.ok(allows([vpc], 'ec2:CreateNetworkInterface', '*'));
  const external = load('external-data-read-policy.json');
  assert.ok(allows([external], 's3:GetObject', `arn:aws:s3:::${PLACEHOLDERS.DATA_BUCKET}/${PLACEHOLDERS.DATA_PREFIX}/m/config.json`));
  assert.ok(!allows([external], 's3:PutObject', `arn:aws:s3:::${PLACEHOLDERS.DATA_BUCKET}/${PLACEHOLDERS.DATA_PREFIX}/m/config.json`));
});
