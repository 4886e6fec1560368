import { invalid } from "../../errors.js";
import { checkName } from "../../internal/names.js";
import { type Command, noMoreArgs, requireArg } from "../command.js";
import { printJson } from "../json-io.js";
import { parseInteger } from "../options.js";
import { withClient } from "./value.js";

/** `concord counter NAME [get | incr [BY] | decr [BY] | set N]` */
export const counterCommand: Command = {
  name: "counter",
  summary: "read or change a shared integer counter",
  options: [],
  usage: `concord counter NAME [get | incr [BY] | decr [BY] | set N]

Prints the counter's value (after the change, for incr and decr). A counter never written reads 0.
incr and decr are atomic; BY defaults to 1.`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    const op = inv.args[1] ?? "get";
    const int = (what: string): number => parseInteger(what, requireArg(inv, 2, what), "");
    const opt = (what: string): number => (inv.args[2] === undefined ? 1 : int(what));
    const signal = inv.interrupts.signal;
    return withClient(inv, async (c) => {
      const counter = c.counter(name);
      switch (op) {
        case "get":
          noMoreArgs(inv, 2);
          printJson(await counter.get({ signal }));
          return 0;
        case "incr":
        case "decr": {
          const by = opt("BY");
          noMoreArgs(inv, 3);
          printJson(op === "incr" ? await counter.increment(by, { signal }) : await counter.decrement(by, { signal }));
          return 0;
        }
        case "set": {
          const n = int("N");
          noMoreArgs(inv, 3);
          await counter.set(n, { signal });
          printJson(n);
          return 0;
        }
        default:
          throw invalid("operation", `unknown counter operation ${JSON.stringify(op)}; expected get, incr, decr or set`);
      }
    });
  },
};
