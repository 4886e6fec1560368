import { invalid } from "../errors.js";

/** How the parser treats one long option: a flag (`--help`), or one that takes a value (`--ttl 1000`). */
export interface OptionSpec {
  readonly takesValue: boolean;
}

/** The result of {@link parseArgv}: words, options, and everything after a bare `--`. */
export interface ParsedArgv {
  /** Words that are not options, in order (the command name first). */
  readonly positionals: string[];
  /** Options by long name without dashes; a flag maps to `true`. The last occurrence wins. */
  readonly options: Map<string, string | true>;
  /** The words after the first bare `--`, verbatim; `undefined` if there was no `--`. */
  readonly rest: string[] | undefined;
}

/** Short aliases: only `-h`, so that `-5` and other dashed words stay positional. */
const SHORT: Readonly<Record<string, string>> = { h: "help" };

/**
 * Parses argv without a framework. Options may appear anywhere before `--`, as `--name value` or
 * `--name=value`; a word that looks like a negative number (`-5`) is a positional. An unknown
 * option, a missing value or a value given to a flag is an `INVALID_ARGUMENT` naming the option.
 */
export function parseArgv(argv: readonly string[], specs: ReadonlyMap<string, OptionSpec>): ParsedArgv {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") return { positionals, options, rest: argv.slice(i + 1) };
    if (!word.startsWith("-") || word === "-" || /^-\d/.test(word)) {
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const raw = word.startsWith("--") ? word.slice(2, eq < 0 ? undefined : eq) : SHORT[word.slice(1)];
    const shown = eq < 0 ? word : word.slice(0, eq);
    if (raw === undefined || raw.length === 0) throw invalid(shown, "unknown option; see concord --help");
    const spec = specs.get(raw);
    if (!spec) throw invalid(shown, "unknown option; see concord --help");
    if (!spec.takesValue) {
      if (eq >= 0) throw invalid(shown, "takes no value");
      options.set(raw, true);
      continue;
    }
    if (eq >= 0) {
      options.set(raw, word.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next === "--") throw invalid(shown, "needs a value");
    options.set(raw, next);
    i++;
  }
  return { positionals, options, rest: undefined };
}
