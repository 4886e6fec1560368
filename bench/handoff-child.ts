/**
 * One of two processes contending for one lock as fast as it can, recording when it acquired and
 * released (CLOCK_MONOTONIC, the same clock in both processes). Prints a JSON summary on exit.
 * Usage: handoff-child.ts concord|proper-lockfile TARGET DURATION_MS START_AT_MS
 *
 * Or, forked with an IPC channel as `handoff-child.ts waiters`: a process of waiters for the
 * hand-off flatness benchmark, driven by messages (see `waiterProcess` below).
 */
import lockfile from "proper-lockfile";
import { connect } from "../src/index.js";
import { monotonicMs } from "./stats.js";
import { type Counts, countedClient, type Hold, notifierWaits, WaiterGroup } from "./waiters.js";

const [kind, target, durationArg, startArg] = process.argv.slice(2);
const duration = Number(durationArg);
const startAt = Number(startArg);
const holds: Array<[number, number]> = [];

async function main(): Promise<void> {
  if (kind === "concord") {
    const c = await connect(`sqlite:${target}`, { ttlMs: 5000 });
    const lock = c.lock("handoff");
    await (await lock.acquire()).release(); // open the session before the clock starts
    while (monotonicMs() < startAt) await new Promise((r) => setTimeout(r, 1));
    while (monotonicMs() < startAt + duration) {
      const h = await lock.acquire();
      const at = monotonicMs();
      const rel = monotonicMs();
      await h.release();
      holds.push([at, rel]);
    }
    await c.close();
  } else {
    while (monotonicMs() < startAt) await new Promise((r) => setTimeout(r, 1));
    while (monotonicMs() < startAt + duration) {
      // proper-lockfile's fastest settings: retry every millisecond
      const release = await lockfile.lock(target!, { retries: { retries: 100_000, minTimeout: 1, maxTimeout: 1, factor: 1 }, realpath: false, stale: 10_000 });
      const at = monotonicMs();
      const rel = monotonicMs();
      await release();
      holds.push([at, rel]);
    }
  }
  process.stdout.write(JSON.stringify({ pid: process.pid, holds }));
}
/**
 * Messages in: { cmd: "start", url, name, count, holdMs, spreadMs } opens a client with counted driver calls and
 * starts `count` waiters on lock `name`; { cmd: "mark" } starts the counting window; { cmd: "stop" } ends
 * it, closes the client and answers with the calls and holds counted in the window. Messages out:
 * { ev: "ready" }, { ev: "started" }, { ev: "holds", holds } every 50 ms, { ev: "stopped", counts, holds }.
 */
function waiterProcess(): void {
  const send = (m: object): void => void process.send!(m);
  let group: WaiterGroup | undefined;
  let counts: Counts = {};
  let pending: Hold[] = [];
  let held = 0;
  let mark: { counts: Counts; held: number } = { counts: {}, held: 0 };
  const flush = (): void => {
    if (pending.length) send({ ev: "holds", holds: pending });
    pending = [];
  };
  const timer = setInterval(flush, 50);
  if (process.env.HANDOFF_DEBUG) setInterval(() => console.error(process.pid, JSON.stringify(group?.errors), JSON.stringify(counts)), 5000).unref();
  process.on("disconnect", () => process.exit(0)); // the parent went away: no orphans
  send({ ev: "ready" });
  process.on("message", (m: { cmd: string; url?: string; name?: string; count?: number; holdMs?: number; spreadMs?: number }) => {
    void (async () => {
      if (m.cmd === "start") {
        const c = await countedClient(m.url!);
        counts = c.counts;
        held = 0;
        group = new WaiterGroup(c.client, m.name!, m.count!, m.holdMs!, (h) => {
          held++;
          pending.push(h);
        });
        await group.start(m.spreadMs);
        send({ ev: "started" });
      } else if (m.cmd === "mark") {
        mark = { counts: { ...counts, notifierWaits: notifierWaits.n }, held };
      } else if (m.cmd === "stop") {
        const delta: Counts = {};
        for (const [k, v] of Object.entries({ ...counts, notifierWaits: notifierWaits.n })) delta[k] = v - (mark.counts[k] ?? 0);
        const window = held - mark.held;
        for (const [code, n] of Object.entries(group?.errors ?? {})) delta[`error:${code}`] = n;
        await group?.stop();
        flush();
        send({ ev: "stopped", counts: delta, holds: window });
      } else if (m.cmd === "exit") {
        clearInterval(timer);
        process.disconnect();
      }
    })();
  });
}

if (kind === "waiters") waiterProcess();
else await main();
