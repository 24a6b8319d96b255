import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRunConfig } from '../../activities/steps/config';
import localConfig from '../../configs/local.json';

test('resolveRunConfig: defaults filled, dated data filled in the schedule\'s time zone, problems named', () => {
  const dated = {
    ...localConfig,
    data: { ...localConfig.data, train: { ...localConfig.data.train, uri: 's3://b/in/{date}/train.jsonl' } },
    timeouts: undefined,
  };
  const cases: Array<{ raw: unknown; at: string; want: { uri?: string; problem?: RegExp } }> = [
    { raw: dated, at: '2026-11-29T23:30:00Z', want: { uri: 's3://b/in/2026-11-29/train.jsonl' } },
    { raw: { ...dated, schedule: { cron: '0 0 * * *', timezone: 'Europe/Paris' } }, at: '2026-11-29T23:30:00Z', want: { uri: 's3://b/in/2026-11-30/train.jsonl' } },
    { raw: localConfig, at: '2026-11-29T23:30:00Z', want: { uri: localConfig.data.train.uri } },
    { raw: { ...localConfig, loop: { ...localConfig.loop, iterations: 'two' } }, at: '2026-11-29T00:00:00Z', want: { problem: /loop\.iterations/ } },
    { raw: 'not an object', at: '2026-11-29T00:00:00Z', want: { problem: /the run config/ } },
  ];
  for (const c of cases) {
    const r = resolveRunConfig({ rawConfig: c.raw, dataTime: c.at });
    if (c.want.problem) {
      assert.equal(r.ok, false, JSON.stringify(c.raw).slice(0, 80));
      if (!r.ok) {
        assert.match(r.message, c.want.problem);
        assert.ok(r.problems.length > 0);
      }
      continue;
    }
    assert.ok(r.ok, JSON.stringify(r));
    if (r.ok) {
      assert.equal(r.config.data.train.uri, c.want.uri);
      assert.equal(r.config.timeouts.jobTimeoutMinutes, c.raw === localConfig ? localConfig.timeouts.jobTimeoutMinutes : 24 * 60);
    }
  }
});
