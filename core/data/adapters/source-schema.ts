/**
 * Zod building blocks for the published formats the adapters read. Each adapter describes its source row as
 * a schema (the fields it reads, in the order it checks them) and reads the row through it with
 * `readSource`; the quarantine reason is the first problem, worded as the adapters have always worded it
 * (`prompt: expected a string, got 3`, `label: expected 1 or 2 (the better output), got "1"`). The bad-input
 * corpus (test/bad-input/rows/) and the adapter tests pin those words.
 *
 * Every schema here gives its own message for each way it can fail: a zod default message never reaches a
 * quarantine reason.
 */
import { z } from 'zod';
import { describeValue, fail, readIntScore, type AdapterResult } from './types';

/**
 * A source row: a JSON object holding `shape`'s fields. Its other fields are kept in the output (adapters copy
 * provenance from them).
 */
export function sourceRow<S extends z.core.$ZodLooseShape>(shape: S) {
  return z.looseObject(shape, { error: (iss) => `row must be a JSON object, got ${describeValue(iss.input)}` });
}

/**
 * A string field, `field` naming it in messages; with `nonEmpty`, blank text (only whitespace) is refused too.
 * `what` says what the field holds, in brackets after "a string".
 */
export function text(field: string, opts: { nonEmpty?: boolean; what?: string } = {}) {
  const what = opts.what ? ` (${opts.what})` : '';
  const s = z.string({ error: (iss) => `${field}: expected a string${what}, got ${describeValue(iss.input)}` });
  return opts.nonEmpty ? s.refine((v) => v.trim() !== '', { error: `${field}: must be a non-empty string${what}` }) : s;
}

/**
 * An integer score given as a number or as a string of digits (`"3"`, as some Python writers emit), read as
 * the number. `message` words a value that is neither.
 */
export function intScore(message: (got: string) => string) {
  return z
    .custom<number | string>((v) => readIntScore(v) !== undefined, { error: (iss) => message(describeValue(iss.input)) })
    .transform((v) => Number(v));
}

/** Reads `raw` through its source schema: the record, or the first problem (in the schema's order) as the reason. */
export function readSource<S extends z.ZodType>(schema: S, raw: unknown): AdapterResult<z.output<S>> {
  const parsed = schema.safeParse(raw);
  return parsed.success ? { ok: true, record: parsed.data } : fail(parsed.error.issues[0].message);
}

/**
 * A transform step that turns a field's value into something else, or refuses it with `reason` (a complete
 * message): for fields whose text is itself a format (a Prometheus prompt) or a key into a table (a BiGGen id).
 */
export function refuse(ctx: z.core.$RefinementCtx, value: unknown, reason: string): typeof z.NEVER {
  ctx.issues.push({ code: 'custom', message: reason, input: value });
  return z.NEVER;
}
