/**
 * A process that runs one schedule until told to stop, for the multi-process schedule test.
 * Usage: node --import tsx schedule-child.ts '{"url":…,"queue":…,"everyMs":…}'
 */
import { createInterface } from "node:readline";
import { connect } from "../../src/index.js";

const cfg = JSON.parse(process.argv[2]!) as { url: string; queue: string; everyMs: number };
process.stdin.on("close", () => process.exit(0)); // the parent went away: so do we
const c = await connect(cfg.url, { ttlMs: 2000 });
const stop = c.tasks(cfg.queue).schedule("tick", { everyMs: cfg.everyMs }, "tick", { from: process.pid });
process.stdout.write(`${JSON.stringify({ event: "scheduling" })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "stop") break;
}
stop();
await c.close();
process.stdout.write(`${JSON.stringify({ event: "stopped" })}\n`);
process.exit(0);
