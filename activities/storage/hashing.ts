/** Content hashes of values: the inputs of steps and jobs, and the addresses built from them. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export function hashInputs(inputs: unknown): string {
  return sha256Hex(canonicalJson(inputs));
}
