import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommandLine, UsageError } from '../../cli/args';
import { unreachableMessage } from '../../cli/connection';
import {
  TemporalConfigError,
  connectOptions,
  describeTarget,
  resolveTemporalTarget,
  type TemporalTarget,
} from '../../workers/temporal-target';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-temporal-target-'));
const certPath = path.join(dir, 'client.pem');
const keyPath = path.join(dir, 'client.key');
fs.writeFileSync(certPath, 'CERT-BYTES');
fs.writeFileSync(keyPath, 'KEY-BYTES');
const tomlPath = path.join(dir, 'temporal.toml');
fs.writeFileSync(
  tomlPath,
  [
    '[profile.default]',
    'address = "temporal.internal:7233"',
    'namespace = "judges"',
    '',
    '[profile.cloud]',
    'address = "judges.a1b2c.tmprl.cloud:7233"',
    'namespace = "judges.a1b2c"',
    'api_key = "secret-key"',
    '',
    '[profile.mtls]',
    'address = "judges.a1b2c.tmprl.cloud:7233"',
    'namespace = "judges.a1b2c"',
    '[profile.mtls.tls]',
    `client_cert_path = "${certPath}"`,
    `client_key_path = "${keyPath}"`,
    '',
    '[profile.broken-tls]',
    'address = "x:7233"',
    '[profile.broken-tls.tls]',
    `client_cert_path = "${path.join(dir, 'absent.pem')}"`,
    `client_key_path = "${keyPath}"`,
    '',
    '[profile.headers]',
    'address = "x:7233"',
    '[profile.headers.grpc_meta]',
    'x-team = "judges"',
    '',
  ].join('\n'),
);

const file = { TEMPORAL_CONFIG_FILE: tomlPath };

interface Case {
  name: string;
  env: NodeJS.ProcessEnv;
  overrides?: { address?: string; namespace?: string; profile?: string };
  want: Partial<TemporalTarget> & { address: string; namespace: string };
  auth: string;
}

