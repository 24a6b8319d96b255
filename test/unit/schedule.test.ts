import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduleConfig, cronProblem, dateParts, durationMs, fillDateTemplate, hasDatedData, overlapPolicyValue, unknownPlaceholders, withDatedData } from '../../core/config/schedule';
import { loadConfigFile } from '../../cli/config-file';
import { validateConfig } from '../../core/config/config';
import { parseCommandLine, UsageError } from '../../cli/args';
import { describeSpec, goDuration, scheduleOptions, scheduledRunConfig, temporalCreateCommand, type ScheduleRequest } from '../../cli/schedule';
import localConfig from '../../configs/local.json';

test('fillDateTemplate: placeholders from the scheduled time in the schedule\'s time zone', () => {
  const when = new Date('2026-11-29T23:30:00Z');
  const cases: [string, string, string][] = [
    ['s3://b/in/{date}/train.jsonl', 'UTC', 's3://b/in/2026-11-29/train.jsonl'],
    ['s3://b/in/{date}/train.jsonl', 'Europe/Paris', 's3://b/in/2026-11-30/train.jsonl'], // already Monday there
    ['s3://b/in/{yyyy}/{mm}/{dd}/{hh}/x.jsonl', 'America/New_York', 's3://b/in/2026/11/29/18/x.jsonl'],
    ['s3://b/in/{yyyymmdd}.jsonl', 'Asia/Tokyo', 's3://b/in/20261130.jsonl'],
    ['datasets/plain.jsonl', 'UTC', 'datasets/plain.jsonl'],
    ['s3://b/{nope}/{date}', 'UTC', 's3://b/{nope}/2026-11-29'],
  ];
  for (const [uri, tz, want] of cases) assert.equal(fillDateTemplate(uri, when, tz), want, `${uri} in ${tz}`);
  assert.deepEqual(dateParts(new Date('2026-01-05T00:00:00Z'), 'UTC'), { date: '2026-01-05', yyyy: '2026', mm: '01', dd: '05', hh: '00', yyyymmdd: '20260105' });
});

test('withDatedData fills train, eval suites and joins; a config without templates is returned as is', () => {
  const config = {
    data: {
      train: { uri: 's3://b/train/{date}.jsonl', join: 's3://b/join/{date}.jsonl' },
      evalSuites: [{ uri: 'datasets/fixed.jsonl' }, { uri: 's3://b/eval/{yyyy}-{mm}.jsonl' }],
    },
    other: 1,
  };
  const filled = withDatedData(config, new Date('2026-03-02T03:00:00Z'), 'UTC');
  assert.deepEqual(filled, {
    data: {
      train: { uri: 's3://b/train/2026-03-02.jsonl', join: 's3://b/join/2026-03-02.jsonl' },
      evalSuites: [{ uri: 'datasets/fixed.jsonl' }, { uri: 's3://b/eval/2026-03.jsonl' }],
    },
    other: 1,
  });
  const plain = { data: { train: { uri: 'a.jsonl' }, evalSuites: [{ uri: 'b.jsonl' }] } };
  assert.equal(withDatedData(plain, new Date(), 'UTC'), plain);
});

test('config: unknown placeholders in data URIs are named with the allowed ones', () => {
  assert.deepEqual(unknownPlaceholders('s3://b/{date}/{week}/{yy}'), ['week', 'yy']);
  const bad = validateConfig({ ...localConfig, data: { ...localConfig.data, train: { uri: 's3://b/{week}/train.jsonl' } } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => [p.path, p.message]), [
    ['data.train.uri', 'unknown placeholder {week}: a dated location may use {date}, {yyyy}, {mm}, {dd}, {hh}, {yyyymmdd}'],
  ]);
  assert.ok(validateConfig({ ...localConfig, data: { ...localConfig.data, train: { uri: 's3://b/{date}/train.jsonl' } } }).ok);
});

