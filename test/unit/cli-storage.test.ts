import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliStorageAccess, isLoopbackEndpoint } from '../../cli/storage';
import { validateConfig, type RunConfig } from '../../core/config/config';
import localConfig from '../../configs/local.json';

function config(endpoint?: string): RunConfig {
  const r = validateConfig({ ...localConfig, storage: { ...localConfig.storage, ...(endpoint ? { endpoint } : {}) } });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

const STACK = { accessKeyId: 'judgeloop', secretAccessKey: 'judgeloop-local-secret' };

test('the CLI finds the embedded stack by itself and leaves everything else to the config and the AWS chain', () => {
  const cases: Array<[string, RunConfig, string | undefined, NodeJS.ProcessEnv, string | undefined, boolean]> = [
    ['local Temporal, nothing set: the stack S3 with its credentials', config(), '127.0.0.1:7233', {}, 'http://127.0.0.1:9000', true],
    ['localhost works too', config(), 'localhost:7233', {}, 'http://127.0.0.1:9000', true],
    ['JUDGELOOP_S3_ENDPOINT wins over the default', config(), '127.0.0.1:7233', { JUDGELOOP_S3_ENDPOINT: 'http://127.0.0.1:9100' }, 'http://127.0.0.1:9100', true],
    ['the config endpoint wins over everything', config('http://127.0.0.1:9200'), '127.0.0.1:7233', { JUDGELOOP_S3_ENDPOINT: 'http://x:1' }, 'http://127.0.0.1:9200', true],
    ['credentials in the environment are used as they are', config(), '127.0.0.1:7233', { AWS_ACCESS_KEY_ID: 'k' }, 'http://127.0.0.1:9000', false],
    ['a remote Temporal: AWS S3 and the default chain', config(), 'temporal.example.com:7233', {}, undefined, false],
    ['a remote endpoint never gets the stack credentials', config('https://s3.example.com'), '127.0.0.1:7233', {}, 'https://s3.example.com', false],
  ];
  for (const [why, c, address, env, endpoint, stackCredentials] of cases) {
    const access = cliStorageAccess(c, address, env);
    assert.equal(access.settings.endpoint, endpoint, why);
    assert.deepEqual(access.credentials, stackCredentials ? STACK : undefined, why);
  }
});

test('isLoopbackEndpoint', () => {
  assert.equal(isLoopbackEndpoint('http://127.0.0.1:9000'), true);
  assert.equal(isLoopbackEndpoint('http://localhost'), true);
  assert.equal(isLoopbackEndpoint('https://s3.amazonaws.com'), false);
  assert.equal(isLoopbackEndpoint('not a url'), false);
  assert.equal(isLoopbackEndpoint(undefined), false);
});
