import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { HttpTransport } from "../../src/replication/http/transport.js";
import type { PullFilter, PushResult } from "../../src/replication/local-transport.js";
import { Replica } from "../../src/replication/replica.js";
import { SqliteEventStore } from "../../src/replication/stores/sqlite.js";
import { SyncManager, type SyncResult } from "../../src/replication/sync-manager.js";
import type { Cursor, ReadResult, ReplicatedEvent, Transport, VectorClockJSON } from "../../src/replication/types.js";

const CHILD = fileURLToPath(new URL("./sync-server-child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "concord-sync-proc-"));
const live = new Set<ChildProcess>();
afterAll(() => {
  for (const c of live) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const SERVER_SEED = 2_000;
const CLIENT_EVENTS = 5_000;

async function startServer(db: string, port: number): Promise<{ child: ChildProcess; port: number; count: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, db, String(port), String(SERVER_SEED)], { stdio: ["ignore", "pipe", "inherit"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`sync server exited (${code}) before listening`)));
  });
  const info = JSON.parse(line) as { port: number; count: number };
  return { child, ...info };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

/** HttpTransport that SIGKILLs the server while the n-th push or pull is in flight. */
class Killing implements Transport {
  readonly supportsFilter = true as const;
  pushes = 0;
  pulls = 0;
  killAtPush = Infinity;
  killAtPull = Infinity;
  victim: ChildProcess | undefined;
  readonly #inner: HttpTransport;
  constructor(url: string) {
    this.#inner = new HttpTransport(url, { timeoutMs: 10_000 });
  }
  #maybeKill(now: boolean): void {
    if (now && this.victim) void kill(this.victim);
  }
  push(events: readonly ReplicatedEvent[]): Promise<PushResult> {
    const p = this.#inner.push(events);
    this.#maybeKill(++this.pushes === this.killAtPush);
    return p;
  }
  pull(since: Cursor, limit: number, signal?: AbortSignal, filter?: PullFilter): Promise<ReadResult> {
    const p = this.#inner.pull(since, limit, signal, filter);
    this.#maybeKill(++this.pulls === this.killAtPull);
    return p;
  }
  version(): Promise<VectorClockJSON> {
    return this.#inner.version();
  }
}

function rows(db: string): { total: number; distinct: number; ids: string[] } {
  const d = new Database(db, { readonly: true });
  try {
    const ids = (d.prepare("SELECT id FROM replication_events ORDER BY id").all() as { id: string }[]).map((r) => r.id);
    return { total: ids.length, distinct: new Set(ids).size, ids };
  } finally {
    d.close();
  }
}

describe("HTTP sync between processes, the server SIGKILLed mid-sync", () => {
  it("after restarts on the same SQLite file, both sides hold every event exactly once", async () => {
    const serverDb = join(dir, "server.db");
    const clientDb = join(dir, "client.db");
    let server = await startServer(serverDb, 0);
    expect(server.count).toBe(SERVER_SEED);
    const port = server.port;

    const client = new Replica({ nodeId: "client", store: new SqliteEventStore(clientDb) });
    const batch: ReplicatedEvent[] = [];
    const scratch = new Replica({ nodeId: "client", store: new SqliteEventStore(":memory:") });
    for (let i = 0; i < CLIENT_EVENTS; i++) batch.push(await scratch.append({ id: `client-${i}`, type: "Written", aggregateId: `c-${i % 100}`, data: { i } }));
    await client.receive(batch);
    await scratch.close();

    const t = new Killing(`http://127.0.0.1:${port}/`);
    const m = new SyncManager(client, t, { batchSize: 250 });
    const rounds: SyncResult[] = [];

    // 1. Killed while the 8th push (of 20) is in flight.
    t.victim = server.child;
    t.killAtPush = 8;
    rounds.push(await m.sync());
    expect(rounds[0]!.errors[0]?.code).toBe("UNAVAILABLE");
    expect(rounds[0]!.pushed).toBeGreaterThanOrEqual(7 * 250);
    expect(rounds[0]!.pushed).toBeLessThan(CLIENT_EVENTS);

    // 2. Restarted on the same file and port; killed again while the 3rd pull is in flight.
    server = await startServer(serverDb, port);
    expect(server.count).toBeGreaterThanOrEqual(SERVER_SEED + 7 * 250);
    t.victim = server.child;
    t.killAtPull = t.pulls + 3;
    rounds.push(await m.sync());
    expect(rounds[1]!.errors[0]?.code).toBe("UNAVAILABLE");
    expect(rounds[1]!.pulled).toBeGreaterThanOrEqual(2 * 250);

    // 3. Restarted once more: the next round completes, and one after it has nothing to do.
    server = await startServer(serverDb, port);
    t.victim = undefined;
    rounds.push(await m.sync());
    expect(rounds[2]!.errors).toEqual([]);
    expect(await m.sync()).toMatchObject({ pushed: 0, pulled: 0, errors: [] });

    const total = SERVER_SEED + CLIENT_EVENTS;
    // The push cut by the kill may have been stored before the answer was lost: re-sent, it counts as duplicates.
    const pushed = rounds.reduce((n, r) => n + r.pushed, 0);
    expect(pushed).toBeLessThanOrEqual(CLIENT_EVENTS);
    expect(pushed).toBeGreaterThanOrEqual(CLIENT_EVENTS - 250);
    expect(rounds.reduce((n, r) => n + r.pulled, 0)).toBe(SERVER_SEED);
    await kill(server.child);
    await client.close();
    const s = rows(serverDb);
    const c = rows(clientDb);
    expect(s.total).toBe(total);
    expect(s.distinct).toBe(total);
    expect(c.total).toBe(total);
    expect(c.ids).toEqual(s.ids);
  }, 180_000);
});
