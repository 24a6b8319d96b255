/**
 * The bad-input corpus (test/bad-input/, issue 14 §3), case by case through the code that meets each input
 * in a run: configs through `checkConfig`, dataset rows through the prepare step's `ingestDataset` (from a
 * local file and from S3), model outputs through the parsers and the score step's reader, run ids through
 * the CLI and the prepare step, argv through `main`, and script-bearing text through both HTML pages. Each
 * case's expected outcome is written beside its input; docs/reliability.md's tables are rendered from the
 * same files and must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from '../../activities/context';
import { createPrepareActivities, ingestDataset } from '../../activities/steps/prepare';
import { rawJudgmentOf, scoreRawJudgment } from '../../activities/steps/score';
import type { ObjectStore } from '../../activities/storage/object-store';
import { UsageError, parseCommandLine } from '../../cli/args';
import { ConfigFileError, checkConfig } from '../../cli/config-file';
import { main } from '../../cli/judgeloop';
import { ADAPTER_NAMES, getAdapter } from '../../core/data/adapters';
import { validateConfig, type RunConfig } from '../../core/config/config';
import { escapeHtml, renderReviewPage } from '../../core/review/human-review-page';
import { parseJudgment, parsePairwiseVerdict } from '../../core/judging/judgment';
import { renderRunReport } from '../../core/report/report-html';
import { runIdProblem } from '../../core/config/safe-names';
import { jsonlSourceLines, type SourceLine } from '../../core/data/source-lines';
import { realisticRunSummary } from '../fixtures/run-summary';
import {
  CORPUS,
  DOC,
  buildConfig,
  cliArgv,
  docTables,
  hostileReview,
  hostileSummary,
  htmlPayloads,
  jobOutputLine,
  loadCases,
  outputText,
  renderBadInputTables,
  rowsFileBytes,
  type CliCase,
  type ConfigCase,
  type IdCase,
  type OutputCase,
  type RowsCase,
} from '../support/bad-input';
import { memoryStore, type MemoryStore } from '../support/memory-store';

function includesAll(text: string, fragments: string[], where: string): void {
  for (const f of fragments) assert.ok(text.includes(f), `${where}: expected ${JSON.stringify(f)} in:\n${text}`);
}

// ---------------------------------------------------------------------------------------------- configs

const CONFIGS = loadCases<ConfigCase>('configs');

test('configs: the bases are valid, so each case fails for its own reason only', () => {
  for (const base of ['_base.json', '_base-sagemaker.json']) {
    const raw = buildConfig({ what: '', base, expect: { problems: {} } });
    assert.doesNotThrow(() => checkConfig(raw, base), base);
  }
  assert.ok(CONFIGS.length >= 60, `${CONFIGS.length} config cases`);
});

test('configs: every case is refused, each problem at its path and saying what is wrong', () => {
  const sections = new Set<string>();
  for (const { name, spec } of CONFIGS) {
    const raw = buildConfig(spec);
    let caught: unknown;
    try {
      checkConfig(raw, `${name}.json`);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigFileError, `${name}: expected a ConfigFileError, got ${String(caught)}`);
    assert.equal(caught.kind, 'invalid', name);
    const got = new Map(caught.problems.map((p) => [p.path, p.message]));
    assert.deepEqual([...got.keys()].sort(), Object.keys(spec.expect.problems).sort(), `${name}: ${caught.message}`);
    for (const [p, fragments] of Object.entries(spec.expect.problems)) {
      assert.ok(fragments.length > 0, `${name}: ${p} names no fragment of its message`);
      includesAll(got.get(p)!, fragments, `${name} ${p}`);
      // The printed error names the file and each path, as `judgeloop validate` shows it.
      assert.ok(caught.message.startsWith(`${name}.json is invalid`), name);
      assert.ok(caught.message.includes(`\n  - ${p}: `), `${name}: ${caught.message}`);
      sections.add(p.split('.')[0]);
    }
  }
  // Every section of the config is represented.
  const all = ['(root)', 'name', 'judge', 'data', 'loop', 'training', 'evaluation', 'backend', 'timeouts', 'storage', 'registry', 'budget', 'reuse', 'schedule', 'warmStart'];
  assert.deepEqual(all.filter((s) => !sections.has(s)), [], 'sections without a case');
});

test('configs: a valid storage prefix still loads (trailing "/" dropped, the root allowed)', () => {
  const base = buildConfig({ what: '', expect: { problems: {} } }) as { storage: Record<string, unknown> };
  for (const [prefix, stored] of [['runs', 'runs'], ['team/judgeloop/', 'team/judgeloop'], ['', ''], ['a.b_c-d/e', 'a.b_c-d/e'], ['v1..2', 'v1..2']]) {
    const r = validateConfig({ ...base, storage: { ...base.storage, prefix } });
    assert.ok(r.ok, `${prefix}: ${JSON.stringify(!r.ok && r.problems)}`);
    assert.equal(r.config.storage.prefix, stored);
  }
});

// ------------------------------------------------------------------------------------------------- rows

function deps(projectRoot: string, store: MemoryStore): ActivityDeps {
  return {
    projectRoot,
    codeVersion: 'bad-input',
    storeFor: () => store as unknown as ObjectStore,
    runnerFor: () => {
      throw new Error('no jobs in this test');
    },
  };
}

function fieldOf(record: Record<string, unknown>, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((v, k) => (v === undefined || v === null ? undefined : (v as Record<string, unknown>)[k]), record);
}

const ROWS = loadCases<RowsCase>('rows');

for (const source of ['local file', 's3'] as const) {
  test(`rows (${source}): each case is accepted as written or quarantined with its line and reason, never dropped`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'judgeloop-bad-rows-'));
    try {
      for (const { name, spec } of ROWS) {
        const ext = spec.file ?? 'jsonl';
        const bytes = rowsFileBytes(spec);
        // Chunks of 7 bytes: a CRLF, a multi-byte character or the BOM of a case may fall across two of them.
        const store = memoryStore({ readChunkBytes: 7 });
        let uri = `${name}.${ext}`;
        if (source === 's3') {
          uri = `s3://sources/${name}.${ext}`;
          store.objects.set(uri, bytes);
        } else writeFileSync(path.join(dir, uri), bytes);
        const adapter = spec.adapter ?? 'canonical';
        const kind = getAdapter(adapter).kind;
        const run = ingestDataset(deps(dir, store), store as unknown as ObjectStore, {
          name: 'bad',
          source: { uri, adapter },
          expectKind: kind,
          destPrefix: `s3://b/runs/r/data/${name}`,
          maxInvalidFraction: spec.maxInvalidFraction ?? 1,
          configPath: 'data.train',
          scale: { min: 1, max: 5 },
        });
        const e = spec.expect;
        if ('error' in e) {
          await assert.rejects(run, (err: Error & { nonRetryable?: boolean }) => {
            includesAll(err.message, e.error, name);
            assert.equal(err.nonRetryable, true, `${name}: bad data must not be retried`);
            return true;
          });
          continue;
        }
        const summary = await run;
        const where = `${name} (${source})`;
        const quarantine = store.rows<{ index: number; line?: number; reason: string }>(summary.quarantineUri);
        assert.equal(summary.rows, e.rows, `${where}: rows kept; quarantined ${JSON.stringify(quarantine)}`);
        assert.equal(summary.quarantined, e.quarantined.length, `${where}: ${JSON.stringify(quarantine)}`);
        assert.equal(quarantine.length, e.quarantined.length, where);
        // Nothing is lost: every non-blank line is either a kept row or a quarantined one.
        assert.equal(store.rows(summary.uri).length, summary.rows, where);
        e.quarantined.forEach((want, i) => {
          const got = quarantine[i];
          if (want.line !== undefined) assert.equal(got.line, want.line, `${where}: ${JSON.stringify(got)}`);
          if (want.index !== undefined) assert.equal(got.index, want.index, `${where}: ${JSON.stringify(got)}`);
          includesAll(got.reason, want.reason, where);
        });
        const kept = store.rows<Record<string, unknown>>(summary.uri);
        for (const k of e.kept ?? []) {
          const row = kept.find((r) => r.id === k.id);
          assert.ok(row, `${where}: row ${k.id} kept`);
          if (k.absent) assert.equal(fieldOf(row, k.field), undefined, `${where}: ${k.field}`);
          else assert.deepEqual(fieldOf(row, k.field), k.equals, `${where}: ${k.field}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function collect(chunks: Uint8Array[], opts = {}): Promise<SourceLine[]> {
  const out: SourceLine[] = [];
  for await (const l of jsonlSourceLines(Readable.from(chunks), opts)) out.push(l);
  return out;
}

test('rows: the line reader gives the same rows whatever the chunk boundaries (CRLF, BOM, multi-byte characters)', async () => {
  const text = Buffer.concat([
    Buffer.from([0xef, 0xbb, 0xbf]),
    Buffer.from('{"a":"é"}\r\n\r\n{"b":"数字🙂"}\r{"c":1}\n  \n{"d":[1,\n'),
    Buffer.from([0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a]), // {"e":"\xC3("} — invalid UTF-8
    Buffer.from('{"f":2}'),
  ]);
  const whole = await collect([text]);
  assert.deepEqual(
    whole.map((l) => [l.index, l.line, l.value ?? l.error?.replace(/:.*/, '')]),
    [
      [0, 1, { a: 'é' }],
      [1, 3, { b: '数字🙂' }],
      [2, 4, { c: 1 }],
      [3, 6, 'line 6 is not valid JSON'],
      [4, 7, 'line 7 is not valid UTF-8 (byte 7 of the line is 0xc3); save the file as UTF-8'],
      [5, 8, { f: 2 }],
    ],
  );
  for (const size of [1, 2, 3, 5, 8]) {
    // Chunks of 1 and 2 split the byte-order mark and the CRLFs; 3 and 5 split the multi-byte characters.
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
    assert.deepEqual(await collect(chunks), whole, `chunks of ${size}`);
  }
  // Past the size limit a line is an error naming its size, and the lines after it are read as usual.
  const capped = await collect([Buffer.from(`{"x":"${'y'.repeat(100)}"}\n{"z":1}\n`)], { maxRowBytes: 50 });
  assert.match(capped[0].error ?? '', /^line 1 is 108 bytes, above the 50 bytes limit of one row/);
  assert.deepEqual(capped[1].value, { z: 1 });
});

