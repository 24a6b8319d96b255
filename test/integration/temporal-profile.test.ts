/**
 * Connecting by Temporal's client configuration alone, as a worker on AWS does: the worker process and the
 * CLI get no TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, only TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE, and must
 * reach the dev server's non-default namespace through the profile. (TLS, API keys and mTLS go through the
 * same resolution; test/unit/temporal-target.test.ts covers them, a dev server has no TLS to test against.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { main } from '../../cli/judgeloop';
import { startTestServices, type TestServices } from '../support/services';
import { testConfig } from '../support/judgeloop';

const T = { timeout: 8 * 60_000 };
const NAMESPACE = 'judges-by-profile';

describe('Temporal client profile (envconfig)', () => {
  let services: TestServices;
  let dir: string;
  let profileEnv: NodeJS.ProcessEnv;

  before(async () => {
    services = await startTestServices({ namespace: NAMESPACE });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'judgeloop-profile-'));
    const toml = path.join(dir, 'temporal.toml');
    fs.writeFileSync(
      toml,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"', // nothing listens there: using it would fail the test
        '',
        '[profile.team]',
        `address = "${services.temporalAddress}"`,
        `namespace = "${NAMESPACE}"`,
        '',
      ].join('\n'),
    );
    profileEnv = { TEMPORAL_ADDRESS: undefined, TEMPORAL_NAMESPACE: undefined, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'team' };
  }, T);

  after(async () => {
    await services?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a worker and the CLI configured only by the profile run a workflow in its namespace', T, async () => {
    // startWorker waits until this very process polls the task queue in NAMESPACE on the test server.
    await services.startWorker({ env: profileEnv });

    const configPath = path.join(dir, 'config.json');
    fs.writeFileSync(configPath, JSON.stringify(testConfig(services)));
    const runId = `by-profile-${Date.now()}`;
    let out = '';
    let err = '';
    const io = {
      out: { write: (s: string) => (out += s) },
      err: { write: (s: string) => (err += s) },
      env: { ...process.env, ...profileEnv } as NodeJS.ProcessEnv,
    };
    for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE'] as const) delete io.env[k];
    const rc = await main(['run', '--config', configPath, '--id', runId, '--no-follow'], io);
    assert.equal(rc, 0, `judgeloop run failed:\n${out}\n${err}`);
    assert.doesNotMatch(err, /no worker is polling/, 'the CLI sees the profile-connected worker');

    const connection = await Connection.connect({ address: services.temporalAddress });
    try {
      const handle = new Client({ connection, namespace: NAMESPACE }).workflow.getHandle(runId);
      // The worker took the workflow task and scheduled the first activity: it is connected where the CLI is.
      const deadline = Date.now() + 3 * 60_000;
      let scheduled = false;
      while (!scheduled) {
        const history = await handle.fetchHistory();
        scheduled = (history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes);
        if (!scheduled) {
          assert.ok(Date.now() < deadline, 'the worker should run the workflow and schedule its first activity');
          await new Promise((r) => setTimeout(r, 500));
        }
      }

      out = '';
      err = '';
      assert.equal(await main(['status', runId, '--json'], io), 0, err);
      const status = JSON.parse(out) as { workflowId: string; status: string; url: string };
      assert.equal(status.workflowId, runId);
      assert.equal(status.status, 'RUNNING');
      assert.match(status.url, new RegExp(`/namespaces/${NAMESPACE}/workflows/${runId}$`));
      await handle.terminate('test done');
    } finally {
      await connection.close();
    }
  });

  test('an unknown profile stops the CLI with a message naming it and the file', T, async () => {
    let err = '';
    const rc = await main(['status', 'anything', '--profile', 'staging'], {
      out: { write: () => undefined },
      err: { write: (s: string) => (err += s) },
      env: { ...process.env, ...profileEnv } as NodeJS.ProcessEnv,
    });
    assert.equal(rc, 2);
    assert.match(err, /temporal\.toml, profile "staging"\): Profile 'staging' not found/);
  });
});
