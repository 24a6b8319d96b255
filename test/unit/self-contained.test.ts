/**
 * The repository is self-contained: users clone it alone, so no tracked file may name a path outside it.
 * Every tracked text file (`git ls-files`, or outside a checkout every file but generated folders; package-lock.json
 * and binary files left out) is scanned line by
 * line with `outsideReferences`, a pure matcher, for
 *   (a) the reference folder that sat beside the repository while it was written: the folder name with a
 *       leading parent step, its benchmarks folder, or its two notes (the method and the design);
 *   (b) a relative path literal with parent steps (`../`) that, resolved from the file's own folder, lands
 *       outside the repository root (a string in code, a Markdown link target, a config's `extends`);
 *   (c) the two notes named by their bare file names while no tracked file has that name (the project's
 *       own copies are docs/, in lower case).
 * A bare `..` (as in `cd ..`, or a Python relative import) is no path literal and is not matched: a token
 * needs a `../` step. Absolute paths and URLs are left alone.
 *
 * This file builds the names it looks for from pieces, so that it does not name them itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

const UP = '..' + '/';
const SHARED = 'shared';
/** The two notes of the reference folder (the method, the design), by file name. */
const SHARED_NOTES = ['METHOD', 'DESIGN'].map((n) => `${n}.md`);

/** (a): fixed strings that name the reference folder beside the repository. */
const OUTSIDE_STRINGS = [`${UP}${SHARED}`, ...SHARED_NOTES.map((n) => `${SHARED}/${n}`), `${SHARED}/benchmarks`];

/** (c): a bare note name, as a word of its own (not part of a longer file name). */
const NOTE_NAME = new RegExp(`(?<![\\w.-])(?:${SHARED_NOTES.map((n) => n.replace('.', '\\.')).join('|')})(?![\\w-])`, 'g');

/** A maximal run of characters that may make up a path; (b) looks at the runs with a `../` step. */
const PATH_RUN = /[\w@.~+/-]+/g;
const PARENT_STEP = /(?:^|\/)\.\.\//;

export interface Finding {
  line: number;
  column: number;
  match: string;
  why: string;
}

/**
 * Where `text`, the content of the tracked file `file` (relative to the repository root, / separators),
 * names a path outside the repository. `tracked` is the set of tracked paths (for (c): a note that the
 * repository does track is no outside reference). Pure: no file system, no git.
 */
export function outsideReferences(file: string, text: string, tracked: ReadonlySet<string> = new Set()): Finding[] {
  const dir = path.posix.dirname(file);
  const trackedNames = new Set([...tracked].map((f) => path.posix.basename(f)));
  const findings: Finding[] = [];
  text.split('\n').forEach((content, i) => {
    const hits: Array<{ start: number; end: number; why: string }> = [];
    for (const s of OUTSIDE_STRINGS) {
      for (let at = content.indexOf(s); at >= 0; at = content.indexOf(s, at + 1)) {
        hits.push({ start: at, end: at + s.length, why: 'names the reference folder beside the repository' });
      }
    }
    for (const m of content.matchAll(PATH_RUN)) {
      const token = m[0];
      if (token.startsWith('/') || !PARENT_STEP.test(token)) continue;
      const resolved = path.posix.normalize(path.posix.join(dir, token));
      if (resolved === '..' || resolved.startsWith(UP)) {
        hits.push({ start: m.index!, end: m.index! + token.length, why: `resolves outside the repository (to ${resolved} from its root)` });
      }
    }
    for (const m of content.matchAll(NOTE_NAME)) {
      if (!trackedNames.has(m[0])) hits.push({ start: m.index!, end: m.index! + m[0].length, why: 'names a note that the repository does not hold' });
    }
    // Overlapping hits are one place: reported once, with every reason.
    hits.sort((a, b) => a.start - b.start || b.end - a.end);
    let last: { start: number; end: number; whys: string[] } | undefined;
    const places: Array<{ start: number; end: number; whys: string[] }> = [];
    for (const h of hits) {
      if (last && h.start < last.end) {
        last.end = Math.max(last.end, h.end);
        if (!last.whys.includes(h.why)) last.whys.push(h.why);
      } else {
        last = { start: h.start, end: h.end, whys: [h.why] };
        places.push(last);
      }
    }
    for (const p of places) findings.push({ line: i + 1, column: p.start + 1, match: content.slice(p.start, p.end), why: p.whys.join('; ') });
  });
  return findings;
}

// --- the matcher, table-driven ------------------------------------------------------------------------

const NOTE = SHARED_NOTES[0];

