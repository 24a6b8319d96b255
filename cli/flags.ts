/**
 * The commander pieces `judgeloop`'s commands are declared with (cli/args.ts, cli/schedule-args.ts): typed
 * flags whose parsers say what is wrong with a value and name the flag, arguments that say what they are when
 * missing, the usage line made from a command's declaration, and the help layout every command shares.
 */
import { Argument, Help, InvalidArgumentError, Option, type Command, type HelpConfiguration } from 'commander';

/**
 * A flag of ours: commander's Option plus what commander has no room for. `missing` makes it required: the
 * command checks it after parsing (not commander's mandatory check, which runs before the unknown-flag check
 * and would answer a misspelt `--confg` with "missing --config").
 */
export class Flag extends Option {
  /** Set: the flag is required, and this is the error when it is left out. */
  missing?: string;
  /** Given once per value (`--suite a --suite b`); shown as `[--suite NAME]...`. */
  repeatable = false;

  /** Marks the flag required; the default message names the flag and its value, e.g. "missing required flag --config FILE". */
  needed(message?: string): this {
    this.missing = message ?? `missing required flag ${this.long ?? this.flags} ${valueName(this) ?? ''}`.trimEnd();
    return this;
  }
}

/** A positional argument whose absence is reported as `missing NAME (description)`, or as `missing`. */
export class Arg extends Argument {
  constructor(
    name: string,
    description: string,
    readonly missing?: string,
  ) {
    super(name, description);
  }
}

/** The name of a flag's value (`FILE` in `--config <FILE>`), if it takes one. */
export function valueName(option: Option): string | undefined {
  return /<([^>]+)>/.exec(option.flags)?.[1];
}

/** The value as given, trimmed; blank is refused as if it were missing (`--config=` is a slip, not a path). */
function present(flag: Option, value: string): string {
  const v = value.trim();
  if (v === '') throw new InvalidArgumentError(`missing value for ${flag.long}`);
  return v;
}

/** A string flag: `text('-c, --config <FILE>', 'the run config')`. */
export function text(flags: string, description: string): Flag {
  const flag = new Flag(flags, description);
  return flag.argParser((v: string) => present(flag, v));
}

/** A string flag parsed further by `parse`, which throws InvalidArgumentError naming the flag when it refuses. */
export function typed<T>(flags: string, description: string, parse: (value: string, flag: Flag) => T): Flag {
  const flag = new Flag(flags, description);
  return flag.argParser((v: string) => parse(present(flag, v), flag));
}

/** A whole-number flag, at least `min` (iterations, limits, seeds, ports). */
export function int(flags: string, description: string, min: number, max = Number.MAX_SAFE_INTEGER): Flag {
  return typed(flags, description, (s, flag) => {
    if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) {
      throw new InvalidArgumentError(`${flag.long} must be an integer >= ${min}, got "${s}"`);
    }
    if (Number(s) > max) throw new InvalidArgumentError(`${flag.long} must be at most ${max}, got ${Number(s)}`);
    return Number(s);
  });
}

/** A flag given once per value, collected in order: `--suite a --suite b` → ['a', 'b']. */
export function repeated(flags: string, description: string, each: (value: string, flag: Flag) => string = (v) => v): Flag {
  const flag = new Flag(flags, description);
  flag.repeatable = true;
  return flag.argParser((v: string, previous: string[] | undefined) => [...(previous ?? []), each(present(flag, v), flag)]);
}

/** One of `choices` (listed in the help); anything else is refused with the list. */
export function oneOf(flags: string, description: string, choices: readonly string[]): Flag {
  const flag = new Flag(flags, description);
  // choices() first: it records the list for the help; our parser then replaces its error message.
  flag.choices(choices);
  return flag.argParser((v: string) => {
    const s = present(flag, v);
    if (!choices.includes(s)) throw new InvalidArgumentError(`${flag.long} must be one of ${choices.join(', ')}, got "${s}"`);
    return s;
  });
}

/** A switch: present or not (`--json`, or `--no-follow`, which commander reads as follow = false). */
export function bool(flags: string, description: string): Flag {
  return new Flag(flags, description);
}

/** A comma-separated list with no empty items: `a,b,c` (spaces around items are dropped). */
export function commaList(value: string, flag: Option): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) {
    throw new InvalidArgumentError(`${flag.long} has an empty item in "${value}" (comma-separated, no spaces needed)`);
  }
  return items;
}

/**
 * The usage line after `judgeloop <name>`, from a command's declared arguments and flags: arguments, then flags in their order;
 * optional ones in brackets, repeatable ones followed by "...". E.g. `RUN_ID --iteration K [--reason TEXT]`.
 */
export function synopsis(args: readonly Argument[], options: readonly Option[]): string {
  const argTerms = args.map((a) => {
    const n = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? n : `[${n}]`;
  });
  const flagTerms = options
    .filter((o) => !o.hidden)
    .map((o) => {
      const value = valueName(o);
      const term = `${o.long ?? o.short}${value ? ` ${value}` : ''}`;
      if (o instanceof Flag && o.missing !== undefined) return term;
      return `[${term}]${o instanceof Flag && o.repeatable ? '...' : ''}`;
    });
  return [...argTerms, ...flagTerms].join(' ');
}

/** Help is rendered to a string (no terminal to size it by), so its width is fixed. */
export const HELP_WIDTH = 100;

const TITLES: Record<string, string> = { 'Usage:': 'usage:', 'Options:': 'flags:', 'Arguments:': 'arguments:', 'Commands:': 'commands:' };

export const HELP_CONFIG: HelpConfiguration = {
  helpWidth: HELP_WIDTH,
  styleTitle: (title: string) => TITLES[title] ?? title,
  // The same spelling as the usage line: `--config FILE`, not `--config <FILE>`.
  optionTerm: (option: Option) => option.flags.replace(/<([^>]+)>/g, '$1'),
  subcommandTerm: (cmd: Command) => cmd.name(),
};

/** A titled list of terms and descriptions, laid out as commander lays out flags (wrapped, aligned). */
export function itemList(title: string, items: Array<[string, string]>): string {
  const helper = Object.assign(new Help(), HELP_CONFIG);
  const width = Math.max(...items.map(([term]) => term.length));
  return [title, ...items.map(([term, description]) => helper.formatItem(term, width, description, helper))].join('\n');
}
