import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One command of the command line: its synopsis, its options (node:util parseArgs) and what it does. */
export interface Command {
  name: string;
  /** The synopsis after the command's name, e.g. `--tenant <tenant> [--json]`. */
  synopsis: string;
  summary: string;
  options: Options;
  run(values: Values, positionals: string[]): Promise<void>;
}

/** Parses `args` for `command` (unknown options and missing values are usage errors) and runs it. */
export async function runCommand(command: Command, args: string[]): Promise<void> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(`${(err as Error).message} (usage: ${command.name} ${command.synopsis})`);
  }
  await command.run(parsed.values, parsed.positionals);
}

/** The one positional argument a command takes, or its `--<option>` form (`show-tenant acme`, `--tenant acme`). */
export function oneArgument(
  command: Pick<Command, 'name' | 'synopsis'>,
  positionals: string[],
  option?: Values[string],
): string {
  const given = [...positionals, ...(typeof option === 'string' ? [option] : [])];
  if (given.length !== 1) {
    throw usageError(
      `${command.name} takes one ${given.length ? 'value' : 'argument'}: ${command.name} ${command.synopsis}`,
    );
  }
  return given[0]!;
}

/** An option's value as a non-negative integer (digits only), or a usage error. */
export function integerOption(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw usageError(`--${name} takes a whole number, not '${value}'`);
  }
  return n;
}
