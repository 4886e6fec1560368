/**
 * One client process of a Jepsen run: connects to the engine (through the nemesis' proxy when there
 * is one), runs its workload and prints one JSON line per invocation, completion and note.
 * Usage: node --import tsx client.ts '<json: WorkloadConfig & { url }>'. A line "quiet" on stdin ends
 * its operations (a task worker keeps working); "stop" (or stdin closing) ends it gracefully.
 */
import { createInterface } from "node:readline";
import { connect, type Concord } from "../../src/index.js";
import { hrMs, type Line } from "./history.js";
import { aborted, runWorkload, type WorkloadConfig } from "./workloads.js";

const cfg = JSON.parse(process.argv[2]!) as WorkloadConfig & { url: string };
const emit = (l: Line): void => void process.stdout.write(`${JSON.stringify(l)}\n`);
const quiet = new AbortController();
const stop = new AbortController();
createInterface({ input: process.stdin }).on("line", (l) => {
  if (l === "quiet") quiet.abort();
  if (l === "stop") {
    quiet.abort();
    stop.abort();
  }
});
// The harness going away ends us too: no orphaned clients.
process.stdin.on("close", () => {
  quiet.abort();
  stop.abort();
  setTimeout(() => process.exit(0), 3000).unref();
});

// The engine may be down (a restart in progress): keep trying until it answers or we are stopped.
let c: Concord | undefined;
while (!c && !stop.signal.aborted) {
  try {
    c = await connect(cfg.url, { ttlMs: cfg.ttlMs, id: `c${cfg.client}` });
  } catch (e) {
    emit({ t: "note", client: cfg.client, kind: "connect-error", at: hrMs() - cfg.origin, error: String(e) });
    await new Promise((r) => setTimeout(r, 200));
  }
}
if (c) {
  emit({ t: "note", client: cfg.client, kind: "ready", at: hrMs() - cfg.origin });
  await runWorkload(c, cfg, emit, quiet.signal, stop.signal);
  await aborted(stop.signal);
  await Promise.race([c.close(), new Promise((r) => setTimeout(r, 3000))]);
}
process.exit(0);