test('schedule config: one of cron or every, real crons and time zones, offsets below the interval', () => {
  const ok: unknown[] = [
    { cron: '0 3 * * MON' },
    { cron: ['0 3 * * 1', '30 12 1 * *'], timezone: 'Europe/Paris', overlap: 'buffer-one' },
    { every: '7d', offset: '3h' },
    { cron: '*/15 9-17 * * 1-5' },
    { cron: '@daily' },
  ];
  for (const s of ok) assert.ok(ScheduleConfig.safeParse(s).success, JSON.stringify(s));
  const parsed = ScheduleConfig.parse({ cron: '0 3 * * 1' });
  assert.deepEqual(parsed, { cron: '0 3 * * 1', timezone: 'UTC', overlap: 'skip', catchupWindow: '1d', pauseOnFailure: false });
  const bad: [unknown, RegExp][] = [
    [{}, /exactly one of cron or every/],
    [{ cron: '0 3 * * 1', every: '1d' }, /exactly one of cron or every/],
    [{ cron: '0 3 * *' }, /5 fields .* has 4/],
    [{ cron: '0 3 ? * 1' }, /"\?" is not a cron field/],
    [{ cron: '0 3 * * 1', timezone: 'Mars/Olympus' }, /an IANA time zone/],
    [{ every: '1w' }, /a duration such as 90s, 30m, 6h or 7d/],
    [{ every: '1d', offset: '1d' }, /must be shorter than every/],
    [{ cron: '0 3 * * 1', offset: '1h' }, /only with every/],
    [{ cron: '0 3 * * 1', overlap: 'queue' }, /Invalid option/],
  ];
  for (const [s, want] of bad) {
    const r = ScheduleConfig.safeParse(s);
    assert.ok(!r.success, JSON.stringify(s));
    assert.match(r.error.issues.map((i) => i.message).join('; '), want, JSON.stringify(s));
  }
  assert.equal(cronProblem('0 0 1 1 *'), null);
  assert.equal(durationMs('90s'), 90_000);
  assert.equal(overlapPolicyValue('buffer-one'), 'BUFFER_ONE');
  assert.deepEqual([goDuration('1d'), goDuration('90m'), goDuration('45s'), goDuration('2h')], ['24h', '90m', '45s', '2h']);
});

test('scheduledRunConfig: flags set schedule keys (a cron replaces an interval), runs start from the champion', () => {
  const raw = { name: 'x', registry: { enabled: true, startFrom: 'seed' }, schedule: { every: '7d', offset: '3h', timezone: 'UTC' } };
  assert.deepEqual(scheduledRunConfig(raw, { cron: ['0 3 * * MON'], timezone: 'Europe/Paris' }), {
    name: 'x',
    registry: { enabled: true, startFrom: 'champion' },
    schedule: { timezone: 'Europe/Paris', cron: ['0 3 * * MON'] },
  });
  assert.deepEqual(scheduledRunConfig({ schedule: { cron: '0 3 * * 1' } }, { every: '1d' }), {
    schedule: { every: '1d' },
    registry: { startFrom: 'champion' },
  });
});

function request(schedule: ScheduleConfig): ScheduleRequest {
  const checked = validateConfig({ ...localConfig, schedule, registry: { startFrom: 'champion' } });
  assert.ok(checked.ok);
  return { scheduleId: 'judgeloop-local', schedule: checked.config.schedule!, config: checked.config, input: { name: 'local' }, configHash: 'abc' };
}

test('scheduleOptions: the exact client.schedule.create request', () => {
  const req = request(ScheduleConfig.parse({ cron: '0 3 * * MON', timezone: 'Europe/Paris', pauseOnFailure: true }));
  assert.deepEqual(scheduleOptions(req, { taskQueue: 'judgeloop', paused: true, note: 'weekly' }), {
    scheduleId: 'judgeloop-local',
    spec: { cronExpressions: ['0 3 * * MON'], timezone: 'Europe/Paris' },
    action: {
      type: 'startWorkflow',
      workflowType: 'selfRationalizationRun',
      taskQueue: 'judgeloop',
      workflowId: 'judgeloop-local',
      args: [{ name: 'local' }],
      memo: { configHash: 'abc' },
    },
    policies: { overlap: 'SKIP', catchupWindow: '1d', pauseOnFailure: true },
    state: { paused: true, note: 'weekly' },
    memo: { judgeloopSpec: 'cron 0 3 * * MON (Europe/Paris)', configName: 'local-demo', judgeName: 'tiny-judge', configHash: 'abc' },
  });
  const interval = scheduleOptions(request(ScheduleConfig.parse({ every: '7d', offset: '3h' })), { taskQueue: 'q', paused: false });
  assert.deepEqual(interval.spec, { intervals: [{ every: '7d', offset: '3h' }], timezone: 'UTC' });
  assert.equal(describeSpec(ScheduleConfig.parse({ every: '7d', offset: '3h' })), 'every 7d offset 3h (UTC)');
});