test('outsideReferences: positive and negative lines, table', () => {
  const cases: Array<{ name: string; file: string; text: string; want: string[]; tracked?: string[] }> = [
    // (a)
    { name: 'the reference folder, from the root (one finding per place)', file: 'README.md', text: `see ${UP}${SHARED}/x`, want: [`${UP}${SHARED}/x`] },
    { name: 'its benchmarks folder, any prefix', file: 'a/b.ts', text: `const B = '/somewhere/${SHARED}/benchmarks';`, want: [`${SHARED}/benchmarks`] },
    { name: 'a note with its folder', file: 'core/x.ts', text: `// (see ${SHARED}/${NOTE})`, want: [`${SHARED}/${NOTE}`] },
    { name: 'a Markdown link to a note beside the repository', file: 'README.md', text: `(Trivedi et al. 2024, [METHOD](${UP}${SHARED}/${NOTE}))`, want: [`${UP}${SHARED}/${NOTE}`] },
    { name: 'the folder name alone is fine', file: 'core/x.ts', text: '// a seed shared by all workers; shared-models bucket', want: [] },
    // (b)
    { name: 'a string three levels up from test/support', file: 'test/support/x.ts', text: `path.resolve(__dirname, '${UP}${UP}${UP}x')`, want: [`${UP}${UP}${UP}x`] },
    { name: 'two levels up from test/support is the root', file: 'test/support/x.ts', text: `path.resolve(__dirname, '${UP}..')`, want: [] },
    { name: 'three bare levels up', file: 'test/support/x.ts', text: `path.resolve(__dirname, '${UP}${UP}..')`, want: [`${UP}${UP}..`] },
    { name: 'an import inside the repository', file: 'test/unit/a.test.ts', text: `import { x } from '${UP}${UP}core/data/adapters';`, want: [] },
    { name: 'a Markdown link out of the root', file: 'README.md', text: `[notes](${UP}x.md)`, want: [`${UP}x.md`] },
    { name: 'a Markdown link inside', file: 'docs/aws/README.md', text: `[contracts](${UP}CONTRACTS.md)`, want: [] },
    { name: 'a config extends its sibling folder', file: 'configs/ablations/a.json', text: `"extends": "${UP}local.json",`, want: [] },
    { name: 'a path with a folder before the parent steps', file: 'a.md', text: `\`x/${UP}${UP}y\``, want: [`x/${UP}${UP}y`] },
    { name: 'cd .. is no path literal', file: 'README.md', text: 'cd .. && npm test; cd ..', want: [] },
    { name: 'a Python relative import', file: 'jobs/a/b.py', text: 'from ..sm_contract import channels', want: [] },
    { name: 'an ellipsis', file: 'README.md', text: 'and so on.../x or .../y', want: [] },
    { name: 'absolute paths and URLs are left alone', file: 'a.md', text: `/tmp/${UP}x https://example.com/a/${UP}${UP}b`, want: [] },
    { name: 'an escaped regex is no path', file: 'a.ts', text: String.raw`/^\.\.\//.test(p)`, want: [] },
    // (c)
    { name: 'a bare note name', file: 'core/x.ts', text: `// (${NOTE}, "Pair")`, want: [NOTE] },
    { name: 'a bare note name that the repository tracks', file: 'core/x.ts', text: `// (${NOTE})`, tracked: [`docs/${NOTE}`], want: [] },
    { name: 'a longer file name is another file', file: 'a.md', text: `docs/method.md and MY_${NOTE} and ${NOTE.replace('.md', '.mdx')}`, want: [] },
  ];
  for (const c of cases) {
    const got = outsideReferences(c.file, c.text, new Set(c.tracked ?? []));
    assert.deepEqual(got.map((f) => f.match), c.want, c.name);
    for (const f of got) assert.equal(f.line, 1, c.name);
  }
  // Lines and columns are 1-based.
  assert.deepEqual(
    outsideReferences('test/x.ts', `ok\n  '${UP}${UP}y'`).map((f) => [f.line, f.column]),
    [[2, 4]],
  );
});

// --- the tracked files ----------------------------------------------------------------------------------

/** Text files (no NUL byte in their first 8000 bytes, git's own test) are scanned; this one is too. */
function isBinary(body: Buffer): boolean {
  return body.subarray(0, 8000).includes(0);
}

const SKIPPED = new Set(['package-lock.json']);

/** Folders that set-up, builds and runs create; never part of what a user clones. */
const GENERATED = new Set(['.git', 'node_modules', 'dist', '.tools', '.venv', '.judgeloop', '.whl', '__pycache__', '.pytest_cache']);

/** The project's files: `git ls-files` in a checkout; outside one (an unpacked archive) every file but generated ones. */
function projectFiles(): string[] {
  if (existsSync(path.join(ROOT, '.git'))) {
    return execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      .split('\0')
      .filter((f) => f !== '');
  }
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      if (GENERATED.has(entry.name)) continue;
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out;
}

test('no tracked file names a path outside the repository', () => {
  const tracked = projectFiles();
  assert.ok(tracked.length > 0, 'git ls-files listed nothing');
  const trackedSet = new Set(tracked);
  const problems: string[] = [];
  let scanned = 0;
  for (const file of tracked) {
    if (SKIPPED.has(file)) continue;
    const full = path.join(ROOT, file);
    if (!existsSync(full) && !isLink(full)) continue; // deleted in the working tree, not yet committed
    let text: string;
    if (isLink(full)) {
      // A tracked symbolic link: its target is a path literal resolved from its folder.
      text = readlinkSync(full);
      if (path.isAbsolute(text)) problems.push(`${file}:1: a symbolic link to the absolute path ${text}`);
    } else {
      const body = readFileSync(full);
      if (isBinary(body)) continue;
      text = body.toString('utf8');
    }
    scanned++;
    for (const f of outsideReferences(file, text, trackedSet)) problems.push(`${file}:${f.line}:${f.column}: ${f.match}: ${f.why}`);
  }
  assert.ok(scanned > 0);
  assert.deepEqual(problems, [], `tracked files name paths outside the repository:\n${problems.join('\n')}`);
});

function isLink(full: string): boolean {
  try {
    return lstatSync(full).isSymbolicLink();
  } catch {
    return false;
  }
}
