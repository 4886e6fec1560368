import { invalid } from "../../errors.js";
import { checkName } from "../../internal/names.js";
import { type Command, noMoreArgs, requireArg } from "../command.js";
import { parseValue, printJson } from "../json-io.js";
import { intOption } from "../options.js";
import { printEvents, reportWrite, withClient } from "./value.js";

/** `concord map NAME [get KEY | put KEY VALUE | remove KEY | entries | watch]` */
export const mapCommand: Command = {
  name: "map",
  summary: "read, change or watch a shared map",
  options: ["if-version", "from-version"],
  usage: `concord map NAME [get KEY | put KEY VALUE | remove KEY | entries | watch]

  get KEY          print {"value":…,"version":N}, or null if absent
  put KEY VALUE    set KEY (VALUE is JSON if it parses, else a string); prints {"ok":…,"version":N}
  remove KEY       remove KEY; exit 1 if it was absent (or not at --if-version)
  entries          print one JSON line {"key","value","version"} per entry, in key order (default)
  watch            print one JSON line per change until interrupted

  --if-version N     (put, remove) only if KEY is at version N; 0 means "only if absent"
  --from-version N   (watch) replay changes from version N first`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    const op = inv.args[1] ?? "entries";
    const key = (): string => checkName("KEY", requireArg(inv, 2, "KEY"));
    const signal = inv.interrupts.signal;
    const ifVersion = intOption(inv.parsed, "if-version", "", 0);
    const fromVersion = intOption(inv.parsed, "from-version", "", 0);
    if (ifVersion !== undefined && op !== "put" && op !== "remove") throw invalid("--if-version", `does not apply to map ${op}`);
    if (fromVersion !== undefined && op !== "watch") throw invalid("--from-version", `does not apply to map ${op}`);
    const cas = { signal, ...(ifVersion === undefined ? {} : { ifVersion }) };
    return withClient(inv, async (c) => {
      const map = c.map(name);
      switch (op) {
        case "get": {
          const k = key();
          noMoreArgs(inv, 3);
          printJson((await map.get(k, { signal })) ?? null);
          return 0;
        }
        case "put": {
          const k = key();
          const v = parseValue(requireArg(inv, 3, "VALUE"));
          noMoreArgs(inv, 4);
          return reportWrite(`${name}[${k}]`, await map.put(k, v, cas));
        }
        case "remove": {
          const k = key();
          noMoreArgs(inv, 3);
          return reportWrite(`${name}[${k}]`, await map.remove(k, cas));
        }
        case "entries":
          noMoreArgs(inv, 2);
          for (const [k, v] of await map.entries({ signal })) printJson({ key: k, value: v.value, version: v.version });
          return 0;
        case "watch":
          noMoreArgs(inv, 2);
          return printEvents(inv, map.watch({ signal, ...(fromVersion === undefined ? {} : { fromVersion }) }));
        default:
          throw invalid("operation", `unknown map operation ${JSON.stringify(op)}; expected get, put, remove, entries or watch`);
      }
    });
  },
};
