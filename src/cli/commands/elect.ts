import { invalid } from "../../errors.js";
import { checkName } from "../../internal/names.js";
import { exitStatus } from "../child.js";
import { openClient } from "../client.js";
import { type Command, type Invocation, requireArg, requireCommand } from "../command.js";
import { runGuarded } from "../guarded-child.js";
import { note } from "../json-io.js";
import { stringOption } from "../options.js";
import { DEFAULT_GRACE_MS, graceOption } from "./lock.js";

async function run(inv: Invocation): Promise<number> {
  const name = checkName("NAME", requireArg(inv, 0, "NAME"));
  if (inv.args.length > 1) throw invalid("arguments", `unexpected ${JSON.stringify(inv.args[1])}; put the command after --`);
  const argv = requireCommand(inv);
  const idArg = stringOption(inv.parsed, "id");
  const id = idArg === undefined ? undefined : checkName("--id", idArg);
  const graceMs = graceOption(inv);
  const c = await openClient(inv.globals, id === undefined ? {} : { id });
  try {
    const election = c.election(name);
    const me = id ?? c.id;
    for (;;) {
      const current = await election.leader({ signal: inv.interrupts.signal });
      note(`campaigning for ${name} as ${me}${current ? `; leader is ${current.id} (term ${current.term})` : ""}…`);
      const lead = await election.campaign({ signal: inv.interrupts.signal });
      try {
        lead.assertHeld();
        note(`elected leader of ${name} (term ${lead.term}); running ${argv[0]!}`);
        const out = await runGuarded({
          argv,
          env: { ...process.env, CONCORD_TERM: String(lead.term), CONCORD_ELECTION: name, CONCORD_LEADER_ID: me },
          guard: lead.signal,
          interrupts: inv.interrupts,
          graceMs,
          onLost: (reason) => note(`lost leadership of ${name} (term ${lead.term}): ${(reason as Error)?.message ?? String(reason)}; stopping ${argv[0]!}`),
        });
        if (out.exit.error) {
          note(`cannot run ${argv[0]!}: ${out.exit.error.message}`);
          return exitStatus(out.exit);
        }
        if (out.why === "interrupted") return inv.interrupts.exitCode();
        if (out.why === "exited") return exitStatus(out.exit);
      } finally {
        await lead.resign();
      }
      // Leadership was lost: the child is stopped; campaign again and restart it when re-elected.
    }
  } finally {
    await c.close();
  }
}

/** `concord elect NAME [--id ID] [--grace MS] -- CMD ARGS…` */
export const electCommand: Command = {
  name: "elect",
  summary: "run a command only while this process is the elected leader",
  options: ["id", "grace"],
  takesCommand: true,
  usage: `concord elect NAME [--id ID] [--grace MS] -- CMD [ARGS…]

Campaigns in the election NAME (first come, first served) and runs CMD while leader, with
CONCORD_TERM (the leader's term, strictly increasing), CONCORD_ELECTION=NAME and
CONCORD_LEADER_ID in its environment. If leadership is lost, CMD gets SIGTERM (then SIGKILL after
the grace period) and concord campaigns again, restarting CMD when re-elected. If CMD exits by
itself, concord resigns and exits with its status. Ctrl-C stops CMD and resigns.

  --id ID        this candidate's id, as \`concord leader NAME\` shows it (default host:pid:random)
  --grace MS     time between SIGTERM and SIGKILL (default ${DEFAULT_GRACE_MS})
  --ttl MS       lease TTL: how soon another candidate takes over if this process dies (default 10000)`,
  run,
};
