#!/usr/bin/env node
import { invalid } from "../errors.js";
import { parseArgv } from "./args.js";
import type { Command } from "./command.js";
import { findCommand } from "./commands.js";
import { Interrupts } from "./interrupts.js";
import { GLOBAL_OPTIONS, OPTION_SPECS, readGlobals, stringOption } from "./options.js";
import { EXIT_USAGE, reportError } from "./report.js";
import { commandUsage, mainUsage } from "./usage.js";

function command(name: string): Command {
  const c = findCommand(name);
  if (!c) throw invalid("COMMAND", `unknown command ${JSON.stringify(name)}; see concord --help`);
  return c;
}

/**
 * Runs the `concord` command line `argv` (without node and script) and resolves to the exit
 * status. Errors are printed as `concord: CODE: message`: status 2 for bad usage, 1 otherwise.
 */
async function main(argv: readonly string[], interrupts: Interrupts): Promise<number> {
  let store: string | undefined;
  try {
    const parsed = parseArgv(argv, OPTION_SPECS);
    const [name, ...args] = parsed.positionals;
    if (name === undefined) {
      process[parsed.options.has("help") ? "stdout" : "stderr"].write(mainUsage());
      return parsed.options.has("help") ? 0 : EXIT_USAGE;
    }
    if (name === "help") {
      process.stdout.write(args[0] === undefined ? mainUsage() : commandUsage(command(args[0])));
      return 0;
    }
    const cmd = command(name);
    if (parsed.options.has("help")) {
      process.stdout.write(commandUsage(cmd));
      return 0;
    }
    const allowed = new Set<string>([...GLOBAL_OPTIONS, ...cmd.options]);
    for (const opt of parsed.options.keys()) {
      if (!allowed.has(opt)) throw invalid(`--${opt}`, `is not an option of concord ${cmd.name}; see concord help ${cmd.name}`);
    }
    if (parsed.rest !== undefined && !cmd.takesCommand) throw invalid("--", `concord ${cmd.name} does not run a command`);
    // Known before it is checked, so that no error message can leak its credentials.
    store = stringOption(parsed, "store") ?? process.env["CONCORD_STORE"];
    const globals = readGlobals(parsed);
    store = globals.store;
    return await cmd.run({ args, parsed, globals, interrupts });
  } catch (e) {
    if (interrupts.signal.aborted && (e as Error)?.name === "AbortError") return interrupts.exitCode();
    return reportError(e, store);
  }
}

const interrupts = new Interrupts();
const status = await main(process.argv.slice(2), interrupts);
interrupts.dispose();
process.exitCode = status;
// Normally nothing is left and the process ends now; if a handle lingers, do not hang on it.
setTimeout(() => process.exit(status), 2000).unref();
