import { checkName } from "../../internal/names.js";
import type { WriteResult } from "../../primitives/shared.js";
import { openClient } from "../client.js";
import { type Command, type Invocation, noMoreArgs, requireArg } from "../command.js";
import { note, parseValue, printJson } from "../json-io.js";
import { intOption } from "../options.js";

/** Runs `fn` on a client of the invocation's store, closing it after. */
export async function withClient<T>(inv: Invocation, fn: (c: Awaited<ReturnType<typeof openClient>>) => Promise<T>): Promise<T> {
  const c = await openClient(inv.globals);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** Prints a write's result as JSON; a failed compare-and-set also explains itself on stderr and is status 1. */
export function reportWrite(what: string, r: WriteResult<unknown>): number {
  printJson(r.ok ? r : { ok: false, current: r.current ?? null });
  if (r.ok) return 0;
  note(r.current ? `${what} not written: it is at version ${r.current.version}` : `${what} not written: it does not exist`);
  return 1;
}

/** Prints each event of a watch as a JSON line until interrupted. */
export async function printEvents(inv: Invocation, events: AsyncIterable<unknown>): Promise<number> {
  for await (const ev of events) printJson(ev);
  return inv.interrupts.signal.aborted ? inv.interrupts.exitCode() : 0;
}

/** `concord get NAME` */
export const getCommand: Command = {
  name: "get",
  summary: "print a shared value and its version as JSON",
  options: [],
  usage: `concord get NAME

Prints {"value":…,"version":N} for the shared value NAME, or null if it was never set.`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    noMoreArgs(inv, 1);
    return withClient(inv, async (c) => {
      printJson((await c.value(name).get({ signal: inv.interrupts.signal })) ?? null);
      return 0;
    });
  },
};

/** `concord set NAME VALUE [--if-version N]` */
export const setCommand: Command = {
  name: "set",
  summary: "set a shared value (JSON if it parses, else a string)",
  options: ["if-version"],
  usage: `concord set NAME VALUE [--if-version N]

Sets the shared value NAME. VALUE is parsed as JSON if it parses (42, true, {"a":1}, "text"),
otherwise taken as a string. Prints {"ok":true,"version":N}.

  --if-version N   write only if the value is at version N (0: only if it does not exist);
                   otherwise print {"ok":false,"current":…} and exit 1`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    const value = parseValue(requireArg(inv, 1, "VALUE"));
    noMoreArgs(inv, 2);
    const ifVersion = intOption(inv.parsed, "if-version", "", 0);
    return withClient(inv, async (c) => {
      const r = await c.value(name).set(value, { signal: inv.interrupts.signal, ...(ifVersion === undefined ? {} : { ifVersion }) });
      return reportWrite(name, r);
    });
  },
};

/** `concord watch NAME [--from-version N]` */
export const watchCommand: Command = {
  name: "watch",
  summary: "print every change of a shared value as a JSON line",
  options: ["from-version"],
  usage: `concord watch NAME [--from-version N]

Prints one JSON line per change of the shared value NAME ({"type":"put"|"delete","key",
"value","version"}) until interrupted.

  --from-version N   replay changes from version N (inclusive) first`,
  async run(inv) {
    const name = checkName("NAME", requireArg(inv, 0, "NAME"));
    noMoreArgs(inv, 1);
    const fromVersion = intOption(inv.parsed, "from-version", "", 0);
    return withClient(inv, (c) =>
      printEvents(inv, c.value(name).watch({ signal: inv.interrupts.signal, ...(fromVersion === undefined ? {} : { fromVersion }) })),
    );
  },
};