test('rows: no adapter throws on any corpus row, whatever its shape (each returns a result or a reason)', async () => {
  const values: unknown[] = [null, 3, 'text', [], {}, { id: 7 }, { instruction: { nested: true } }];
  for (const { spec } of ROWS) {
    if (spec.file === 'json') continue;
    for await (const l of jsonlSourceLines(Readable.from([rowsFileBytes(spec)]))) if (l.error === undefined) values.push(l.value);
  }
  for (const name of ADAPTER_NAMES) {
    const adapter = getAdapter(name, { idPrefix: 'bad', subset: 'bad', instances: new Map() });
    values.forEach((v, i) => {
      let r: { ok: boolean; reason?: string } | undefined;
      assert.doesNotThrow(() => {
        r = adapter.adaptRow(v, i);
      }, `${name} on ${JSON.stringify(v)?.slice(0, 80)}`);
      assert.ok(r && (r.ok || (typeof r.reason === 'string' && r.reason.length > 0)), `${name}: a refusal says why`);
    });
  }
});

// ---------------------------------------------------------------------------------------------- outputs

const OUTPUTS = loadCases<OutputCase>('outputs');
const CONFIG: RunConfig = (() => {
  const r = validateConfig(buildConfig({ what: '', expect: { problems: {} } }));
  if (!r.ok) throw new Error('the base config is invalid');
  return r.config;
})();