test('temporalCreateCommand: the equivalent Temporal CLI command', () => {
  const req = request(ScheduleConfig.parse({ cron: '0 3 * * MON', timezone: 'Europe/Paris', overlap: 'buffer-one' }));
  assert.equal(
    temporalCreateCommand(req, { taskQueue: 'judgeloop', address: '127.0.0.1:7233', namespace: 'default', inputFile: 'judgeloop-local.schedule-input.json', paused: false }),
    [
      'temporal schedule create',
      '--address 127.0.0.1:7233 --namespace default',
      '--schedule-id judgeloop-local',
      "--cron '0 3 * * MON'",
      '--time-zone Europe/Paris',
      '--overlap-policy BufferOne',
      '--catchup-window 24h',
      '--workflow-id judgeloop-local --task-queue judgeloop --type selfRationalizationRun',
      '--input-file judgeloop-local.schedule-input.json',
    ].join(' \\\n  '),
  );
  const every = request(ScheduleConfig.parse({ every: '1d', offset: '3h' }));
  assert.match(temporalCreateCommand(every, { taskQueue: 'q', address: 'a:1', namespace: 'n', inputFile: 'f.json', paused: true }), /--interval 24h\/3h .*--paused/s);
});

test('CLI: schedule actions, their flags, and errors that name the flag', () => {
  const env = {};
  const create = parseCommandLine(['schedule', 'create', '--config', 'c.json', '--cron', '0 3 * * 1', '--cron', '0 4 * * 4', '--timezone', 'UTC', '--overlap', 'allow-all', '--paused', '--dry-run'], env);
  assert.ok(create.command === 'schedule');
  assert.equal(create.action, 'create');
  assert.deepEqual(create.settings, { cron: ['0 3 * * 1', '0 4 * * 4'], timezone: 'UTC', overlap: 'allow-all' });
  assert.equal(create.paused, true);
  assert.equal(create.dryRun, true);
  assert.equal(create.scheduleId, undefined);

  const backfill = parseCommandLine(['schedule', 'backfill', 'nightly', '--start', '2026-11-01T00:00:00Z', '--end', '2026-11-08T00:00:00Z', '--overlap', 'buffer-all'], env);
  assert.ok(backfill.command === 'schedule');
  assert.deepEqual([backfill.scheduleId, backfill.start?.toISOString(), backfill.overlap], ['nightly', '2026-11-01T00:00:00.000Z', 'buffer-all']);
  const pause = parseCommandLine(['schedule', 'pause', 'nightly', '--note', 'data late'], env);
  assert.ok(pause.command === 'schedule' && pause.note === 'data late');

  const errors: [string[], RegExp][] = [
    [['schedule', 'create'], /missing required flag --config FILE/],
    [['schedule', 'explode', 'x'], /unknown schedule action "explode" \(expected create, list/],
    [['schedule', 'pause'], /missing ID: the schedule to pause/],
    [['schedule', 'trigger', 'x', '--cron', '0 3 * * 1'], /--cron belongs to "schedule create", not "schedule trigger"/],
    [['schedule', 'backfill', 'x', '--start', '2026-11-01'], /backfill needs --start and --end/],
    [['schedule', 'backfill', 'x', '--start', 'yesterday', '--end', '2026-11-02'], /--start must be an ISO time/],
    [['schedule', 'backfill', 'x', '--start', '2026-11-02', '--end', '2026-11-01'], /--end .* must be after --start/],
    [['schedule', 'trigger', 'x', '--overlap', 'queue'], /--overlap must be one of skip, buffer-one/],
    [['schedule', 'delete', 'x', '--note', 'n'], /--note belongs to create, pause or unpause/],
    [['schedule', 'list', 'extra'], /unexpected argument "extra"/],
  ];
  for (const [argv, want] of errors) {
    assert.throws(() => parseCommandLine(argv, env), (e: unknown) => e instanceof UsageError && want.test(e.message) && e.topic === 'schedule', argv.join(' '));
  }
});

test('configs/weekly.example.json (docs/operations.md\'s schedule example) is valid: Mondays 03:00 Paris, on that day\'s dated training data', async () => {
  const { config } = await loadConfigFile('configs/weekly.example.json');
  assert.equal(config.schedule?.cron, '0 3 * * MON');
  assert.equal(config.schedule?.timezone, 'Europe/Paris');
  assert.equal(config.schedule?.overlap, 'skip');
  assert.ok(hasDatedData(config), 'its training data is a dated template');
  // Monday 2026-11-30 03:00 in Paris is 02:00 UTC.
  const run = withDatedData(config, new Date('2026-11-30T02:00:00Z'), 'Europe/Paris');
  assert.equal(run.data.train.uri, 's3://judgeloop/judgments/2026-11-30/train.jsonl');
  assert.deepEqual(run.data.evalSuites, config.data.evalSuites, 'the evaluation suites are not dated');
});
