/**
 * A candidate in an election, in its own process, for bench/failover.ts: campaigns and, once
 * elected, says so (CLOCK_MONOTONIC ms, one clock for every process on the host) and stays leader
 * until it is killed. Prints one JSON line per event.
 * Usage: failover-child.ts '{"kind":"concord","url":…,"name":…,"ttlMs":1000}'
 *        failover-child.ts '{"kind":"etcd3","hosts":[…],"name":…,"ttlSec":1}'
 */
import { Etcd3 } from "etcd3";
import { Concord, openDriver } from "../src/index.js";
import { monotonicMs } from "./stats.js";
import { countingDriver } from "./waiters.js";

interface Config {
  kind: "concord" | "etcd3";
  url?: string;
  hosts?: string[];
  name: string;
  ttlMs?: number;
  ttlSec?: number;
}

const cfg = JSON.parse(process.argv[2]!) as Config;
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
process.stdin.on("close", () => process.exit(0)); // the parent went away: no orphans
process.stdin.resume();

if (cfg.kind === "concord") {
  const { driver, counts } = countingDriver(await openDriver(cfg.url!));
  const c = new Concord(driver, { id: `p${process.pid}` });
  const election = c.election(cfg.name, { ttlMs: cfg.ttlMs! });
  say({ event: "campaigning" });
  const before = { ...counts };
  const lead = await election.campaign();
  const at = monotonicMs();
  const reads = (counts.range ?? 0) + (counts.get ?? 0) - (before.range ?? 0) - (before.get ?? 0);
  say({ event: "elected", at, term: lead.term, ttlMs: lead.ticket.lease.ttlMs, reads });
} else {
  const client = new Etcd3({ hosts: cfg.hosts!.map((h) => `http://${h}`) });
  const campaign = client.election(cfg.name, cfg.ttlSec!).campaign(`p${process.pid}`);
  say({ event: "campaigning" });
  campaign.on("elected", () => say({ event: "elected", at: monotonicMs() }));
  campaign.on("error", (e: Error) => say({ event: "error", message: e.message }));
}