test('outputs: each case parses or fails with its reason, in linear time, without throwing', async () => {
  for (const { name, spec } of OUTPUTS) {
    const e = spec.expect;
    let status: string;
    let reason: string | undefined;
    let detail = '';
    let value: number | string | undefined;
    const started = performance.now();
    if (spec.source === 'job-output') {
      // The score step's path: the job's output line as bytes, its reader, then the parser.
      const lines: SourceLine[] = [];
      for await (const l of jsonlSourceLines(Readable.from([jobOutputLine(spec)]), { invalidUtf8: 'replace' })) lines.push(l);
      assert.equal(lines.length, 1, name);
      const { raw, notUtf8 } = rawJudgmentOf(lines[0], 's3://b/job/judgments.jsonl');
      const j = scoreRawJudgment(raw, CONFIG, 'm', { notUtf8 });
      status = j.status;
      reason = j.reason;
      value = j.score;
      // The judgment keeps the reason only; the parser's detail says more (bytes that were not UTF-8 have none).
      const p = notUtf8 ? undefined : parseJudgment(raw.text, { ...CONFIG.judge.scale, marker: CONFIG.judge.marker });
      if (p?.status === 'unparseable') detail = p.detail;
      assert.equal(typeof j.text, 'string', `${name}: the judgment's text stays a string`);
      if (spec.raw === undefined) assert.equal(j.text, outputText(spec), `${name}: the text is kept as read`);
    } else if (spec.parser === 'pointwise') {
      const text = outputText(spec);
      const p = parseJudgment(text, { ...CONFIG.judge.scale, marker: CONFIG.judge.marker });
      status = p.status;
      if (p.status === 'ok') value = p.score;
      else [reason, detail] = [p.reason, p.detail];
      // The score step agrees with the parser, and keeps the text.
      const j = scoreRawJudgment({ request_id: 'r', example_id: 'e', sample_index: 0, text, seed: 1, prompt_hash: 'h' }, CONFIG, 'm');
      assert.equal(j.status, p.status, name);
      assert.equal(j.text, text, name);
    } else {
      const p = parsePairwiseVerdict(outputText(spec), { marker: CONFIG.judge.marker });
      status = p.status;
      if (p.status === 'ok') value = p.verdict;
      else [reason, detail] = [p.reason, p.detail];
    }
    const ms = performance.now() - started;
    assert.equal(status, e.status, `${name}: ${reason} ${detail}`);
    if (e.status === 'ok') assert.equal(value, e.score ?? e.verdict, name);
    else {
      assert.equal(reason, e.reason, `${name}: ${detail}`);
      includesAll(detail, e.detail ?? [], name);
      assert.ok(detail.length <= 200, `${name}: a short detail (${detail.length} characters)`);
    }
    if (spec.maxMs !== undefined) assert.ok(ms < spec.maxMs, `${name}: ${ms.toFixed(1)} ms`);
  }
});

