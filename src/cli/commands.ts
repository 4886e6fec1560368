import type { Command } from "./command.js";
import { counterCommand } from "./commands/counter.js";
import { dashboardCommand } from "./commands/dashboard.js";
import { electCommand } from "./commands/elect.js";
import { leaderCommand } from "./commands/leader.js";
import { lockCommand } from "./commands/lock.js";
import { mapCommand } from "./commands/map.js";
import { syncCommand } from "./commands/sync.js";
import { getCommand, setCommand, watchCommand } from "./commands/value.js";
import { demoCommand } from "./demo/demo.js";
import { demoWorkerCommand } from "./demo/worker.js";

/** Every subcommand, in the order `concord --help` lists them. */
export const COMMANDS: readonly Command[] = [
  lockCommand,
  electCommand,
  leaderCommand,
  getCommand,
  setCommand,
  watchCommand,
  counterCommand,
  mapCommand,
  syncCommand,
  dashboardCommand,
  demoCommand,
  demoWorkerCommand,
];

/** The command called `name`, if there is one. */
export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
