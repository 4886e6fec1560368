import { startDashboard } from "../../dashboard/server.js";
import { openClient } from "../client.js";
import { type Command, noMoreArgs } from "../command.js";
import { note } from "../json-io.js";
import { maskUrl } from "../mask-url.js";
import { intOption, stringOption } from "../options.js";

/** `concord dashboard [--port N] [--host H]` */
export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "serve the live dashboard of a store: locks, leaders, values, counters, queues",
  options: ["port", "host"],
  usage: `concord dashboard [--port N] [--host H]

Serves a live web page of the namespace: who holds each lock (and its fencing token), the
leader and term of each election, values, counters, map/set/list sizes and task queue counts,
updated on every change (one watch) and every 2 s. Also GET /snapshot.json.
Runs until interrupted.

  --port N   the port to listen on (default 8080; 0 picks a free one)
  --host H   the address to listen on (default 127.0.0.1)`,
  async run(inv) {
    noMoreArgs(inv, 0);
    const port = intOption(inv.parsed, "port", "", 0, 65535) ?? 8080;
    const host = stringOption(inv.parsed, "host") ?? "127.0.0.1";
    const c = await openClient(inv.globals);
    try {
      const d = await startDashboard(c, { port, host });
      note(`dashboard of ${maskUrl(inv.globals.store)} (namespace ${c.namespace}) at ${d.url}`);
      await new Promise<void>((resolve) => {
        if (inv.interrupts.signal.aborted) resolve();
        else inv.interrupts.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await d.close();
      return inv.interrupts.exitCode();
    } finally {
      await c.close();
    }
  },
};
