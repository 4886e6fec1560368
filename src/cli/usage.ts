import { COMMANDS } from "./commands.js";
import type { Command } from "./command.js";
import { DEFAULT_STORE } from "./options.js";

const GLOBAL_HELP = `Global options:
  --store URL       the store: sqlite:PATH or memory: (default $CONCORD_STORE, else ${DEFAULT_STORE});
                    credentials in it are never printed
  --namespace NS    key namespace (default concord)
  --ttl MS          session lease TTL in ms, at least 1000 (default 10000)
  -h, --help        show help`;

/** The text of `concord --help`. */
export function mainUsage(): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
  const rows: Array<[string, string]> = [...shown.map((c): [string, string] => [c.name, c.summary]), ["help COMMAND", "show the usage of one command"]];
  const width = Math.max(...rows.map(([n]) => n.length));
  const lines = rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`);
  return `Usage: concord [options] COMMAND [ARGS…]

Locks, leader election and shared state for processes on one machine or many.

Commands:
${lines.join("\n")}

${GLOBAL_HELP}

Exit status: the command's (lock, elect), 0 on success, 1 on failure, 2 on bad usage.
`;
}

/** The text of `concord help NAME` (or `concord NAME --help`). */
export function commandUsage(c: Command): string {
  return `Usage: ${c.usage}\n\n${GLOBAL_HELP}\n`;
}
