import { invalid } from "../errors.js";
import type { ParsedArgv } from "./args.js";
import type { Interrupts } from "./interrupts.js";
import type { GlobalOptions } from "./options.js";

/** One run of one command: its words, options, and the process's interrupt state. */
export interface Invocation {
  /** The words after the command name. */
  readonly args: readonly string[];
  readonly parsed: ParsedArgv;
  readonly globals: GlobalOptions;
  readonly interrupts: Interrupts;
}

/** A `concord` subcommand. `run` resolves to the process exit status. */
export interface Command {
  readonly name: string;
  /** One line for `concord --help`. */
  readonly summary: string;
  /** The full text for `concord help NAME`, starting with the synopsis. */
  readonly usage: string;
  /** Options beyond the global ones that this command accepts. */
  readonly options: readonly string[];
  /** True if the command takes `-- CMD ARGS…`. */
  readonly takesCommand?: boolean;
  /** Left out of `concord --help` (internal commands). */
  readonly hidden?: boolean;
  run(inv: Invocation): Promise<number>;
}

/** The positional at `index`, named `what` in the error if it is missing. */
export function requireArg(inv: Invocation, index: number, what: string): string {
  const v = inv.args[index];
  if (v === undefined) throw invalid(what, "is missing; see concord help for usage");
  return v;
}

/** Refuses words beyond the first `count`. */
export function noMoreArgs(inv: Invocation, count: number): void {
  const extra = inv.args[count];
  if (extra !== undefined) throw invalid("arguments", `unexpected ${JSON.stringify(extra)}; see concord help for usage`);
}

/** The command after `--`, required and non-empty. */
export function requireCommand(inv: Invocation): string[] {
  const rest = inv.parsed.rest;
  if (!rest || rest.length === 0 || rest[0] === "") throw invalid("CMD", "is missing: give the command to run after --, e.g. -- ./job.sh");
  return rest;
}
