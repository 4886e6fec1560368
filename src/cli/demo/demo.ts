import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../index.js";
import type { Command, Invocation } from "../command.js";
import { pause } from "../interrupts.js";
import { maskUrl } from "../mask-url.js";
import { intOption } from "../options.js";
import { type Failover, killLeader } from "./failover.js";
import { DEMO, DEMO_WORKER_TTL_MS } from "./names.js";
import { DemoObserver } from "./observer.js";
import { WorkerPool } from "./worker-pool.js";

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function summarize(failover: Failover | string | undefined, observer: DemoObserver, counter: number | undefined): void {
  say("summary");
  if (typeof failover === "object") {
    say(`  failover: ${failover.from.id} (term ${failover.from.term}) -> ${failover.to.id} (term ${failover.to.term}) in ${failover.ms} ms`);
  } else {
    say(`  failover: not measured (${failover ?? "the demo ended first"})`);
  }
  const ids = [...new Set(observer.leaders.flatMap((s) => (s.leader ? [s.leader.id] : [])))];
  say(`  leaders seen: ${ids.join(", ") || "none"}`);
  say(`  ${DEMO.counter}: ${counter ?? "unknown"}`);
  say(`  fenced writes: ${observer.writes}, tokens strictly increasing: ${observer.tokensIncreasing ? "yes" : "NO"}`);
  if (observer.error) say(`  observer error: ${(observer.error as Error).message ?? String(observer.error)}`);
}

async function run(inv: Invocation): Promise<number> {
  const workers = intOption(inv.parsed, "workers", "workers", 1, 32) ?? 3;
  const durationS = intOption(inv.parsed, "duration", "seconds", 3, 3600) ?? 20;
  const ttlMs = inv.globals.ttlMs ?? DEMO_WORKER_TTL_MS;
  const tmp = inv.globals.storeGiven ? undefined : mkdtempSync(join(tmpdir(), "concord-demo-"));
  const store = tmp ? `sqlite:${join(tmp, "state.db")}` : inv.globals.store;
  const namespace = inv.globals.namespace ?? `demo-${randomBytes(3).toString("hex")}`;
  const signal = inv.interrupts.signal;
  say(`concord demo: ${workers} workers on ${maskUrl(store)} (namespace ${namespace}) for ${durationS} s, lease TTL ${ttlMs} ms`);
  const c = await connect(store, { namespace });
  const observer = new DemoObserver(c);
  const pool = new WorkerPool({ store, namespace, ttlMs, lifetimeS: durationS + 30, output: (l) => say(`  ${l}`) });
  const start = Date.now();
  const end = start + durationS * 1000;
  const ticker = setInterval(() => {
    const t = ((Date.now() - start) / 1000).toFixed(0).padStart(3);
    observer.status().then((s) => say(`[${t}s] ${s}`), () => {});
  }, 1000);
  let failover: Failover | string | undefined;
  let counter: number | undefined;
  try {
    for (let i = 1; i <= workers; i++) pool.spawn(`worker-${i}`);
    const killAt = start + (durationS * 1000) / 3;
    failover = await killLeader(c, pool, observer, { killAt, deadline: end, signal, say });
    await pause(end - Date.now(), signal);
  } finally {
    clearInterval(ticker);
    say(signal.aborted ? "interrupted: stopping workers…" : "time is up: stopping workers…");
    await pool.stop(3000);
    counter = await observer.counter().catch(() => undefined);
    await observer.close();
    await c.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  summarize(failover, observer, counter);
  if (signal.aborted) return inv.interrupts.exitCode();
  return typeof failover === "object" && observer.tokensIncreasing && !observer.error ? 0 : 1;
}

/** `concord demo [--workers N] [--duration SEC] [--store URL]` */
export const demoCommand: Command = {
  name: "demo",
  summary: "watch workers share a fenced lock and fail over a leader",
  options: ["workers", "duration"],
  usage: `concord demo [--workers N] [--duration SEC] [--store URL] [--ttl MS]

Starts N worker processes (default 3) on a fresh SQLite file in a temporary directory (or on
--store). Each campaigns in the election ${DEMO.election} (the leader proclaims itself) and contends
for the fenced lock ${DEMO.lock}, incrementing ${DEMO.counter} and making a fenced write to ${DEMO.last}.
A live view prints the leader, the counter and the lock holder every second. After a third of
the duration the leader is killed with SIGKILL and the failover is timed. After --duration
seconds (default 20) every worker is stopped and a summary printed; exit 0 if a failover was
seen and the fencing tokens strictly increased. Workers use a ${DEMO_WORKER_TTL_MS} ms lease unless --ttl says otherwise.`,
  run,
};
