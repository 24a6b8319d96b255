import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobEnvironment } from '../../activities/jobs/local-runner';

test('jobEnvironment: a local job gets the worker\'s environment without any secret', () => {
  const worker = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    OMP_NUM_THREADS: '2',
    HF_HUB_OFFLINE: '1',
    AWS_REGION: 'us-east-1',
    JUDGELOOP_S3_ENDPOINT: 'http://127.0.0.1:9000',
    AWS_ACCESS_KEY_ID: 'AKIA-EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: 'token',
    TEMPORAL_API_KEY: 'tk',
    TEMPORAL_TLS_CLIENT_KEY_DATA: '-----BEGIN PRIVATE KEY-----',
    JUDGELOOP_CODEC_KEYS: 'k1:AAAA',
    JUDGELOOP_CODEC_KEY_ID: 'k1',
    JUDGELOOP_CODEC_SERVER_TOKEN: 'st',
    HF_TOKEN: 'hf_x',
    GITHUB_TOKEN: 'ghp',
    DB_PASSWORD: 'pw',
    MY_SERVICE_API_KEY: 'ak',
  };
  assert.deepEqual(jobEnvironment(worker), {
    PATH: '/usr/bin',
    HOME: '/home/u',
    OMP_NUM_THREADS: '2',
    HF_HUB_OFFLINE: '1',
    AWS_REGION: 'us-east-1',
    JUDGELOOP_S3_ENDPOINT: 'http://127.0.0.1:9000',
  });
});
