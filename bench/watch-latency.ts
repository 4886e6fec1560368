import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect } from "../src/index.js";
import { fmt, monotonicMs, percentile, type Row } from "./stats.js";

const CHILD = fileURLToPath(new URL("./watch-child.ts", import.meta.url));

/** A write in one process, seen by a watcher in another: delivery latency on SQLite. */
export async function benchWatchLatency(count: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-"));
  const path = join(dir, "state.db");
  try {
    const c = await connect(`sqlite:${path}`);
    await c.value("watched").set({ t: 0 });
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, path, String(count)], { stdio: ["ignore", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    await lines.next(); // ready
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < count; i++) {
      await c.value("watched").set({ t: monotonicMs() });
      await new Promise((r) => setTimeout(r, 3));
    }
    const lat = JSON.parse((await lines.next()).value as string) as number[];
    await c.close();
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    return {
      benchmark: "watch delivery to another process (SQLite) p99",
      unit: "ms",
      concord: p99,
      peer: undefined,
      peerName: "-",
      ratio: undefined,
      target: "< 10 ms",
      met: p99 < 10,
      note: `p50 ${fmt(p50, 2)} ms, max ${fmt(Math.max(...lat), 2)} ms over ${lat.length} changes`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
