import { checkName } from "../../internal/names.js";
import { type Command, noMoreArgs, requireArg } from "../command.js";
import { printJson } from "../json-io.js";
import { withClient } from "./value.js";

/** `concord leader NAME` */
export const leaderCommand: Command = {
  name: "leader",
  summary: "print the current leader of an election as JSON",
  options: [],
  usage: `concord leader NAME

Prints {"id":…,"term":N,"value":…} for the current leader of the election NAME, or null if
there is none.`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    noMoreArgs(inv, 1);
    return withClient(inv, async (c) => {
      printJson((await c.election(name).leader({ signal: inv.interrupts.signal })) ?? null);
      return 0;
    });
  },
};