test("outputs: a broken line in a job's output stops the score step with its line, and is not retried", async () => {
  for (const [bytes, why] of [
    ['{"request_id": "r", "text": \n', /line 1 is not valid JSON/],
    ['[1, 2]\n', /line 1 is not a JSON object/],
    ['{"request_id": "r", "text": "x"}\n', /line 1 has no example_id/],
  ] as const) {
    const [line] = await collect([Buffer.from(bytes)], { invalidUtf8: 'replace' });
    assert.throws(
      () => rawJudgmentOf(line, 's3://b/job/judgments.jsonl'),
      (e: unknown) => e instanceof ApplicationFailure && e.nonRetryable === true && e.type === 'InvalidJobOutput' && why.test(e.message) && e.message.startsWith('s3://b/job/judgments.jsonl: '),
    );
  }
});

// -------------------------------------------------------------------------------------------------- ids

const IDS = loadCases<IdCase>('ids');

/** A store that fails any use: the prepare step must refuse a bad id before it writes anything. */
const untouchable = new Proxy({}, {
  get: (_, method) => () => {
    throw new Error(`store touched: ${String(method)}`);
  },
}) as ObjectStore;

test('ids: each run id is accepted or refused the same way by the CLI (--id, --id-prefix, schedule --id) and the prepare step', async () => {
  const prepare = createPrepareActivities({ projectRoot: CORPUS, codeVersion: 'x', storeFor: () => untouchable, runnerFor: () => { throw new Error('no jobs'); } });
  for (const { name, spec } of IDS) {
    const e = spec.expect;
    const entries: Array<[string, string[]]> = [
      ['--id', ['run', '--config', 'a.json', `--id=${spec.id}`]],
      ['--id-prefix', ['seeds', '--config', 'a.json', '--seeds', '0,1', `--id-prefix=${spec.id}`]],
      ['schedule --id', ['schedule', 'create', '--config', 'a.json', `--id=${spec.id}`]],
    ];
    for (const [flag, argv] of entries) {
      if ('accepted' in e) {
        assert.doesNotThrow(() => parseCommandLine(argv, {}), `${name} via ${flag}`);
      } else {
        assert.throws(
          () => parseCommandLine(argv, {}),
          (err: unknown) => {
            assert.ok(err instanceof UsageError, `${name} via ${flag}: ${String(err)}`);
            assert.ok(err.message.includes(`(${flag.replace('schedule ', '')})`), `${name}: the message names ${flag}: ${err.message}`);
            includesAll(err.message, e.error, `${name} via ${flag}`);
            return true;
          },
        );
      }
    }
    assert.equal(runIdProblem(spec.id) === undefined, 'accepted' in e, name);
    // A run started by another client (the Temporal CLI, a client of its own) meets the same rule.
    await assert.rejects(prepare.prepareRun({ config: CONFIG, runId: spec.id }), (err: Error & { type?: string; nonRetryable?: boolean }) => {
      if ('accepted' in e) {
        assert.match(err.message, /^store touched/, `${name}: accepted, so the prepare step went on to the store`);
      } else {
        assert.equal(err.type, 'ConfigError', name);
        assert.equal(err.nonRetryable, true, name);
        includesAll(err.message, e.error, name);
      }
      return true;
    });
  }
});

// -------------------------------------------------------------------------------------------------- cli

const CLI = loadCases<CliCase>('cli');

