// Exit 0 when node_modules holds exactly the packages package-lock.json pins, 1 otherwise (reason on stderr).
//
// npm writes node_modules/.package-lock.json (its "hidden lockfile") describing what is installed. This lets
// scripts/setup.sh adopt a node_modules that was installed before its stamp file existed (or by a plain
// `npm ci` / `npm install`) instead of deleting and reinstalling it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = process.argv[2] || process.cwd();
function load(file) {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
  } catch {
    return null;
  }
}
const lock = load('package-lock.json');
const hidden = load('node_modules/.package-lock.json');
if (!lock || !lock.packages) fail('package-lock.json is missing or has no "packages" (lockfileVersion >= 2 needed)');
if (!hidden || !hidden.packages) fail('node_modules/.package-lock.json is missing');

for (const [key, want] of Object.entries(lock.packages)) {
  if (key === '') continue;
  const have = hidden.packages[key];
  if (!have) {
    if (want.optional) continue; // e.g. a native binary for another platform
    fail(`${key} is not installed`);
  }
  if (want.link !== have.link || (want.link ? want.resolved !== have.resolved : want.version !== have.version)) {
    fail(`${key}: installed ${have.version ?? have.resolved}, lockfile pins ${want.version ?? want.resolved}`);
  }
}
for (const key of Object.keys(hidden.packages)) {
  if (!(key in lock.packages)) fail(`${key} is installed but not in package-lock.json`);
}
for (const key of Object.keys(hidden.packages)) {
  if (!hidden.packages[key].link && !fs.existsSync(path.join(root, key, 'package.json'))) fail(`${key}/package.json is missing`);
}
process.exit(0);

function fail(reason) {
  process.stderr.write(reason + '\n');
  process.exit(1);
}
