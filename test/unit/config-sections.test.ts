/** core/config/sections.ts: the part of the config each activity input carries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { ACTIVITY_SECTIONS, sectionsFor, type ActivitySections } from '../../core/config/sections';
import { mergeConfig } from '../../cli/config-file';
import localConfig from '../../configs/local.json';

function resolved(over: Record<string, unknown> = {}, base: Record<string, unknown> = localConfig): RunConfig {
  const r = validateConfig(mergeConfig(base, over));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

const withOptional = resolved({ budget: { maxJobHours: 2 }, warmStart: { data: { uri: 'datasets/synthetic/train.jsonl', adapter: 'canonical' } } });
// The embedded default tracks its runs (tracking.mlflow); without it, no optional section is set.
const { tracking: _tracking, ...untracked } = localConfig;
const withoutOptional = resolved({}, untracked);

test('sectionsFor: each kind carries exactly its sections, the same values, and an optional section only when set', () => {
  const kinds = Object.keys(ACTIVITY_SECTIONS) as ActivitySections[];
  const cases: Array<[ActivitySections, RunConfig, string[]]> = [
    ['storage', withoutOptional, ['storage']],
    ['score', withoutOptional, ['judge', 'reuse', 'storage']],
    ['generation', withOptional, ['backend', 'budget', 'evaluation', 'judge', 'loop', 'reuse', 'storage']],
    ['generation', withoutOptional, ['backend', 'evaluation', 'judge', 'loop', 'reuse', 'storage']],
    ['train', withOptional, ['backend', 'budget', 'judge', 'reuse', 'storage', 'tracking', 'training']],
    ['train', withoutOptional, ['backend', 'judge', 'reuse', 'storage', 'training']],
    ['tracking', withOptional, ['storage', 'tracking']],
    ['tracking', withoutOptional, ['storage']],
    ['warmStart', withOptional, ['backend', 'budget', 'judge', 'reuse', 'storage', 'training', 'warmStart']],
    ['warmStart', withoutOptional, ['backend', 'judge', 'reuse', 'storage', 'training']],
    ['evaluation', withoutOptional, ['data', 'evaluation', 'judge', 'loop', 'reuse', 'storage']],
  ];
  for (const [kind, config, want] of cases) {
    const part = sectionsFor(config, kind) as Record<string, unknown>;
    assert.deepEqual(Object.keys(part).sort(), want, kind);
    for (const key of want) assert.equal(part[key], (config as Record<string, unknown>)[key], `${kind}.${key} is the config's own value`);
  }
  for (const kind of kinds) {
    const keys = Object.keys(sectionsFor(withOptional, kind));
    assert.ok(keys.length > 0 && keys.length < Object.keys(withOptional).length, `${kind}: some sections, not all (${keys.join(', ')})`);
  }
});

test('sectionsFor: only the evaluation steps carry the datasets (the largest section)', () => {
  const kinds = (Object.keys(ACTIVITY_SECTIONS) as ActivitySections[]).filter((k) => 'data' in sectionsFor(withOptional, k));
  assert.deepEqual(kinds, ['evaluation']);
  const whole = JSON.stringify(withOptional).length;
  const generation = JSON.stringify(sectionsFor(withOptional, 'generation')).length;
  assert.ok(generation < whole * 0.75, `a generation job's sections are ${generation} of ${whole} bytes`);
});
