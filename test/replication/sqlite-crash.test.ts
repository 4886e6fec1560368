import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteEventStore } from "../../src/replication/index.js";

const CHILD = fileURLToPath(new URL("./sqlite-crash-child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "concord-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child until it has acknowledged at least `acks` events, SIGKILLs it, returns every id it acknowledged. */
function appendThenKill(path: string, origin: string, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, path, origin], { stdio: ["ignore", "pipe", "pipe"] });
    const acked: string[] = [];
    let buffered = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not acknowledge ${acks} events in time; stderr: ${stderr}`));
    }, 20_000);
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      const lines = (buffered + d.toString()).split("\n");
      buffered = lines.pop()!;
      for (const l of lines) if (l.startsWith("ack ")) acked.push(l.slice(4));
      if (!killed && acked.length >= acks) {
        killed = true;
        child.kill("SIGKILL"); // mid-run: the child is appending its next batch right now
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`child exited by itself (code ${String(code)}): ${stderr}`));
      else resolve(acked); // the pipe is drained before exit is reported with stdio: every ack written is here
    });
  });
}

describe("SqliteEventStore crash safety", () => {
  it("a process SIGKILLed mid-append loses no acknowledged event, and the file reopens cleanly", async () => {
    const path = join(dir, "events.db");
    const allAcked: string[] = [];
    for (const [round, acks] of [
      [1, 150],
      [2, 400],
      [3, 60],
    ] as const) {
      const acked = await appendThenKill(path, `node-${round}`, acks);
      expect(acked.length).toBeGreaterThanOrEqual(acks);
      allAcked.push(...acked);

      const store = new SqliteEventStore(path);
      const held = await store.has(allAcked);
      const missing = allAcked.filter((id) => !held.has(id));
      expect(missing).toEqual([]);
      // Batches are atomic: what was stored of the killed batch is all of it or none of it.
      const mine = (await store.read({ limit: 100_000 })).events.filter((e) => e.origin === `node-${round}`);
      const seqs = mine.map((e) => (e.data as { seq: number }).seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      const boundaries = new Set([0]);
      for (let at = 0; at <= seqs.length; ) boundaries.add((at += 1 + (at % 17))); // the child's batch sizes
      expect(boundaries.has(seqs.length), `${seqs.length} events is not a whole number of batches`).toBe(true);
      expect(await store.version()).toMatchObject({ [`node-${round}`]: seqs.length });
      await store.close();
    }
    const Db = createRequire(import.meta.url)("better-sqlite3") as new (p: string) => Database;
    const db = new Db(path);
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    } finally {
      db.close();
    }
  });
});
