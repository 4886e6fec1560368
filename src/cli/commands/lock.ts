import { invalid } from "../../errors.js";
import { checkName } from "../../internal/names.js";
import { exitStatus } from "../child.js";
import { openClient } from "../client.js";
import { type Command, type Invocation, requireArg, requireCommand } from "../command.js";
import { runGuarded } from "../guarded-child.js";
import { note } from "../json-io.js";
import { intOption } from "../options.js";

/** Default time a child gets between SIGTERM and SIGKILL. */
export const DEFAULT_GRACE_MS = 5000;

/** `--grace MS`: the SIGTERM-to-SIGKILL grace period. */
export function graceOption(inv: Invocation): number {
  return intOption(inv.parsed, "grace", "milliseconds", 0, 3_600_000) ?? DEFAULT_GRACE_MS;
}

async function run(inv: Invocation): Promise<number> {
  const name = checkName("NAME", requireArg(inv, 0, "NAME"));
  if (inv.args.length > 1) throw invalid("arguments", `unexpected ${JSON.stringify(inv.args[1])}; put the command after --`);
  const argv = requireCommand(inv);
  const timeoutMs = intOption(inv.parsed, "timeout", "milliseconds", 0);
  const graceMs = graceOption(inv);
  const c = await openClient(inv.globals);
  try {
    const lock = c.lock(name);
    const holder = await lock.holder({ signal: inv.interrupts.signal });
    if (holder) note(`waiting for lock ${name} held by ${holder.owner} (token ${holder.token})…`);
    const held = await lock.acquire({ signal: inv.interrupts.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
    try {
      held.assertHeld();
      note(`acquired lock ${name} (token ${held.token}); running ${argv[0]!}`);
      const out = await runGuarded({
        argv,
        env: { ...process.env, CONCORD_FENCING_TOKEN: String(held.token), CONCORD_LOCK: name },
        guard: held.signal,
        interrupts: inv.interrupts,
        graceMs,
        onLost: (reason) => note(`lock ${name} (token ${held.token}) was lost: ${(reason as Error)?.message ?? String(reason)}; stopping ${argv[0]!}`),
      });
      if (out.exit.error) note(`cannot run ${argv[0]!}: ${out.exit.error.message}`);
      const status = exitStatus(out.exit);
      if (out.why === "interrupted") return inv.interrupts.exitCode();
      // A child that shrugs off SIGTERM after the lock was lost still did not finish under the lock.
      if (out.why === "lost") return status === 0 ? 1 : status;
      return status;
    } finally {
      await held.release();
    }
  } finally {
    await c.close();
  }
}

/** `concord lock NAME [--timeout MS] [--grace MS] -- CMD ARGS…` */
export const lockCommand: Command = {
  name: "lock",
  summary: "run a command while holding a fenced lock",
  options: ["timeout", "grace"],
  takesCommand: true,
  usage: `concord lock NAME [--timeout MS] [--grace MS] -- CMD [ARGS…]

Waits for the lock NAME, then runs CMD with CONCORD_FENCING_TOKEN (the lock's fencing token,
strictly increasing across holders) and CONCORD_LOCK=NAME in its environment. The lock is held
while CMD runs and released when it exits; concord exits with CMD's exit status.

If the lock is lost (its lease could not be kept alive), CMD gets SIGTERM and, after the grace
period, SIGKILL; concord then exits non-zero. Ctrl-C (SIGINT/SIGTERM) stops CMD the same way and
releases the lock; a second Ctrl-C kills CMD at once.

  --timeout MS   give up after MS milliseconds of waiting (TIMEOUT, exit 1)
  --grace MS     time between SIGTERM and SIGKILL (default ${DEFAULT_GRACE_MS})
  --ttl MS       lease TTL: how soon the lock frees up if this process dies (default 10000)`,
  run,
};
