/**
 * The worker's health endpoint (workers/health.ts) and what it answers for a worker's states
 * (workers/readiness.ts): the address variable, the probe verdicts, and the HTTP server itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { State } from '@temporalio/worker';
import { healthUrl, parseHealthAddress, startHealthServer, STARTING, type HealthProbes } from '../../workers/health';
import { liveness, readiness, type TemporalReachability } from '../../workers/readiness';
import { probe } from '../../workers/healthcheck';
import { freePort } from '../../stack/ports';

describe('JUDGELOOP_HEALTH_ADDRESS', () => {
  const ok: [string | undefined, { host: string; port: number } | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['   ', undefined],
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    [' 127.0.0.1:1 ', { host: '127.0.0.1', port: 1 }],
    ['[::]:8080', { host: '::', port: 8080 }],
    ['[::1]:65535', { host: '::1', port: 65535 }],
  ];
  for (const [raw, want] of ok) {
    test(`${JSON.stringify(raw)} → ${JSON.stringify(want)}`, () => assert.deepEqual(parseHealthAddress(raw), want));
  }
  const bad: [string, RegExp][] = [
    ['8080', /has no host/],
    ['localhost:8080', /must be an IP address, not "localhost"/],
    ['0.0.0.0', /not an address with a port/],
    ['0.0.0.0:0', /port 0 is not between 1 and 65535/],
    ['0.0.0.0:70000', /port 70000 is not between 1 and 65535/],
    ['[nope]:8080', /nope is not an IPv6 address/],
    ['::1:8080', /not an address with a port/],
  ];
  for (const [raw, why] of bad) {
    test(`${JSON.stringify(raw)} is refused, naming the variable`, () => {
      assert.throws(() => parseHealthAddress(raw), (err: Error) => {
        assert.match(err.message, /^JUDGELOOP_HEALTH_ADDRESS is /);
        assert.match(err.message, why);
        return true;
      });
    });
  }
});

test('healthUrl: wildcard addresses are probed on loopback, IPv6 in brackets', () => {
  const cases: [{ host: string; port: number }, string][] = [
    [{ host: '0.0.0.0', port: 8080 }, 'http://127.0.0.1:8080/healthz'],
    [{ host: '::', port: 8080 }, 'http://[::1]:8080/healthz'],
    [{ host: '10.1.2.3', port: 81 }, 'http://10.1.2.3:81/healthz'],
    [{ host: 'fe80::1', port: 81 }, 'http://[fe80::1]:81/healthz'],
  ];
  for (const [address, url] of cases) assert.equal(healthUrl(address), url);
  assert.equal(healthUrl({ host: '0.0.0.0', port: 1 }, '/readyz'), 'http://127.0.0.1:1/readyz');
});

describe('the verdicts for the two workers\' states', () => {
  const up: TemporalReachability = { ok: true };
  const down: TemporalReachability = { ok: false, message: 'connection refused' };
  const cases: { steps: State; jobs: State; temporal?: TemporalReachability; live: [boolean, string]; ready: [boolean, string] }[] = [
    { steps: 'INITIALIZED', jobs: 'INITIALIZED', live: [true, 'live'], ready: [false, 'starting'] },
    { steps: 'RUNNING', jobs: 'INITIALIZED', live: [true, 'live'], ready: [false, 'starting'] },
    { steps: 'RUNNING', jobs: 'RUNNING', temporal: up, live: [true, 'live'], ready: [true, 'polling'] },
    { steps: 'RUNNING', jobs: 'RUNNING', temporal: down, live: [true, 'live'], ready: [false, 'Temporal unreachable: connection refused'] },
    { steps: 'STOPPING', jobs: 'RUNNING', temporal: up, live: [true, 'draining'], ready: [false, 'draining'] },
    { steps: 'DRAINING', jobs: 'DRAINING', live: [true, 'draining'], ready: [false, 'draining'] },
    { steps: 'DRAINED', jobs: 'STOPPED', live: [true, 'draining'], ready: [false, 'draining'] },
    { steps: 'FAILED', jobs: 'RUNNING', temporal: up, live: [false, 'failed'], ready: [false, 'failed'] },
    { steps: 'STOPPING', jobs: 'FAILED', live: [false, 'failed'], ready: [false, 'failed'] },
  ];
  for (const c of cases) {
    test(`${c.steps}/${c.jobs}${c.temporal ? `, Temporal ${c.temporal.ok ? 'up' : 'down'}` : ''}: live ${c.live.join(' ')}, ready ${c.ready.join(' ')}`, () => {
      const states = { steps: c.steps, jobs: c.jobs };
      const l = liveness(states);
      const r = readiness(states, c.temporal);
      assert.deepEqual([l.ok, l.status], c.live);
      assert.deepEqual([r.ok, r.status], c.ready);
      assert.deepEqual(r.detail, { steps: c.steps, jobs: c.jobs });
    });
  }
});

describe('the HTTP server', () => {
  test('answers the probes it is given, 404 and 405 otherwise, and closes with a kept-alive client', async () => {
    const port = await freePort();
    const server = await startHealthServer({ host: '127.0.0.1', port });
    const get = async (p: string, method = 'GET') => {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, { method });
      return [res.status, method === 'HEAD' ? null : ((await res.json()) as { status: string }).status] as const;
    };
    try {
      assert.deepEqual(await get('/healthz'), [200, 'starting']);
      assert.deepEqual(await get('/readyz'), [503, 'starting']);
      let ready = true;
      const probes: HealthProbes = {
        live: () => ({ ok: true, status: 'live' }),
        ready: async () => (ready ? { ok: true, status: 'polling' } : { ok: false, status: 'draining' }),
      };
      server.setProbes(probes);
      assert.deepEqual(await get('/readyz?verbose=1'), [200, 'polling']);
      assert.deepEqual(await get('/livez'), [200, 'live']);
      ready = false;
      assert.deepEqual(await get('/readyz'), [503, 'draining']);
      server.setProbes({ ...probes, ready: async () => Promise.reject(new Error('boom')) });
      assert.deepEqual(await get('/readyz'), [503, 'readiness check failed: boom']);
      assert.deepEqual(await get('/metrics'), [404, 'not found: GET /healthz or /readyz']);
      assert.deepEqual(await get('/healthz', 'POST'), [405, 'method not allowed']);
      assert.deepEqual(await get('/healthz', 'HEAD'), [200, null]);
      // The container's HEALTHCHECK script against it.
      assert.deepEqual((await probe({ JUDGELOOP_HEALTH_ADDRESS: `0.0.0.0:${port}` })).ok, true);
      assert.deepEqual((await probe({ JUDGELOOP_HEALTH_ADDRESS: `0.0.0.0:${port}` }, '/nope')).ok, false);
    } finally {
      await server.close();
    }
    const after = await probe({ JUDGELOOP_HEALTH_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(after.ok, false);
    assert.match(after.message, new RegExp(`http://127.0.0.1:${port}/healthz: `));
    assert.match((await probe({})).message, /JUDGELOOP_HEALTH_ADDRESS is not set/);
  });

  test('a port in use: an error naming the variable', async () => {
    const port = await freePort();
    const first = await startHealthServer({ host: '127.0.0.1', port }, STARTING);
    try {
      await assert.rejects(startHealthServer({ host: '127.0.0.1', port }), /cannot listen on JUDGELOOP_HEALTH_ADDRESS=127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    } finally {
      await first.close();
    }
  });
});
