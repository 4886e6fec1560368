/**
 * One of two processes contending for one lock as fast as it can, recording when it acquired and
 * released (CLOCK_MONOTONIC, the same clock in both processes). Prints a JSON summary on exit.
 * Usage: handoff-child.ts concord|proper-lockfile TARGET DURATION_MS START_AT_MS
 */
import lockfile from "proper-lockfile";
import { connect } from "../src/index.js";
import { monotonicMs } from "./stats.js";

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
await main();
