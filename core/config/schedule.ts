/**
 * Scheduled retraining: the config's `schedule` block (when and how a Temporal Schedule starts runs) and the
 * dated data locations a scheduled run reads. Pure, and safe in the workflow sandbox: a URI template such as
 * `s3://bucket/judgments/{date}/train.jsonl` is filled from the run's scheduled time in the schedule's time
 * zone, so a run started at 03:00 on Monday reads Monday's folder, and a backfilled run reads its own day's.
 */
import { z } from 'zod';

/** Placeholders a data URI may carry, filled from the scheduled time (in `schedule.timezone`). */
export const DATE_PLACEHOLDERS = ['date', 'yyyy', 'mm', 'dd', 'hh', 'yyyymmdd'] as const;
export type DatePlaceholder = (typeof DATE_PLACEHOLDERS)[number];

/** Temporal's overlap policies, as the config and the CLI spell them. */
export const OVERLAP_POLICIES = ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all'] as const;
export type OverlapPolicyName = (typeof OVERLAP_POLICIES)[number];

/** `SKIP`, `BUFFER_ONE`… (@temporalio/client ScheduleOverlapPolicy). */
export function overlapPolicyValue(name: OverlapPolicyName): 'SKIP' | 'BUFFER_ONE' | 'BUFFER_ALL' | 'CANCEL_OTHER' | 'TERMINATE_OTHER' | 'ALLOW_ALL' {
  return name.toUpperCase().replace(/-/g, '_') as ReturnType<typeof overlapPolicyValue>;
}

/** `90s`, `30m`, `6h`, `7d` (what Temporal's duration strings accept, kept to one unit for clarity). */
export const DurationText = z.string().regex(/^[1-9]\d*(s|m|h|d)$/, 'a duration such as 90s, 30m, 6h or 7d');

export function durationMs(text: string): number {
  const m = /^([1-9]\d*)(s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: "${text}" (use 90s, 30m, 6h or 7d)`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Five-field cron (minute hour day-of-month month day-of-week), as Temporal's cron strings. */
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$|^[A-Za-z]{3}(-[A-Za-z]{3})?$/;

export function cronProblem(expr: string): string | null {
  if (/^@(yearly|annually|monthly|weekly|daily|hourly|every \S+)$/.test(expr.trim())) return null;
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `a cron expression has 5 fields (minute hour day month weekday), "${expr}" has ${fields.length}`;
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  return bad === undefined ? null : `"${bad}" is not a cron field (numbers, *, ranges a-b, steps /n, lists a,b, or names like MON)`;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const ScheduleConfig = z
  .object({
    cron: z
      .union([z.string(), z.array(z.string()).min(1)])
      .optional()
      .describe('Cron expressions (any of them fires), e.g. `0 3 * * 1` for Mondays at 03:00; exclusive with `every`.'),
    every: DurationText.optional().describe('A fixed interval instead of `cron`, e.g. `7d`.'),
    offset: DurationText.optional().describe('Shifts `every` (`every: 1d, offset: 3h` = daily at 03:00 UTC); shorter than `every`.'),
    timezone: z
      .string()
      .default('UTC')
      .refine(validTimeZone, 'an IANA time zone such as UTC or Europe/Paris')
      .describe('IANA time zone of the cron fields and of the dated data locations.'),
    overlap: z
      .enum(OVERLAP_POLICIES)
      .default('skip')
      .describe('What to do when a run is due while the previous one still runs: skip it, queue it, cancel or terminate the other, or allow both.'),
    catchupWindow: DurationText.default('1d').describe('How late a missed run (the server was down) may still start; older ones are skipped.'),
    pauseOnFailure: z.boolean().default(false).describe('Pause the schedule when a run fails, until someone unpauses it.'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const crons = s.cron === undefined ? [] : Array.isArray(s.cron) ? s.cron : [s.cron];
    if ((crons.length > 0) === (s.every !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'set exactly one of cron or every' });
    }
    crons.forEach((c, i) => {
      const problem = cronProblem(c);
      if (problem) ctx.addIssue({ code: 'custom', path: Array.isArray(s.cron) ? ['cron', i] : ['cron'], message: problem });
    });
    if (s.offset !== undefined && s.every === undefined) ctx.addIssue({ code: 'custom', path: ['offset'], message: 'only with every' });
    if (s.offset !== undefined && s.every !== undefined && durationMs(s.offset) >= durationMs(s.every)) {
      ctx.addIssue({ code: 'custom', path: ['offset'], message: `must be shorter than every (${s.every})` });
    }
  });

export type ScheduleConfig = z.output<typeof ScheduleConfig>;

/** The `{…}` placeholders of a URI; unknown ones are reported by `unknownPlaceholders`. */
export function placeholdersOf(uri: string): string[] {
  return [...uri.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]);
}

export function unknownPlaceholders(uri: string): string[] {
  return placeholdersOf(uri).filter((p) => !(DATE_PLACEHOLDERS as readonly string[]).includes(p));
}

/** The calendar fields of `when` in `timeZone`. */
export function dateParts(when: Date, timeZone: string): Record<DatePlaceholder, string> {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(when);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const [yyyy, mm, dd, hh] = [get('year'), get('month'), get('day'), get('hour')];
  return { date: `${yyyy}-${mm}-${dd}`, yyyy, mm, dd, hh, yyyymmdd: `${yyyy}${mm}${dd}` };
}

/** `uri` with its date placeholders filled from `when` (unknown placeholders are left for validation to name). */
export function fillDateTemplate(uri: string, when: Date, timeZone: string): string {
  if (!uri.includes('{')) return uri;
  const parts = dateParts(when, timeZone);
  return uri.replace(/\{([^{}]*)\}/g, (whole, name: string) =>
    (DATE_PLACEHOLDERS as readonly string[]).includes(name) ? parts[name as DatePlaceholder] : whole,
  );
}

interface DatedSources {
  data: {
    train: { uri: string; join?: string };
    evalSuites: Array<{ uri: string; join?: string }>;
  };
}

/** Whether any data URI of the config is a dated template. */
export function hasDatedData(config: DatedSources): boolean {
  const uris = [config.data.train, ...config.data.evalSuites].flatMap((s) => [s.uri, s.join ?? '']);
  return uris.some((u) => placeholdersOf(u).length > 0);
}

/** The config with every data URI (train, eval suites, their joins) filled from `when`. */
export function withDatedData<C extends DatedSources>(config: C, when: Date, timeZone: string): C {
  if (!hasDatedData(config)) return config;
  const fill = <S extends { uri: string; join?: string }>(s: S): S => ({
    ...s,
    uri: fillDateTemplate(s.uri, when, timeZone),
    ...(s.join !== undefined ? { join: fillDateTemplate(s.join, when, timeZone) } : {}),
  });
  return { ...config, data: { ...config.data, train: fill(config.data.train), evalSuites: config.data.evalSuites.map(fill) } };
}
