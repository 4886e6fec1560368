/**
 * A process that reads `c.time.now()` when told to, with its local clock skewed by `skewMs`
 * (injected through the Clock option), for the two-process cluster time test.
 * Usage: node --import tsx time-child.ts '{"url":…,"skewMs":…}'; each "read" line on stdin prints
 * { ms, uncertaintyMs, before, after, local } with before/after on CLOCK_MONOTONIC (shared by every
 * process on the host) just before the call and just after it returned.
 */
import { createInterface } from "node:readline";
import { type Clock, Concord, openDriver, systemClock } from "../../src/index.js";

const cfg = JSON.parse(process.argv[2]!) as { url: string; skewMs: number };
process.stdin.on("close", () => process.exit(0));
const mono = (): number => Number(process.hrtime.bigint()) / 1e6;
// Sub-millisecond, like the system clock ClusterClock reads, but `skewMs` off.
const clock: Clock = { ...systemClock, now: () => performance.timeOrigin + performance.now() + cfg.skewMs };
// Only this process's clock is off; the driver keeps reading the engine's (for SQLite, the host's:
// the file has no clock of its own, and `connect(url, { clock })` would hand the skew to it).
const c = new Concord(await openDriver(cfg.url), { clock });
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
say({ event: "ready", skew: clock.now() - Date.now() });
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== "read") break;
  const before = mono();
  const t = await c.time.now();
  const after = mono();
  say({ event: "read", ms: t.ms, uncertaintyMs: t.uncertaintyMs, before, after, local: clock.now() });
}
await c.close();
process.exit(0);
