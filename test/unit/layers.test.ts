/**
 * The source tree's layers hold: pure code (core/) imports nothing above it, activities import neither the
 * workflows nor the CLI, the workers and workflows do not import the CLI, and no two modules import each
 * other at run time, however indirectly (type-only imports are erased and do not count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tsFiles } from '../support/source-files';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE_FOLDERS = ['core', 'activities', 'workflows', 'workers', 'stack', 'cli'];

/** What each layer may import besides itself (a layer sees only those below it). */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  activities: ['core'],
  workflows: ['core', 'activities'],
  workers: ['core', 'activities', 'workflows'],
  // The local stack (servers and a worker) sits below the CLI, whose `stack` command starts it.
  stack: ['core', 'activities', 'workflows', 'workers'],
  cli: ['core', 'activities', 'workflows', 'workers', 'stack'],
};

interface Edge {
  to: string;
  typeOnly: boolean;
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

function importsOf(file: string): Edge[] {
  const edges: Edge[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const base = path.resolve(path.dirname(file), m[2]);
    const to = [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => c.endsWith('.ts') && existsSync(c));
    if (to) edges.push({ to, typeOnly: Boolean(m[1]) });
  }
  return edges;
}

const rel = (f: string) => path.relative(ROOT, f);
const layerOf = (f: string) => rel(f).split(path.sep)[0];
const graph = new Map(SOURCE_FOLDERS.flatMap((d) => tsFiles(path.join(ROOT, d))).map((f) => [f, importsOf(f)] as const));

test('the import reader sees the imports of a known module', () => {
  const edges = graph.get(path.join(ROOT, 'workflows', 'run.ts'))!.map((e) => rel(e.to));
  assert.ok(edges.includes(path.join('core', 'config', 'config.ts')), edges.join(', '));
  assert.ok(edges.includes(path.join('workflows', 'iteration.ts')));
});

test('no import runs up the layers (core < activities < workflows < workers < stack < cli)', () => {
  const upward: string[] = [];
  for (const [file, edges] of graph) {
    const from = layerOf(file);
    for (const e of edges) {
      const to = layerOf(e.to);
      if (to !== from && !MAY_IMPORT[from].includes(to)) upward.push(`${rel(file)} imports ${rel(e.to)}${e.typeOnly ? ' (types)' : ''}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no import cycle among the modules (run-time imports)', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const e of graph.get(file) ?? []) {
      if (e.typeOnly || !graph.has(e.to)) continue;
      if (state.get(e.to) === 'open') cycles.push([...stack.slice(stack.indexOf(e.to)), e.to].map(rel).join(' → '));
      else if (!state.has(e.to)) visit(e.to);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});