test('cli: each bad command line exits with its code, names the flag, prints the usage and where to read more', async () => {
  for (const { name, spec } of CLI) {
    let out = '';
    let err = '';
    const rc = await main(cliArgv(spec), {
      out: { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream,
      err: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WriteStream,
      env: {},
    });
    assert.equal(rc, spec.expect.exit, `${name}: ${err}`);
    includesAll(err, spec.expect.stderr, name);
    if (spec.expect.usage) {
      assert.ok(err.includes(`usage: judgeloop ${spec.expect.usage}`), `${name}: the usage line: ${err}`);
      assert.ok(err.includes(`(judgeloop help ${spec.expect.usage} for more)`), `${name}: ${err}`);
    }
    assert.equal(out, '', `${name}: nothing on stdout`);
  }
});

// ------------------------------------------------------------------------------------------------- html

const PAYLOADS = htmlPayloads().map((p) => p.text);

/** The page's tags (a raw `<` followed by a letter or `/`): escaped text cannot make one. */
function tags(html: string): Array<{ name: string; attrs: string }> {
  return [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)].map((m) => ({ name: m[1].toLowerCase(), attrs: m[2] }));
}

function checkPage(name: string, clean: string, hostile: string, data: unknown, dataId: string): void {
  const block = new RegExp(`<script type="application/json" id="${dataId}">([\\s\\S]*?)</script>`).exec(hostile);
  assert.ok(block, `${name}: the data block`);
  // The embedded JSON holds no "<" at all (so no "</script" or "<!--"), nor a raw JS line separator, and
  // parses back to every field as given: nothing lost, nothing able to end the element.
  assert.ok(!block[1].includes('<') && !/[\u2028\u2029]/.test(block[1]), `${name}: the JSON block is script-safe`);
  assert.deepEqual(JSON.parse(block[1]), data, `${name}: the data block round-trips`);
  const outside = hostile.replace(block[0], '');
  for (const p of PAYLOADS.filter((x) => /[<>"'&]/.test(x))) assert.ok(!outside.includes(p), `${name}: ${JSON.stringify(p)} appears unescaped`);
  // The markup is the template's: the same elements as the clean page, no event handler, no javascript: URL.
  const cleanNames = new Set(tags(clean).map((t) => t.name));
  const found = tags(hostile);
  assert.deepEqual([...new Set(found.map((t) => t.name))].filter((n) => !cleanNames.has(n)), [], `${name}: elements the template does not have`);
  for (const t of found) {
    assert.ok(!/\son[a-z]+\s*=/i.test(t.attrs), `${name}: an event handler attribute in <${t.name}${t.attrs}>`);
    assert.ok(!/(href|src|action|srcdoc)\s*=\s*["']?\s*javascript:/i.test(t.attrs), `${name}: a javascript: URL in <${t.name}${t.attrs}>`);
  }
  assert.equal((hostile.match(/<script/gi) ?? []).length, (clean.match(/<script/gi) ?? []).length, `${name}: no script element added`);
  assert.equal((hostile.match(/<\/script/gi) ?? []).length, (clean.match(/<\/script/gi) ?? []).length, `${name}: no script element closed early`);
}

test('html: the run report escapes every field of a summary whose every string carries a script', () => {
  const s = hostileSummary();
  const html = renderRunReport(s);
  checkPage('report', renderRunReport(realisticRunSummary()), html, s, 'run-summary');
  // The fields are shown, as text: each payload appears escaped in the visible page.
  for (const p of PAYLOADS) assert.ok(html.includes(escapeHtml(p)), `report: ${JSON.stringify(p)} is shown as text`);
});

test('html: the blind-review page carries every field as data only, never as markup', () => {
  const review = hostileReview();
  const clean = renderReviewPage({ ...review, id: 'r1', created: 'now', items: review.items.map((it, i) => ({ ...it, itemId: `i${i}`, instruction: 'q', response: 'a', criteria: 'c', scoreDescriptions: ['1', '2', '3', '4', '5'], a: { rationale: 'x', score: 4 }, b: { rationale: 'y', score: null } })) });
  checkPage('review page', clean, renderReviewPage(review), review, 'review-data');
});

// -------------------------------------------------------------------------------------------------- doc

test("docs/reliability.md's bad-input tables are the corpus's (regenerate: node --import tsx test/support/bad-input.ts --write)", () => {
  const doc = readFileSync(DOC, 'utf8');
  assert.match(doc, /^## Bad input$/m);
  const current = docTables(doc);
  assert.ok(current, 'the doc has the bad-input markers');
  assert.equal(current, renderBadInputTables());
});
