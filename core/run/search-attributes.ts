/**
 * Judgeloop's custom search attributes, and what to do when a namespace lacks them. Runs work without them
 * (the starters set them only where they are registered, workflows/search-attributes.ts); with them, runs can
 * be found in the Temporal UI and with `temporal workflow list --query` by run name, judge, iteration and
 * status. The local stack registers them itself; a real cluster needs them registered once per namespace.
 */

export type SearchAttributeType = 'Keyword' | 'Int';

export const JUDGELOOP_SEARCH_ATTRIBUTES: Readonly<Record<string, SearchAttributeType>> = {
  JudgeloopRunName: 'Keyword', // set at start (cli/start.ts, schedules)
  JudgeloopJudgeName: 'Keyword', // likewise
  JudgeloopIteration: 'Int', // upserted by the run workflow (workflows/search-attributes.ts)
  JudgeloopStatus: 'Keyword', // running, awaiting-approval, completed, failed, cancelled: upserted likewise
};

/** Temporal's IndexedValueType codes, and their names as ListSearchAttributes may give them. */
const TYPE_CODES: Record<SearchAttributeType, readonly (number | string)[]> = {
  Keyword: [2, 'INDEXED_VALUE_TYPE_KEYWORD', 'Keyword'],
  Int: [3, 'INDEXED_VALUE_TYPE_INT', 'Int'],
};

export interface SearchAttributeProblem {
  name: string;
  want: SearchAttributeType;
  /** The type registered under that name; absent: not registered. */
  have?: string;
}

/** Whether `registered` (ListSearchAttributes' custom attributes: name → type code or name) has `name` as `type`. */
export function isRegisteredAs(registered: Readonly<Record<string, number | string>>, name: string, type: SearchAttributeType): boolean {
  const have = registered[name];
  return have !== undefined && TYPE_CODES[type].includes(have);
}

/** Judgeloop's attributes that `registered` (ListSearchAttributes' custom attributes) lacks or types otherwise. */
export function searchAttributeProblems(registered: Readonly<Record<string, number | string>>): SearchAttributeProblem[] {
  const problems: SearchAttributeProblem[] = [];
  for (const [name, want] of Object.entries(JUDGELOOP_SEARCH_ATTRIBUTES)) {
    const have = registered[name];
    if (have === undefined) problems.push({ name, want });
    else if (!isRegisteredAs(registered, name, want)) problems.push({ name, want, have: String(have) });
  }
  return problems;
}

/** What the worker says about them at start-up: every problem, and the commands that register them. */
export function searchAttributeAdvice(namespace: string, problems: readonly SearchAttributeProblem[]): string {
  const missing = problems.filter((p) => p.have === undefined);
  const mistyped = problems.filter((p) => p.have !== undefined);
  const lines = [
    `namespace ${namespace} lacks Judgeloop's search attributes: runs work, but cannot be filtered by run name, judge, iteration or status (docs/operations.md).`,
    ...mistyped.map((p) => `  ${p.name} is registered as ${p.have}, not ${p.want}: runs leave it unset; register the name with its type in another namespace, or rename it there.`),
  ];
  if (missing.length) {
    lines.push(
      `  missing: ${missing.map((p) => `${p.name} (${p.want})`).join(', ')}. Register them once:`,
      `    self-hosted:    ${missing.map((p) => `temporal operator search-attribute create --namespace ${namespace} --name ${p.name} --type ${p.want}`).join(' && ')}`,
      `    Temporal Cloud: tcld namespace search-attributes add --namespace ${namespace} ${missing.map((p) => `--search-attribute "${p.name}=${p.want}"`).join(' ')}`,
    );
  }
  return lines.join('\n');
}