const cases: Case[] = [
  {
    name: 'nothing configured: the local dev server',
    env: {},
    want: { address: '127.0.0.1:7233', namespace: 'default' },
    auth: 'plaintext',
  },
  {
    name: 'the default profile of the file',
    env: { ...file },
    want: { address: 'temporal.internal:7233', namespace: 'judges' },
    auth: 'plaintext',
  },
  {
    name: 'TEMPORAL_* variables win over the profile',
    env: { ...file, TEMPORAL_ADDRESS: 'other:7233', TEMPORAL_NAMESPACE: 'ns2' },
    want: { address: 'other:7233', namespace: 'ns2' },
    auth: 'plaintext',
  },
  {
    name: 'flags win over variables and profile',
    env: { ...file, TEMPORAL_ADDRESS: 'other:7233' },
    overrides: { address: 'flag:7233', namespace: 'flag-ns' },
    want: { address: 'flag:7233', namespace: 'flag-ns' },
    auth: 'plaintext',
  },
  {
    name: 'an empty variable means unset',
    env: { ...file, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '  ' },
    want: { address: 'temporal.internal:7233', namespace: 'judges' },
    auth: 'plaintext',
  },
  {
    name: 'Temporal Cloud with an API key (TLS implied), profile from TEMPORAL_PROFILE',
    env: { ...file, TEMPORAL_PROFILE: 'cloud' },
    want: { address: 'judges.a1b2c.tmprl.cloud:7233', namespace: 'judges.a1b2c', apiKey: 'secret-key', tls: true, profile: 'cloud' },
    auth: 'TLS + API key',
  },
  {
    name: 'the --profile flag wins over TEMPORAL_PROFILE',
    env: { ...file, TEMPORAL_PROFILE: 'cloud' },
    overrides: { profile: 'default' },
    want: { address: 'temporal.internal:7233', namespace: 'judges', profile: 'default' },
    auth: 'plaintext',
  },
  {
    name: 'an API key from the environment alone',
    env: { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' },
    want: { address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct', apiKey: 'k', tls: true },
    auth: 'TLS + API key',
  },
  {
    name: 'an API key with TLS switched off by TEMPORAL_TLS=false stays plaintext (the SDK would turn TLS on)',
    env: { TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' },
    want: { address: '127.0.0.1:7233', namespace: 'default', apiKey: 'k', tls: false },
    auth: 'plaintext + API key',
  },
  {
    name: 'TLS switched on by TEMPORAL_TLS',
    env: { TEMPORAL_ADDRESS: 'temporal.corp:7233', TEMPORAL_TLS: 'true' },
    want: { address: 'temporal.corp:7233', namespace: 'default' },
    auth: 'TLS',
  },
  {
    name: 'gRPC headers from the profile and TEMPORAL_GRPC_META_*',
    env: { ...file, TEMPORAL_PROFILE: 'headers', TEMPORAL_GRPC_META_X_RUN_BY: 'ci' },
    want: { address: 'x:7233', namespace: 'default', metadata: { 'x-team': 'judges', 'x-run-by': 'ci' }, profile: 'headers' },
    auth: 'plaintext',
  },
];

for (const c of cases) {
  test(`resolveTemporalTarget: ${c.name}`, () => {
    const got = resolveTemporalTarget(c.overrides, c.env);
    for (const [key, value] of Object.entries(c.want)) {
      assert.deepEqual(got[key as keyof TemporalTarget], value, key);
    }
    if (!('apiKey' in c.want)) assert.equal(got.apiKey, undefined);
    assert.match(describeTarget(got), new RegExp(`\\(namespace ${c.want.namespace.replace(/\./g, '\\.')}, ${c.auth.replace(/\+/g, '\\+')}`));
    assert.doesNotMatch(describeTarget(got), /secret-key/, 'the API key never appears in logs');
  });
}

test('resolveTemporalTarget: mTLS reads the client certificate pair from the profile', () => {
  const got = resolveTemporalTarget({ profile: 'mtls' }, file);
  assert.ok(got.tls && got.tls !== true);
  assert.equal(Buffer.from(got.tls.clientCertPair!.crt).toString(), 'CERT-BYTES');
  assert.equal(Buffer.from(got.tls.clientCertPair!.key).toString(), 'KEY-BYTES');
  assert.match(describeTarget(got), /mTLS, profile mtls/);
  const opts = connectOptions(got);
  assert.equal(opts.address, 'judges.a1b2c.tmprl.cloud:7233');
  assert.ok(opts.tls && opts.tls !== true && opts.tls.clientCertPair);
  assert.equal('apiKey' in opts, false);
});

test('connectOptions: plaintext has no TLS, key or headers at all', () => {
  assert.deepEqual(connectOptions(resolveTemporalTarget({}, {})), { address: '127.0.0.1:7233' });
});

test('connectOptions: TEMPORAL_TLS=false with an API key passes tls: false, so the SDK does not switch TLS on', () => {
  const opts = connectOptions(resolveTemporalTarget({}, { TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }));
  assert.deepEqual(opts, { address: '127.0.0.1:7233', tls: false, apiKey: 'k' });
  // Without the explicit false, an API key means TLS (Temporal Cloud): unchanged.
  assert.equal(connectOptions(resolveTemporalTarget({}, { TEMPORAL_API_KEY: 'k' })).tls, true);
});

const errorCases: { name: string; env: NodeJS.ProcessEnv; overrides?: { profile?: string }; message: RegExp }[] = [
  {
    name: 'a profile the file does not have',
    env: file,
    overrides: { profile: 'staging' },
    message: /temporal\.toml, profile "staging"\).*Profile 'staging' not found.*\[profile\.NAME\]/s,
  },
  {
    name: 'TEMPORAL_CONFIG_FILE naming a missing file',
    env: { TEMPORAL_CONFIG_FILE: path.join(dir, 'nope.toml') },
    message: /TEMPORAL_CONFIG_FILE is .*nope\.toml, which does not exist/,
  },
  {
    name: 'a TLS file that is not there',
    env: file,
    overrides: { profile: 'broken-tls' },
    message: /profile "broken-tls"\): cannot read a TLS file: .*absent\.pem/,
  },
];

for (const c of errorCases) {
  test(`resolveTemporalTarget rejects ${c.name}`, () => {
    assert.throws(() => resolveTemporalTarget(c.overrides, c.env), (e: unknown) => {
      assert.ok(e instanceof TemporalConfigError);
      assert.match(e.message, c.message);
      return true;
    });
  });
}

test('CLI: --profile reaches the connection; a bad profile is a usage error naming it', () => {
  const cmd = parseCommandLine(['status', 'my-run', '--profile', 'cloud'], file);
  assert.equal(cmd.command, 'status');
  const connection = (cmd as Extract<typeof cmd, { command: 'status' }>).connection;
  assert.equal(connection.address, 'judges.a1b2c.tmprl.cloud:7233');
  assert.equal(connection.namespace, 'judges.a1b2c');
  assert.equal(connection.apiKey, 'secret-key');
  assert.equal(connection.uiUrl, 'https://cloud.temporal.io', 'Temporal Cloud addresses link to the Cloud UI');
  assert.match(unreachableMessage(connection, 'timeout'), /judges\.a1b2c\.tmprl\.cloud:7233 \(namespace judges\.a1b2c, TLS \+ API key, profile cloud\)/);
  assert.throws(
    () => parseCommandLine(['status', 'my-run', '--profile', 'staging'], file),
    (e: unknown) => e instanceof UsageError && /profile "staging"/.test(e.message),
  );
});
