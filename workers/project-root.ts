/**
 * The folder the worker resolves a config's relative paths against (prompt templates, local datasets, the
 * local backend's Python and work folder) and finds jobs/ in. activities/ computes it from its own location
 * (`..`), which is right for the source tree but not for a compiled worker (dist/worker/activities/..); the
 * worker passes this instead, found from wherever its code runs.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The project's package name: a package.json of another project (a dependency's) is not our root. */
const PACKAGE_NAME = 'judgeloop';

/**
 * The nearest folder at or above `from` whose package.json is Judgeloop's (source: the checkout; compiled:
 * the checkout or the image's /app above dist/). Throws when there is none, since every relative path of a
 * config would then point nowhere.
 */
export function findProjectRoot(from: string = __dirname, exists: (file: string) => string | undefined = readIfExists): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const text = exists(path.join(dir, 'package.json'));
    if (text !== undefined && packageName(text) === PACKAGE_NAME) return dir;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(
    `no Judgeloop project folder (a package.json named "${PACKAGE_NAME}") at or above ${from}: the worker resolves prompts/, jobs/ and a config's relative paths against it`,
  );
}

function packageName(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && 'name' in parsed && typeof parsed.name === 'string' ? parsed.name : undefined;
  } catch {
    return undefined;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
