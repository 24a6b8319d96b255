/**
 * docs/config-reference.md is generated from the run config's zod schema (scripts/config-reference.ts): the
 * committed page must be what the schema renders today, and the rendering must carry the schema's facts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { RunConfig } from '../../core/config/config';
import { PAGE_PATH, REGENERATE, checkPage, renderConfigReference } from '../../scripts/config-reference';

const ROOT = path.resolve(__dirname, '../..');
const page = renderConfigReference();

/** The table row of `key` (its cells, trimmed), or undefined. */
function row(text: string, key: string): string[] | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
  return line
    ?.slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

test(`the committed ${PAGE_PATH} is what the schema renders (regenerate: ${REGENERATE})`, () => {
  const committed = readFileSync(path.join(ROOT, PAGE_PATH), 'utf8');
  assert.ok(committed === page, `${PAGE_PATH} is out of date with core/config/config.ts: run \`${REGENERATE}\` and commit the result`);
  assert.deepEqual(checkPage(), { ok: true, message: `${PAGE_PATH} is up to date` });
});

test('a stale or missing page fails the check with the command that regenerates it', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'judgeloop-config-reference-'));
  try {
    const stale = path.join(dir, 'config-reference.md');
    writeFileSync(stale, page.replace('`2`', '`3`'));
    const result = checkPage(stale);
    assert.equal(result.ok, false);
    assert.match(result.message, /out of date/);
    assert.ok(result.message.includes(REGENERATE), result.message);
    const missing = checkPage(path.join(dir, 'absent.md'));
    assert.equal(missing.ok, false);
    assert.match(missing.message, /is missing: run `npm run config-reference`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page says it is generated and how to regenerate it', () => {
  assert.match(page.split('\n').slice(0, 4).join('\n'), /Generated from .*core\/config\/config\.ts.*`npm run config-reference`/);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts['config-reference'], 'node --import tsx scripts/config-reference.ts --write');
});

test('every top-level key of the schema has a section, listed in the contents', () => {
  const keys = Object.keys(RunConfig.shape);
  assert.ok(keys.length >= 14, `RunConfig has ${keys.length} sections`);
  for (const key of keys) {
    assert.match(page, new RegExp(`^## \`${key}\`$`, 'm'), `section of ${key}`);
    assert.ok(page.includes(`- [\`${key}\`](#${key.toLowerCase()}):`), `contents entry of ${key}`);
  }
});

test('rows carry the schema: type, default, required and description', () => {
  // An enum with its values and default.
  assert.deepEqual(row(page, 'judge.decoding.mode')?.slice(0, 4), ['`judge.decoding.mode`', 'one of `free`, `forced`', '`free`', 'optional']);
  // A bounded integer, a required pattern, a per-iteration union, a discriminated union's variant field.
  assert.deepEqual(row(page, 'loop.iterations')?.slice(1, 4), ['integer in [0, 20]', '`2`', 'optional']);
  assert.deepEqual(row(page, 'storage.bucket')?.slice(2, 4), ['—', 'required']);
  assert.equal(row(page, 'loop.samplesPerInput')?.[1], 'integer in (0, 64], or list (at least 1 item) of integer in (0, 64]');
  assert.equal(row(page, 'evaluation.gate.maxDrop')?.[2], '`0.02`');
  assert.equal(row(page, 'training.learningRate')?.[2], '`5e-7`');
  assert.equal(row(page, 'backend.tags')?.[1], 'map from string of 1–128 characters to string of at most 256 characters');
  assert.match(row(page, 'backend.pollSeconds')?.[4] ?? '', /DescribeTrainingJob/);
  // Objects in lists and union variants get their own tables, linked from the field's row.
  for (const heading of ['### `data.evalSuites[]`', '### `backend` with `kind: sagemaker`', '### `loop.pairing.strategies[]` with `name: meta_judge`']) {
    assert.ok(page.includes(`\n${heading}\n`), heading);
  }
  assert.ok(row(page, 'data.evalSuites[].role'), 'a suite field');
  assert.ok(row(page, 'loop.pairing.strategies[].minMajorityShare'), 'a strategy field');
  assert.ok(row(page, 'evaluation.gate.requireGain.metric'), 'a gate field (core/promotion/gate-config.ts)');
  assert.ok(row(page, 'schedule.catchupWindow'), 'a schedule field (core/config/schedule.ts)');
  // Every row has all five cells, the last a description.
  const rows = page.split('\n').filter((l) => l.startsWith('| `'));
  assert.ok(rows.length > 100, `${rows.length} rows`);
  for (const line of rows) {
    const cells = row(line, line.slice(3, line.indexOf('`', 3)));
    assert.equal(cells?.length, 5, line);
    assert.ok((cells?.[4] ?? '').length > 5, `a description in ${line}`);
  }
  // Every in-page link leads to a heading of the page.
  const anchors = new Set(
    [...page.matchAll(/^#+ (.*)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')),
  );
  for (const [, target] of page.matchAll(/\]\(#([^)]+)\)/g)) assert.ok(anchors.has(target), `#${target} is a heading`);
});

test('a field without a description stops the generator, naming it', () => {
  const schema = z.object({ a: z.string().describe('A.'), b: z.object({ c: z.number().default(1) }).describe('B.') });
  assert.throws(() => renderConfigReference(schema), /b\.c has no description: add \.describe/);
});
