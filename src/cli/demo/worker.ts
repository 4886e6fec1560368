import type { Concord } from "../../concord.js";
import { isConcordError } from "../../errors.js";
import { checkName } from "../../internal/names.js";
import { openClient } from "../client.js";
import type { Command, Invocation } from "../command.js";
import { pause, whenAborted } from "../interrupts.js";
import { intOption, stringOption } from "../options.js";
import { DEMO, type LastWrite } from "./names.js";

const HOLD_MS = 250;

type Say = (message: string) => void;

/** Contends for the demo lock until `stop` aborts: each turn increments the counter and makes a fenced write. */
async function lockLoop(c: Concord, id: string, stop: AbortSignal, say: Say): Promise<void> {
  const lock = c.lock(DEMO.lock);
  const counter = c.counter(DEMO.counter);
  const last = c.value<LastWrite>(DEMO.last);
  while (!stop.aborted) {
    let held;
    try {
      held = await lock.acquire({ signal: stop });
    } catch (e) {
      if (stop.aborted) return;
      throw e;
    }
    try {
      const n = await counter.increment();
      await last.set({ worker: id, token: held.token, counter: n }, { fence: held });
      say(`holds ${DEMO.lock} (token ${held.token}), ${DEMO.counter} -> ${n}`);
      await pause(HOLD_MS, held.signal);
    } catch (e) {
      if (!isConcordError(e, "LOCK_LOST")) throw e;
      if (!stop.aborted) say(`lost ${DEMO.lock} (token ${held.token}): ${e.message}`);
    } finally {
      await held.release();
    }
    await pause(150 + Math.floor(Math.random() * 300), stop);
  }
}

/** Campaigns in the demo election until stopped; the leader proclaims itself. Returns `stop()`. */
function campaign(c: Concord, id: string, stop: AbortSignal, say: Say): () => Promise<void> {
  say(`campaigning in ${DEMO.election}`);
  return c.election(DEMO.election).whenElected(async (signal, lead) => {
    await lead.proclaim({ leader: id, pid: process.pid, since: new Date().toISOString() });
    say(`I am the leader now (term ${lead.term})`);
    const lost = whenAborted(signal);
    await lost.promise;
    lost.dispose();
    if (!stop.aborted) say(`lost leadership (term ${lead.term}); campaigning again`);
  });
}

async function run(inv: Invocation): Promise<number> {
  const id = checkName("--id", stringOption(inv.parsed, "id") ?? `worker-${process.pid}`);
  const lifetimeS = intOption(inv.parsed, "duration", "seconds", 1, 86_400) ?? 60;
  const say: Say = (m) => process.stdout.write(`${id}: ${m}\n`);
  const stopper = new AbortController();
  const stop = (): void => stopper.abort();
  // Never outlive the demo: stop on a signal, when the parent goes away, or after the lifetime.
  inv.interrupts.signal.addEventListener("abort", stop, { once: true });
  process.on("disconnect", stop);
  const timer = setTimeout(stop, lifetimeS * 1000);
  const c = await openClient(inv.globals, { id });
  try {
    say(`started (pid ${process.pid})`);
    const stopElection = campaign(c, id, stopper.signal, say);
    try {
      await lockLoop(c, id, stopper.signal, say);
    } finally {
      await stopElection();
    }
    say("stopped");
    return 0;
  } finally {
    clearTimeout(timer);
    process.off("disconnect", stop);
    await c.close();
    if (process.connected) process.disconnect();
  }
}

/** `concord demo-worker --id ID [--duration SEC]`: one worker of `concord demo` (internal). */
export const demoWorkerCommand: Command = {
  name: "demo-worker",
  summary: "one worker process of concord demo (internal)",
  options: ["id", "duration"],
  hidden: true,
  usage: `concord demo-worker --id ID [--duration SEC]

One worker of \`concord demo\`: campaigns in ${DEMO.election}, contends for ${DEMO.lock}, increments
${DEMO.counter} and makes a fenced write to ${DEMO.last} while holding it. Stops on SIGTERM, when
its parent goes away, or after --duration seconds (default 60).`,
  run,
};
