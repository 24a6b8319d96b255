/**
 * Names that become part of an S3 key: the storage prefix, run ids (workflow ids, `<prefix>/<run id>/...`),
 * schedule ids (their runs' ids start with them) and the keys of s3:// URIs in a config. Each must stay
 * inside the place it names: no `..` or `.` segment (an HTTP client or a later `path.join` may resolve it
 * and climb out of the prefix), no leading `/` (an absolute key), no empty segment (`a//b`), no control
 * character. Each check returns a message that says what is wrong and what is allowed, or undefined.
 *
 * Pure and deterministic: core/config/config.ts (imported by workflows) uses these.
 */

/** Characters of a run id: they name a folder of S3 keys, a SageMaker job name part and a Temporal id. */
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
export const MAX_RUN_ID = 255;
/** A scheduled run's id is `<schedule id>-<scheduled time, e.g. 2026-01-05T03:00:00Z>` (Temporal appends 21 characters). */
export const SCHEDULED_RUN_SUFFIX = 21;

/** What a run id may be, for messages. */
export function runIdRule(maxLength = MAX_RUN_ID): string {
  return `1 to ${maxLength} letters, digits, ".", "_", "-" or ":", starting with a letter or digit (e.g. my-run-2)`;
}

/** A character that has no place in a name or key: C0 controls, DEL, C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function describeControl(s: string): string {
  const c = CONTROL.exec(s)![0];
  return `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at position ${s.indexOf(c) + 1}`;
}

/** Where `s` holds a control character (never part of a name or path a person meant), or undefined. */
export function controlCharacterProblem(s: string): string | undefined {
  return CONTROL.test(s) ? `holds a control character (${describeControl(s)}); remove it` : undefined;
}

/** Why `id` cannot be a run (workflow) id, or undefined. */
export function runIdProblem(id: string, maxLength = MAX_RUN_ID): string | undefined {
  const why = (what: string) => `${what}: a run id names the run's folder in S3 (<storage.prefix>/<run id>/), so use ${runIdRule(maxLength)}`;
  if (id.length === 0) return why('is empty');
  if (CONTROL.test(id)) return why(`holds a control character (${describeControl(id)})`);
  if (id.includes('/') || id.includes('\\')) return why(`holds "${id.includes('/') ? '/' : '\\'}", which would make it several folders (or climb out with "..")`);
  if (id.length > maxLength) return why(`is ${id.length} characters long`);
  if (!RUN_ID.test(id)) {
    const bad = [...id].find((c, i) => (i === 0 ? !/[A-Za-z0-9]/.test(c) : !/[A-Za-z0-9._:-]/.test(c)));
    return why(bad !== undefined && /[A-Za-z0-9._:-]/.test(bad) ? `starts with "${bad}"` : `holds ${JSON.stringify(bad ?? id)}`);
  }
  return undefined;
}

/**
 * Why `key` (the key part of an s3:// URI or a storage prefix, without the bucket) would escape or be
 * ambiguous, or undefined. `allowTrailingSlash`: a prefix may end with "/" (`runs/`), as S3 folder
 * names are often written.
 */
export function keyProblem(key: string, opts: { allowTrailingSlash?: boolean } = {}): string | undefined {
  if (CONTROL.test(key)) return `holds a control character (${describeControl(key)})`;
  if (key.startsWith('/')) return 'starts with "/" (an absolute key); write it relative to the bucket, e.g. "runs" rather than "/runs"';
  const body = opts.allowTrailingSlash ? key.replace(/\/$/, '') : key;
  if (body === '') return undefined;
  const segments = body.split('/');
  if (segments.some((s) => s === '..')) return 'has a ".." segment, which would climb out of the prefix it names';
  if (segments.some((s) => s === '.')) return 'has a "." segment; name each folder (S3 keys are not normalized)';
  if (segments.some((s) => s === '')) return 'has an empty segment ("//"); separate folders with a single "/"';
  return undefined;
}

export const PREFIX_RULE = 'folders of letters, digits, ".", "_" and "-" separated by single "/", none of them "." or "..", not starting with "/" (e.g. "runs" or "team/judgeloop")';

/** Why `prefix` cannot be storage.prefix, or undefined (the empty prefix is the bucket's root). */
export function storagePrefixProblem(prefix: string): string | undefined {
  const structural = keyProblem(prefix, { allowTrailingSlash: true });
  if (structural) return `${structural}; use ${PREFIX_RULE}`;
  const bad = [...prefix].find((c) => !/[A-Za-z0-9._\/-]/.test(c));
  if (bad !== undefined) return `holds ${JSON.stringify(bad)}; use ${PREFIX_RULE}`;
  return undefined;
}

/** Why the key of an s3:// URI would escape or be ambiguous, or undefined; `uri` must start with s3://. */
export function s3UriKeyProblem(uri: string): string | undefined {
  // The key starts after "s3://bucket/"; a second "/" there (s3://bucket//x) is an absolute key.
  const key = uri.replace(/^s3:\/\/[^/]*\/?/, '');
  const problem = keyProblem(key, { allowTrailingSlash: true });
  if (problem) return `key "${key}" ${problem}`;
  return undefined;
}
